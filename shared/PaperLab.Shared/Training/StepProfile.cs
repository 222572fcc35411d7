using System.Diagnostics;
using System.Globalization;

namespace PaperLab.Training;

/// <summary>One part of a training step and the time it took over the run.</summary>
/// <param name="Name">What it is.</param>
/// <param name="Seconds">Wall seconds spent in it over the profiled steps.</param>
/// <param name="MillisecondsPerStep">The same per step.</param>
/// <param name="Fraction">Its share of the profiled time.</param>
public sealed record ProfileSection(string Name, double Seconds, double MillisecondsPerStep, double Fraction);

/// <summary>Where a run's time went (--profile): per part of the step, and what the .NET runtime did meanwhile.</summary>
/// <param name="Steps">Steps profiled.</param>
/// <param name="Seconds">Wall seconds of those steps, evaluation and checkpoints included.</param>
/// <param name="Sections">The parts, largest first.</param>
/// <param name="ManagedBytesPerStep">.NET allocations per step (tensors' native memory not included).</param>
/// <param name="Gen0Collections">Garbage collections during the profiled steps, generation 0.</param>
/// <param name="Gen2Collections">The same, full (generation 2) collections.</param>
public sealed record ProfileReport(long Steps, double Seconds, IReadOnlyList<ProfileSection> Sections, double ManagedBytesPerStep,
                                   int Gen0Collections, int Gen2Collections)
{
    /// <summary>The report as aligned lines for the terminal.</summary>
    public IEnumerable<string> Lines()
    {
        var inv = CultureInfo.InvariantCulture;
        yield return $"profile of {Steps:N0} steps, {Seconds.ToString("F1", inv)} s:";
        foreach (var s in Sections)
            yield return string.Create(inv, $"  {s.Name,-48} {s.MillisecondsPerStep,9:F3} ms/step {s.Fraction,7:P1}");
        yield return string.Create(inv, $"  .NET: {ManagedBytesPerStep / 1024:F1} KiB allocated per step, {Gen0Collections} gen-0 and {Gen2Collections} full collections");
    }
}

/// <summary>
/// Timed sections of the training step, for --profile. The body of a step is split where it records its
/// loss: before (the batch, the forward pass and the loss) and after (backward, clipping, the optimizer
/// step and whatever else the body does); the loop's own work (seeding, learning rate, logging,
/// evaluation, checkpoints) is timed separately. libtorch's profiler is not exposed by TorchSharp 0.107, so
/// these are wall-clock sections, which include waiting for the CPU's other work.
/// </summary>
public sealed class StepProfile
{
    /// <summary>Section names.</summary>
    public const string Setup = "loop: seeding, learning rate", Forward = "step: batch, forward pass and loss",
                        Backward = "step: backward, optimizer and the rest of the body", WholeBody = "step body (no loss recorded)",
                        Diagnostics = "--diagnose sampling", Logging = "loop: metrics and progress", Evaluation = "evaluation",
                        Checkpoint = "checkpoint";

    readonly Dictionary<string, long> _ticks = new();
    readonly int _gen0 = GC.CollectionCount(0), _gen2 = GC.CollectionCount(2);
    readonly long _allocated = GC.GetTotalAllocatedBytes();
    readonly long _started = Stopwatch.GetTimestamp();
    long _last;

    /// <summary>A step starts.</summary>
    public void Begin() => _last = Stopwatch.GetTimestamp();

    /// <summary>Adds the time since the last mark to <paramref name="section"/>.</summary>
    public void Lap(string section)
    {
        long now = Stopwatch.GetTimestamp();
        _ticks[section] = _ticks.GetValueOrDefault(section) + (now - _last);
        _last = now;
    }

    /// <summary>The body ended; <paramref name="recordedAt"/> is when it recorded its loss (0: it did not).</summary>
    public void EndBody(long recordedAt)
    {
        long now = Stopwatch.GetTimestamp();
        if (recordedAt > _last && recordedAt <= now)
        {
            _ticks[Forward] = _ticks.GetValueOrDefault(Forward) + (recordedAt - _last);
            _ticks[Backward] = _ticks.GetValueOrDefault(Backward) + (now - recordedAt);
        }
        else _ticks[WholeBody] = _ticks.GetValueOrDefault(WholeBody) + (now - _last);
        _last = now;
    }

    /// <summary>A step ended (nothing to do; the marks are laps).</summary>
    public void End() { }

    /// <summary>The report over <paramref name="steps"/> steps.</summary>
    public ProfileReport Report(long steps)
    {
        double total = (Stopwatch.GetTimestamp() - _started) / (double)Stopwatch.Frequency;
        double counted = _ticks.Values.Sum() / (double)Stopwatch.Frequency;
        var sections = _ticks.Select(kv => (kv.Key, Seconds: kv.Value / (double)Stopwatch.Frequency)).ToList();
        if (total > counted) sections.Add(("the rest (between steps)", total - counted));
        long n = Math.Max(1, steps);
        return new ProfileReport(steps, total,
            sections.OrderByDescending(x => x.Seconds).Select(x => new ProfileSection(x.Item1, x.Seconds, 1000 * x.Seconds / n, total > 0 ? x.Seconds / total : 0)).ToList(),
            (GC.GetTotalAllocatedBytes() - _allocated) / (double)n, GC.CollectionCount(0) - _gen0, GC.CollectionCount(2) - _gen2);
    }
}
