// Training throughput behind `--bench N`: images per second of the experiment's own training step on MNIST
// batches, after an untimed warm-up, printed as one JSON line; no run folder. The step is the one a run's
// training loop performs: the learning rate of the half-cosine schedule set for the step, torch's RNG seeded
// from (seed, step), the step's shuffled batch, zero_grad, forward, cross-entropy, the loss read back (the
// loop's NaN guard), backward, Adam. Its PyTorch twin is bench/pytorch_lenet5_bench.py; bench/compare.sh
// alternates the two.

using PaperLab.Data;
using PaperLab.Runs;
using PaperLab.Training;
using static TorchSharp.torch;

namespace PaperLab.Papers.LeNet5;

/// <summary>Training images per second of the LeNet-5 recipe.</summary>
public static class Bench
{
    /// <summary>
    /// Times <paramref name="steps"/> training steps (after <paramref name="warmup"/> untimed ones) of the recipe
    /// in <paramref name="o"/> (batch size, learning rate, weight decay, dataset; no augmentation) and prints one
    /// JSON line: samples_per_second (wall), samples_per_cpu_second (process CPU time, which other jobs on
    /// the machine disturb less), threads, batch_size, date (UTC), machine.
    /// </summary>
    /// <param name="o">The run's options (defaults: MNIST, batch 64, Adam 2e-3, 12-epoch cosine).</param>
    /// <param name="threads">libtorch threads (already set by the run context; set again here for direct calls).</param>
    /// <param name="data">--data, where MNIST is looked for.</param>
    /// <param name="seed">--seed: initial weights, batch order and per-step RNG.</param>
    /// <param name="steps">Timed steps.</param>
    /// <param name="warmup">Untimed steps first.</param>
    /// <returns>The printed measurements.</returns>
    /// <exception cref="DatasetNotFoundException">The dataset is nowhere to be found and cannot be downloaded.</exception>
    public static Dictionary<string, object> Run(LeNet5Options o, int threads, string? data, int seed, int steps, int warmup = 20)
    {
        set_num_threads(threads);
        var (train, _, _) = MnistFamily.Locate(o.Dataset, data, o.TrainLimit, 1);
        var (mean, std) = Experiment.Normalisation(o.Dataset);
        using var trainSet = new ImageTensorDataset(train.Pixels, train.Labels, 28, 28, mean, std);
        manual_seed(seed);
        var model = new LeNet5(numClasses: 10);
        var loader = new BatchLoader(trainSet, o.BatchSize, Sampling.Shuffle, seed);
        var optimizer = optim.Adam(model.parameters(), lr: o.Lr, weight_decay: o.WeightDecay);
        long totalSteps = (long)o.Epochs * loader.BatchesPerEpoch;
        var lr = Schedules.Cosine(o.Lr, totalSteps);
        model.train();

        void Step(long s)
        {
            foreach (var group in optimizer.ParamGroups) group.LearningRate = lr(s);
            random.manual_seed(BatchLoader.Mix(seed, s));
            using var scope = NewDisposeScope();
            var (x, y) = loader.Batch(s);
            optimizer.zero_grad();
            var loss = nn.functional.cross_entropy(model.forward(x), y);
            float value = loss.item<float>();
            if (!float.IsFinite(value)) throw new NonFiniteLossException(s, value, null);
            loss.backward();
            optimizer.step();
        }

        var timing = BenchClock.Time(Step, steps, warmup);
        var line = BenchClock.Line(threads, steps);
        line["batch_size"] = o.BatchSize;
        BenchClock.AddRates(line, "samples", (double)steps * o.BatchSize, timing);
        return BenchClock.Print(line);
    }
}
