// Deep Q-learning (DQN), from
//   V. Mnih, K. Kavukcuoglu, D. Silver, A. A. Rusu, J. Veness, M. G. Bellemare, A. Graves, M. Riedmiller,
//   A. K. Fidjeland, G. Ostrovski, S. Petersen, C. Beattie, A. Sadik, I. Antonoglou, H. King, D. Kumaran,
//   D. Wierstra, S. Legg, D. Hassabis. "Human-level control through deep reinforcement learning".
//   Nature 518, 529–533, 2015. Main text: Eq. 1 (the optimal action-value function
//   Q*(s, a) = max_π E[r_t + γ r_{t+1} + γ² r_{t+2} + … | s_t = s, a_t = a, π]) and the loss
//   L_i(θ_i) = E_{(s,a,r,s')~U(D)}[(r + γ max_a' Q(s', a'; θ_i⁻) − Q(s, a; θ_i))²]; Methods, "Training
//   algorithm for deep Q-networks" (experience replay, the target network Q̂ cloned every C updates, the
//   error term clipped to [−1, 1]) and Algorithm 1; Extended Data Table 1 (hyperparameters).
//
// What one environment step does (DqnLearner.Step, Algorithm 1's inner loop):
//   1. act       a = random with probability ε, else argmax_a Q(s, a; θ)            (ε-greedy)
//   2. store     (s, a, r, s', terminated) in the replay memory D                     (experience replay)
//   3. learn     every TrainEvery steps once LearningStarts transitions are stored:
//                sample a minibatch ~ U(D);
//                y = r                                  if s' is terminal
//                y = r + γ max_a' Q̂(s', a'; θ⁻)          otherwise                      (the TD target)
//                loss = Huber_δ(Q(s, a; θ) − y), mean over the minibatch;
//                backward; one Adam step on θ
//   4. sync      every TargetSyncEvery steps θ⁻ ← θ                                   (the target network)
//
// "Error clipping" is the Huber loss: Mnih et al. clip the error term r + γ max Q̂ − Q to [−1, 1], which
// is what the gradient of the Huber loss with δ = 1 does (quadratic inside |e| ≤ δ, linear outside).
//
// Deviations, each for CartPole on a CPU, and why:
//   * A two-hidden-layer MLP on the 4 state numbers instead of the convolutional network on 84×84×4 frames
//     (no pixels, no frame stacking, no action repeat).
//   * Adam instead of RMSProp (lr 2.5e-4, momenta 0.95): the standard choice in current reference
//     implementations; trains the small network reliably.
//   * Steps are environment steps; C (TargetSyncEvery) counts environment steps, not updates (with
//     TrainEvery = 1 they are the same).
//   * ε decays linearly from 1 over a few thousand steps (the paper: 1 → 0.1 over 1M frames), replay holds
//     tens of thousands of transitions (paper: 1M), learning starts after a thousand (paper: 50k).
//   * Truncation at 500 steps is not a terminal state: y bootstraps through it (the paper's Atari episodes
//     end only at game over). Treating the time limit as terminal would teach the network that the best
//     states lose all value at step 500.

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

/// <summary>Every knob of a DQN run on CartPole (defaults: the settings that solve CartPole-v1 in this project; see README).</summary>
public sealed record DqnHyperparameters
{
    /// <summary>Hidden layer widths of the Q-network.</summary>
    public int[] Hidden { get; init; } = [120, 84];
    /// <summary>Adam's learning rate.</summary>
    public double LearningRate { get; init; } = 1e-3;
    /// <summary>Replay memory size N (transitions).</summary>
    public int BufferSize { get; init; } = 50_000;
    /// <summary>Minibatch size.</summary>
    public int BatchSize { get; init; } = 128;
    /// <summary>Discount factor γ.</summary>
    public double Gamma { get; init; } = 0.99;
    /// <summary>C: copy θ into θ⁻ every this many environment steps.</summary>
    public int TargetSyncEvery { get; init; } = 250;
    /// <summary>ε at step 0.</summary>
    public double EpsilonStart { get; init; } = 1.0;
    /// <summary>ε after the decay.</summary>
    public double EpsilonEnd { get; init; } = 0.02;
    /// <summary>Environment steps over which ε falls linearly from start to end.</summary>
    public long EpsilonDecaySteps { get; init; } = 8_000;
    /// <summary>No update before this many transitions are stored (must be ≥ BatchSize).</summary>
    public long LearningStarts { get; init; } = 1_000;
    /// <summary>One gradient update every this many environment steps.</summary>
    public int TrainEvery { get; init; } = 1;
    /// <summary>δ of the Huber loss (1: the paper's error clipping to [−1, 1]).</summary>
    public double HuberDelta { get; init; } = 1.0;
    /// <summary>Most environment steps of a run.</summary>
    public long TotalSteps { get; init; } = 150_000;
    /// <summary>Greedy check every this many environment steps (0: never).</summary>
    public long EvalEvery { get; init; } = 1_000;
    /// <summary>Episodes of each greedy check.</summary>
    public int EvalEpisodes { get; init; } = 10;
    /// <summary>Episodes of the final greedy evaluation ("solved" is judged on these: 100 in CartPole-v1).</summary>
    public int SolveEpisodes { get; init; } = 100;
    /// <summary>Stop as soon as the policy is solved: a greedy check reaches the solved return, then a fresh
    /// <see cref="SolveEpisodes"/>-episode evaluation confirms it.</summary>
    public bool StopWhenSolved { get; init; } = true;

