// Deep Q-learning (DQN), from
//   V. Mnih, K. Kavukcuoglu, D. Silver, A. A. Rusu, J. Veness, M. G. Bellemare, A. Graves, M. Riedmiller,
//   A. K. Fidjeland, G. Ostrovski, S. Petersen, C. Beattie, A. Sadik, I. Antonoglou, H. King, D. Kumaran,
//   D. Wierstra, S. Legg, D. Hassabis. "Human-level control through deep reinforcement learning".
//   Nature 518, 529–533, 2015. Main text: Eq. 1 (the optimal action-value function
//   Q*(s, a) = max_π E[r_t + γ r_{t+1} + γ² r_{t+2} + … | s_t = s, a_t = a, π]) and Eq. 2, the loss
//   L_i(θ_i) = E_{(s,a,r,s')~U(D)}[(r + γ max_a' Q(s', a'; θ_i⁻) − Q(s, a; θ_i))²]; Methods, "Training
//   algorithm for deep Q-networks" (experience replay, the target network Q̂ cloned every C updates, the
//   error term clipped to [−1, 1]) and Algorithm 1; Extended Data Table 1 (hyperparameters); Fig. 2 (the
//   average max-Q on a held-out set of states).
//
// One environment step of Algorithm 1 — the loop body, written out in Experiment.cs (RunDqn):
//   1. act       a = random with probability ε, else argmax_a Q(s, a; θ)            (EpsilonGreedyActor.Act)
//   2. store     (s, a, r, s', terminated) in the replay memory D                     (ReplayBuffer.Add)
//   3. learn     every TrainEvery steps once LearningStarts transitions are stored:
//                sample a minibatch ~ U(D)                                            (ReplayBuffer.Sample)
//                y = r                                  if s' is terminal
//                y = r + γ max_a' Q̂(s', a'; θ⁻)          otherwise                      (QLearning.TdTarget)
//                loss = Huber_δ(Q(s, a; θ) − y), mean over the minibatch;
//                backward; one Adam step on θ
//   4. sync      every C steps θ⁻ ← θ                                                 (Mlp.CopyFrom)
//
// "Error clipping" is the Huber loss: Mnih et al. clip the error term r + γ max Q̂ − Q to [−1, 1], which
// is what the gradient of the Huber loss with δ = 1 does (quadratic inside |e| ≤ δ, linear outside).
//
// Deviations, each for CartPole on a CPU, and why:
//   * A two-hidden-layer MLP on the 4 state numbers instead of the convolutional network on 84×84×4 frames
//     (no pixels, no frame stacking, no action repeat).
//   * Adam instead of the paper's RMSProp (learning rate 2.5e-4, gradient momentum 0.95): the usual choice
//     in current reference implementations; it trains the small network reliably.
//   * Steps are environment steps; C counts environment steps, not updates (with one update per step from
//     LearningStarts on, they differ only by the first LearningStarts steps).
//   * ε decays linearly from 1 over a few thousand steps (the paper: 1 → 0.1 over 1M frames), replay holds
//     tens of thousands of transitions (paper: 1M), learning starts after a thousand (paper: 50k).
//   * Truncation at 500 steps is not a terminal state: y bootstraps through it (the paper's Atari episodes
//     end only at game over). Treating the time limit as terminal would teach the network that the best
//     states lose all value at step 500.

using PaperLab.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace PaperLab.Papers.Dqn;

/// <summary>ε(t): linear from <paramref name="Start"/> at t = 0 to <paramref name="End"/> at t = <paramref name="Duration"/>, then constant.</summary>
/// <param name="Start">ε at step 0 (Mnih et al.: 1.0).</param>
/// <param name="End">Final ε (Mnih et al.: 0.1).</param>
/// <param name="Duration">Steps over which ε falls (Mnih et al.: 1,000,000 frames); 0 gives End at once.</param>
public sealed record LinearSchedule(double Start, double End, long Duration)
{
    /// <summary>ε at (0-based) environment step <paramref name="step"/>.</summary>
    public double Value(long step) => step >= Duration ? End : Start + (End - Start) * step / Duration;
}

