// REINFORCE with a learned baseline, from
//   R. J. Williams. "Simple Statistical Gradient-Following Algorithms for Connectionist Reinforcement
//   Learning". Machine Learning 8, 229–256, 1992. §4: the REINFORCE update Δw = α (r − b) e with the
//   characteristic eligibility e = ∂ ln π(a | s; w) / ∂w and a baseline b that does not depend on the action;
//   its Theorem 1: the expected update lies along the gradient of the expected reward, whatever b is.
//   §6: episodic REINFORCE, Δw = α (r − b) Σ_t e(t) for a reward r at the end of an episode.
// in the form of R. S. Sutton, A. G. Barto, "Reinforcement Learning: An Introduction", 2nd ed., 2018,
// §13.3 (REINFORCE: the return from time t weights ∇ ln π(A_t | S_t)) and §13.4 (with a baseline b(S_t) = v̂(S_t, w)
// learned from the same returns).
//
// One update (ReinforceLearner.Step):
//   collect K episodes with a ~ π(·|s; θ) (actions drawn from the learner's own generator)
//   G_t   = Σ_{k≥t} γ^{k−t} r_k                          returns-to-go, per episode
//   A_t   = G_t − V(s_t; w)                              advantage: the learned baseline subtracted (not differentiated)
//   A_t  ← (A_t − mean A) / (std A + 1e-8)               normalised over the K episodes' steps (NormaliseAdvantages)
//   loss_π = −(1/K) Σ_episodes Σ_t ln π(a_t | s_t; θ) · A_t       its −gradient is the REINFORCE estimate of ∇_θ J
//   loss_V = mean_t (V(s_t; w) − G_t)²                            the baseline regresses the returns
//   one Adam step on θ, one on w
//
// Deviations from Williams' episodic form, and why:
//   * Returns-to-go G_t weight step t, not the whole episode's return: an action cannot change the rewards
//     before it, so dropping them keeps the estimate unbiased and lowers its variance (Sutton & Barto §13.3).
//   * The baseline depends on the state (a value network), still not on the action: Theorem 1 still holds.
//   * Normalising the advantages (on by default) rescales each update's step: it is no longer an unbiased
//     gradient, but a steadier one whose size does not grow with the return (500 at the end of training).
//     PolicyGradient.Loss with raw returns is the unbiased estimator the tests check.

using TorchSharp;
using static TorchSharp.torch;

namespace PaperLab.Papers.Dqn;

/// <summary>One finished episode: s_0 … s_{T−1}, a_0 … a_{T−1}, r_0 … r_{T−1}.</summary>
/// <param name="Observations">s_t, each (obs) float32.</param>
/// <param name="Actions">a_t.</param>
/// <param name="Rewards">r_t (received after a_t).</param>
public sealed record Episode(float[][] Observations, int[] Actions, double[] Rewards)
{
    /// <summary>T: number of steps.</summary>
    public int Length => Actions.Length;
    /// <summary>Undiscounted return Σ_t r_t.</summary>
    public double Return => Rewards.Sum();
}

/// <summary>The pieces of the policy-gradient estimator, separately testable.</summary>
public static class PolicyGradient
{
    /// <summary>Returns-to-go G_t = r_t + γ G_{t+1}, G_T = 0 (Sutton &amp; Barto 2018, §13.3).</summary>
    /// <param name="rewards">r_0 … r_{T−1}.</param>
    /// <param name="gamma">Discount γ in [0, 1].</param>
    /// <returns>G_0 … G_{T−1}.</returns>
    public static double[] ReturnsToGo(IReadOnlyList<double> rewards, double gamma)
    {
        var g = new double[rewards.Count];
        double next = 0;
        for (int t = rewards.Count - 1; t >= 0; t--) g[t] = next = rewards[t] + gamma * next;
        return g;
    }

