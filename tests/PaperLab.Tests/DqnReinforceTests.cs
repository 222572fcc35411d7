using PaperLab.Papers.Dqn;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace PaperLab.Tests;

/// <summary>REINFORCE: returns-to-go, action sampling, and the gradient estimate against the exact policy gradient.</summary>
public class DqnReinforceTests
{
    /// <summary>
    /// A two-step MDP with a known answer. Observation: one-hot of the time step (s₀ = [1, 0], s₁ = [0, 1]).
    /// Rewards: at t = 0, action 0 earns 1 and action 1 earns 0; at t = 1, action 0 earns 0 and action 1 earns 2.
    /// With γ = 1, J(θ) = π(0|s₀)·1 + π(1|s₁)·2.
    /// </summary>
    sealed class TwoStepMdp : IEnvironment
    {
        int _t;
        public int ObservationSize => 2;
        public int ActionCount => 2;
        public float[] Reset() { _t = 0; return [1f, 0f]; }
        public StepResult Step(int action)
        {
            double reward = _t == 0 ? (action == 0 ? 1 : 0) : (action == 1 ? 2 : 0);
            _t++;
            return new StepResult(_t == 1 ? [0f, 1f] : [0f, 0f], reward, Terminated: _t == 2, Truncated: false);
        }
    }

    [Fact]
    public void Returns_to_go_are_discounted_sums_of_the_rewards_after_each_step()
    {
        // r = (1, 2, 3), γ = 0.5: G₂ = 3, G₁ = 2 + 0.5·3 = 3.5, G₀ = 1 + 0.5·3.5 = 2.75
        Assert.Equal(new[] { 2.75, 3.5, 3.0 }, PolicyGradient.ReturnsToGo([1.0, 2.0, 3.0], 0.5));
        Assert.Equal(new[] { 3.0, 2.0, 1.0 }, PolicyGradient.ReturnsToGo([1.0, 1.0, 1.0], 1.0));
        Assert.Empty(PolicyGradient.ReturnsToGo([], 0.9));
    }

    [Fact]
    public void Actions_are_drawn_with_the_policys_probabilities()
    {
        var rng = new SplitMix64(11);
        int ones = 0;
        for (int i = 0; i < 20_000; i++) ones += PolicyGradient.SampleAction([0.25f, 0.75f], rng);
        Assert.InRange(ones / 20_000.0, 0.75 - 0.015, 0.75 + 0.015);   // sd 0.003
        Assert.All(Enumerable.Range(0, 1000), _ => Assert.Equal(2, PolicyGradient.SampleAction([0f, 0f, 1f], rng)));
        Assert.All(Enumerable.Range(0, 1000), _ => Assert.NotEqual(1, PolicyGradient.SampleAction([0.5f, 0f, 0.5f], rng)));
    }

    /// <summary>The REINFORCE estimate of ∇J from <paramref name="episodes"/> sampled episodes (weights = G_t − baseline).</summary>
    static float[] Estimate(Mlp policy, IEnvironment env, int episodes, double baseline, ulong seed)
    {
        var rng = new SplitMix64(seed);
        var all = Enumerable.Range(0, episodes).Select(_ => PolicyGradient.CollectEpisode(env, policy, rng)).ToArray();
        using var scope = NewDisposeScope();
        var s = tensor(all.SelectMany(e => e.Observations).SelectMany(o => o).ToArray(), new long[] { all.Sum(e => e.Length), env.ObservationSize });
        var a = tensor(all.SelectMany(e => e.Actions).Select(x => (long)x).ToArray());
        var w = tensor(all.SelectMany(e => PolicyGradient.ReturnsToGo(e.Rewards, 1.0)).Select(g => (float)(g - baseline)).ToArray());
        policy.zero_grad();
        PolicyGradient.Loss(policy.forward(s), a, w, episodes).backward();
        return policy.parameters().SelectMany(p => p.grad!.data<float>().ToArray()).Select(g => -g).ToArray();   // −∇loss
    }

    /// <summary>∇J by autograd of the closed form J(θ) (the library's answer).</summary>
    static float[] Exact(Mlp policy, Func<Tensor, Tensor> objective)
    {
        policy.zero_grad();
        using (var scope = NewDisposeScope()) objective(policy.forward(tensor(new[] { 1f, 0f, 0f, 1f }, new long[] { 2, 2 }))).backward();
        return policy.parameters().SelectMany(p => p.grad!.data<float>().ToArray()).ToArray();
    }

    [Fact]
    public void The_estimate_matches_the_exact_policy_gradient_on_a_two_step_mdp_with_and_without_a_baseline()
    {
        // logits z(s) = W·onehot(s) + b, all zero: π = ½ everywhere. J = π(0|s₀) + 2·π(1|s₁), so by hand
        // ∂J/∂z(s₀) = (¼, −¼) and ∂J/∂z(s₁) = 2·(−¼, ¼); W[a, k] collects state k's, b the sum over both states.
        using var policy = new Mlp(2, [], 2);
        using (no_grad()) foreach (var p in policy.parameters()) p.zero_();
        float[] byHand = [0.25f, -0.5f, -0.25f, 0.5f, -0.25f, 0.25f];   // W00, W01, W10, W11, b0, b1
        var exact = Exact(policy, logits =>
        {
            var pi = nn.functional.softmax(logits, 1);
            return pi[0, 0] * 1 + pi[1, 1] * 2;
        });
        Assert.Equal(byHand, exact);   // autograd of the closed form agrees with the hand derivation
        var env = new TwoStepMdp();
        // per-episode estimates have sd ≤ 1.03 per component (enumerating the 4 action pairs): the mean of 3000
        // has sd ≤ 0.019, so 0.07 is over 3.5 sd
        var plain = Estimate(policy, env, 3_000, baseline: 0.0, seed: 3);
        var withBaseline = Estimate(policy, env, 3_000, baseline: 1.2, seed: 4);
        for (int i = 0; i < exact.Length; i++)
        {
            Assert.InRange(plain[i], exact[i] - 0.07, exact[i] + 0.07);
            Assert.InRange(withBaseline[i], exact[i] - 0.07, exact[i] + 0.07);
        }
    }

