using PaperLab.Papers.Dqn;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace PaperLab.Tests;

/// <summary>
/// DQN's and REINFORCE's mathematics on a two-state MDP whose answers are known: value iteration against the
/// hand-solved Q*, DQN's update (replay, frozen target, TD target, Adam) against value iteration, the
/// policy-gradient theorem against autograd of the exact objective, and REINFORCE's estimate against both.
/// </summary>
public class DqnTabularMdpTests
{
    // networks of a few weights: libtorch's thread pool only costs time (and the suite runs one test at a time)
    public DqnTabularMdpTests() => torch.set_num_threads(1);

    const double Gamma = 0.9;
    static readonly double VA = 1.44 / 0.82;   // V*(A) = 72/41, from V = max(1, 0.9·(0.8·2 + 0.2·V))
    static readonly double[,] QStar = { { 1, VA }, { 2, 0.9 * VA } };

    [Fact]
    public void Value_iteration_finds_the_hand_solved_q_star_a_fixed_point_of_the_backup()
    {
        var mdp = TabularMdp.TwoStates();
        var (q, sweeps) = mdp.ValueIteration(Gamma);
        for (int s = 0; s < 2; s++) for (int a = 0; a < 2; a++) Assert.Equal(QStar[s, a], q[s, a], 10);
        var backup = mdp.Backup(q, Gamma);
        for (int s = 0; s < 2; s++) for (int a = 0; a < 2; a++) Assert.Equal(q[s, a], backup[s, a], 11);   // Q* = T Q*
        Assert.InRange(sweeps, 10, 1000);                                                                   // a contraction by γ per sweep
        // one backup of Q = 0 by hand: the immediate rewards
        var first = mdp.Backup(new double[2, 2], Gamma);
        Assert.Equal(new[] { 1.0, 0, 2, 0 }, first.Cast<double>());
    }

    [Fact]
    public void The_environment_samples_the_tables()
    {
        var mdp = TabularMdp.TwoStates(seed: 9);
        int toB = 0, stayed = 0;
        for (int i = 0; i < 10_000; i++)
        {
            mdp.Reset();
            var r = mdp.Step(1);   // A, go
            Assert.Equal(0, r.Reward);
            if (mdp.State == 1) toB++; else if (mdp.State == 0) stayed++;
        }
        Assert.Equal(10_000, toB + stayed);
        Assert.InRange(toB / 10_000.0, 0.8 - 0.02, 0.8 + 0.02);   // sd 0.004
        mdp.Reset();
        var end = mdp.Step(0);
        Assert.True(end.Terminated);
        Assert.Equal(1, end.Reward);
        Assert.Equal(new[] { 0f, 0f }, end.Observation);
        Assert.Throws<InvalidOperationException>(() => mdp.Step(0));
        Assert.Throws<ArgumentException>(() => new TabularMdp(new double[1, 1, 1] { { { 1.5 } } }, new double[1, 1], 0, 0));
    }

    /// <summary>Replay memory of uniformly random play: every (s, a) appears, off-policy as DQN's memory is.</summary>
    static ReplayBuffer RandomPlay(TabularMdp mdp, int transitions, ulong seed)
    {
        var coin = new SplitMix64(seed);
        var replay = new ReplayBuffer(transitions, mdp.ObservationSize, seed + 1);
        float[] s = mdp.Reset();
        for (int i = 0; i < transitions; i++)
        {
            int a = coin.NextInt(2);
            var r = mdp.Step(a);
            replay.Add(s, a, r.Reward, r.Observation, r.Terminated);
            s = r.Done ? mdp.Reset() : r.Observation;
        }
        return replay;
    }

    /// <summary>One DQN update, as step 3 of Experiment.RunDqn (mean squared TD error: the errors here stay below 1).</summary>
    static void Update(Mlp online, Mlp target, optim.Optimizer optimizer, ReplayBuffer replay)
    {
        using var scope = NewDisposeScope();
        var batch = replay.Sample(128);
        Tensor q = QLearning.ActionValues(online.forward(batch.Observations), batch.Actions);
        Tensor y;
        using (no_grad()) y = QLearning.TdTarget(batch.Rewards, target.forward(batch.NextObservations), batch.Terminated, Gamma);
        Tensor loss = nn.functional.huber_loss(q, y, delta: 1.0);
        optimizer.zero_grad();
        loss.backward();
        optimizer.step();
    }

    static double[,] Table(Mlp q)
    {
        using var _ = no_grad();
        using var table = q.forward(eye(2));
        var v = table.data<float>().ToArray();
        return new double[,] { { v[0], v[1] }, { v[2], v[3] } };
    }

    [Fact]
    public void With_the_target_frozen_an_update_regresses_on_the_bellman_backup_of_the_target()
    {
        // why a target network: while θ⁻ is held, DQN's loss is an ordinary regression whose answer is the
        // backup T Q̂ of the frozen network, one sweep of value iteration
        var mdp = TabularMdp.TwoStates(seed: 1);
        var replay = RandomPlay(mdp, 20_000, seed: 2);
        torch.manual_seed(3);
        using var online = new Mlp(2, [], 2);
        using var target = new Mlp(2, [], 2);
        using (no_grad()) target.parameters().Last().copy_(tensor(new[] { 0.5f, 1.5f }));   // Q̂(s, ·) = W s + (0.5, 1.5): an arbitrary table
        var frozen = Table(target);
        var optimizer = optim.Adam(online.parameters(), lr: 0.01);
        for (int i = 0; i < 2_500; i++) Update(online, target, optimizer, replay);
        foreach (var g in optimizer.ParamGroups) g.LearningRate = 0.001;
        for (int i = 0; i < 1_000; i++) Update(online, target, optimizer, replay);
        var expected = mdp.Backup(frozen, Gamma);
        var learned = Table(online);
        for (int s = 0; s < 2; s++)
            for (int a = 0; a < 2; a++)
                Assert.True(Math.Abs(learned[s, a] - expected[s, a]) < 0.03, $"Q({s}, {a}) = {learned[s, a]:F4}, T Q̂ = {expected[s, a]:F4}");
    }

