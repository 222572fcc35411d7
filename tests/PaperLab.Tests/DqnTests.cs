using PaperLab.Cli;
using PaperLab.Papers.Dqn;
using PaperLab.Runs;
using PaperLab.Training;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace PaperLab.Tests;

/// <summary>
/// DQN's pieces (TD target, error clipping, replay, ε-greedy, the actor) checked by hand, and the experiment's
/// step body checked through short runs: target-sync timing read from checkpoints, determinism, resume, a
/// smoke run beating the random policy, and bad options.
/// </summary>
public class DqnTests
{
    static DqnOptions Smoke => DqnOptions.Defaults(new DqnOptions(), new RunOptions { Smoke = true });

    [Fact]
    public void Td_target_is_r_plus_gamma_max_next_q_and_r_alone_at_a_terminal_state()
    {
        using var rewards = tensor(new[] { 1f, 1f, 0.5f });
        using var nextQ = tensor(new[] { 1f, 2f, 3f, -1f, 10f, 20f }, new long[] { 3, 2 });   // Q̂(s', ·)
        using var terminated = tensor(new[] { 0f, 1f, 0f });
        using var y = QLearning.TdTarget(rewards, nextQ, terminated, gamma: 0.9);
        // 1 + 0.9·max(1, 2) = 2.8;  terminal: 1;  0.5 + 0.9·max(10, 20) = 18.5
        Assert.Equal(new[] { 2.8f, 1f, 18.5f }, y.data<float>().ToArray());
        using var y0 = QLearning.TdTarget(rewards, nextQ, terminated, gamma: 0.0);
        Assert.Equal(new[] { 1f, 1f, 0.5f }, y0.data<float>().ToArray());   // γ = 0: the reward alone
        using var q = tensor(new[] { 1f, 2f, 3f, -1f, 10f, 20f }, new long[] { 3, 2 });
        using var a = tensor(new long[] { 1, 0, 1 });
        Assert.Equal(new[] { 2f, 3f, 20f }, QLearning.ActionValues(q, a).data<float>().ToArray());   // Q(s, a) of the actions taken
    }

    [Fact]
    public void Huber_loss_with_delta_one_clips_the_error_term_to_plus_minus_one()
    {
        // Mnih et al.: clipping the error r + γ max Q̂ − Q to [−1, 1] is the gradient of the Huber loss, δ = 1
        using var q = tensor(new[] { 0f, 0f, 0f, 0f }, requires_grad: true);
        using var y = tensor(new[] { -3f, -0.25f, 0.5f, 7f });
        using var loss = nn.functional.huber_loss(q, y, delta: 1.0);
        loss.backward();
        var perSample = q.grad!.data<float>().Select(g => g * 4).ToArray();   // undo the mean over 4
        Assert.Equal(new[] { 1f, 0.25f, -0.5f, -1f }, perSample);            // clip(q − y, −1, 1)
    }

    [Fact]
    public void Epsilon_falls_linearly_then_stays()
    {
        var schedule = new LinearSchedule(1.0, 0.05, 1_000);
        Assert.Equal(1.0, schedule.Value(0));
        Assert.Equal(0.525, schedule.Value(500), 12);
        Assert.Equal(0.905, schedule.Value(100), 12);
        Assert.Equal(0.05, schedule.Value(1_000));
        Assert.Equal(0.05, schedule.Value(1_000_000));
        Assert.Equal(0.1, new LinearSchedule(1.0, 0.1, 0).Value(0));
    }

    [Fact]
    public void Updates_are_counted_from_learning_starts_every_train_every_steps()
    {
        Assert.Equal(0, QLearning.UpdatesBy(999, learningStarts: 1000, trainEvery: 1));
        Assert.Equal(1, QLearning.UpdatesBy(1000, 1000, 1));
        Assert.Equal(1701, QLearning.UpdatesBy(2000, 300, 1));                 // steps 300 … 2000
        Assert.Equal(3, QLearning.UpdatesBy(12, 3, 4));                        // steps 4, 8, 12
        Assert.Equal(3, QLearning.UpdatesBy(12, 4, 4));                        // the same: 4 counts
        Assert.Equal(2, QLearning.UpdatesBy(12, 5, 4));                        // 8, 12
        for (long n = 0; n < 60; n++)                                          // against counting one by one
            Assert.Equal(Enumerable.Range(1, (int)n).Count(t => t >= 7 && t % 3 == 0), QLearning.UpdatesBy(n, 7, 3));
    }

