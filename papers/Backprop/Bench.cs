// Engine speed against TorchSharp, behind `--bench STEPS` (bench/compare.sh runs it at 1 and 2 threads):
//   * training throughput: images per second of the same MLP, same batch size, same optimiser, trained on the
//     same random batches by the engine and by TorchSharp (the weights copied by TorchMlp), at --threads;
//   * the matmul: GFLOP/s of the engine's Gemm and of libtorch on the products one training step does
//     (per layer: forward X·W, weight gradient Xᵀ·G, input gradient G·Wᵀ except for the first layer).
// The engine is compared with TorchSharp here, never built on it.
// Timings are meaningful on an otherwise idle machine only.

using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using TorchSharp;
using static TorchSharp.torch;

namespace PaperLab.Papers.Backprop;

/// <summary>Training throughput and matmul rate of the engine and of TorchSharp on the same MLP.</summary>
public static class Bench
{
    static readonly JsonSerializerOptions Json = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>Untimed steps before each timing (the JIT recompiles hot methods optimised after about 30 calls; caches; allocator).</summary>
    public const int Warmup = 100;

    /// <summary>
    /// Measures the network, loss, optimiser and batch size of <paramref name="o"/> at <paramref name="threads"/>
    /// threads (engine's Gemm and libtorch alike): training images/s of both over <paramref name="steps"/> steps,
    /// then GFLOP/s of each matmul of a training step. Prints one JSON line per measurement; returns them.
    /// </summary>
    public static List<Dictionary<string, object>> Run(BackpropOptions o, int threads, int steps)
    {
        var results = new List<Dictionary<string, object>>();
        void Emit(Dictionary<string, object> r)
        {
            results.Add(r);
            Console.WriteLine(JsonSerializer.Serialize(r, Json));
        }
        var config = o.Model();
        var engine = EngineSamplesPerSecond(o, threads, steps, Warmup);
        var torchRate = TorchSamplesPerSecond(o, threads, steps, Warmup);
        Emit(new()
        {
            ["what"] = "training", ["model"] = config.ToString(), ["optimizer"] = o.OptimizerKind.ToString(),
            ["batch"] = o.BatchSize, ["threads"] = threads,
            ["engine_samples_per_second"] = Math.Round(engine.Wall), ["torch_samples_per_second"] = Math.Round(torchRate.Wall),
            ["ratio"] = Math.Round(engine.Wall / torchRate.Wall, 3),
            // per CPU-second: less sensitive to other jobs on the machine than wall-clock rates
            ["engine_samples_per_cpu_second"] = Math.Round(engine.Cpu), ["torch_samples_per_cpu_second"] = Math.Round(torchRate.Cpu),
        });
        foreach (var (name, m, n, k, ta, tb) in TrainingProducts(config.Widths, o.BatchSize))
        {
            double ours = EngineGflops(m, n, k, ta, tb, threads), theirs = TorchGflops(m, n, k, ta, tb, threads);
            Emit(new()
            {
                ["what"] = "matmul", ["product"] = name, ["m"] = m, ["n"] = n, ["k"] = k, ["threads"] = threads,
                ["engine_gflops"] = Math.Round(ours, 2), ["torch_gflops"] = Math.Round(theirs, 2), ["ratio"] = Math.Round(ours / theirs, 3),
            });
        }
        return results;
    }

    /// <summary>
    /// The products of one training step of an MLP with <paramref name="widths"/> on batches of <paramref name="batch"/>:
    /// (name, M, N, K, A transposed, B transposed), with C (M×N) = op(A)·op(B) as in <see cref="Gemm.Multiply"/>.
    /// </summary>
    public static IEnumerable<(string Name, int M, int N, int K, bool TransposeA, bool TransposeB)> TrainingProducts(int[] widths, int batch)
    {
        for (int l = 0; l + 1 < widths.Length; l++)
        {
            int fanIn = widths[l], fanOut = widths[l + 1];
            yield return ($"layer {l + 1} forward X·W", batch, fanOut, fanIn, false, false);
            yield return ($"layer {l + 1} weight grad Xᵀ·G", fanIn, fanOut, batch, true, false);
            if (l > 0) yield return ($"layer {l + 1} input grad G·Wᵀ", batch, fanIn, fanOut, false, true);
        }
    }

    /// <summary>Images per second (wall clock, and per CPU-second) of <see cref="MlpTraining.Step{T}"/> in float32 on random batches.</summary>
    public static (double Wall, double Cpu) EngineSamplesPerSecond(BackpropOptions o, int threads, int steps, int warmup)
    {
        Gemm.Threads = threads;
        var model = new Mlp<float>(o.Model(), seed: 0);
        var optimizer = MlpTraining.CreateOptimizer(model, o.OptimizerKind, o.Lr, o.Momentum);
        var (xs, ys) = RandomBatches(o, 8);
        for (int i = 0; i < warmup; i++) MlpTraining.Step(model, optimizer, xs[i % xs.Length], ys[i % ys.Length]);
        return Rate(steps * o.BatchSize, () =>
        {
            for (int i = 0; i < steps; i++) MlpTraining.Step(model, optimizer, xs[i % xs.Length], ys[i % ys.Length]);
        });
    }