/// <summary>The Q-learning arithmetic of DQN's update, separately testable.</summary>
public static class QLearning
{
    /// <summary>
    /// The TD target of the loss L_i(θ_i) (Mnih et al. 2015, Eq. 2 and Algorithm 1):
    /// y = r + γ·(1 − terminated)·max_a' Q̂(s', a'; θ⁻).
    /// </summary>
    /// <param name="rewards">r: (B) float32.</param>
    /// <param name="nextQ">Q̂(s', ·; θ⁻): (B, A) float32.</param>
    /// <param name="terminated">(B) float32: 1 where s' is terminal (then y = r), 0 otherwise.</param>
    /// <param name="gamma">Discount γ.</param>
    /// <returns>y: (B) float32, without gradient history if nextQ has none.</returns>
    public static Tensor TdTarget(Tensor rewards, Tensor nextQ, Tensor terminated, double gamma)
    {
        // exercise dqn-td-target: Eq. 2, Algorithm 1 of Mnih et al. 2015 — y = r + γ·(1 − terminated)·max_a′ Q̂(s′, a′): (B)
        using var scope = NewDisposeScope();
        Tensor maxNext = nextQ.amax(1);                                                    // (B) max_a' Q̂(s', a')
        return (rewards + gamma * (1 - terminated) * maxNext).MoveToOuterDisposeScope();
        // end exercise
    }

    /// <summary>Q(s, a) of the actions taken: row i of <paramref name="q"/> at column actions[i].</summary>
    /// <param name="q">Q(s, ·): (B, A).</param>
    /// <param name="actions">a: (B) int64.</param>
    /// <returns>(B), differentiable through q.</returns>
    public static Tensor ActionValues(Tensor q, Tensor actions) => q.gather(1, actions.unsqueeze(1)).squeeze(1);

    /// <summary>
    /// The mean over <paramref name="states"/> of max_a Q(s, a; θ): Mnih et al.'s measure of learning progress
    /// (Fig. 2, on a fixed held-out set of states), smoother than episode returns.
    /// </summary>
    /// <param name="q">The Q-network.</param>
    /// <param name="states">(N, obs) float32.</param>
    /// <returns>The mean, in units of return.</returns>
    public static double MeanMaxQ(Mlp q, Tensor states)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        return q.forward(states).amax(1).mean().item<float>();
    }

    /// <summary>
    /// Gradient updates made in environment steps 1 … <paramref name="steps"/> when step t updates if
    /// t ≥ learningStarts and t is a multiple of trainEvery.
    /// </summary>
    public static long UpdatesBy(long steps, long learningStarts, int trainEvery) =>
        steps < learningStarts ? 0 : steps / trainEvery - (Math.Max(learningStarts, 1) - 1) / trainEvery;
}

/// <summary>An episode that ended during training.</summary>
/// <param name="Index">0-based episode number.</param>
/// <param name="Return">Undiscounted return (CartPole: its length).</param>
/// <param name="Length">Steps in the episode.</param>
/// <param name="Truncated">Ended by the 500-step limit rather than by failing.</param>
public sealed record EpisodeEnd(long Index, double Return, int Length, bool Truncated);

/// <summary>One environment step as the replay memory stores it, plus the episode it ended (if it did).</summary>
/// <param name="Observation">s.</param>
/// <param name="Action">a.</param>
/// <param name="Reward">r.</param>
/// <param name="NextObservation">s'.</param>
/// <param name="Terminated">s' is terminal (its value is 0); false at the 500-step cut.</param>
/// <param name="Ended">The episode that ended with this step; null while it goes on.</param>
public sealed record Experience(float[] Observation, int Action, double Reward, float[] NextObservation, bool Terminated, EpisodeEnd? Ended);

