// Peak memory (and, on a quiet machine, step time) of GPT training against depth, with and without gradient
// checkpointing (Chen et al. 2016, "Training Deep Nets with Sublinear Memory Cost": O(√n) activation memory
// for about 30% more time, its abstract and §5). One configuration per process: bench/memory.sh runs a fresh
// process for each depth and mode, so no configuration inherits another's heap.
//
// What is measured. TorchSharp exposes no allocator statistics on the CPU, so the measure is the process's
// resident-set high-water mark, VmHWM in /proc/self/status. Before the measured step the model, its gradients
// and AdamW's state already exist (one warm-up step) and the high-water mark is reset to the current resident
// size (writing 5 to /proc/self/clear_refs, Linux ≥ 4.0); the measured step is one forward and backward pass,
// and "step peak" is VmHWM after it minus VmRSS before it: the activations (kept or recomputed) and the
// backward pass's temporaries, what checkpointing changes. memory.sh fixes glibc's mmap threshold so that
// freed tensors go back to the system at once and the resident size follows the live tensors.

using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using PaperLab.Training;
using static TorchSharp.torch;

namespace PaperLab.Papers.Gpt;

/// <summary>One configuration's memory and time (see the file header for how each is measured).</summary>
/// <param name="Layers">n_layer.</param>
/// <param name="Checkpoint">"none", "sqrt" (√n_layer segments), "every" (one block per segment) or a segment count.</param>
/// <param name="Segments">Segments used; 0 without checkpointing.</param>
/// <param name="StepPeakMiB">Resident high-water mark of one forward+backward pass above the resident size before it, MiB.</param>
/// <param name="ResidentBeforeMiB">Resident size before the measured step (runtime, libtorch, weights, gradients, AdamW state), MiB.</param>
/// <param name="ParametersMiB">float32 weights alone, MiB.</param>
/// <param name="BoundaryMiB">One block's input (B·T·C float32), what a checkpoint keeps per segment, MiB.</param>
/// <param name="PeakResetWorked">False: clear_refs could not be written and StepPeakMiB is the process's peak since start.</param>
/// <param name="MedianStepSeconds">Median time of a full training step (forward, backward, AdamW); null when no steps were timed.</param>
public sealed record MemoryBenchResult(int Layers, string Checkpoint, int Segments, int BatchSize, int BlockSize, int NEmbd,
                                       double StepPeakMiB, double ResidentBeforeMiB, double ParametersMiB, double BoundaryMiB,
                                       bool PeakResetWorked, double? MedianStepSeconds, int Threads, string Date, string Machine);

/// <summary>The measurement behind <c>--bench-memory</c>: GPT training memory against depth, with and without checkpointing.</summary>
public static class MemoryBench
{
    /// <summary>
    /// Parses <c>--layers L [--checkpoint none|sqrt|every|K] [--batch B] [--block T] [--embd C] [--heads H]
    /// [--steps S] [--threads N]</c>, measures that one configuration (<see cref="Measure"/>) and prints it as one JSON line.
    /// </summary>
    /// <returns>0, or 2 with the problem on stderr when an argument is missing or malformed.</returns>
    public static int Run(string[] args)
    {
        var options = new Dictionary<string, string>();
        for (int i = 0; i < args.Length; i += 2)
        {
            if (!args[i].StartsWith("--") || i + 1 >= args.Length)
            {
                Console.Error.WriteLine($"--bench-memory: expected '--name value' pairs, got '{string.Join(' ', args)}'. {Usage}");
                return 2;
            }
            options[args[i][2..]] = args[i + 1];
        }
        int Int(string name, int fallback)
        {
            if (!options.TryGetValue(name, out var s)) return fallback;
            if (int.TryParse(s, out int v) && v >= 0) return v;
            throw new FormatException($"--{name} must be a non-negative integer, got '{s}'");
        }
        try
        {
            if (!options.ContainsKey("layers")) throw new FormatException("--layers is required");
            foreach (var name in options.Keys.Except(["layers", "checkpoint", "batch", "block", "embd", "heads", "steps", "threads"]))
                throw new FormatException($"unknown option --{name}");
            var result = Measure(Int("layers", 0), options.GetValueOrDefault("checkpoint", "none"), Int("batch", 32), Int("block", 64),
                                 Int("embd", 128), Int("heads", 4), Int("steps", 0), Int("threads", 1));
            Console.WriteLine(JsonSerializer.Serialize(result));
            return 0;
        }
        catch (Exception e) when (e is FormatException or ArgumentException)
        {
            Console.Error.WriteLine($"--bench-memory: {e.Message}. {Usage}");
            return 2;
        }
    }

    const string Usage = "Usage: --bench-memory --layers L [--checkpoint none|sqrt|every|K] [--batch 32] [--block 64] [--embd 128] [--heads 4] [--steps 0] [--threads 1]";

