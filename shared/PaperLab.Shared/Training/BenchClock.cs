// The measurement behind every paper's `--bench N`: a training step run N times after an untimed warm-up,
// timed by the wall clock and by the process's CPU time, and printed as one JSON line that the paper's
// bench/compare.sh reads beside the line of its PyTorch twin (which prints the same keys).
//
// Why two clocks: on a machine other jobs share, libtorch's OpenMP threads wait for each other whenever one
// is descheduled, which the wall clock counts and the CPU time mostly does not; "per CPU-second" is the
// rate that other jobs disturb least, "per second" the one a quiet machine gives.

using System.Diagnostics;
using System.Text.Json;
using PaperLab.Runs;

namespace PaperLab.Training;

/// <summary>Timing of training steps for --bench, and the JSON line the papers print.</summary>
public static class BenchClock
{
    /// <summary>Wall-clock and process CPU time of the timed steps, in seconds.</summary>
    /// <param name="Seconds">Wall clock.</param>
    /// <param name="CpuSeconds">CPU time of the whole process (every thread), user and system.</param>
    public readonly record struct Timing(double Seconds, double CpuSeconds);

    /// <summary>
    /// Calls <paramref name="step"/>(s) for s = 0 … warmup − 1 untimed, then for s = warmup … warmup + steps − 1
    /// timed. s is the step's index, for schedules and per-step seeding that should match a run's.
    /// </summary>
    /// <param name="step">One training step.</param>
    /// <param name="steps">Timed steps, ≥ 1.</param>
    /// <param name="warmup">Untimed steps first, ≥ 0 (allocator, kernels' first calls).</param>
    /// <returns>The timing of the <paramref name="steps"/> timed steps.</returns>
    /// <exception cref="ArgumentOutOfRangeException">steps &lt; 1 or warmup &lt; 0.</exception>
    public static Timing Time(Action<long> step, int steps, int warmup)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(steps, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(warmup);
        for (int s = 0; s < warmup; s++) step(s);
        var process = Process.GetCurrentProcess();
        var cpu = process.TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        for (int s = warmup; s < warmup + steps; s++) step(s);
        double seconds = clock.Elapsed.TotalSeconds;
        process.Refresh();
        return new Timing(seconds, (process.TotalProcessorTime - cpu).TotalSeconds);
    }

    /// <summary>
    /// The fields every bench line starts with: framework (TorchSharp's package version), threads, steps,
    /// date (UTC, to the minute), machine (CPU, logical cores, GiB), convolutions and onednn (which kernels
    /// libtorch's convolutions use, <see cref="PaperLab.Torch.TorchRuntime"/>).
    /// </summary>
    /// <param name="threads">libtorch threads of the measurement.</param>
    /// <param name="steps">Timed steps.</param>
    public static Dictionary<string, object> Line(int threads, int steps)
    {
        var m = RunEnvironment.Machine();
        return new Dictionary<string, object>
        {
            ["framework"] = $"TorchSharp {RunEnvironment.PackageVersion(typeof(TorchSharp.torch))}",
            ["threads"] = threads,
            ["steps"] = steps,
            ["date"] = DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm 'UTC'"),
            ["machine"] = $"{m["cpu"]}, {m["logical_cores"]} logical cores, {m["memory_gib"]} GiB",
            ["convolutions"] = PaperLab.Torch.TorchRuntime.ConvolutionKernels,
            ["onednn"] = PaperLab.Torch.TorchRuntime.OneDnnSetting,
            ["mkl"] = PaperLab.Torch.TorchRuntime.MklSetting,
        };
    }

    /// <summary>
    /// Adds "<paramref name="unit"/>_per_second" (items over the wall clock) and
    /// "<paramref name="unit"/>_per_cpu_second" (items over the process CPU time) to <paramref name="line"/>.
    /// </summary>
    /// <param name="line">The bench line (<see cref="Line"/>).</param>
    /// <param name="unit">What is counted, plural and snake_case: samples, tokens, words.</param>
    /// <param name="items">How many were trained on in the timed steps.</param>
    /// <param name="timing">The timed steps' <see cref="Time"/>.</param>
    /// <returns>The wall-clock rate, items per second.</returns>
    public static double AddRates(Dictionary<string, object> line, string unit, double items, Timing timing)
    {
        double rate = items / timing.Seconds;
        line[$"{unit}_per_second"] = rate;
        line[$"{unit}_per_cpu_second"] = items / timing.CpuSeconds;
        return rate;
    }

    /// <summary>Writes <paramref name="line"/> to standard output as one JSON line and returns it.</summary>
    public static Dictionary<string, object> Print(Dictionary<string, object> line)
    {
        Console.WriteLine(JsonSerializer.Serialize(line));
        return line;
    }
}
