// DQN and REINFORCE on CartPole, top to bottom: options → the environment, the networks and the replay
// memory → the training step in a foreach over the shared TrainingLoop → run folder. The step bodies below
// are the heart of the paper: DQN's is one environment step of Mnih et al.'s Algorithm 1 (act, store,
// sample, TD target, Huber loss, backward, Adam step, target sync), REINFORCE's one update over K episodes.
// The pieces they call are in CartPole.cs, Dqn.cs, ReplayBuffer.cs, Reinforce.cs and Rollouts.cs.
//
// How the shared loop serves reinforcement learning: a loop step is an environment step (DQN) or an update
// (REINFORCE); steps before learning starts record no loss; episode returns, ε and the greedy checks are
// per-step metrics (step.Log); a solved run ends early (step.EndRun); and everything a resumed run needs —
// both networks, Adam, the replay memory, the environment's state and generators, the episode in progress —
// is registered with loop.Add, so the one checkpoint carries it and a resumed run continues bit for bit.

using System.Diagnostics;
using System.Text.Json.Serialization;
using PaperLab.Cli;
using PaperLab.Runs;
using PaperLab.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace PaperLab.Papers.Dqn;

/// <summary>Hyperparameters of a run: each property is a command-line option (--kebab-case) and a field of config.json.</summary>
public sealed record DqnOptions : ICheckedOptions
{
    /// <summary>The learner: dqn (Mnih et al. 2015) or reinforce (Williams 1992, with a learned baseline).</summary>
    [Option(OneOf = new[] { "dqn", "reinforce" })] public string Algorithm { get; init; } = "dqn";
    /// <summary>Most training-loop steps: environment steps for dqn; updates of --episodes-per-update episodes for reinforce (its default: 1,000).</summary>
    [Option(Min = 1, Max = 1_000_000_000)] public long Steps { get; init; } = 150_000;
    /// <summary>Hidden layer widths, comma-separated: the Q-network's for dqn; the policy's and the baseline's for reinforce (its default: 128).</summary>
    public string Hidden { get; init; } = "120,84";
    /// <summary>Adam's learning rate: of the Q-network (dqn) or of the policy (reinforce).</summary>
    [Option(Min = 0, MinExclusive = true, Max = 10)] public double Lr { get; init; } = 1e-3;
    /// <summary>γ, the discount of future rewards (the paper: 0.99).</summary>
    [Option(Min = 0, Max = 1)] public double Gamma { get; init; } = 0.99;

    /// <summary>dqn: N, transitions the replay memory holds (the paper: 1,000,000).</summary>
    [Option(Min = 1, Max = 10_000_000)] public int BufferSize { get; init; } = 50_000;
    /// <summary>dqn: transitions per minibatch (the paper: 32).</summary>
    [Option(Min = 1, Max = 1_000_000)] public int BatchSize { get; init; } = 128;
    /// <summary>dqn: C, copy θ into the target network θ⁻ every this many environment steps (the paper: every 10,000 updates).</summary>
    [Option(Min = 1, Max = 1_000_000_000)] public int TargetSyncEvery { get; init; } = 250;
    /// <summary>dqn: ε of ε-greedy at step 0 (the paper: 1).</summary>
    [Option(Min = 0, Max = 1)] public double EpsilonStart { get; init; } = 1.0;
    /// <summary>dqn: ε after its linear decay (the paper: 0.1).</summary>
    [Option(Min = 0, Max = 1)] public double EpsilonEnd { get; init; } = 0.02;
    /// <summary>dqn: environment steps over which ε falls linearly (the paper: 1,000,000 frames).</summary>
    [Option(Min = 0, Max = 1_000_000_000)] public long EpsilonDecaySteps { get; init; } = 8_000;
    /// <summary>dqn: no update before this many transitions are stored, at least --batch-size (the paper: 50,000).</summary>
    [Option(Min = 1, Max = 1_000_000_000)] public long LearningStarts { get; init; } = 1_000;
    /// <summary>dqn: one gradient update every this many environment steps (the paper: 4).</summary>
    [Option(Min = 1, Max = 1_000_000)] public int TrainEvery { get; init; } = 1;
    /// <summary>dqn: δ of the Huber loss; 1 is the paper's clipping of the error term to [−1, 1].</summary>
    [Option(Min = 0, MinExclusive = true, Max = 1e6)] public double HuberDelta { get; init; } = 1.0;