    /// <summary>
    /// Builds a GPT of <paramref name="layers"/> blocks (vocabulary 65, no dropout), takes one warm-up training
    /// step, measures the resident peak of one forward+backward pass, then times <paramref name="timedSteps"/>
    /// full training steps. Random token ids, fixed seeds.
    /// </summary>
    /// <param name="layers">n_layer ≥ 1.</param>
    /// <param name="checkpoint">"none", "sqrt", "every", or a segment count 1 … n_layer.</param>
    /// <param name="batchSize">B.</param>
    /// <param name="blockSize">T.</param>
    /// <param name="nEmbd">C.</param>
    /// <param name="nHead">Heads; divides C.</param>
    /// <param name="timedSteps">Training steps to time after the memory measurement (0: none; time only on a quiet machine).</param>
    /// <param name="threads">libtorch threads during the measurement (the previous count is restored afterwards).</param>
    /// <exception cref="ArgumentException">An unknown checkpoint mode, or a shape GptConfig rejects.</exception>
    public static MemoryBenchResult Measure(int layers, string checkpoint, int batchSize = 32, int blockSize = 64, int nEmbd = 128,
                                            int nHead = 4, int timedSteps = 0, int threads = 1)
    {
        int segments = checkpoint switch
        {
            "none" => 0,
            "sqrt" => GradientCheckpoint.DefaultSegments(layers),
            "every" => layers,
            _ when int.TryParse(checkpoint, out int k) && k >= 1 && k <= layers => k,
            _ => throw new ArgumentException($"--checkpoint must be none, sqrt, every or a segment count from 1 to {layers}, got '{checkpoint}'"),
        };
        int previousThreads = get_num_threads();
        set_num_threads(threads);
        try
        {
            return MeasureWith(layers, checkpoint, segments, batchSize, blockSize, nEmbd, nHead, timedSteps, threads);
        }
        finally
        {
            set_num_threads(previousThreads);
        }
    }

    static MemoryBenchResult MeasureWith(int layers, string checkpoint, int segments, int batchSize, int blockSize, int nEmbd,
                                         int nHead, int timedSteps, int threads)
    {
        manual_seed(0);
        var config = new GptConfig(VocabSize: 65, BlockSize: blockSize, NLayer: layers, NHead: nHead, NEmbd: nEmbd, Dropout: 0.0,
                                   GradientCheckpointing: segments > 0, CheckpointSegments: segments);
        using var model = new Gpt(config);
        using var optimizer = optim.AdamW(model.parameters(), lr: 1e-3);
        var data = new Generator(1);
        var x = randint(0, 65, new long[] { batchSize, blockSize }, generator: data);
        var y = randint(0, 65, new long[] { batchSize, blockSize }, generator: data);

        void ForwardBackward()
        {
            using var scope = NewDisposeScope();
            optimizer.zero_grad();   // in place: the gradients stay allocated
            model.Loss(x, y).backward();
        }
        void TrainingStep()
        {
            ForwardBackward();
            optimizer.step();
        }

        TrainingStep();   // warm-up: gradients, AdamW state, libtorch's one-time allocations
        GC.Collect();
        bool reset = ResetPeak();                 // VmHWM := the resident size now
        long before = ProcStatusKiB("VmRSS");     // read after the reset, so the peak below is never below it
        ForwardBackward();
        long peak = ProcStatusKiB("VmHWM");

        double? median = null;
        if (timedSteps > 0)
        {
            var times = new double[timedSteps];
            for (int i = 0; i < timedSteps; i++)
            {
                var clock = Stopwatch.StartNew();
                TrainingStep();
                times[i] = clock.Elapsed.TotalSeconds;
            }
            Array.Sort(times);
            median = times[timedSteps / 2];
        }
        const double MiB = 1024.0 * 1024.0;
        return new MemoryBenchResult(layers, checkpoint, segments, batchSize, blockSize, nEmbd,
            StepPeakMiB: (peak - before) / 1024.0, ResidentBeforeMiB: before / 1024.0,
            ParametersMiB: model.parameters().Sum(p => p.numel()) * 4 / MiB,
            BoundaryMiB: (double)batchSize * blockSize * nEmbd * 4 / MiB,
            PeakResetWorked: reset, MedianStepSeconds: median, Threads: threads,
            Date: DateTime.UtcNow.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), Machine: MachineDescription());
    }

    /// <summary>A field of /proc/self/status in KiB (VmRSS: resident now; VmHWM: resident high-water mark).</summary>
    /// <exception cref="PlatformNotSupportedException">/proc/self/status is missing (not Linux) or lacks the field.</exception>
    public static long ProcStatusKiB(string field)
    {
        const string path = "/proc/self/status";
        if (!File.Exists(path)) throw new PlatformNotSupportedException($"{path} not found: the memory bench reads Linux's process status");
        foreach (var line in File.ReadLines(path))
            if (line.StartsWith(field + ":"))
                return long.Parse(line[(field.Length + 1)..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
        throw new PlatformNotSupportedException($"{path} has no {field} line");
    }

    /// <summary>Resets VmHWM to the current resident size (Linux ≥ 4.0: write 5 to /proc/self/clear_refs).</summary>
    /// <returns>False when the file cannot be written, as in some sandboxes (then VmHWM is the peak since the process started).</returns>
    public static bool ResetPeak()
    {
        try
        {
            File.WriteAllText("/proc/self/clear_refs", "5");
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    static string MachineDescription()
    {
        string cpu = File.Exists("/proc/cpuinfo")
            ? File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name"))?.Split(':', 2)[1].Trim() ?? "unknown CPU"
            : "unknown CPU";
        double memGiB = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / (1024.0 * 1024 * 1024);
        return $"{cpu}, {Environment.ProcessorCount} cores, {memGiB:F0} GiB, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}";
    }
}