    [Fact]
    public void On_a_bandit_a_baseline_leaves_the_expected_gradient_and_lowers_its_variance()
    {
        // a two-armed bandit (one-step episodes) paying 1 for arm 0 and 0 for arm 1: J = π₀, and the one-episode
        // estimate of ∂J/∂(logit 0), (1[a = 0] − π₀)(r − b), has mean π₀(1 − π₀) whatever the baseline b
        using var policy = new Mlp(1, [], 2);
        using (no_grad())
        {
            // logits (ln 2/3, 0): π₀ = 0.4. The one-episode variances then are π₀(1 − π₀)³ = 0.0864 with b = 0
            // and π₀(1 − π₀)[(1 − π₀)³ + π₀³ − π₀(1 − π₀)] = 0.0096 with b = J = π₀.
            policy.parameters().First().zero_();
            policy.parameters().Last().copy_(tensor(new[] { (float)Math.Log(2.0 / 3.0), 0f }));
        }
        var bandit = new Bandit();
        double pi0;
        using (no_grad()) pi0 = nn.functional.softmax(policy.forward(ones(1, 1)), 1)[0, 0].item<float>();
        Assert.Equal(0.4, pi0, 6);
        double expected = pi0 * (1 - pi0);   // ∂J/∂(logit 0) = 0.24
        // 40 estimates from 25 episodes each, per baseline: their variance is the one-episode variance / 25
        List<double> Estimates(double b) =>
            Enumerable.Range(0, 40).Select(i => (double)Estimate(policy, bandit, 25, b, (ulong)(1000 + i))[2]).ToList();   // [2]: bias of logit 0
        var without = Estimates(0.0);
        var with = Estimates(pi0);
        static double Var(List<double> x) => x.Select(v => (v - x.Average()) * (v - x.Average())).Average();
        Assert.InRange(without.Average(), expected - 0.03, expected + 0.03);   // sd of the mean of 1000 episodes: 0.009
        Assert.InRange(with.Average(), expected - 0.03, expected + 0.03);
        Assert.True(Var(with) < 0.4 * Var(without), $"variance with b = J: {Var(with)}, without: {Var(without)} (expected ratio 0.11)");
    }

    sealed class Bandit : IEnvironment
    {
        public int ObservationSize => 1;
        public int ActionCount => 2;
        public float[] Reset() => [1f];
        public StepResult Step(int action) => new([1f], action == 0 ? 1 : 0, Terminated: true, Truncated: false);
    }

    [Fact]
    public void A_seeded_run_is_deterministic_and_resumes_exactly()
    {
        var hp = new ReinforceHyperparameters { Hidden = [32], EpisodesPerUpdate = 2 };
        (double[] Returns, double PolicyLoss, double ValueLoss)[] Run(ReinforceLearner learner, int updates) =>
            Enumerable.Range(0, updates).Select(_ => learner.Step()).Select(u => (u.Returns, u.PolicyLoss, u.ValueLoss)).ToArray();

        using var a = new ReinforceLearner(hp, seed: 5);
        using var b = new ReinforceLearner(hp, seed: 5);
        var ra = Run(a, 6);
        var rb = Run(b, 6);
        Assert.Equal(ra.Select(x => x.Returns), rb.Select(x => x.Returns));
        Assert.Equal(ra.Select(x => (x.PolicyLoss, x.ValueLoss)), rb.Select(x => (x.PolicyLoss, x.ValueLoss)));

        using var saved = new MemoryStream();
        using (var w = new BinaryWriter(saved, System.Text.Encoding.UTF8, leaveOpen: true)) a.Save(w);
        var expected = Run(a, 4);
        using var resumed = new ReinforceLearner(hp, seed: 77);
        saved.Position = 0;
        using (var r = new BinaryReader(saved)) resumed.Load(r);
        var got = Run(resumed, 4);
        Assert.Equal(expected.Select(x => x.Returns), got.Select(x => x.Returns));
        Assert.Equal(expected.Select(x => (x.PolicyLoss, x.ValueLoss)), got.Select(x => (x.PolicyLoss, x.ValueLoss)));
    }

    [Fact]
    public void A_short_run_beats_the_random_policy()
    {
        var hp = new ReinforceHyperparameters { MaxEpisodes = 120, EvalEvery = 0, SolveEpisodes = 20 };
        using var learner = new ReinforceLearner(hp, seed: 0);
        var outcome = learner.Train();
        double random = Evaluation.RandomReturns(hp.SolveEpisodes, seed: 17).Average();   // about 22
        Assert.Equal(120, outcome.Episodes);
        Assert.Equal(30, outcome.Updates);   // 4 episodes per update
        Assert.True(outcome.Final.Mean > 2 * random, $"greedy mean return {outcome.Final.Mean} after 120 episodes; random {random}");
    }
}