    /// <summary>reinforce: K, episodes per update.</summary>
    [Option(Min = 1, Max = 100_000)] public int EpisodesPerUpdate { get; init; } = 4;
    /// <summary>reinforce: Adam's learning rate of the value baseline V(s; w).</summary>
    [Option(Min = 0, MinExclusive = true, Max = 10)] public double ValueLr { get; init; } = 1e-3;
    /// <summary>reinforce: standardise the advantages within each update (steadier steps; false: the plain unbiased estimate).</summary>
    public bool NormaliseAdvantages { get; init; } = true;

    /// <summary>A greedy check, the held-out statistics and a checkpoint every this many loop steps (dqn: environment steps; reinforce: updates, its default 10).</summary>
    [Option(Min = 1, Max = 1_000_000_000)] public long EvalEvery { get; init; } = 1_000;
    /// <summary>Episodes of each greedy check.</summary>
    [Option(Min = 1, Max = 100_000)] public int EvalEpisodes { get; init; } = 10;
    /// <summary>Episodes of the greedy evaluation a check of 475 or more triggers; the run is solved when its mean reaches 475 (CartPole-v1: 100).</summary>
    [Option(Min = 1, Max = 100_000)] public int SolveEpisodes { get; init; } = 100;
    /// <summary>End the run as soon as it is solved.</summary>
    public bool StopWhenSolved { get; init; } = true;
    /// <summary>Episodes of the final greedy evaluation, reported as final_mean_return, on initial states no check has used.</summary>
    [Option(Min = 1, Max = 100_000, MayChangeOnResume = true)] public int FinalEpisodes { get; init; } = 100;
    /// <summary>Instead of training: time this many CartPole steps, greedy actions and DQN updates of this configuration, print one JSON line (no run folder).</summary>
    [Option(Min = 1, Max = 10_000_000, MayChangeOnResume = true)] public int? Bench { get; init; }

    /// <summary>The hidden widths of <see cref="Hidden"/>.</summary>
    /// <exception cref="UsageException">--hidden is not a list of positive integers.</exception>
    [JsonIgnore]
    public int[] HiddenWidths => TryParseHidden(Hidden, out var widths) ? widths : throw new UsageException(HiddenProblem);

    string HiddenProblem => $"--hidden: expected comma-separated layer widths in [1, 100000] such as 120,84, got '{Hidden}'";

    static bool TryParseHidden(string text, out int[] widths)
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        widths = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!int.TryParse(parts[i], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out widths[i]) || widths[i] is < 1 or > 100_000)
                return false;
        return true;
    }

    /// <inheritdoc/>
    public IEnumerable<string> Problems()
    {
        if (!TryParseHidden(Hidden, out _)) yield return HiddenProblem;
        if (Algorithm == "dqn" && LearningStarts < BatchSize)
            yield return $"--learning-starts {LearningStarts} must be at least --batch-size {BatchSize}: the first minibatch is drawn from that many transitions";
        if (Bench != null && Algorithm != "dqn") yield return "--bench times DQN's pieces; leave out --algorithm reinforce";
    }

    /// <summary>
    /// The defaults of a run: the settings that solve CartPole-v1 (README); for --algorithm reinforce its own
    /// network, length and check cadence. --smoke: a few thousand environment steps (seconds), what CI trains.
    /// </summary>
    public static DqnOptions Defaults(DqnOptions given, RunOptions run) => (given.Algorithm, run.Smoke) switch
    {
        ("reinforce", false) => new() { Algorithm = "reinforce", Steps = 1_000, Hidden = "128", EvalEvery = 10 },
        ("reinforce", true) => new() { Algorithm = "reinforce", Steps = 30, Hidden = "128", EvalEvery = 10, EvalEpisodes = 5, SolveEpisodes = 20, FinalEpisodes = 20 },
        (_, true) => new()
        {
            Steps = 2_000, Hidden = "64,64", BufferSize = 5_000, BatchSize = 32, TargetSyncEvery = 100, EpsilonDecaySteps = 1_500,
            LearningStarts = 300, EvalEvery = 500, EvalEpisodes = 5, SolveEpisodes = 20, FinalEpisodes = 20,
        },
        _ => new(),
    };
}