    /// <summary>The ε schedule these settings define.</summary>
    public LinearSchedule Epsilon => new(EpsilonStart, EpsilonEnd, EpsilonDecaySteps);

    /// <summary>Checks every field; throws naming the first bad one and its valid range.</summary>
    /// <exception cref="ArgumentException">A field is out of range.</exception>
    public void Validate()
    {
        static void Require(bool ok, string message) { if (!ok) throw new ArgumentException(message); }
        Require(Hidden.Length > 0 && Hidden.All(h => h >= 1), $"Hidden must list at least one layer width ≥ 1, got [{string.Join(", ", Hidden)}]");
        Require(LearningRate > 0 && double.IsFinite(LearningRate), $"LearningRate must be positive, got {LearningRate}");
        Require(BufferSize >= 1, $"BufferSize must be at least 1, got {BufferSize}");
        Require(BatchSize >= 1, $"BatchSize must be at least 1, got {BatchSize}");
        Require(Gamma is >= 0 and <= 1, $"Gamma must be in [0, 1], got {Gamma}");
        Require(TargetSyncEvery >= 1, $"TargetSyncEvery must be at least 1, got {TargetSyncEvery}");
        Require(EpsilonStart is >= 0 and <= 1 && EpsilonEnd is >= 0 and <= 1, $"EpsilonStart and EpsilonEnd must be in [0, 1], got {EpsilonStart} and {EpsilonEnd}");
        Require(EpsilonDecaySteps >= 0, $"EpsilonDecaySteps must be ≥ 0, got {EpsilonDecaySteps}");
        Require(LearningStarts >= BatchSize, $"LearningStarts ({LearningStarts}) must be at least BatchSize ({BatchSize}): the first minibatch needs that many transitions");
        Require(TrainEvery >= 1, $"TrainEvery must be at least 1, got {TrainEvery}");
        Require(HuberDelta > 0, $"HuberDelta must be positive, got {HuberDelta}");
        Require(TotalSteps >= 1, $"TotalSteps must be at least 1, got {TotalSteps}");
        Require(EvalEvery >= 0, $"EvalEvery must be ≥ 0, got {EvalEvery}");
        Require(EvalEpisodes >= 1 && SolveEpisodes >= 1, $"EvalEpisodes and SolveEpisodes must be at least 1, got {EvalEpisodes} and {SolveEpisodes}");
    }
}

/// <summary>An episode that ended during training.</summary>
/// <param name="Index">0-based episode number.</param>
/// <param name="Step">Environment steps taken when it ended (1-based, counting its last step).</param>
/// <param name="Return">Undiscounted return (CartPole: its length).</param>
/// <param name="Length">Steps in the episode.</param>
/// <param name="Truncated">Ended by the 500-step limit rather than by failing.</param>
public sealed record EpisodeEnd(long Index, long Step, double Return, int Length, bool Truncated);

/// <summary>One gradient update.</summary>
/// <param name="Loss">Mean Huber loss of the minibatch, before the step.</param>
/// <param name="MeanMaxQ">Mean over the minibatch of max_a Q(s, a; θ), before the step (the paper's Fig. 2 quantity, here on replayed states).</param>
/// <param name="MeanTarget">Mean TD target y of the minibatch.</param>
public sealed record QUpdate(double Loss, double MeanMaxQ, double MeanTarget);

