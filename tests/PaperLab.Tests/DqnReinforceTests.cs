using PaperLab.Papers.Dqn;
using PaperLab.Runs;
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
    public void Batch_stacks_the_episodes_and_their_returns_to_go_and_standardise_rescales()
    {
        var e1 = new Episode([[1f, 2f], [3f, 4f]], [0, 1], [1.0, 1.0]);
        var e2 = new Episode([[5f, 6f]], [1], [2.0]);
        using var scope = NewDisposeScope();
        var (s, a, g) = PolicyGradient.Batch([e1, e2], gamma: 0.5);
        Assert.Equal(new long[] { 3, 2 }, s.shape);
        Assert.Equal(new[] { 1f, 2f, 3f, 4f, 5f, 6f }, s.data<float>().ToArray());
        Assert.Equal(new long[] { 0, 1, 1 }, a.data<long>().ToArray());
        Assert.Equal(new[] { 1.5f, 1f, 2f }, g.data<float>().ToArray());     // G per episode: 1 + 0.5·1, 1; then 2
        var z = PolicyGradient.Standardise(tensor(new[] { 1f, 2f, 3f, 6f })).data<float>().ToArray();
        Assert.Equal(0, z.Average(), 6);
        double sd = Math.Sqrt(z.Sum(x => x * x) / 3);                        // torch's std: the n − 1 form
        Assert.Equal(1, sd, 5);
        Assert.Equal(new[] { 0f }, PolicyGradient.Standardise(tensor(new[] { 7f })).data<float>().ToArray());
        Assert.Throws<ArgumentException>(() => PolicyGradient.Batch([new Episode([], [], [])], 0.9));
    }

    static DqnOptions Smoke => DqnOptions.Defaults(new DqnOptions { Algorithm = "reinforce" }, new PaperLab.Cli.RunOptions { Smoke = true });

    [Fact]
    public void Resuming_gives_exactly_the_uninterrupted_run() =>
        // the policy, the baseline, both Adams and the sampler's generators and counters must all come back
        PaperRun.ResumesBitIdentically(Experiment.Paper, Experiment.Run, Smoke with { Steps = 20 }, stopAfter: 13);

    [Fact]
    public void Smoke_run_beats_the_random_policy()
    {
        using var dir = new TempDir();
        var summary = PaperRun.Run(Experiment.Run, Smoke, PaperRun.Context(Experiment.Paper, dir.File("run")))!;
        Assert.Equal("reinforce", summary.Algorithm);
        Assert.Equal(30, summary.Updates);
        Assert.Equal(120, summary.Episodes);                                   // 4 episodes per update
        Assert.True(summary.FinalMeanReturn > 2 * summary.RandomMeanReturn,
                    $"greedy mean return {summary.FinalMeanReturn} after 120 episodes; random {summary.RandomMeanReturn}");
        var returns = MetricsLog.Read(dir.File("run", "metrics.csv")).Where(r => r.Split == "episode" && r.Name == "return").ToList();
        Assert.Equal(120, returns.Count);
        Assert.Equal(summary.EnvironmentSteps, (long)returns.Sum(r => r.Value));   // CartPole pays 1 per step
        Assert.True(File.Exists(dir.File("run", "value.pt")));
    }
}
