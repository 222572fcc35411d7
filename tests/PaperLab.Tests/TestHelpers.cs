using PaperLab.Cli;
using PaperLab.Runs;
using PaperLab.Training;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

// torch's RNG, its thread count and Console.Error are process-wide: tests that seed and then build a model
// must not interleave with other tests drawing random numbers, so the suite runs one test at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace PaperLab.Tests;

/// <summary>Runs a paper's Main in-process and captures what it wrote to stderr.</summary>
static class PaperMain
{
    /// <summary>The exit code of <paramref name="main"/>(<paramref name="args"/>) and its stderr.</summary>
    public static (int Exit, string Stderr) Run(Func<string[], int> main, string[] args)
    {
        var err = new StringWriter();
        var old = Console.Error;
        Console.SetError(err);
        try { return (main(args), err.ToString()); }
        finally { Console.SetError(old); }
    }
}

/// <summary>Runs a paper's experiment in-process, silently, into a folder of its own.</summary>
static class PaperRun
{
    /// <summary>The context of a run into <paramref name="outDir"/> on one thread (tests run one at a time).</summary>
    public static RunContext Context(PaperInfo paper, string outDir, string? data = null, string? resume = null, long? stopAfter = null,
                                     int seed = 0, bool smoke = true) =>
        new(paper, new RunOptions { Out = outDir, Data = data, Resume = resume, Threads = 1, Seed = seed, Smoke = smoke }, TrainingProgress.Silent())
        { StopAfterStep = stopAfter };

    /// <summary>Runs <paramref name="run"/> and releases the run folder afterwards, whatever happens.</summary>
    public static TSummary Run<TOptions, TSummary>(Func<TOptions, RunContext, TSummary> run, TOptions options, RunContext ctx)
    {
        bool failed = true;
        try
        {
            var summary = run(options, ctx);
            failed = false;
            return summary;
        }
        finally { ctx.Run?.Close(failed); }
    }

    /// <summary>
    /// Asserts that a run stopped after <paramref name="stopAfter"/> steps (as by Ctrl-C) and resumed from its
    /// checkpoint ends exactly where the uninterrupted run ends: the same training-loss and evaluation rows in
    /// metrics.csv, and byte-identical model, optimizer and extra state in the final checkpoint.
    /// </summary>
    public static void ResumesBitIdentically<TOptions, TSummary>(PaperInfo paper, Func<TOptions, RunContext, TSummary> run, TOptions options,
                                                                 long stopAfter, string? data = null)
    {
        string root = Directory.CreateTempSubdirectory($"resume-{paper.Name}-").FullName;
        try
        {
            string straight = Path.Combine(root, "straight"), split = Path.Combine(root, "split");
            Run(run, options, Context(paper, straight, data));
            Assert.Throws<RunInterruptedException>(() => Run(run, options, Context(paper, split, data, stopAfter: stopAfter)));
            Run(run, options, Context(paper, split, data, resume: Path.Combine(split, "checkpoint.bin")));

            static string[] Rows(string dir) => MetricsLog.Read(Path.Combine(dir, "metrics.csv"))
                .Where(r => r.Split != "process" && !r.Name.Contains("seconds"))
                .Select(r => $"{r.Step},{r.Split},{r.Name},{r.Value:R}").ToArray();
            var expected = Rows(straight);
            Assert.Contains(expected, r => long.Parse(r.Split(',')[0]) > stopAfter);   // the stop was before the end
            Assert.Equal(expected, Rows(split));

            var a = Checkpoint.Read(Path.Combine(straight, "checkpoint.bin"));
            var b = Checkpoint.Read(Path.Combine(split, "checkpoint.bin"));
            Assert.Equal(a.Header.Step, b.Header.Step);
            foreach (var section in a.Sections.Where(s => s.Kind != "metrics"))
                Assert.True(section.Bytes.AsSpan().SequenceEqual(b.Sections.Single(s => s.Name == section.Name).Bytes),
                            $"{paper.Name}: the {section.Name} of the resumed run differs from the uninterrupted run's");
        }
        finally { try { Directory.Delete(root, true); } catch (IOException) { } }
    }
}