    /// <summary>Draws a ~ π by inverting the cumulative distribution with one uniform draw.</summary>
    /// <param name="probabilities">π(·|s), non-negative, summing to 1 (up to rounding).</param>
    /// <param name="rng">Source of the uniform draw.</param>
    /// <returns>An action index; rounding slack at the top goes to the last action with positive probability.</returns>
    public static int SampleAction(ReadOnlySpan<float> probabilities, SplitMix64 rng)
    {
        double u = rng.NextDouble(), cumulative = 0;
        int last = 0;
        for (int a = 0; a < probabilities.Length; a++)
        {
            if (probabilities[a] <= 0) continue;
            last = a;
            cumulative += probabilities[a];
            if (u < cumulative) return a;
        }
        return last;
    }

    /// <summary>Plays one episode with actions sampled from softmax(policy(s)).</summary>
    /// <param name="env">The environment (reset here).</param>
    /// <param name="policy">(1, obs) → (1, A) logits.</param>
    /// <param name="rng">Source of the action draws.</param>
    /// <param name="maxSteps">Safety limit for environments that never end.</param>
    /// <returns>The episode.</returns>
    /// <exception cref="InvalidOperationException">The episode did not end within maxSteps.</exception>
    public static Episode CollectEpisode(IEnvironment env, Mlp policy, SplitMix64 rng, int maxSteps = 100_000)
    {
        var observations = new List<float[]>();
        var actions = new List<int>();
        var rewards = new List<double>();
        float[] observation = env.Reset();
        using var _ = no_grad();
        for (int t = 0; t < maxSteps; t++)
        {
            int action;
            using (NewDisposeScope())
            {
                Tensor probs = nn.functional.softmax(policy.forward(tensor(observation, new long[] { 1, observation.Length })), 1);
                action = SampleAction(probs.data<float>().ToArray(), rng);
            }
            StepResult result = env.Step(action);
            observations.Add(observation);
            actions.Add(action);
            rewards.Add(result.Reward);
            if (result.Done) return new Episode(observations.ToArray(), actions.ToArray(), rewards.ToArray());
            observation = result.Observation;
        }
        throw new InvalidOperationException($"the episode did not end within {maxSteps} steps");
    }

    /// <summary>
    /// The REINFORCE surrogate loss −(1/K) Σ_{episodes} Σ_t ln π(a_t | s_t) · w_t: its gradient is minus the
    /// estimate of ∇J (Williams 1992, Theorem 1, with weights w_t = G_t − b(s_t)). Differentiates through the
    /// logits only; the weights are constants.
    /// </summary>
    /// <param name="logits">(N, A): the policy's logits at the N steps of the K episodes.</param>
    /// <param name="actions">(N) int64: the actions taken.</param>
    /// <param name="weights">(N) float32: G_t, or G_t − b(s_t), or a normalised advantage.</param>
    /// <param name="episodes">K: the number of episodes the N steps come from.</param>
    /// <returns>Scalar loss.</returns>
    public static Tensor Loss(Tensor logits, Tensor actions, Tensor weights, int episodes)
    {
        using var scope = NewDisposeScope();
        Tensor logProb = nn.functional.log_softmax(logits, 1).gather(1, actions.unsqueeze(1)).squeeze(1);   // (N) ln π(a_t | s_t)
        return (-(logProb * weights.detach()).sum() / episodes).MoveToOuterDisposeScope();
    }
}

/// <summary>Every knob of a REINFORCE run on CartPole.</summary>
public sealed record ReinforceHyperparameters
{
    /// <summary>Hidden layer widths of the policy and of the value network.</summary>
    public int[] Hidden { get; init; } = [128];
    /// <summary>Adam's learning rate for the policy θ.</summary>
    public double PolicyLearningRate { get; init; } = 1e-3;
    /// <summary>Adam's learning rate for the baseline's w.</summary>
    public double ValueLearningRate { get; init; } = 1e-3;
    /// <summary>Discount γ of the returns-to-go.</summary>
    public double Gamma { get; init; } = 0.99;
    /// <summary>K: episodes per update.</summary>
    public int EpisodesPerUpdate { get; init; } = 4;
    /// <summary>Standardise the advantages over each update's steps (see the file header).</summary>
    public bool NormaliseAdvantages { get; init; } = true;
    /// <summary>Most training episodes of a run.</summary>
    public long MaxEpisodes { get; init; } = 4_000;
    /// <summary>Greedy check every this many updates (0: never).</summary>
    public int EvalEvery { get; init; } = 10;
    /// <summary>Episodes of each greedy check.</summary>
    public int EvalEpisodes { get; init; } = 10;
    /// <summary>Episodes of the final greedy evaluation that judges "solved".</summary>
    public int SolveEpisodes { get; init; } = 100;
    /// <summary>Stop once a greedy check reaches 475 and a fresh SolveEpisodes-episode evaluation confirms it.</summary>
    public bool StopWhenSolved { get; init; } = true;