/// <summary>summary.json of a run (snake_case keys).</summary>
public sealed record DqnSummary : RunSummary
{
    /// <summary>dqn or reinforce.</summary>
    public required string Algorithm { get; init; }
    /// <summary>A greedy evaluation of SolveEpisodes episodes reached a mean return of 475.</summary>
    public bool Solved { get; init; }
    /// <summary>The loop step (dqn: environment step; reinforce: update) at which it first did; null if never.</summary>
    public long? SolvedAtStep { get; init; }
    /// <summary>Mean return of that evaluation; null if never solved.</summary>
    public double? SolveMeanReturn { get; init; }
    /// <summary>Seconds from the start of the run to that evaluation (set-up and checks included; over every process of a resumed run); null if never solved.</summary>
    public double? TimeToSolveSeconds { get; init; }
    /// <summary>Environment steps of training (the greedy evaluations' steps not counted).</summary>
    public long EnvironmentSteps { get; init; }
    /// <summary>Training episodes finished.</summary>
    public long Episodes { get; init; }
    /// <summary>Gradient updates of the Q-network (dqn) or of the policy (reinforce).</summary>
    public long Updates { get; init; }
    /// <summary>Mean return of the greedy policy over FinalEpisodes episodes from initial states no check used: the figure compared with 475.</summary>
    public double FinalMeanReturn { get; init; }
    /// <summary>Episodes of that evaluation.</summary>
    public int FinalEpisodes { get; init; }
    /// <summary>Mean return of the uniform random policy from the same initial states: the baseline (about 22).</summary>
    public double RandomMeanReturn { get; init; }
    /// <summary>Mean return of the last 100 training episodes (exploring: ε-greedy or sampled actions); null with fewer than 100.</summary>
    public double? TrainingMeanReturnLast100 { get; init; }
    /// <summary>dqn: mean of max_a Q(s, a) over the held-out random-policy states at the end (Mnih et al. Fig. 2); reinforce: null.</summary>
    public double? FinalMeanMaxQ { get; init; }
    /// <summary>The last logged mean training loss (dqn: Huber; reinforce: the policy's surrogate).</summary>
    public double? FinalTrainLoss { get; init; }
    /// <summary>Seconds of the greedy checks and solve evaluations inside training (part of train_seconds).</summary>
    public double GreedyCheckSeconds { get; init; }
    /// <summary>Environment steps per second of training, the greedy checks' time taken out.</summary>
    public double EnvironmentStepsPerSecond { get; init; }
    /// <summary>Gradient updates per second of training, the greedy checks' time taken out.</summary>
    public double UpdatesPerSecond { get; init; }
}

/// <summary>
/// The SplitMix64 stream of the run's seed behind each random purpose (bench/pytorch_dqn.py uses the same
/// numbers, so both programs start CartPole from the same states).
/// </summary>
public static class Streams
{
    /// <summary>Training episodes' initial states.</summary>
    public const long Environment = 1;
    /// <summary>ε-greedy's coin flips and random actions (dqn), the action draws (reinforce).</summary>
    public const long Explore = 2;
    /// <summary>Replay minibatch slots.</summary>
    public const long Replay = 3;
    /// <summary>Greedy checks: check i uses the stream Check·10⁶ + i.</summary>
    public const long Check = 4;
    /// <summary>The evaluation that decides "solved".</summary>
    public const long Solve = 5;
    /// <summary>The final evaluation and the random baseline.</summary>
    public const long Final = 6;
    /// <summary>The held-out random-policy states.</summary>
    public const long HeldOut = 7;

    /// <summary>The generator state of <paramref name="stream"/> for <paramref name="seed"/>.</summary>
    public static ulong Of(int seed, long stream) => SplitMix64.Mix(seed, stream);

    /// <summary>The seed of greedy check number <paramref name="check"/> (0-based).</summary>
    public static ulong OfCheck(int seed, long check) => SplitMix64.Mix(seed, Check * 1_000_000 + check);
}

