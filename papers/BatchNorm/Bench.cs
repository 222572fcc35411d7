// Training throughput behind `--bench N`: images per second of the experiment's own training step on MNIST
// batches, after 300 untimed warm-up steps (time for .NET's tiered JIT to settle), printed as one JSON line;
// no run folder. The step is the one a run's training loop performs for the Fig. 1 networks chosen by
// --networks (both by default, on the same batch): torch's RNG seeded from (seed, step), the step's shuffled
// batch of 60, then per network zero_grad, forward (BN through BatchNormFunction: Algorithm 1 and the backward
// of §3), cross-entropy, the loss read back (the loop's NaN guard), backward, SGD. Left out: the §3.3
// high-rate pair, the diagnostics' hooks, evaluations. Its PyTorch twin is bench/pytorch_batchnorm_bench.py
// (the same layer as a torch.autograd.Function with the same equations); bench/compare.sh alternates the two.

using PaperLab.Data;
using PaperLab.Training;
using static TorchSharp.torch;

namespace PaperLab.Papers.BatchNorm;

/// <summary>Training images per second of the Fig. 1 networks' step.</summary>
public static class Bench
{
    /// <summary>
    /// Times <paramref name="steps"/> training steps (after <paramref name="warmup"/> untimed ones) of the networks
    /// chosen by <see cref="BatchNormOptions.Networks"/> at <see cref="BatchNormOptions.Lr"/> and batch size, and
    /// prints one JSON line: samples_per_second (images of one network's batch per wall second, whatever the
    /// number of networks), samples_per_cpu_second, networks, threads, batch_size, date (UTC), machine.
    /// </summary>
    /// <param name="o">The run's options (defaults: both networks, batch 60, SGD 0.1, N(0, 0.1²) weights).</param>
    /// <param name="threads">libtorch threads (already set by the run context; set again here for direct calls).</param>
    /// <param name="data">--data, where MNIST is looked for.</param>
    /// <param name="seed">--seed: initial weights, batch order and per-step RNG.</param>
    /// <param name="steps">Timed steps.</param>
    /// <param name="warmup">Untimed steps first.</param>
    /// <returns>The printed measurements.</returns>
    /// <exception cref="DatasetNotFoundException">MNIST is nowhere to be found and cannot be downloaded.</exception>
    /// <exception cref="NonFiniteLossException">A network's loss became NaN or infinite.</exception>
    public static Dictionary<string, object> Run(BatchNormOptions o, int threads, string? data, int seed, int steps, int warmup = 300)
    {
        set_num_threads(threads);
        var (train, _, _) = MnistFamily.Locate("mnist", data, o.TrainLimit, 1);
        using var trainSet = Experiment.Tensors(train);
        var networks = new List<(MnistMlp Model, optim.Optimizer Sgd)>();
        foreach (bool batchNorm in new[] { false, true })
        {
            if (o.Networks == (batchNorm ? "plain" : "bn")) continue;
            manual_seed(seed);                                      // the same initial weights for both, as in a run
            var model = new MnistMlp(batchNorm, o.InitStd);
            model.train();
            networks.Add((model, optim.SGD(model.parameters(), o.Lr)));
        }
        var loader = new BatchLoader(trainSet, o.BatchSize, Sampling.Shuffle, seed, dropLast: true);

        void Step(long s)
        {
            random.manual_seed(BatchLoader.Mix(seed, s));
            using var scope = NewDisposeScope();
            var (x, y) = loader.Batch(s);                           // (60, 1, 28, 28) in [0, 1], (60)
            foreach (var (model, sgd) in networks)
            {
                sgd.zero_grad();
                var loss = nn.functional.cross_entropy(model.call(x), y);
                float value = loss.item<float>();
                if (!float.IsFinite(value)) throw new NonFiniteLossException(s, value, null);
                loss.backward();
                sgd.step();
            }
        }

        var timing = BenchClock.Time(Step, steps, warmup);
        var line = BenchClock.Line(threads, steps);
        line["batch_size"] = o.BatchSize;
        line["networks"] = o.Networks;
        BenchClock.AddRates(line, "samples", (double)steps * o.BatchSize, timing);
        foreach (var (model, _) in networks) model.Dispose();
        return BenchClock.Print(line);
    }
}