    [Fact]
    public void Dqns_update_with_replay_and_periodic_sync_converges_to_value_iterations_q_star()
    {
        var mdp = TabularMdp.TwoStates(seed: 4);
        var replay = RandomPlay(mdp, 20_000, seed: 5);
        torch.manual_seed(6);
        using var online = new Mlp(2, [], 2);
        using var target = new Mlp(2, [], 2);
        target.CopyFrom(online);
        var optimizer = optim.Adam(online.parameters(), lr: 0.01);
        for (int t = 1; t <= 4_000; t++)
        {
            if (t == 3_000) foreach (var g in optimizer.ParamGroups) g.LearningRate = 0.001;
            Update(online, target, optimizer, replay);
            if (t % 200 == 0) target.CopyFrom(online);                    // C = 200
        }
        var learned = Table(online);
        var (qStar, _) = mdp.ValueIteration(Gamma);
        for (int s = 0; s < 2; s++)
            for (int a = 0; a < 2; a++)
                Assert.True(Math.Abs(learned[s, a] - qStar[s, a]) < 0.03, $"Q({s}, {a}) = {learned[s, a]:F4}, Q* = {qStar[s, a]:F4}");
    }

    /// <summary>J(θ) = V^π(A) in closed form, π = softmax of the policy's logits for each one-hot state (float64).</summary>
    static Tensor Objective(TabularMdp mdp, Mlp policy, double gamma, out Tensor pi, out Tensor q, out Tensor visits, out Tensor v)
    {
        pi = nn.functional.softmax(policy.forward(eye(2)), 1).to(float64);
        (v, q, visits) = mdp.Evaluate(pi, gamma);
        return v[mdp.Start];
    }

    static float[] Gradient(Mlp policy) => policy.parameters().SelectMany(p => p.grad!.data<float>().ToArray()).ToArray();

    [Fact]
    public void The_policy_gradient_theorem_gives_the_exact_gradient_and_reinforce_estimates_it()
    {
        var mdp = TabularMdp.TwoStates(seed: 7);
        torch.manual_seed(8);
        using var policy = new Mlp(2, [], 2);                       // logits z(s) = W·onehot(s) + b
        using var scope = NewDisposeScope();

        // exact: autograd through J(θ) = V^π(A) = [(I − P_π)⁻¹ R_π]_A (γ = 1: every softmax policy ends its episodes)
        policy.zero_grad();
        Objective(mdp, policy, 1.0, out _, out _, out _, out _).backward();
        var exact = Gradient(policy);

        // the theorem: ∇J = Σ_s η(s) Σ_a ∇π(a|s) Q^π(s, a), with η and Q^π held fixed
        policy.zero_grad();
        Objective(mdp, policy, 1.0, out var pi, out var q, out var visits, out _);
        (visits.detach().unsqueeze(1) * pi * q.detach()).sum().backward();
        var theorem = Gradient(policy);
        for (int i = 0; i < exact.Length; i++) Assert.Equal(exact[i], theorem[i], 5);
        Assert.Contains(exact, g => Math.Abs(g) > 0.05);           // a gradient worth checking

        // REINFORCE: −∇ of −(1/M) Σ_episodes Σ_t ln π(a_t|s_t)·G_t from M sampled episodes
        const int M = 6_000;
        var rng = new SplitMix64(10);
        var episodes = Enumerable.Range(0, M).Select(_ => PolicyGradient.CollectEpisode(mdp, policy, rng)).ToArray();
        var (s, a, g) = PolicyGradient.Batch(episodes, gamma: 1.0);
        policy.zero_grad();
        PolicyGradient.Loss(policy.forward(s), a, g, M).backward();
        var estimate = Gradient(policy).Select(x => -x).ToArray();
        // per-episode terms are below 3 in size here (returns ≤ 2, a few steps each): the mean of 6,000 has sd < 0.04
        for (int i = 0; i < exact.Length; i++)
            Assert.True(Math.Abs(estimate[i] - exact[i]) < 0.1, $"component {i}: estimate {estimate[i]:F4}, exact {exact[i]:F4}");
    }

    [Fact]
    public void Exact_policy_evaluation_agrees_with_the_average_return_of_played_episodes()
    {
        var mdp = TabularMdp.TwoStates(seed: 11);
        using var pi = tensor(new[] { 0.3, 0.7, 0.6, 0.4 }, new long[] { 2, 2 }, float64);
        var (v, q, visits) = mdp.Evaluate(pi, 1.0);
        var rng = new SplitMix64(12);
        double total = 0, visitsOfB = 0;
        const int episodes = 20_000;
        for (int i = 0; i < episodes; i++)
        {
            mdp.Reset();
            while (mdp.State >= 0)
            {
                if (mdp.State == 1) visitsOfB++;
                int action = rng.NextDouble() < pi[mdp.State, 0].item<double>() ? 0 : 1;
                total += mdp.Step(action).Reward;
            }
        }
        Assert.InRange(total / episodes, v[0].item<double>() - 0.03, v[0].item<double>() + 0.03);
        Assert.InRange(visitsOfB / episodes, visits[1].item<double>() - 0.03, visits[1].item<double>() + 0.03);
        // Q^π(s, ·) averaged under π is V^π(s)
        Assert.Equal(v[1].item<double>(), (pi[1] * q[1]).sum().item<double>(), 12);
    }
}