/// <summary>The DQN / REINFORCE experiment on CartPole-v1.</summary>
public static class Experiment
{
    /// <summary>The paper, for run folders and --help.</summary>
    public static readonly PaperInfo Paper = new("dqn", "DQN (Mnih et al. 2015) and REINFORCE with a baseline (Williams 1992) on CartPole-v1 written from its equations",
                                                DefaultThreads: 1);   // networks of a few thousand weights: a second libtorch thread only waits (README)

    /// <summary>What "solved" means for CartPole-v1, the figure a run is compared with.</summary>
    public static readonly Published SolvedThreshold = new("final_mean_return", CartPole.SolvedReturn,
        "CartPole-v1's solved threshold (reward_threshold 475 of its Gym/Gymnasium registration: a mean return of 475 over 100 consecutive episodes), " +
        "judged here on 100 greedy episodes; a uniform random policy averages about 22 (random_mean_return)", LowerIsBetter: false);

    /// <summary>Held-out states for the mean max-Q curve: those of this many random-policy episodes (about 22 each).</summary>
    public const int HeldOutEpisodes = 10;

    /// <summary>Parses the command line, runs, prints the run folder last. Exit 0, 1 (failure), 2 (usage), 130 (Ctrl-C).</summary>
    public static int Main(string[] args) => PaperProgram.Main<DqnOptions>(args, Paper, DqnOptions.Defaults, (o, c) => Run(o, c)!);   // null only after --bench, which PaperProgram does not read

    /// <summary>Trains and writes the run folder (config.json, metrics.csv, checkpoint.bin, model.pt, summary.json, report.html).</summary>
    /// <returns>The summary; null in --bench mode (which prints its measurements and writes no run folder).</returns>
    /// <exception cref="UsageException">--data was given: CartPole is simulated, there is no dataset.</exception>
    /// <exception cref="NonFiniteLossException">The loss became NaN or infinite.</exception>
    public static DqnSummary? Run(DqnOptions o, RunContext ctx)
    {
        if (ctx.Common.Data is not null)
            throw new UsageException("--data: this paper reads no dataset (CartPole is simulated from its equations, CartPole.cs); leave --data out");
        if (o.Bench is int benchSteps)
        {
            Bench.Run(o, ctx.Threads, benchSteps);
            return null;
        }
        var wall = Stopwatch.StartNew();
        var run = ctx.Start(o);
        if (ctx.Threads > 1)
            ctx.Progress.Line($"note: {ctx.Threads} libtorch threads; these networks are so small that extra threads only wait on each other " +
                              "(7–10× slower than one under load on the reference machine): --threads 1 is the faster choice");
        var (summary, acting) = o.Algorithm == "reinforce" ? RunReinforce(o, ctx, run, wall) : RunDqn(o, ctx, run, wall);
        run.WriteSummary(summary);
        Report.Write(run, o, summary, acting, ctx.Common.Seed);
        string at = o.Algorithm == "reinforce" ? "update" : "environment step";
        ctx.Progress.Line($"{(summary.Solved ? $"solved at {at} {summary.SolvedAtStep:N0} ({summary.Episodes:N0} episodes, {summary.TimeToSolveSeconds:F0} s)" : "not solved")}; " +
                          $"greedy mean return {summary.FinalMeanReturn:F1} over {summary.FinalEpisodes} fresh episodes " +
                          $"(solved at 475; random policy {summary.RandomMeanReturn:F1}); {summary.EnvironmentStepsPerSecond:N0} env steps/s, {summary.UpdatesPerSecond:N0} updates/s");
        return summary;
    }