    [Fact]
    public void Epsilon_greedy_acts_greedily_at_zero_and_uniformly_at_one()
    {
        torch.manual_seed(5);
        using var q = new Mlp(4, [8], 2);
        var actor = new EpsilonGreedyActor(new CartPole(3), exploreSeed: 4);
        Assert.All(Enumerable.Range(0, 50), _ => Assert.Equal(Rollouts.GreedyAction(q, actor.Observation), actor.Act(q, 0.0)));
        int ones = Enumerable.Range(0, 4000).Sum(_ => actor.Act(q, 1.0));
        Assert.InRange(ones / 4000.0, 0.5 - 0.04, 0.5 + 0.04);               // sd 0.008
    }

    [Fact]
    public void The_actor_chains_transitions_ends_episodes_and_resumes_exactly()
    {
        var actor = new EpsilonGreedyActor(new CartPole(7), exploreSeed: 8);
        using var q = new Mlp(4, [8], 2);
        var seen = new List<Experience>();
        for (int i = 0; i < 300; i++) seen.Add(actor.Step(actor.Act(q, 1.0)));
        for (int i = 1; i < seen.Count; i++)
            if (seen[i - 1].Ended is null) Assert.Equal(seen[i - 1].NextObservation, seen[i].Observation);   // s' becomes s
        var ends = seen.Where(e => e.Ended != null).ToList();
        Assert.True(ends.Count >= 5, $"{ends.Count} episodes in 300 random steps");
        Assert.All(ends, e => Assert.True(e.Terminated));                    // random play falls long before 500
        Assert.Equal(Enumerable.Range(0, ends.Count).Select(i => (long)i), ends.Select(e => e.Ended!.Index));
        Assert.Equal(seen.FindLastIndex(e => e.Ended != null) + 1, ends.Sum(e => e.Ended!.Length));   // the episodes tile the steps
        Assert.All(ends, e => Assert.Equal(e.Ended!.Length, e.Ended.Return));   // reward 1 per step

        using var saved = new MemoryStream();
        using (var w = new BinaryWriter(saved, System.Text.Encoding.UTF8, leaveOpen: true)) actor.Save(w);
        var expected = Enumerable.Range(0, 100).Select(_ => actor.Step(actor.Act(q, 0.5))).ToList();
        var resumed = new EpsilonGreedyActor(new CartPole(99), exploreSeed: 98);   // other seeds: everything comes from the state
        saved.Position = 0;
        using (var r = new BinaryReader(saved)) resumed.Load(r);
        var got = Enumerable.Range(0, 100).Select(_ => resumed.Step(resumed.Act(q, 0.5))).ToList();
        Assert.Equal(expected.Select(e => (e.Action, e.Reward, e.Terminated, e.Ended)), got.Select(e => (e.Action, e.Reward, e.Terminated, e.Ended)));
        Assert.Equal(expected.SelectMany(e => e.NextObservation), got.SelectMany(e => e.NextObservation));
    }