/// <summary>What one call of <see cref="DqnLearner.Step"/> did.</summary>
/// <param name="Step">Environment steps taken so far (1-based: this step's number).</param>
/// <param name="Epsilon">ε used to act at this step.</param>
/// <param name="Episode">The episode that ended at this step, if one did.</param>
/// <param name="Update">The gradient update made at this step, if one was.</param>
/// <param name="TargetSynced">θ⁻ was set to θ after this step.</param>
public sealed record DqnStep(long Step, double Epsilon, EpisodeEnd? Episode, QUpdate? Update, bool TargetSynced);

/// <summary>A greedy evaluation made during or at the end of training.</summary>
/// <param name="Step">Environment steps of training before it.</param>
/// <param name="Returns">Return of each evaluation episode.</param>
/// <param name="Final">True for the <see cref="DqnHyperparameters.SolveEpisodes"/>-episode evaluation that judges "solved".</param>
public sealed record GreedyEvaluation(long Step, double[] Returns, bool Final)
{
    /// <summary>Mean return.</summary>
    public double Mean => Returns.Average();
}

/// <summary>How a training run ended.</summary>
/// <param name="Steps">Environment steps taken.</param>
/// <param name="Updates">Gradient updates made.</param>
/// <param name="Episodes">Training episodes finished.</param>
/// <param name="Solved">The final greedy evaluation's mean return is at least 475.</param>
/// <param name="Final">The final greedy evaluation (SolveEpisodes episodes on seeds never used in training or in the checks).</param>
public sealed record DqnOutcome(long Steps, long Updates, long Episodes, bool Solved, GreedyEvaluation Final);

/// <summary>
/// A DQN agent learning CartPole: the online network Q(·; θ), the target network Q̂(·; θ⁻), Adam, the replay
/// memory, the environment and the exploration generator — everything a run's state consists of.
/// <see cref="Step"/> is one environment step of Algorithm 1 (file header); <see cref="Train"/> loops it.
/// </summary>
/// <remarks>
/// Determinism: the constructor seeds torch's global generator (network initialisation) with the seed; the
/// environment, ε-greedy draws and replay sampling each have their own <see cref="SplitMix64"/> stream of the
/// seed, and nothing after construction draws from torch. Same seed and thread count ⇒ the same run.
/// Checkpoint: <see cref="Save"/>/<see cref="Load"/> hold all of it; a resumed run continues exactly.
/// </remarks>
public sealed class DqnLearner : IDisposable
{
    // stream numbers of the seed's generators
    const long EnvStream = 1, ExploreStream = 2, ReplayStream = 3, EvalStream = 4, SolveStream = 5;

    readonly CartPole _env;
    readonly SplitMix64 _explore;
    readonly LinearSchedule _epsilon;
    float[] _observation;
    double _episodeReturn;
    int _episodeLength;

    /// <summary>The settings of this run.</summary>
    public DqnHyperparameters Hp { get; }
    /// <summary>The run's seed.</summary>
    public int Seed { get; }
    /// <summary>Q(·; θ): acts and learns.</summary>
    public Mlp Online { get; }
    /// <summary>Q̂(·; θ⁻): gives the TD targets; a copy of θ from the last sync.</summary>
    public Mlp Target { get; }
    /// <summary>Adam over θ.</summary>
    public optim.Optimizer Optimizer { get; }
    /// <summary>The replay memory D.</summary>
    public ReplayBuffer Replay { get; }
    /// <summary>Environment steps taken.</summary>
    public long StepCount { get; private set; }
    /// <summary>Gradient updates made.</summary>
    public long UpdateCount { get; private set; }
    /// <summary>Training episodes finished.</summary>
    public long EpisodeCount { get; private set; }

    /// <param name="hp">Settings (validated).</param>
    /// <param name="seed">Seed of initialisation, environment, exploration and replay sampling.</param>
    /// <exception cref="ArgumentException">A setting is out of range.</exception>
    public DqnLearner(DqnHyperparameters hp, int seed)
    {
        hp.Validate();
        Hp = hp;
        Seed = seed;
        _epsilon = hp.Epsilon;
        _env = new CartPole(SplitMix64.Mix(seed, EnvStream));
        _explore = SplitMix64.ForStream(seed, ExploreStream);
        Replay = new ReplayBuffer(hp.BufferSize, _env.ObservationSize, SplitMix64.Mix(seed, ReplayStream));
        random.manual_seed(seed);
        Online = new Mlp(_env.ObservationSize, hp.Hidden, _env.ActionCount);
        Target = new Mlp(_env.ObservationSize, hp.Hidden, _env.ActionCount);
        Target.CopyFrom(Online);
        Target.eval();
        foreach (var p in Target.parameters()) p.requires_grad = false;
        Optimizer = optim.Adam(Online.parameters(), lr: hp.LearningRate);
        _observation = _env.Reset();
    }