/// <summary>
/// DQN's side of the environment: CartPole, the current observation, the episode in progress and the
/// generator of ε-greedy's coin flips. <see cref="Act"/> chooses, <see cref="Step"/> applies the choice and
/// starts a new episode when one ends. Its state is part of a run's checkpoint (<see cref="ICheckpointState"/>):
/// the environment's state and generator, the exploration generator, the observation, the episode so far.
/// </summary>
public sealed class EpsilonGreedyActor : ICheckpointState
{
    readonly CartPole _env;
    readonly SplitMix64 _explore;
    float[] _observation;
    double _episodeReturn;
    int _episodeLength;

    /// <param name="env">The environment (reset here).</param>
    /// <param name="exploreSeed">State of the generator behind ε-greedy's coin flips and random actions.</param>
    public EpsilonGreedyActor(CartPole env, ulong exploreSeed)
    {
        _env = env;
        _explore = new SplitMix64(exploreSeed);
        _observation = env.Reset();
    }

    /// <summary>s: the observation the next action is chosen for.</summary>
    public float[] Observation => _observation;
    /// <summary>Episodes finished.</summary>
    public long Episodes { get; private set; }

    /// <summary>ε-greedy: with probability ε a uniformly random action, else argmax_a Q(s, a; θ).</summary>
    /// <param name="q">Q(·; θ).</param>
    /// <param name="epsilon">ε in [0, 1].</param>
    /// <returns>The action.</returns>
    public int Act(Mlp q, double epsilon) =>
        _explore.NextDouble() < epsilon ? _explore.NextInt(_env.ActionCount) : Rollouts.GreedyAction(q, _observation);

    /// <summary>Applies <paramref name="action"/> in s; at an episode's end (terminated or truncated) resets for the next.</summary>
    /// <returns>(s, a, r, s', terminated) and the episode that ended, if one did.</returns>
    public Experience Step(int action)
    {
        float[] s = _observation;
        StepResult result = _env.Step(action);
        _episodeReturn += result.Reward;
        _episodeLength++;
        EpisodeEnd? ended = null;
        if (result.Done)
        {
            ended = new EpisodeEnd(Episodes++, _episodeReturn, _episodeLength, result.Truncated);
            _episodeReturn = 0;
            _episodeLength = 0;
            _observation = _env.Reset();
        }
        else _observation = result.Observation;
        return new Experience(s, action, result.Reward, result.Observation, result.Terminated, ended);
    }

    /// <inheritdoc/>
    public void Save(BinaryWriter w)
    {
        w.Write("DQN-ACTOR-1");
        w.Write(Episodes); w.Write(_episodeReturn); w.Write(_episodeLength);
        foreach (float v in _observation) w.Write(v);
        var s = _env.State;
        w.Write(s.X); w.Write(s.XDot); w.Write(s.Theta); w.Write(s.ThetaDot);
        w.Write(_env.ElapsedSteps); w.Write(_env.RngState);
        w.Write(_explore.State);
    }

    /// <inheritdoc/>
    /// <exception cref="InvalidDataException">Not an actor state.</exception>
    public void Load(BinaryReader r)
    {
        if (r.ReadString() != "DQN-ACTOR-1") throw new InvalidDataException("not a DQN actor state (expected the tag DQN-ACTOR-1)");
        Episodes = r.ReadInt64(); _episodeReturn = r.ReadDouble(); _episodeLength = r.ReadInt32();
        _observation = new float[_env.ObservationSize];
        for (int i = 0; i < _observation.Length; i++) _observation[i] = r.ReadSingle();
        var state = new CartPoleState(r.ReadDouble(), r.ReadDouble(), r.ReadDouble(), r.ReadDouble());
        _env.SetState(state, r.ReadInt32());
        _env.RngState = r.ReadUInt64();
        _explore.State = r.ReadUInt64();
    }
}