    [Fact]
    public void Replay_overwrites_the_oldest_transition_when_full()
    {
        var replay = new ReplayBuffer(capacity: 5, observationSize: 2, seed: 1);
        for (int i = 0; i < 7; i++) replay.Add([i, -i], i % 2, reward: i, [i + 1, -i - 1], terminated: i == 6);
        Assert.Equal(5, replay.Count);
        Assert.Equal(2, replay.Position);
        // slots 0 and 1 now hold transitions 5 and 6; slots 2–4 still hold 2–4
        Assert.Equal(new[] { 5f, 6f, 2f, 3f, 4f }, Enumerable.Range(0, 5).Select(k => replay[k].Reward).ToArray());
        var six = replay[1];
        Assert.Equal(new[] { 6f, -6f }, six.Observation);
        Assert.Equal(new[] { 7f, -7f }, six.NextObservation);
        Assert.Equal(0, six.Action);
        Assert.True(six.Terminated);
        // sampling draws only what is held: rewards 2…6
        using var scope = NewDisposeScope();
        var batch = replay.Sample(200);
        Assert.All(batch.Rewards.data<float>().ToArray(), r => Assert.InRange(r, 2f, 6f));
        Assert.Equal(new long[] { 200, 2 }, batch.Observations.shape);
        // each row of the batch is one transition: s, a, r, s', done agree
        var s = batch.Observations.data<float>().ToArray();
        var r2 = batch.Rewards.data<float>().ToArray();
        var a = batch.Actions.data<long>().ToArray();
        var done = batch.Terminated.data<float>().ToArray();
        for (int i = 0; i < 200; i++)
        {
            Assert.Equal(r2[i], s[2 * i]);
            Assert.Equal((long)r2[i] % 2, a[i]);
            Assert.Equal(r2[i] == 6f ? 1f : 0f, done[i]);
        }
    }

    [Fact]
    public void Replay_sampling_is_uniform_over_what_is_held_and_repeats_for_a_seed()
    {
        var replay = new ReplayBuffer(capacity: 10, observationSize: 1, seed: 3);
        for (int i = 0; i < 4; i++) replay.Add([i], 0, i, [i], false);
        Assert.All(replay.SampleSlots(1000), k => Assert.InRange(k, 0, 3));   // only the 4 filled slots
        for (int i = 4; i < 10; i++) replay.Add([i], 0, i, [i], false);
        var counts = new int[10];
        foreach (int k in replay.SampleSlots(20_000)) counts[k]++;
        // Binomial(20000, 0.1): sd 42; 5 sd bounds
        Assert.All(counts, c => Assert.InRange(c, 2_000 - 212, 2_000 + 212));

        ReplayBuffer Filled(ulong seed)
        {
            var b = new ReplayBuffer(100, 1, seed);
            for (int i = 0; i < 100; i++) b.Add([i], 0, i, [i], false);
            return b;
        }
        Assert.Equal(Filled(9).SampleSlots(64), Filled(9).SampleSlots(64));
        Assert.NotEqual(Filled(9).SampleSlots(64), Filled(10).SampleSlots(64));
        Assert.Throws<InvalidOperationException>(() => new ReplayBuffer(4, 1, 0).SampleSlots(1));
        Assert.Throws<ArgumentException>(() => new ReplayBuffer(4, 2, 0).Add([1f], 0, 0, [1f, 2f], false));
    }

    [Fact]
    public void Update_lowers_the_loss_on_a_fixed_batch()
    {
        // the update direction is right: repeated steps on one replayed batch (θ⁻ fixed) shrink its Huber loss
        var env = new CartPole(2);
        var coin = new SplitMix64(3);
        var replay = new ReplayBuffer(1000, 4, seed: 4);
        float[] s = env.Reset();
        for (int i = 0; i < 300; i++)
        {
            int a = coin.NextInt(2);
            var r = env.Step(a);
            replay.Add(s, a, r.Reward, r.Observation, r.Terminated);
            s = r.Done ? env.Reset() : r.Observation;
        }
        torch.manual_seed(2);
        using var online = new Mlp(4, [64, 64], 2);
        using var target = new Mlp(4, [64, 64], 2);
        target.CopyFrom(online);
        var optimizer = optim.Adam(online.parameters(), lr: 1e-3);
        using var scope = NewDisposeScope();
        var batch = replay.Sample(64);
        Tensor y;
        using (no_grad()) y = QLearning.TdTarget(batch.Rewards, target.forward(batch.NextObservations), batch.Terminated, 0.99);
        Tensor Loss() => nn.functional.huber_loss(QLearning.ActionValues(online.forward(batch.Observations), batch.Actions), y);
        float before = Loss().item<float>();
        for (int i = 0; i < 100; i++)
        {
            optimizer.zero_grad();
            Loss().backward();
            optimizer.step();
        }
        float after = Loss().item<float>();
        Assert.True(after < 0.1f * before, $"loss {before} → {after}");
    }