    /// <summary>Checks every field; throws naming the first bad one.</summary>
    /// <exception cref="ArgumentException">A field is out of range.</exception>
    public void Validate()
    {
        static void Require(bool ok, string message) { if (!ok) throw new ArgumentException(message); }
        Require(Hidden.Length > 0 && Hidden.All(h => h >= 1), $"Hidden must list at least one layer width ≥ 1, got [{string.Join(", ", Hidden)}]");
        Require(PolicyLearningRate > 0 && ValueLearningRate > 0, $"learning rates must be positive, got {PolicyLearningRate} and {ValueLearningRate}");
        Require(Gamma is >= 0 and <= 1, $"Gamma must be in [0, 1], got {Gamma}");
        Require(EpisodesPerUpdate >= 1, $"EpisodesPerUpdate must be at least 1, got {EpisodesPerUpdate}");
        Require(MaxEpisodes >= 1, $"MaxEpisodes must be at least 1, got {MaxEpisodes}");
        Require(EvalEvery >= 0, $"EvalEvery must be ≥ 0, got {EvalEvery}");
        Require(EvalEpisodes >= 1 && SolveEpisodes >= 1, $"EvalEpisodes and SolveEpisodes must be at least 1, got {EvalEpisodes} and {SolveEpisodes}");
    }
}

/// <summary>One REINFORCE update.</summary>
/// <param name="Update">1-based update number.</param>
/// <param name="Episodes">Training episodes finished so far.</param>
/// <param name="Steps">Environment steps taken so far.</param>
/// <param name="Returns">Undiscounted return of each episode of this update.</param>
/// <param name="PolicyLoss">loss_π of this update (before the step).</param>
/// <param name="ValueLoss">loss_V: mean squared error of the baseline against G_t (before the step).</param>
/// <param name="MeanValue">Mean of V(s_t) over the update's steps.</param>
/// <param name="Entropy">Mean entropy of π(·|s_t) over the update's steps, nats.</param>
public sealed record ReinforceUpdate(long Update, long Episodes, long Steps, double[] Returns, double PolicyLoss, double ValueLoss, double MeanValue, double Entropy);

/// <summary>How a REINFORCE run ended.</summary>
/// <param name="Updates">Updates made.</param>
/// <param name="Episodes">Training episodes played.</param>
/// <param name="Steps">Environment steps taken.</param>
/// <param name="Solved">The final greedy evaluation's mean return is at least 475.</param>
/// <param name="Final">That evaluation.</param>
public sealed record ReinforceOutcome(long Updates, long Episodes, long Steps, bool Solved, GreedyEvaluation Final);

/// <summary>
/// A REINFORCE agent with a learned baseline on CartPole: policy π(·|s; θ), value V(s; w), an Adam for each,
/// the environment and the action generator. <see cref="Step"/> is one update (file header).
/// </summary>
/// <remarks>Determinism as for <see cref="DqnLearner"/>: torch is seeded once for the initialisation; all
/// later randomness is the learner's own <see cref="SplitMix64"/> streams.</remarks>
public sealed class ReinforceLearner : IDisposable
{
    const long EnvStream = 1, ActionStream = 2, EvalStream = 4, SolveStream = 5;

    readonly CartPole _env;
    readonly SplitMix64 _actions;