    /// <summary>DQN: one loop step is one environment step of Algorithm 1.</summary>
    static (DqnSummary, Mlp) RunDqn(DqnOptions o, RunContext ctx, RunFolder run, Stopwatch wall)
    {
        int seed = ctx.Common.Seed;
        var env = new CartPole(Streams.Of(seed, Streams.Environment));
        torch.manual_seed(seed);                                                  // θ's initial draw; nothing later draws from torch
        var online = new Mlp(env.ObservationSize, o.HiddenWidths, env.ActionCount);   // Q(·; θ): acts and learns
        var target = new Mlp(env.ObservationSize, o.HiddenWidths, env.ActionCount);   // Q̂(·; θ⁻): the TD targets
        target.CopyFrom(online);
        foreach (var p in target.parameters()) p.requires_grad = false;
        var optimizer = optim.Adam(online.parameters(), lr: o.Lr);
        var replay = new ReplayBuffer(o.BufferSize, env.ObservationSize, Streams.Of(seed, Streams.Replay));   // D
        var actor = new EpsilonGreedyActor(env, Streams.Of(seed, Streams.Explore));
        var epsilon = new LinearSchedule(o.EpsilonStart, o.EpsilonEnd, o.EpsilonDecaySteps);
        using var heldOut = Rollouts.RandomPolicyStates(HeldOutEpisodes, Streams.Of(seed, Streams.HeldOut));   // (N, 4)
        ctx.Progress.Line($"DQN: Q-network 4-{o.Hidden.Replace(",", "-")}-2, {ParameterCounts.Total(online):N0} parameters; " +
                          $"replay {o.BufferSize:N0}, batch {o.BatchSize}, C = {o.TargetSyncEvery}, ε {o.EpsilonStart} → {o.EpsilonEnd} over {o.EpsilonDecaySteps:N0} steps");

        var loop = new TrainingLoop(ctx, new LoopSettings { TotalSteps = o.Steps, EvalEvery = o.EvalEvery, LogEvery = o.EvalEvery, ItemName = "env steps",
                                                            FixedBatch = false });   // steps are environment steps, not batches: no --find-lr/--overfit-batch
        loop.Add("online", online);
        loop.Add("target", target);
        loop.Add("optimizer", optimizer);
        loop.Add("replay", replay);
        loop.Add("actor", actor);
        loop.Evaluate = _ => new Dictionary<string, double> { ["eval/mean_max_q"] = QLearning.MeanMaxQ(online, heldOut) };

        foreach (var step in loop)
        {
            long t = step.Index + 1;                                                  // this environment step's number
            // 1. act: a random action with probability ε, else argmax_a Q(s, a; θ)
            double eps = epsilon.Value(step.Index);
            int action = actor.Act(online, eps);
            // 2. step CartPole, store (s, a, r, s', terminated) in D; the 500-step cut is not terminal
            Experience e = actor.Step(action);
            replay.Add(e.Observation, e.Action, e.Reward, e.NextObservation, e.Terminated);
            if (e.Ended is { } episode)
            {
                step.Log("episode", "return", episode.Return);
                step.Log("episode", "epsilon", eps);
            }
            // 3. learn: one Adam step on the Huber loss of Q(s, a; θ) against the TD target from θ⁻
            if (t >= o.LearningStarts && t % o.TrainEvery == 0)
            {
                ReplayBatch batch = replay.Sample(o.BatchSize);                                          // (s, a, r, s', terminated) ~ U(D)
                Tensor q = QLearning.ActionValues(online.forward(batch.Observations), batch.Actions);     // (B) Q(s, a; θ)
                Tensor y;
                using (no_grad())
                    y = QLearning.TdTarget(batch.Rewards, target.forward(batch.NextObservations), batch.Terminated, o.Gamma);   // (B) r + γ max Q̂
                Tensor loss = nn.functional.huber_loss(q, y, delta: o.HuberDelta);                        // mean over B: the error clipping
                step.Record(loss);                                                                       // stops here if NaN or infinite
                optimizer.zero_grad();
                loss.backward();
                optimizer.step();
            }
            // 4. sync the target network every C steps: θ⁻ ← θ
            if (t % o.TargetSyncEvery == 0) target.CopyFrom(online);

            if (t % o.EvalEvery == 0) GreedyCheck(step, online, o, seed, check: t / o.EvalEvery - 1);
        }

        PyTorchExport.Save(online, run.File("model.pt"));
        var result = loop.Result;
        long envSteps = result.Steps;
        var (_, maxQ) = run.Metrics.Series("eval", "mean_max_q");
        var summary = Summarise("DQN (Mnih et al. 2015)", o, ctx, run, result, online, wall, envSteps, actor.Episodes,
                                QLearning.UpdatesBy(envSteps, o.LearningStarts, o.TrainEvery), ParameterCounts.Total(online)) with
        {
            FinalMeanMaxQ = maxQ.Length > 0 ? maxQ[^1] : null,
        };
        return (summary, online);
    }