    [Fact]
    public void Batched_greedy_evaluation_equals_playing_each_episode_alone()
    {
        torch.manual_seed(8);
        using var net = new Mlp(4, [16], 2);
        var batched = Rollouts.GreedyReturns(net, 6, seed: 21);
        for (int i = 0; i < 6; i++)
        {
            var env = new CartPole(SplitMix64.Mix(21, i));
            var s = env.Reset();
            double total = 0;
            while (true)
            {
                var result = env.Step(Rollouts.GreedyAction(net, s));
                total += result.Reward;
                if (result.Done) break;
                s = result.Observation;
            }
            Assert.Equal(total, batched[i]);
        }
        Assert.Equal(batched[0], Rollouts.GreedyTrajectory(net, seed: 21).Count - 1);   // T steps, T + 1 states
    }

    [Fact]
    public void Held_out_states_are_consecutive_states_of_random_play()
    {
        using var states = Rollouts.RandomPolicyStates(12, seed: 5);
        Assert.Equal(4, states.shape[1]);
        var rows = Enumerable.Range(0, (int)states.shape[0]).Select(i => states[i].data<float>().ToArray()).ToArray();
        Assert.Equal(new CartPole(SplitMix64.Mix(5, 0)).Reset(), rows[0]);                // episode 0's initial state
        // each next row is one push (left or right) from the row before, or the start of the next episode
        int starts = 1;
        for (int i = 1; i < rows.Length; i++)
        {
            var s = new CartPoleState(rows[i - 1][0], rows[i - 1][1], rows[i - 1][2], rows[i - 1][3]);
            bool pushed = new[] { 0, 1 }.Any(a => CartPole.Dynamics(s, a).ToObservation().Zip(rows[i]).All(p => Math.Abs(p.First - p.Second) < 1e-5));
            if (!pushed)
            {
                Assert.Equal(new CartPole(SplitMix64.Mix(5, starts)).Reset(), rows[i]);   // the next episode's initial state
                starts++;
            }
            Assert.False(CartPole.Fails(new CartPoleState(rows[i][0], rows[i][1], rows[i][2], rows[i][3])));   // none terminal
        }
        Assert.Equal(12, starts);
        Assert.InRange(rows.Length, 12 * 10, 12 * 40);                                      // about 22 steps an episode
    }

    /// <summary>The "online" and "target" sections of a run's final checkpoint (module bytes: names and values).</summary>
    static (byte[] Online, byte[] Target) Networks(string dir)
    {
        var (_, sections) = Checkpoint.Read(Path.Combine(dir, "checkpoint.bin"));
        return (sections.Single(s => s.Name == "online").Bytes, sections.Single(s => s.Name == "target").Bytes);
    }

    [Fact]
    public void The_target_network_is_the_online_one_of_the_last_multiple_of_C()
    {
        // runs that differ only in length share every step before their end: the target of a run of n steps
        // must be the online network of the run that stopped at the last multiple of C before n
        using var dir = new TempDir();
        var o = Smoke with { TargetSyncEvery = 25, LearningStarts = 40, BatchSize = 16, EvalEvery = 10_000 };
        var nets = new Dictionary<long, (byte[] Online, byte[] Target)>();
        foreach (long n in new long[] { 50, 74, 75, 82 })
        {
            PaperRun.Run(Experiment.Run, o with { Steps = n }, PaperRun.Context(Experiment.Paper, dir.File($"n{n}")));
            nets[n] = Networks(dir.File($"n{n}"));
        }
        Assert.Equal(nets[50].Online, nets[50].Target);       // synced at 50
        Assert.Equal(nets[50].Online, nets[74].Target);       // frozen from 51 to 74
        Assert.NotEqual(nets[74].Online, nets[74].Target);    // while θ learned
        Assert.Equal(nets[75].Online, nets[75].Target);       // synced at 75
        Assert.Equal(nets[75].Online, nets[82].Target);
        Assert.NotEqual(nets[74].Online, nets[75].Online);    // every step from 40 on updates θ
    }