    /// <summary>The settings of this run.</summary>
    public ReinforceHyperparameters Hp { get; }
    /// <summary>The run's seed.</summary>
    public int Seed { get; }
    /// <summary>π(·|s; θ) as logits.</summary>
    public Mlp Policy { get; }
    /// <summary>The baseline V(s; w).</summary>
    public Mlp Value { get; }
    /// <summary>Adam over θ.</summary>
    public optim.Optimizer PolicyOptimizer { get; }
    /// <summary>Adam over w.</summary>
    public optim.Optimizer ValueOptimizer { get; }
    /// <summary>Updates made.</summary>
    public long UpdateCount { get; private set; }
    /// <summary>Training episodes played.</summary>
    public long EpisodeCount { get; private set; }
    /// <summary>Environment steps taken.</summary>
    public long StepCount { get; private set; }

    /// <param name="hp">Settings (validated).</param>
    /// <param name="seed">Seed of initialisation, environment and action draws.</param>
    /// <exception cref="ArgumentException">A setting is out of range.</exception>
    public ReinforceLearner(ReinforceHyperparameters hp, int seed)
    {
        hp.Validate();
        Hp = hp;
        Seed = seed;
        _env = new CartPole(SplitMix64.Mix(seed, EnvStream));
        _actions = SplitMix64.ForStream(seed, ActionStream);
        random.manual_seed(seed);
        Policy = new Mlp(_env.ObservationSize, hp.Hidden, _env.ActionCount);
        Value = new Mlp(_env.ObservationSize, hp.Hidden, 1);
        PolicyOptimizer = optim.Adam(Policy.parameters(), lr: hp.PolicyLearningRate);
        ValueOptimizer = optim.Adam(Value.parameters(), lr: hp.ValueLearningRate);
    }

    /// <summary>One update: K episodes, returns-to-go, advantages against the baseline, one Adam step each on θ and w.</summary>
    public ReinforceUpdate Step()
    {
        // collect K episodes with the current policy
        var episodes = Enumerable.Range(0, Hp.EpisodesPerUpdate).Select(_ => PolicyGradient.CollectEpisode(_env, Policy, _actions)).ToArray();
        EpisodeCount += episodes.Length;
        int n = episodes.Sum(e => e.Length);
        StepCount += n;

        using var scope = NewDisposeScope();
        var flat = episodes.SelectMany(e => e.Observations).SelectMany(o => o).ToArray();
        Tensor s = tensor(flat, new long[] { n, _env.ObservationSize });                                       // (N, 4)
        Tensor a = tensor(episodes.SelectMany(e => e.Actions).Select(x => (long)x).ToArray());                  // (N)
        Tensor g = tensor(episodes.SelectMany(e => PolicyGradient.ReturnsToGo(e.Rewards, Hp.Gamma)).Select(x => (float)x).ToArray()); // (N) G_t

        // baseline: A_t = G_t − V(s_t), V not differentiated through the policy loss
        Tensor v = Value.forward(s).squeeze(1);                                                                 // (N)
        Tensor advantage = g - v.detach();
        if (Hp.NormaliseAdvantages && n > 1) advantage = (advantage - advantage.mean()) / (advantage.std() + 1e-8);

        Tensor logits = Policy.forward(s);                                                                      // (N, 2)
        Tensor policyLoss = PolicyGradient.Loss(logits, a, advantage, episodes.Length);
        Tensor valueLoss = nn.functional.mse_loss(v, g);

        PolicyOptimizer.zero_grad();
        policyLoss.backward();
        PolicyOptimizer.step();
        ValueOptimizer.zero_grad();
        valueLoss.backward();
        ValueOptimizer.step();
        UpdateCount++;

        Tensor logp = nn.functional.log_softmax(logits.detach(), 1);
        double entropy = (-(logp.exp() * logp).sum(1)).mean().item<float>();
        return new ReinforceUpdate(UpdateCount, EpisodeCount, StepCount, episodes.Select(e => e.Return).ToArray(),
                                   policyLoss.item<float>(), valueLoss.item<float>(), v.mean().item<float>(), entropy);
    }