    /// <summary>Images per second (wall clock, and per CPU-second) of the same MLP, loss and optimiser in TorchSharp (float32, nn.Linear layers).</summary>
    public static (double Wall, double Cpu) TorchSamplesPerSecond(BackpropOptions o, int threads, int steps, int warmup)
    {
        torch.set_num_threads(threads);
        var config = o.Model();
        using var model = new TorchMlp(new Mlp<float>(config, seed: 0));
        var parameters = model.parameters().ToArray();
        optim.Optimizer optimizer = o.OptimizerKind == OptimizerKind.Sgd
            ? optim.SGD(parameters, o.Lr, o.Momentum)
            : optim.Adam(parameters, o.Lr);
        var (xs, ys) = RandomBatches(o, 8);
        var inputs = xs.Select(x => tensor(x, [o.BatchSize, config.Widths[0]])).ToArray();
        var labels = ys.Select(y => tensor(y.Select(v => (long)v).ToArray())).ToArray();
        void Step(int i)
        {
            using var scope = NewDisposeScope();
            optimizer.zero_grad();
            var loss = TorchMlp.Criterion(model.forward(inputs[i % inputs.Length]), labels[i % labels.Length], config.Loss);
            loss.backward();
            optimizer.step();
        }
        for (int i = 0; i < warmup; i++) Step(i);
        return Rate(steps * o.BatchSize, () =>
        {
            for (int i = 0; i < steps; i++) Step(i);
        });
    }

    /// <summary>Images per wall-clock second and per CPU-second (all threads of the process) of <paramref name="run"/>.</summary>
    static (double Wall, double Cpu) Rate(long images, Action run)
    {
        var process = Process.GetCurrentProcess();
        var cpu = process.TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        run();
        double wall = clock.Elapsed.TotalSeconds;
        process.Refresh();
        return (images / wall, images / (process.TotalProcessorTime - cpu).TotalSeconds);
    }

    static (float[][] X, int[][] Y) RandomBatches(BackpropOptions o, int count)
    {
        var random = new Random(0);
        int features = o.Widths[0], classes = o.Widths[^1];
        var xs = Enumerable.Range(0, count).Select(_ => Enumerable.Range(0, o.BatchSize * features).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray()).ToArray();
        var ys = Enumerable.Range(0, count).Select(_ => Enumerable.Range(0, o.BatchSize).Select(_ => random.Next(classes)).ToArray()).ToArray();
        return (xs, ys);
    }

    /// <summary>Best float32 GFLOP/s of the engine's <see cref="Gemm.Multiply"/> over three timings of about 0.2 s.</summary>
    public static double EngineGflops(int m, int n, int k, bool transposeA, bool transposeB, int threads)
    {
        Gemm.Threads = threads;
        var random = new Random(1);
        float[] a = RandomArray(random, m * k), b = RandomArray(random, k * n), c = new float[m * n];
        return BestRate(2.0 * m * n * k, () => Gemm.Multiply(a, transposeA, b, transposeB, c, m, n, k));
    }

    /// <summary>Best float32 GFLOP/s of libtorch's matmul on the same product (transposes as strided views, as autograd passes them).</summary>
    public static double TorchGflops(int m, int n, int k, bool transposeA, bool transposeB, int threads)
    {
        torch.set_num_threads(threads);
        using var a0 = transposeA ? randn(k, m) : randn(m, k);
        using var b0 = transposeB ? randn(n, k) : randn(k, n);
        using var a = transposeA ? a0.t() : a0.alias();
        using var b = transposeB ? b0.t() : b0.alias();
        return BestRate(2.0 * m * n * k, () => torch.mm(a, b).Dispose());
    }

    static float[] RandomArray(Random random, int n) => Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();

    static double BestRate(double flops, Action product)
    {
        product();
        int repeats = 1;
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed.TotalSeconds < 0.02) { product(); repeats++; }
        repeats = Math.Max(1, (int)(repeats * 0.2 / clock.Elapsed.TotalSeconds));
        double best = 0;
        for (int trial = 0; trial < 3; trial++)
        {
            clock.Restart();
            for (int i = 0; i < repeats; i++) product();
            best = Math.Max(best, flops * repeats / clock.Elapsed.TotalSeconds / 1e9);
        }
        return best;
    }
}
