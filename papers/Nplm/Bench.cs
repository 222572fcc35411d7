// Training throughput of the network: words per second of the step the experiment runs (forward, softmax
// cross-entropy over the whole vocabulary plus the weight penalty, backward, SGD) on random
// word ids, so the rate does not depend on the text. Its PyTorch twin is bench/pytorch_nplm_bench.py (same
// model, same parameter names, same step); bench/compare.sh alternates the two. The experiment runs it with --bench N.

using PaperLab.Training;
using static TorchSharp.torch;

namespace PaperLab.Papers.Nplm;

/// <summary>Words per second of training steps of one configuration.</summary>
public static class NplmBench
{
    /// <summary>
    /// FLOPs per trained word: 2 per multiply-add, three matrix products per layer (forward, gradient of the
    /// input, gradient of the weights), so 6 × <see cref="Nplm.ForwardMultiplyAdds"/>; the softmax and the
    /// optimizer are left out (they are O(|V|) per word and per step, not O(|V|·h)).
    /// </summary>
    public static double FlopsPerWord(NplmConfig c) => 6.0 * Nplm.ForwardMultiplyAdds(c);

    /// <summary>
    /// Times <paramref name="steps"/> training steps after <paramref name="warmup"/> untimed ones and prints
    /// one JSON line (framework, threads, shape, words_per_second, model_gflops, parameters).
    /// </summary>
    /// <param name="config">Model shape (e.g. <see cref="NplmConfig.Mlp9"/> of the Brown vocabulary, 17,907).</param>
    /// <param name="batchSize">Words per step.</param>
    /// <param name="threads">libtorch threads.</param>
    /// <param name="steps">Timed steps.</param>
    /// <param name="warmup">Untimed steps first.</param>
    /// <param name="retainFreedMemory">Apply <see cref="PaperLab.Torch.TorchRuntime.RetainFreedMemory"/> first (the twin does the same).</param>
    /// <returns>The printed measurements.</returns>
    public static Dictionary<string, object> Run(NplmConfig config, int batchSize = 256, int threads = 1, int steps = 50, int warmup = 5,
                                                 bool retainFreedMemory = true)
    {
        bool retained = retainFreedMemory && PaperLab.Torch.TorchRuntime.RetainFreedMemory();
        TorchSharp.torch.set_num_threads(threads);
        manual_seed(0);
        using var model = new Nplm(config);
        var optimizer = NplmTraining.CreateOptimizer(model, lr: 0.25);
        var generator = new Generator(1);
        void Step(long _)
        {
            using var scope = NewDisposeScope();
            var x = randint(0, config.VocabSize, new long[] { batchSize, config.ContextLength }, generator: generator);
            var y = randint(0, config.VocabSize, new long[] { batchSize }, generator: generator);
            optimizer.zero_grad();
            (model.Loss(x, y) + model.WeightPenalty(x, 1e-4)).backward();
            optimizer.step();
        }
        var timing = BenchClock.Time(Step, steps, warmup);
        var line = BenchClock.Line(threads, steps);
        line["vocab_size"] = config.VocabSize;
        line["order"] = config.Order;
        line["features"] = config.Features;
        line["hidden"] = config.Hidden;
        line["direct"] = config.Direct;
        line["batch_size"] = batchSize;
        line["retain_freed_memory"] = retained;
        double wordsPerSecond = BenchClock.AddRates(line, "words", (double)steps * batchSize, timing);
        line["model_gflops"] = wordsPerSecond * FlopsPerWord(config) / 1e9;
        line["parameters"] = Nplm.ExpectedParameters(config);
        return BenchClock.Print(line);
    }
}