    /// <summary>
    /// One environment step of Algorithm 1: act ε-greedily, store the transition, (maybe) one gradient
    /// update on a replayed minibatch, (maybe) sync the target network. The whole loop body is here.
    /// </summary>
    /// <returns>What happened: ε, the episode that ended, the update's loss and mean max-Q.</returns>
    public DqnStep Step()
    {
        using var scope = NewDisposeScope();

        // 1. act: ε-greedy on the online network
        double epsilon = _epsilon.Value(StepCount);
        int action = _explore.NextDouble() < epsilon ? _explore.NextInt(_env.ActionCount) : GreedyAction(Online, _observation);

        // 2. step the environment and store (s, a, r, s', terminated); truncation is not terminal
        StepResult result = _env.Step(action);
        Replay.Add(_observation, action, result.Reward, result.Observation, result.Terminated);
        _episodeReturn += result.Reward;
        _episodeLength++;
        StepCount++;
        EpisodeEnd? episode = null;
        if (result.Done)
        {
            episode = new EpisodeEnd(EpisodeCount++, StepCount, _episodeReturn, _episodeLength, result.Truncated);
            _observation = _env.Reset();
            _episodeReturn = 0;
            _episodeLength = 0;
        }
        else _observation = result.Observation;

        // 3. learn: one Adam step on the Huber loss of Q(s, a; θ) against the TD target from θ⁻
        QUpdate? update = null;
        if (StepCount >= Hp.LearningStarts && StepCount % Hp.TrainEvery == 0)
        {
            ReplayBatch batch = Replay.Sample(Hp.BatchSize);
            Tensor qAll = Online.forward(batch.Observations);                               // (B, A)  Q(s, ·; θ)
            Tensor q = qAll.gather(1, batch.Actions.unsqueeze(1)).squeeze(1);              // (B)     Q(s, a; θ)
            Tensor y;
            using (no_grad())
                y = TdTarget(batch.Rewards, Target.forward(batch.NextObservations), batch.Terminated, Hp.Gamma);  // (B)
            Tensor loss = nn.functional.huber_loss(q, y, delta: Hp.HuberDelta);             // mean over B
            Optimizer.zero_grad();
            loss.backward();
            Optimizer.step();
            UpdateCount++;
            update = new QUpdate(loss.item<float>(), qAll.detach().amax(1).mean().item<float>(), y.mean().item<float>());
        }

        // 4. target network: θ⁻ ← θ every C steps
        bool synced = StepCount % Hp.TargetSyncEvery == 0;
        if (synced) Target.CopyFrom(Online);

        return new DqnStep(StepCount, epsilon, episode, update, synced);
    }

    /// <summary>
    /// The TD target of the loss L_i(θ_i): y = r + γ·(1 − terminated)·max_a' Q̂(s', a'; θ⁻).
    /// </summary>
    /// <param name="rewards">r: (B) float32.</param>
    /// <param name="nextQ">Q̂(s', ·; θ⁻): (B, A) float32.</param>
    /// <param name="terminated">(B) float32: 1 where s' is terminal (then y = r), 0 otherwise.</param>
    /// <param name="gamma">Discount γ.</param>
    /// <returns>y: (B) float32, without gradient history if nextQ has none.</returns>
    public static Tensor TdTarget(Tensor rewards, Tensor nextQ, Tensor terminated, double gamma)
    {
        using var scope = NewDisposeScope();
        Tensor maxNext = nextQ.amax(1);                                                    // (B) max_a' Q̂(s', a')
        return (rewards + gamma * (1 - terminated) * maxNext).MoveToOuterDisposeScope();
    }