    /// <summary>
    /// Updates until MaxEpisodes, or until solved when StopWhenSolved (greedy checks every EvalEvery updates;
    /// a check at 475 or more triggers the SolveEpisodes-episode evaluation that decides). The greedy policy
    /// is argmax_a π(a|s).
    /// </summary>
    /// <param name="onUpdate">Called after every update; null: nothing.</param>
    /// <param name="onEvaluation">Called after every check and the final evaluation; null: nothing.</param>
    /// <param name="cancel">Stops between updates.</param>
    public ReinforceOutcome Train(Action<ReinforceUpdate>? onUpdate = null, Action<GreedyEvaluation>? onEvaluation = null, CancellationToken cancel = default)
    {
        long checks = 0;
        while (EpisodeCount < Hp.MaxEpisodes && !cancel.IsCancellationRequested)
        {
            ReinforceUpdate update = Step();   // not inside onUpdate?.Invoke(…): with no callback, ?. would skip the argument
            onUpdate?.Invoke(update);
            if (Hp.EvalEvery == 0 || UpdateCount % Hp.EvalEvery != 0) continue;
            var check = new GreedyEvaluation(StepCount, Evaluation.GreedyReturns(Policy, Hp.EvalEpisodes, (long)SplitMix64.Mix(Seed, EvalStream * 1_000_000 + checks++)), Final: false);
            onEvaluation?.Invoke(check);
            if (!Hp.StopWhenSolved || check.Mean < CartPole.SolvedReturn) continue;
            var decisive = FinalEvaluation();
            onEvaluation?.Invoke(decisive);
            if (decisive.Mean >= CartPole.SolvedReturn) return new ReinforceOutcome(UpdateCount, EpisodeCount, StepCount, true, decisive);
        }
        var final = FinalEvaluation();
        onEvaluation?.Invoke(final);
        return new ReinforceOutcome(UpdateCount, EpisodeCount, StepCount, final.Mean >= CartPole.SolvedReturn, final);
    }

    /// <summary>The greedy policy's returns over SolveEpisodes episodes on seeds that training and the checks never use.</summary>
    public GreedyEvaluation FinalEvaluation() =>
        new(StepCount, Evaluation.GreedyReturns(Policy, Hp.SolveEpisodes, (long)SplitMix64.Mix(Seed, SolveStream)), Final: true);

    /// <summary>Writes the run state between updates: counters, generators, θ, w and both Adams.</summary>
    public void Save(BinaryWriter w)
    {
        w.Write("REINFORCE-LEARNER-1");
        w.Write(UpdateCount); w.Write(EpisodeCount); w.Write(StepCount);
        w.Write(_env.RngState); w.Write(_actions.State);
        Policy.save(w); Value.save(w);
        ((TorchSharp.Modules.OptimizerHelper)PolicyOptimizer).save_state_dict(w);
        ((TorchSharp.Modules.OptimizerHelper)ValueOptimizer).save_state_dict(w);
    }

    /// <summary>Restores what <see cref="Save"/> wrote into a learner built with the same settings.</summary>
    /// <exception cref="InvalidDataException">The stream is not a REINFORCE learner state.</exception>
    public void Load(BinaryReader r)
    {
        if (r.ReadString() != "REINFORCE-LEARNER-1") throw new InvalidDataException("not a REINFORCE learner state (expected the tag REINFORCE-LEARNER-1)");
        UpdateCount = r.ReadInt64(); EpisodeCount = r.ReadInt64(); StepCount = r.ReadInt64();
        _env.RngState = r.ReadUInt64(); _actions.State = r.ReadUInt64();
        Policy.load(r); Value.load(r);
        ((TorchSharp.Modules.OptimizerHelper)PolicyOptimizer).load_state_dict(r);
        ((TorchSharp.Modules.OptimizerHelper)ValueOptimizer).load_state_dict(r);
    }

    /// <summary>Releases the networks and optimizers.</summary>
    public void Dispose()
    {
        Policy.Dispose(); Value.Dispose();
        PolicyOptimizer.Dispose(); ValueOptimizer.Dispose();
    }
}
