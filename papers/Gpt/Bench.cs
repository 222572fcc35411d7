// Throughput measurement behind `--bench`: training tokens per second of the configured model (the same
// step as the experiment: forward, loss, backward, clipping, AdamW) on random token ids, the float32 matmul
// rate libtorch reaches on this machine, and the model-FLOPs utilisation that follows. Its PyTorch twin is
// bench/pytorch_gpt_bench.py; README.md compares the two.

using System.Diagnostics;
using PaperLab.Training;
using static TorchSharp.torch;

namespace PaperLab.Papers.Gpt;

/// <summary>Training throughput and matmul peak of one configuration.</summary>
public static class Bench
{
    /// <summary>
    /// Model FLOPs per trained token (Kaplan et al. 2020 §2.1, as nanoGPT's estimate_mfu): 6·N for the
    /// forward and backward matmuls of the N non-position-embedding parameters, plus 12·L·C·T for the
    /// attention scores and their weighted sums.
    /// </summary>
    public static double FlopsPerToken(GptConfig c) =>
        6.0 * (Gpt.ExpectedParameters(c) - (long)c.BlockSize * c.NEmbd) + 12.0 * c.NLayer * c.NEmbd * c.BlockSize;

    /// <summary>float32 GFLOP/s of an n×n by n×n matmul (2n³ per product), best of three timings.</summary>
    public static double GemmGflops(int n = 1024, int repeats = 20)
    {
        using var a = randn(n, n);
        using var b = randn(n, n);
        double best = 0;
        for (int trial = 0; trial < 3; trial++)
        {
            var clock = Stopwatch.StartNew();
            for (int i = 0; i < repeats; i++) a.matmul(b).Dispose();
            best = Math.Max(best, 2.0 * n * n * n * repeats / clock.Elapsed.TotalSeconds / 1e9);
        }
        return best;
    }

    /// <summary>Characters per second when sampling <paramref name="tokens"/> from one newline (after a short untimed warm-up).</summary>
    public static double GenerationRate(Gpt model, bool useCache, int tokens = 500)
    {
        using var prompt = zeros(1, 1, dtype: int64);
        model.Generate(prompt, 20, generator: new Generator(0), useCache: useCache).Dispose();
        var clock = Stopwatch.StartNew();
        model.Generate(prompt, tokens, 0.8, 200, new Generator(0), useCache).Dispose();
        return tokens / clock.Elapsed.TotalSeconds;
    }

    /// <summary>Times <paramref name="steps"/> training steps after <paramref name="warmup"/> untimed ones and prints one JSON line.</summary>
    /// <returns>The printed measurements.</returns>
    public static Dictionary<string, object> Run(GptOptions options, int threads, int steps = 100, int warmup = 10)
    {
        TorchSharp.torch.set_num_threads(threads);
        manual_seed(0);
        var model = new Gpt(options.Model(65));
        var config = (Model: model.Config, options.BatchSize, options.GradClip);
        var optimizer = Experiment.CreateOptimizer(model, options);
        var parameters = model.parameters().ToArray();
        long tokens = (long)config.BatchSize * config.Model.BlockSize;
        void Step(long _)
        {
            using var scope = NewDisposeScope();
            var x = randint(0, config.Model.VocabSize, new long[] { config.BatchSize, config.Model.BlockSize });
            var y = randint(0, config.Model.VocabSize, new long[] { config.BatchSize, config.Model.BlockSize });
            optimizer.zero_grad();
            var loss = model.Loss(x, y);
            loss.backward();
            nn.utils.clip_grad_norm_(parameters, config.GradClip);
            optimizer.step();
        }
        var timing = BenchClock.Time(Step, steps, warmup);
        var line = BenchClock.Line(threads, steps);
        double tokensPerSecond = BenchClock.AddRates(line, "tokens", (double)steps * tokens, timing);
        double gemm = GemmGflops();
        double modelGflops = tokensPerSecond * FlopsPerToken(config.Model) / 1e9;
        line["fused_attention"] = config.Model.FusedAttention;
        line["flops_per_token"] = FlopsPerToken(config.Model);
        line["model_gflops"] = modelGflops;
        line["gemm_gflops_1024"] = gemm;
        line["mfu"] = modelGflops / gemm;
        line["parameters"] = model.parameters().Sum(p => p.numel());
        line["generate_tokens_per_second_cached"] = GenerationRate(model, useCache: true);
        line["generate_tokens_per_second_uncached"] = GenerationRate(model, useCache: false);
        return BenchClock.Print(line);
    }
}