    /// <summary>argmax_a of the network's outputs for one observation (ties: the lower action).</summary>
    /// <param name="network">Q-network or policy: (1, obs) → (1, A) scores.</param>
    /// <param name="observation">(obs) float32.</param>
    public static int GreedyAction(Mlp network, float[] observation)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        Tensor scores = network.forward(tensor(observation, new long[] { 1, observation.Length }));
        return (int)scores.argmax(1).item<long>();
    }

    /// <summary>
    /// Steps until <see cref="DqnHyperparameters.TotalSteps"/>, or until solved when
    /// <see cref="DqnHyperparameters.StopWhenSolved"/>: every EvalEvery steps a greedy check of EvalEpisodes
    /// episodes; when its mean reaches 475, a SolveEpisodes-episode greedy evaluation on fresh seeds decides.
    /// At the end (not solved, or StopWhenSolved off) the final evaluation is run on those fresh seeds.
    /// </summary>
    /// <param name="onStep">Called after every step (ε, episode returns, loss, mean max-Q); null: nothing.</param>
    /// <param name="onEvaluation">Called after every greedy check and the final evaluation; null: nothing.</param>
    /// <param name="cancel">Stops between steps (then the final evaluation runs on the network as it is).</param>
    /// <returns>Steps, updates, episodes, whether solved, and the final evaluation.</returns>
    public DqnOutcome Train(Action<DqnStep>? onStep = null, Action<GreedyEvaluation>? onEvaluation = null, CancellationToken cancel = default)
    {
        long checks = 0;
        while (StepCount < Hp.TotalSteps && !cancel.IsCancellationRequested)
        {
            DqnStep step = Step();
            onStep?.Invoke(step);
            if (Hp.EvalEvery == 0 || StepCount % Hp.EvalEvery != 0) continue;
            var check = new GreedyEvaluation(StepCount, Evaluation.GreedyReturns(Online, Hp.EvalEpisodes, (long)SplitMix64.Mix(Seed, EvalStream * 1_000_000 + checks++)), Final: false);
            onEvaluation?.Invoke(check);
            if (!Hp.StopWhenSolved || check.Mean < CartPole.SolvedReturn) continue;
            var decisive = FinalEvaluation();
            onEvaluation?.Invoke(decisive);
            if (decisive.Mean >= CartPole.SolvedReturn) return new DqnOutcome(StepCount, UpdateCount, EpisodeCount, true, decisive);
        }
        var final = FinalEvaluation();
        onEvaluation?.Invoke(final);
        return new DqnOutcome(StepCount, UpdateCount, EpisodeCount, final.Mean >= CartPole.SolvedReturn, final);
    }

    /// <summary>The greedy policy's returns over SolveEpisodes episodes whose seeds training and the checks never use.</summary>
    public GreedyEvaluation FinalEvaluation() =>
        new(StepCount, Evaluation.GreedyReturns(Online, Hp.SolveEpisodes, (long)SplitMix64.Mix(Seed, SolveStream)), Final: true);

    /// <summary>
    /// Writes the whole run state: counters, the current episode, the environment and its generator, the
    /// exploration generator, the replay memory, θ, θ⁻ and Adam's moments. Enough to resume exactly.
    /// </summary>
    public void Save(BinaryWriter w)
    {
        w.Write("DQN-LEARNER-1");
        w.Write(StepCount); w.Write(UpdateCount); w.Write(EpisodeCount);
        w.Write(_episodeReturn); w.Write(_episodeLength);
        foreach (float v in _observation) w.Write(v);
        var s = _env.State;
        w.Write(s.X); w.Write(s.XDot); w.Write(s.Theta); w.Write(s.ThetaDot);
        w.Write(_env.ElapsedSteps); w.Write(_env.RngState);
        w.Write(_explore.State);
        Replay.Save(w);
        Online.save(w);
        Target.save(w);
        ((TorchSharp.Modules.OptimizerHelper)Optimizer).save_state_dict(w);
    }

    /// <summary>Restores what <see cref="Save"/> wrote into a learner built with the same settings.</summary>
    /// <exception cref="InvalidDataException">The stream is not a DQN learner state, or its replay memory does not fit.</exception>
    public void Load(BinaryReader r)
    {
        if (r.ReadString() != "DQN-LEARNER-1") throw new InvalidDataException("not a DQN learner state (expected the tag DQN-LEARNER-1)");
        StepCount = r.ReadInt64(); UpdateCount = r.ReadInt64(); EpisodeCount = r.ReadInt64();
        _episodeReturn = r.ReadDouble(); _episodeLength = r.ReadInt32();
        for (int i = 0; i < _observation.Length; i++) _observation[i] = r.ReadSingle();
        var state = new CartPoleState(r.ReadDouble(), r.ReadDouble(), r.ReadDouble(), r.ReadDouble());
        _env.SetState(state, r.ReadInt32());
        _env.RngState = r.ReadUInt64();
        _explore.State = r.ReadUInt64();
        Replay.Load(r);
        Online.load(r);
        Target.load(r);
        ((TorchSharp.Modules.OptimizerHelper)Optimizer).load_state_dict(r);
    }

    /// <summary>Releases the networks and the optimizer's tensors.</summary>
    public void Dispose()
    {
        Online.Dispose();
        Target.Dispose();
        Optimizer.Dispose();
    }
}