    [Fact]
    public void A_seeded_run_is_deterministic()
    {
        using var dir = new TempDir();
        var o = Smoke with { Steps = 700 };
        string[] Rows(string run) => MetricsLog.Read(Path.Combine(run, "metrics.csv"))
            .Where(r => r.Split != "process" && !r.Name.Contains("seconds")).Select(r => $"{r.Step},{r.Split},{r.Name},{r.Value:R}").ToArray();
        PaperRun.Run(Experiment.Run, o, PaperRun.Context(Experiment.Paper, dir.File("a"), seed: 4));
        PaperRun.Run(Experiment.Run, o, PaperRun.Context(Experiment.Paper, dir.File("b"), seed: 4));
        PaperRun.Run(Experiment.Run, o, PaperRun.Context(Experiment.Paper, dir.File("c"), seed: 5));
        var a = Rows(dir.File("a"));
        Assert.Contains(a, r => r.Contains(",train,loss,"));
        Assert.Contains(a, r => r.Contains(",episode,return,"));
        Assert.Equal(a, Rows(dir.File("b")));                 // episode returns, ε, losses, checks, mean max-Q
        Assert.Equal(Networks(dir.File("a")).Online, Networks(dir.File("b")).Online);
        Assert.Equal(Networks(dir.File("a")).Target, Networks(dir.File("b")).Target);
        Assert.NotEqual(a, Rows(dir.File("c")));
    }

    [Fact]
    public void Resuming_gives_exactly_the_uninterrupted_run() =>
        // stopped mid-episode, between two evaluations: the replay memory, the actor's episode in progress,
        // both networks and Adam must all come back
        PaperRun.ResumesBitIdentically(Experiment.Paper, Experiment.Run, Smoke with { Steps = 800 }, stopAfter: 450);

    [Fact]
    public void Smoke_run_beats_the_random_policy_by_far()
    {
        using var dir = new TempDir();
        var summary = PaperRun.Run(Experiment.Run, Smoke, PaperRun.Context(Experiment.Paper, dir.File("run")))!;
        Assert.InRange(summary.RandomMeanReturn, 15, 30);    // about 22
        Assert.True(summary.FinalMeanReturn > 3 * summary.RandomMeanReturn,
                    $"greedy mean return {summary.FinalMeanReturn} after {summary.EnvironmentSteps} steps; random {summary.RandomMeanReturn}");
        Assert.Equal(2_000, summary.EnvironmentSteps);
        Assert.Equal(QLearning.UpdatesBy(2_000, 300, 1), summary.Updates);
        Assert.Equal(MetricsLog.Read(dir.File("run", "metrics.csv")).Count(r => r.Split == "episode" && r.Name == "return"), summary.Episodes);
        foreach (var f in new[] { "config.json", "metrics.csv", "checkpoint.bin", "model.pt", "summary.json", "report.html" })
            Assert.True(File.Exists(dir.File("run", f)), $"{f} missing from the run folder");
        string report = File.ReadAllText(dir.File("run", "report.html"));
        Assert.Contains("<svg", report);                      // the strip of the pole under the learned policy
        Assert.Contains("Mean max_a Q", report);
    }

    [Theory]
    [InlineData("--hidden: expected comma-separated layer widths", "--hidden", "64,0")]
    [InlineData("--learning-starts 10 must be at least --batch-size 32", "--learning-starts", "10", "--batch-size", "32")]
    [InlineData("--algorithm: expected one of dqn, reinforce, got 'a2c'", "--algorithm", "a2c")]
    [InlineData("--data: this paper reads no dataset", "--data", "/tmp")]
    [InlineData("--bench times DQN's pieces", "--bench", "10", "--algorithm", "reinforce")]
    [InlineData("--gamma: expected a number in [0, 1], got '1.5'", "--gamma", "1.5")]
    public void Bad_options_exit_2_naming_the_option(string message, params string[] args)
    {
        var (exit, stderr) = PaperMain.Run(Experiment.Main, args.Append("--smoke").ToArray());
        Assert.Equal(2, exit);
        Assert.Contains(message, stderr);
    }
}
