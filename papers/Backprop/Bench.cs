// Engine speed against TorchSharp, behind `Backprop --bench` (bench/compare.sh runs it):
//   * training throughput: images per second of the same MLP, same batch size, same optimiser, trained on the
//     same random batches by the engine and by TorchSharp, at each thread count;
//   * the matmul: GFLOP/s of the engine's Gemm and of libtorch on the products one training step does
//     (per layer: forward X·W, weight gradient Xᵀ·G, input gradient G·Wᵀ except for the first layer).
// Only this file uses TorchSharp: the engine is compared with it, never built on it.
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

    /// <summary>Settings of one measurement.</summary>
    /// <param name="Preset">Name in <see cref="TrainConfig.Presets"/>.</param>
    /// <param name="Modern">Use the preset's <see cref="TrainConfig.Modern"/> variant (ReLU, cross-entropy, Adam).</param>
    /// <param name="BatchSize">Images per step; null: the preset's.</param>
    /// <param name="Threads">Thread counts to measure.</param>
    /// <param name="Steps">Timed training steps per measurement.</param>
    /// <param name="Warmup">Untimed steps before (the JIT recompiles hot methods optimised after about 30 calls, caches, allocator).</param>
    public sealed record Options(string Preset = "800", bool Modern = false, int? BatchSize = null, int[]? Threads = null, int Steps = 300, int Warmup = 100);

    /// <summary>
    /// Parses <c>[--preset 300|300+100|800] [--modern] [--batch N] [--threads 1,2] [--steps N] [--warmup N]</c>,
    /// runs <see cref="Run"/>, prints one JSON line per measurement then a table. Exit 0, or 2 with a message for bad options.
    /// </summary>
    public static int Main(string[] args)
    {
        var options = new Options();
        try
        {
            for (int i = 0; i < args.Length; i++)
            {
                string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
                int Positive(string s) => int.TryParse(s, CultureInfo.InvariantCulture, out int v) && v > 0 ? v : throw new ArgumentException($"{args[i - 1]} needs a positive integer, got '{s}'");
                options = args[i] switch
                {
                    "--preset" => options with { Preset = Next() },
                    "--modern" => options with { Modern = true },
                    "--batch" => options with { BatchSize = Positive(Next()) },
                    "--threads" => options with { Threads = Next().Split(',').Select(Positive).ToArray() },
                    "--steps" => options with { Steps = Positive(Next()) },
                    "--warmup" => options with { Warmup = Positive(Next()) },
                    _ => throw new ArgumentException($"unknown option '{args[i]}'"),
                };
            }
            if (!TrainConfig.Presets.ContainsKey(options.Preset))
                throw new ArgumentException($"unknown preset '{options.Preset}'; use one of {string.Join(", ", TrainConfig.Presets.Keys)}");
        }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine($"backprop --bench: {e.Message}");
            Console.Error.WriteLine("usage: Backprop --bench [--preset 300|300+100|800] [--modern] [--batch N] [--threads 1,2] [--steps N] [--warmup N]");
            return 2;
        }
        Run(options);
        return 0;
    }

    /// <summary>Measures and prints; returns the measurements (one dictionary per JSON line).</summary>
    public static List<Dictionary<string, object>> Run(Options options)
    {
        var preset = TrainConfig.Presets[options.Preset];
        var config = options.Modern ? preset.Modern() : preset;
        if (options.BatchSize is { } b) config = config with { BatchSize = b };
        int[] threadCounts = options.Threads ?? [1, 2];
        var results = new List<Dictionary<string, object>>();
        void Emit(Dictionary<string, object> r)
        {
            results.Add(r);
            Console.WriteLine(JsonSerializer.Serialize(r, Json));
        }

        foreach (int t in threadCounts)
        {
            var engine = EngineSamplesPerSecond(config, t, options.Steps, options.Warmup);
            var torchRate = TorchSamplesPerSecond(config, t, options.Steps, options.Warmup);
            Emit(new()
            {
                ["what"] = "training", ["model"] = config.Model.ToString(), ["optimizer"] = config.Optimizer.ToString(),
                ["batch"] = config.BatchSize, ["threads"] = t,
                ["engine_samples_per_second"] = Math.Round(engine.Wall), ["torch_samples_per_second"] = Math.Round(torchRate.Wall),
                ["ratio"] = Math.Round(engine.Wall / torchRate.Wall, 3),
                // per CPU-second: less sensitive to other jobs on the machine than wall-clock rates
                ["engine_samples_per_cpu_second"] = Math.Round(engine.Cpu), ["torch_samples_per_cpu_second"] = Math.Round(torchRate.Cpu),
            });
            foreach (var (name, m, n, k, ta, tb) in TrainingProducts(config.Model.Widths, config.BatchSize))
            {
                double ours = EngineGflops(m, n, k, ta, tb, t), theirs = TorchGflops(m, n, k, ta, tb, t);
                Emit(new()
                {
                    ["what"] = "matmul", ["product"] = name, ["m"] = m, ["n"] = n, ["k"] = k, ["threads"] = t,
                    ["engine_gflops"] = Math.Round(ours, 2), ["torch_gflops"] = Math.Round(theirs, 2), ["ratio"] = Math.Round(ours / theirs, 3),
                });
            }
        }
        Console.WriteLine($"| threads | engine images/s | TorchSharp images/s | ratio |   ({config.Model}, {config.Optimizer}, batch {config.BatchSize})");
        Console.WriteLine("|---|---|---|---|");
        foreach (var r in results.Where(r => (string)r["what"] == "training"))
            Console.WriteLine($"| {r["threads"]} | {r["engine_samples_per_second"]:F0} | {r["torch_samples_per_second"]:F0} | {r["ratio"]:F2} |");
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
    public static (double Wall, double Cpu) EngineSamplesPerSecond(TrainConfig config, int threads, int steps, int warmup)
    {
        Gemm.Threads = threads;
        var model = new Mlp<float>(config.Model, seed: 0);
        Optimizer<float> optimizer = config.Optimizer == OptimizerKind.Sgd
            ? new Sgd<float>(model.Parameters(), config.LearningRate, config.Momentum)
            : new Adam<float>(model.Parameters(), config.LearningRate);
        var (xs, ys) = RandomBatches(config, 8);
        for (int i = 0; i < warmup; i++) MlpTraining.Step(model, optimizer, xs[i % xs.Length], ys[i % ys.Length]);
        return Rate(steps * config.BatchSize, () =>
        {
            for (int i = 0; i < steps; i++) MlpTraining.Step(model, optimizer, xs[i % xs.Length], ys[i % ys.Length]);
        });
    }

    /// <summary>Images per second (wall clock, and per CPU-second) of the same MLP, loss and optimiser in TorchSharp (float32, nn.Linear layers).</summary>
    public static (double Wall, double Cpu) TorchSamplesPerSecond(TrainConfig config, int threads, int steps, int warmup)
    {
        torch.set_num_threads(threads);
        manual_seed(0);
        int[] widths = config.Model.Widths;
        var layers = Enumerable.Range(0, widths.Length - 1).Select(l => nn.Linear(widths[l], widths[l + 1])).ToArray();
        var parameters = layers.SelectMany(l => l.parameters()).ToArray();
        optim.Optimizer optimizer = config.Optimizer == OptimizerKind.Sgd
            ? optim.SGD(parameters, config.LearningRate, config.Momentum)
            : optim.Adam(parameters, config.LearningRate);
        var (xs, ys) = RandomBatches(config, 8);
        var inputs = xs.Select(x => tensor(x, [config.BatchSize, widths[0]])).ToArray();
        var labels = ys.Select(y => tensor(y.Select(v => (long)v).ToArray())).ToArray();
        var targets = labels.Select(y => nn.functional.one_hot(y, widths[^1]).to(float32)).ToArray();
        void Step(int i)
        {
            using var scope = NewDisposeScope();
            optimizer.zero_grad();
            Tensor h = inputs[i % inputs.Length];
            for (int l = 0; l < layers.Length; l++)
            {
                h = layers[l].forward(h);
                if (l < layers.Length - 1) h = config.Model.Activation switch
                {
                    Activation.ScaledTanh => (h * (2.0 / 3.0)).tanh() * 1.7159,
                    Activation.Tanh => h.tanh(),
                    Activation.Sigmoid => h.sigmoid(),
                    _ => h.relu(),
                };
            }
            Tensor loss = config.Model.Loss == LossKind.CrossEntropy
                ? nn.functional.cross_entropy(h, labels[i % labels.Length])
                : (h - targets[i % targets.Length]).square().sum() * (0.5 / config.BatchSize);
            loss.backward();
            optimizer.step();
        }
        for (int i = 0; i < warmup; i++) Step(i);
        return Rate(steps * config.BatchSize, () =>
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

    static (float[][] X, int[][] Y) RandomBatches(TrainConfig config, int count)
    {
        var random = new Random(0);
        int features = config.Model.Widths[0], classes = config.Model.Widths[^1];
        var xs = Enumerable.Range(0, count).Select(_ => Enumerable.Range(0, config.BatchSize * features).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray()).ToArray();
        var ys = Enumerable.Range(0, count).Select(_ => Enumerable.Range(0, config.BatchSize).Select(_ => random.Next(classes)).ToArray()).ToArray();
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
