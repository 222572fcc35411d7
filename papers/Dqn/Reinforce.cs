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
// One update — the loop body, written out in Experiment.cs (RunReinforce):
//   collect K episodes with a ~ π(·|s; θ) (EpisodeSampler.Collect; actions from its own generator)
//   G_t   = Σ_{k≥t} γ^{k−t} r_k                          returns-to-go, per episode (PolicyGradient.Batch)
//   A_t   = G_t − V(s_t; w)                              advantage: the learned baseline subtracted (not differentiated)
//   A_t  ← (A_t − mean A) / (std A + 1e-8)               normalised over the K episodes' steps (PolicyGradient.Standardise)
//   loss_π = −(1/K) Σ_episodes Σ_t ln π(a_t | s_t; θ) · A_t       its −gradient is the REINFORCE estimate of ∇_θ J (PolicyGradient.Loss)
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

using PaperLab.Training;
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
    /// <summary>The K episodes' steps stacked for one update: states, actions and returns-to-go.</summary>
    /// <param name="episodes">The episodes (at least one step in all).</param>
    /// <param name="gamma">Discount γ of the returns-to-go.</param>
    /// <returns>s: (N, obs) float32, a: (N) int64, G: (N) float32, N = Σ episode lengths; in the caller's dispose scope.</returns>
    /// <exception cref="ArgumentException">No steps at all.</exception>
    public static (Tensor States, Tensor Actions, Tensor Returns) Batch(IReadOnlyList<Episode> episodes, double gamma)
    {
        int n = episodes.Sum(e => e.Length);
        if (n == 0) throw new ArgumentException("the episodes hold no steps", nameof(episodes));
        int size = episodes.First(e => e.Length > 0).Observations[0].Length;
        var s = episodes.SelectMany(e => e.Observations).SelectMany(o => o).ToArray();
        var a = episodes.SelectMany(e => e.Actions).Select(x => (long)x).ToArray();
        var g = episodes.SelectMany(e => ReturnsToGo(e.Rewards, gamma)).Select(x => (float)x).ToArray();
        return (tensor(s, new long[] { n, size }), tensor(a), tensor(g));
    }

    /// <summary>(x − mean x) / (std x + 1e-8): advantages rescaled to mean 0 and standard deviation 1 (one value: x − x = 0).</summary>
    /// <param name="x">(N) float32.</param>
    /// <returns>(N) float32.</returns>
    public static Tensor Standardise(Tensor x)
    {
        using var scope = NewDisposeScope();
        Tensor centred = x - x.mean();
        return (x.shape[0] > 1 ? centred / (x.std() + 1e-8) : centred).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// REINFORCE's side of the environment: CartPole and the generator of the action draws. <see cref="Collect"/>
/// plays whole episodes with a ~ π(·|s; θ), so between updates no episode is in progress; the generators'
/// states and the counters are part of a run's checkpoint (<see cref="ICheckpointState"/>).
/// </summary>
public sealed class EpisodeSampler : ICheckpointState
{
    readonly CartPole _env;
    readonly SplitMix64 _actions;

    /// <param name="env">The environment.</param>
    /// <param name="actionSeed">State of the generator behind the action draws.</param>
    public EpisodeSampler(CartPole env, ulong actionSeed)
    {
        _env = env;
        _actions = new SplitMix64(actionSeed);
    }

    /// <summary>Episodes played.</summary>
    public long Episodes { get; private set; }
    /// <summary>Environment steps taken.</summary>
    public long EnvironmentSteps { get; private set; }

    /// <summary>Plays <paramref name="count"/> episodes with actions sampled from softmax(policy(s)).</summary>
    /// <param name="policy">(1, obs) → (1, A) logits.</param>
    /// <param name="count">K ≥ 1.</param>
    /// <returns>The episodes, in order.</returns>
    public Episode[] Collect(Mlp policy, int count)
    {
        var episodes = new Episode[count];
        for (int k = 0; k < count; k++)
        {
            episodes[k] = PolicyGradient.CollectEpisode(_env, policy, _actions);
            Episodes++;
            EnvironmentSteps += episodes[k].Length;
        }
        return episodes;
    }

    /// <inheritdoc/>
    public void Save(BinaryWriter w)
    {
        w.Write("REINFORCE-SAMPLER-1");
        w.Write(Episodes); w.Write(EnvironmentSteps);
        w.Write(_env.RngState); w.Write(_actions.State);
    }

    /// <inheritdoc/>
    /// <exception cref="InvalidDataException">Not a sampler state.</exception>
    public void Load(BinaryReader r)
    {
        if (r.ReadString() != "REINFORCE-SAMPLER-1") throw new InvalidDataException("not a REINFORCE sampler state (expected the tag REINFORCE-SAMPLER-1)");
        Episodes = r.ReadInt64(); EnvironmentSteps = r.ReadInt64();
        _env.RngState = r.ReadUInt64(); _actions.State = r.ReadUInt64();
    }
}
