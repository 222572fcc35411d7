// Throughput behind `--bench N`: the three costs of a DQN environment step, timed apart — CartPole's Euler
// step (random actions), one greedy action (a forward pass on one observation, what acting costs when not
// exploring), and one gradient update exactly as step 3 of Experiment.RunDqn makes it (sample a minibatch,
// TD target from the target network, Huber loss, backward, Adam); drawing the minibatch is also timed alone,
// since the PyTorch twin draws the same slots with a SplitMix64 in pure Python. Its PyTorch twin is
// `bench/pytorch_dqn.py --bench N`; bench/compare.sh alternates the two and compares them.

using System.Diagnostics;
using System.Text.Json;
using static TorchSharp.torch;

namespace PaperLab.Papers.Dqn;

/// <summary>Times the pieces of a DQN step and prints one JSON line.</summary>
public static class Bench
{
    /// <summary>
    /// Times max(N, 100,000) CartPole steps, N greedy actions and N updates of the configured network and
    /// minibatch (after untimed warm-ups), on <paramref name="threads"/> libtorch threads, and prints the rates as
    /// one JSON line: env_steps_per_second, greedy_actions_per_second, minibatches_per_second (drawing a minibatch
    /// from the replay memory, part of every update) and updates_per_second.
    /// </summary>
    /// <param name="o">The configuration (hidden widths, batch size, replay size, learning rate, γ, δ).</param>
    /// <param name="threads">libtorch intra-op threads.</param>
    /// <param name="steps">N.</param>
    /// <returns>The printed measurements.</returns>
    public static Dictionary<string, object> Run(DqnOptions o, int threads, int steps)
    {
        set_num_threads(threads);
        int envSteps = Math.Max(steps, 100_000), warmup = Math.Min(steps, 100);

        var env = new CartPole(1);
        var coin = new SplitMix64(2);
        env.Reset();
        void EnvStep() { if (env.Step(coin.NextInt(2)).Done) env.Reset(); }
        for (int i = 0; i < 1000; i++) EnvStep();
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < envSteps; i++) EnvStep();
        double envRate = envSteps / clock.Elapsed.TotalSeconds;

        manual_seed(0);
        var online = new Mlp(4, o.HiddenWidths, 2);
        var target = new Mlp(4, o.HiddenWidths, 2);
        target.CopyFrom(online);
        foreach (var p in target.parameters()) p.requires_grad = false;
        var optimizer = optim.Adam(online.parameters(), lr: o.Lr);
        float[] observation = env.Reset();
        for (int i = 0; i < warmup; i++) Rollouts.GreedyAction(online, observation);
        clock.Restart();
        for (int i = 0; i < steps; i++) Rollouts.GreedyAction(online, observation);
        double actRate = steps / clock.Elapsed.TotalSeconds;

        // a full replay memory of random-policy transitions
        var replay = new ReplayBuffer(o.BufferSize, 4, seed: 3);
        observation = env.Reset();
        for (int i = 0; i < o.BufferSize; i++)
        {
            int a = coin.NextInt(2);
            var r = env.Step(a);
            replay.Add(observation, a, r.Reward, r.Observation, r.Terminated);
            observation = r.Done ? env.Reset() : r.Observation;
        }
        void Update()
        {
            using var scope = NewDisposeScope();
            ReplayBatch batch = replay.Sample(o.BatchSize);
            Tensor q = QLearning.ActionValues(online.forward(batch.Observations), batch.Actions);
            Tensor y;
            using (no_grad()) y = QLearning.TdTarget(batch.Rewards, target.forward(batch.NextObservations), batch.Terminated, o.Gamma);
            Tensor loss = nn.functional.huber_loss(q, y, delta: o.HuberDelta);
            optimizer.zero_grad();
            loss.backward();
            optimizer.step();
        }
        void Sample() { using var scope = NewDisposeScope(); replay.Sample(o.BatchSize); }
        for (int i = 0; i < warmup; i++) Sample();
        clock.Restart();
        for (int i = 0; i < steps; i++) Sample();
        double sampleRate = steps / clock.Elapsed.TotalSeconds;
        for (int i = 0; i < warmup; i++) Update();
        clock.Restart();
        for (int i = 0; i < steps; i++) Update();
        double updateRate = steps / clock.Elapsed.TotalSeconds;

        var result = new Dictionary<string, object>
        {
            ["framework"] = $"TorchSharp {PaperLab.Runs.RunEnvironment.PackageVersion(typeof(TorchSharp.torch))}, libtorch {__version__}",
            ["threads"] = threads,
            ["hidden"] = o.Hidden,
            ["batch_size"] = o.BatchSize,
            ["env_steps_per_second"] = Math.Round(envRate, 1),
            ["greedy_actions_per_second"] = Math.Round(actRate, 1),
            ["minibatches_per_second"] = Math.Round(sampleRate, 1),
            ["updates_per_second"] = Math.Round(updateRate, 1),
        };
        Console.WriteLine(JsonSerializer.Serialize(result));
        return result;
    }
}
