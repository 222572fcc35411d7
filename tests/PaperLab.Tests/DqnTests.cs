using PaperLab.Papers.Dqn;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace PaperLab.Tests;

/// <summary>DQN's pieces (TD target, error clipping, replay, ε, target sync) and short seeded runs.</summary>
public class DqnTests
{
    /// <summary>A run that learns in a few thousand steps (a test, not the solving configuration).</summary>
    static readonly DqnHyperparameters Short = new()
    {
        Hidden = [64, 64], LearningRate = 1e-3, BufferSize = 5_000, BatchSize = 32, TargetSyncEvery = 100,
        EpsilonDecaySteps = 1_500, LearningStarts = 300, TotalSteps = 3_000, EvalEvery = 0, SolveEpisodes = 20,
    };

    [Fact]
    public void Td_target_is_r_plus_gamma_max_next_q_and_r_alone_at_a_terminal_state()
    {
        using var rewards = tensor(new[] { 1f, 1f, 0.5f });
        using var nextQ = tensor(new[] { 1f, 2f, 3f, -1f, 10f, 20f }, new long[] { 3, 2 });   // Q̂(s', ·)
        using var terminated = tensor(new[] { 0f, 1f, 0f });
        using var y = DqnLearner.TdTarget(rewards, nextQ, terminated, gamma: 0.9);
        // 1 + 0.9·max(1, 2) = 2.8;  terminal: 1;  0.5 + 0.9·max(10, 20) = 18.5
        Assert.Equal(new[] { 2.8f, 1f, 18.5f }, y.data<float>().ToArray());
        using var y0 = DqnLearner.TdTarget(rewards, nextQ, terminated, gamma: 0.0);
        Assert.Equal(new[] { 1f, 1f, 0.5f }, y0.data<float>().ToArray());   // γ = 0: the reward alone
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
        // the learner acts with ε of its step count: ε(0) = 1 at its first step
        using var learner = new DqnLearner(Short, seed: 0);
        Assert.Equal(1.0, learner.Step().Epsilon);
        Assert.Equal(Short.Epsilon.Value(1), learner.Step().Epsilon, 12);
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

    static float[] Flat(Mlp net) => net.parameters().SelectMany(p => p.data<float>().ToArray()).ToArray();

    [Fact]
    public void Target_network_copies_the_online_one_every_C_steps_and_only_then()
    {
        var hp = Short with { TargetSyncEvery = 25, LearningStarts = 40, BatchSize = 16, TotalSteps = 200 };
        using var learner = new DqnLearner(hp, seed: 1);
        float[] target = Flat(learner.Target);
        Assert.Equal(Flat(learner.Online), target);   // θ⁻ = θ at the start
        int differed = 0;
        for (int i = 0; i < 150; i++)
        {
            DqnStep step = learner.Step();
            Assert.Equal(step.Step % 25 == 0, step.TargetSynced);
            Assert.Equal(step.Step >= 40, step.Update != null);   // updates start at LearningStarts, every step
            float[] now = Flat(learner.Target);
            if (step.TargetSynced)
            {
                Assert.Equal(Flat(learner.Online), now);   // θ⁻ ← θ
                target = now;
            }
            else
            {
                Assert.Equal(target, now);                 // θ⁻ frozen between syncs
                if (!Flat(learner.Online).SequenceEqual(now)) differed++;
            }
        }
        Assert.True(differed > 80, $"the online network should move away from the target between syncs (it did at {differed} steps)");
    }

    [Fact]
    public void Update_lowers_the_loss_on_a_fixed_batch()
    {
        // the update direction is right: repeated steps on one replayed batch (with θ⁻ fixed) shrink its Huber loss
        using var learner = new DqnLearner(Short, seed: 2);
        for (int i = 0; i < 300; i++) learner.Step();   // fill the replay with 300 transitions, no update yet
        using var scope = NewDisposeScope();
        var batch = learner.Replay.Sample(64);
        Tensor y;
        using (no_grad()) y = DqnLearner.TdTarget(batch.Rewards, learner.Target.forward(batch.NextObservations), batch.Terminated, 0.99);
        float Loss() => nn.functional.huber_loss(learner.Online.forward(batch.Observations).gather(1, batch.Actions.unsqueeze(1)).squeeze(1), y).item<float>();
        float before = Loss();
        for (int i = 0; i < 100; i++)
        {
            learner.Optimizer.zero_grad();
            nn.functional.huber_loss(learner.Online.forward(batch.Observations).gather(1, batch.Actions.unsqueeze(1)).squeeze(1), y).backward();
            learner.Optimizer.step();
        }
        Assert.True(Loss() < 0.1f * before, $"loss {before} → {Loss()}");
    }

    [Fact]
    public void A_seeded_run_is_deterministic()
    {
        var hp = Short with { LearningStarts = 200, TotalSteps = 500 };
        List<DqnStep> Run(int seed)
        {
            using var learner = new DqnLearner(hp, seed);
            return Enumerable.Range(0, 500).Select(_ => learner.Step()).ToList();
        }
        var a = Run(4);
        var b = Run(4);
        Assert.Equal(a, b);   // records: ε, episodes (returns, lengths) and updates (loss, mean max-Q) all equal
        Assert.Contains(a, s => s.Update != null);
        Assert.Contains(a, s => s.Episode != null);
        Assert.NotEqual(a, Run(5));
    }

    [Fact]
    public void Resuming_from_a_saved_state_continues_exactly()
    {
        var hp = Short with { LearningStarts = 200, TotalSteps = 1_000 };
        using var original = new DqnLearner(hp, seed: 6);
        for (int i = 0; i < 400; i++) original.Step();
        using var saved = new MemoryStream();
        using (var w = new BinaryWriter(saved, System.Text.Encoding.UTF8, leaveOpen: true)) original.Save(w);
        var expected = Enumerable.Range(0, 200).Select(_ => original.Step()).ToList();

        using var resumed = new DqnLearner(hp, seed: 99);   // another seed: everything must come from the state
        saved.Position = 0;
        using (var r = new BinaryReader(saved)) resumed.Load(r);
        Assert.Equal(400, resumed.StepCount);
        Assert.Equal(expected, Enumerable.Range(0, 200).Select(_ => resumed.Step()).ToList());
    }

    [Fact]
    public void A_short_run_beats_the_random_policy()
    {
        using var learner = new DqnLearner(Short, seed: 0);
        var outcome = learner.Train();
        double random = Evaluation.RandomReturns(Short.SolveEpisodes, seed: 17).Average();   // about 22
        Assert.Equal(3_000, outcome.Steps);
        Assert.True(outcome.Final.Mean > 2 * random, $"greedy mean return {outcome.Final.Mean} after 3,000 steps; random {random}");
    }

    [Fact]
    public void Batched_greedy_evaluation_equals_playing_each_episode_alone()
    {
        torch.manual_seed(8);
        using var net = new Mlp(4, [16], 2);
        var batched = Evaluation.GreedyReturns(net, 6, seed: 21);
        for (int i = 0; i < 6; i++)
        {
            var env = new CartPole(SplitMix64.Mix(21, i));
            var s = env.Reset();
            double total = 0;
            while (true)
            {
                var result = env.Step(DqnLearner.GreedyAction(net, s));
                total += result.Reward;
                if (result.Done) break;
                s = result.Observation;
            }
            Assert.Equal(total, batched[i]);
        }
        Assert.Equal(batched[0], Evaluation.GreedyTrajectory(net, seed: 21).Count - 1);   // T steps, T + 1 states
    }

    [Fact]
    public void Bad_settings_are_refused_with_the_field_named()
    {
        var e = Assert.Throws<ArgumentException>(() => new DqnLearner(Short with { LearningStarts = 10, BatchSize = 32 }, 0));
        Assert.Contains("LearningStarts", e.Message);
        Assert.Contains("Gamma", Assert.Throws<ArgumentException>(() => new DqnHyperparameters { Gamma = 1.5 }.Validate()).Message);
        Assert.Contains("TargetSyncEvery", Assert.Throws<ArgumentException>(() => new DqnHyperparameters { TargetSyncEvery = 0 }.Validate()).Message);
    }
}