    /// <summary>REINFORCE: one loop step is one update over K whole episodes.</summary>
    static (DqnSummary, Mlp) RunReinforce(DqnOptions o, RunContext ctx, RunFolder run, Stopwatch wall)
    {
        int seed = ctx.Common.Seed;
        var env = new CartPole(Streams.Of(seed, Streams.Environment));
        torch.manual_seed(seed);
        var policy = new Mlp(env.ObservationSize, o.HiddenWidths, env.ActionCount);   // logits of π(·|s; θ)
        var value = new Mlp(env.ObservationSize, o.HiddenWidths, 1);                  // the baseline V(s; w)
        var policyOptimizer = optim.Adam(policy.parameters(), lr: o.Lr);
        var valueOptimizer = optim.Adam(value.parameters(), lr: o.ValueLr);
        var sampler = new EpisodeSampler(env, Streams.Of(seed, Streams.Explore));
        using var heldOut = Rollouts.RandomPolicyStates(HeldOutEpisodes, Streams.Of(seed, Streams.HeldOut));
        ctx.Progress.Line($"REINFORCE: policy 4-{o.Hidden.Replace(",", "-")}-2 and baseline 4-{o.Hidden.Replace(",", "-")}-1, " +
                          $"{ParameterCounts.Total(policy) + ParameterCounts.Total(value):N0} parameters; {o.EpisodesPerUpdate} episodes per update");

        var loop = new TrainingLoop(ctx, new LoopSettings { TotalSteps = o.Steps, EvalEvery = o.EvalEvery, LogEvery = o.EvalEvery, ItemName = "env steps",
                                                            FixedBatch = false });   // steps are environment steps, not batches: no --find-lr/--overfit-batch
        loop.Add("policy", policy);
        loop.Add("value", value);
        loop.Add("policy_optimizer", policyOptimizer);
        loop.Add("value_optimizer", valueOptimizer);
        loop.Add("sampler", sampler);
        loop.Evaluate = _ =>
        {
            using var scope = NewDisposeScope();
            Tensor logp = nn.functional.log_softmax(policy.forward(heldOut), 1);
            return new Dictionary<string, double>
            {
                ["eval/mean_value"] = value.forward(heldOut).mean().item<float>(),              // V(s; w) on the held-out states
                ["eval/entropy"] = (-(logp.exp() * logp).sum(1)).mean().item<float>(),          // of π(·|s), nats (ln 2 = 0.69: uniform)
            };
        };

        foreach (var step in loop)
        {
            Episode[] episodes = sampler.Collect(policy, o.EpisodesPerUpdate);                  // K episodes, a ~ π(·|s; θ)
            var (s, a, g) = PolicyGradient.Batch(episodes, o.Gamma);                           // (N, 4), (N), (N) returns-to-go G_t
            Tensor v = value.forward(s).squeeze(1);                                             // (N) V(s_t; w)
            Tensor advantage = g - v.detach();                                                  // G_t − b(s_t): the baseline is a constant here
            if (o.NormaliseAdvantages) advantage = PolicyGradient.Standardise(advantage);
            Tensor policyLoss = PolicyGradient.Loss(policy.forward(s), a, advantage, episodes.Length);   // −(1/K) Σ ln π(a_t|s_t)·A_t
            Tensor valueLoss = nn.functional.mse_loss(v, g);                                    // the baseline regresses the returns
            step.Record(policyLoss, items: s.shape[0]);
            policyOptimizer.zero_grad();
            policyLoss.backward();
            policyOptimizer.step();
            valueOptimizer.zero_grad();
            valueLoss.backward();
            valueOptimizer.step();

            foreach (var episode in episodes) step.Log("episode", "return", episode.Return);
            step.Log("train", "value_loss", valueLoss.item<float>());
            long t = step.Index + 1;
            if (t % o.EvalEvery == 0) GreedyCheck(step, policy, o, seed, check: t / o.EvalEvery - 1);
        }

        PyTorchExport.Save(policy, run.File("model.pt"));
        PyTorchExport.Save(value, run.File("value.pt"));
        var result = loop.Result;
        var summary = Summarise("REINFORCE with a baseline (Williams 1992)", o, ctx, run, result, policy, wall, sampler.EnvironmentSteps, sampler.Episodes,
                                result.Steps, ParameterCounts.Total(policy) + ParameterCounts.Total(value));
        return (summary, policy);
    }

    /// <summary>
    /// A greedy check of EvalEpisodes episodes on initial states of its own; when its mean reaches 475, the
    /// SolveEpisodes-episode evaluation that decides "solved" (and, with --stop-when-solved, ends the run).
    /// Logged as greedy/check_return, greedy/solve_return and their time, greedy/check_seconds.
    /// </summary>
    static void GreedyCheck(TrainingStep step, Mlp network, DqnOptions o, int seed, long check)
    {
        var clock = Stopwatch.StartNew();
        double mean = Rollouts.GreedyReturns(network, o.EvalEpisodes, Streams.OfCheck(seed, check)).Average();
        step.Log("greedy", "check_return", mean);
        if (mean >= CartPole.SolvedReturn)
        {
            double solve = Rollouts.GreedyReturns(network, o.SolveEpisodes, Streams.Of(seed, Streams.Solve)).Average();
            step.Log("greedy", "solve_return", solve);
            if (solve >= CartPole.SolvedReturn && o.StopWhenSolved) step.EndRun();
        }
        step.Log("greedy", "check_seconds", clock.Elapsed.TotalSeconds);
    }

    /// <summary>The final evaluation against the random policy, and the figures read back from metrics.csv (which a resumed run carries whole).</summary>
    static DqnSummary Summarise(string paper, DqnOptions o, RunContext ctx, RunFolder run, TrainingResult result, Mlp acting, Stopwatch wall,
                                long envSteps, long episodes, long updates, long parameters)
    {
        int seed = ctx.Common.Seed;
        double final = Rollouts.GreedyReturns(acting, o.FinalEpisodes, Streams.Of(seed, Streams.Final)).Average();
        double random = Rollouts.RandomReturns(o.FinalEpisodes, Streams.Of(seed, Streams.Final)).Average();
        var rows = run.Metrics.Rows;
        var solvedRow = rows.FirstOrDefault(r => r.Split == "greedy" && r.Name == "solve_return" && r.Value >= CartPole.SolvedReturn);
        var returns = run.Metrics.Series("episode", "return").Values;
        double checkSeconds = rows.Where(r => r.Split == "greedy" && r.Name == "check_seconds").Sum(r => r.Value);
        double learningSeconds = Math.Max(result.TrainSeconds - checkSeconds, 1e-9);
        var losses = run.Metrics.Series("train", "loss").Values;
        return new DqnSummary
        {
            Paper = paper,
            Dataset = "CartPole-v1 (simulated)",
            Published = SolvedThreshold,
            Algorithm = o.Algorithm,
            Solved = solvedRow is not null,
            SolvedAtStep = solvedRow?.Step,
            SolveMeanReturn = solvedRow?.Value,
            TimeToSolveSeconds = solvedRow?.WallSeconds,
            EnvironmentSteps = envSteps,
            Episodes = episodes,
            Updates = updates,
            FinalMeanReturn = final,
            FinalEpisodes = o.FinalEpisodes,
            RandomMeanReturn = random,
            TrainingMeanReturnLast100 = returns.Length >= 100 ? returns.TakeLast(100).Average() : null,
            FinalTrainLoss = losses.Length > 0 ? losses[^1] : null,
            GreedyCheckSeconds = checkSeconds,
            EnvironmentStepsPerSecond = envSteps / learningSeconds,
            UpdatesPerSecond = updates / learningSeconds,
            Steps = result.Steps,
            TrainSeconds = result.TrainSeconds,
            WallSeconds = wall.Elapsed.TotalSeconds,
            Threads = ctx.Threads,
            Parameters = parameters,
        };
    }
}
