using System.Reflection;
using PaperLab.Cli;
using PaperLab.Runs;
using Xunit;

namespace PaperLab.Tests;

/// <summary>A paper's program, found by reflection: every papers/*/ project the tests reference.</summary>
/// <param name="Name">Short name ("lenet5").</param>
/// <param name="Main">Its Main.</param>
/// <param name="Options">Its hyperparameter record.</param>
public sealed record PaperEntry(string Name, Func<string[], int> Main, Type Options)
{
    public override string ToString() => Name;

    /// <summary>
    /// Every paper: the <c>PaperLab.Papers.*.Experiment</c> classes of the referenced assemblies, with their
    /// <c>Main(string[])</c> and the options type of <c>Run(TOptions, RunContext)</c>. A new paper (from the
    /// template) is picked up without editing any test.
    /// </summary>
    public static IReadOnlyList<PaperEntry> All { get; } = Discover();

    static IReadOnlyList<PaperEntry> Discover()
    {
        var list = new List<PaperEntry>();
        foreach (var name in typeof(PaperEntry).Assembly.GetReferencedAssemblies())
        {
            var assembly = Assembly.Load(name);
            foreach (var type in assembly.GetTypes().Where(t => t.Name == "Experiment" && t.Namespace?.StartsWith("PaperLab.Papers.") == true))
            {
                var main = type.GetMethod("Main", BindingFlags.Public | BindingFlags.Static, new[] { typeof(string[]) });
                var run = type.GetMethods(BindingFlags.Public | BindingFlags.Static)
                              .FirstOrDefault(m => m.Name == "Run" && m.GetParameters() is { Length: 2 } p && p[1].ParameterType == typeof(RunContext));
                var paper = type.GetField("Paper", BindingFlags.Public | BindingFlags.Static)?.GetValue(null) as PaperInfo;
                if (main is null || run is null || paper is null) continue;
                list.Add(new PaperEntry(paper.Name, args => (int)main.Invoke(null, new object[] { args })!, run.GetParameters()[0].ParameterType));
            }
        }
        return list.OrderBy(p => p.Name, StringComparer.Ordinal).ToList();
    }
}

/// <summary>
/// The command line of every paper, fuzzed: every option (the paper's and the common ones) with values a
/// new user types by mistake. Each case must end in exit 2 (a usage error naming the option) or exit 1 (a
/// runtime failure with a one-line cause), never in a crash, a stack trace, the unforeseen-error handler,
/// or a hang. A value that is valid leads, by design, to a quick runtime failure: every case points
/// --data at an empty folder, so no case trains.
/// </summary>
public class CommandLineFuzzTests
{
    static readonly string[] Values = { "-1", "0", "abc", "1e400", "2147483648", "", "NaN", "Infinity", "-Infinity", "1e-320", "0x10", "1,5" };

    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (var paper in PaperEntry.All)
            foreach (var option in OptionSet.Describe(paper.Options).Concat(OptionSet.Describe(typeof(RunOptions))).Where(o => !o.Rules.Derived))
                data.Add(paper.Name, option.Name);
        return data;
    }

    [Fact]
    public void Every_paper_is_found()
    {
        var names = PaperEntry.All.Select(p => p.Name).ToArray();
        Assert.Subset(names.ToHashSet(), new HashSet<string> { "lenet5", "gpt", "transformer", "ddpm" });
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Every_bad_value_of_every_option_ends_in_a_clear_exit(string paperName, string option)
    {
        var paper = PaperEntry.All.Single(p => p.Name == paperName);
        using var dir = new TempDir();
        Directory.CreateDirectory(dir.File("empty-data"));
        foreach (var value in Values)
        {
            var args = new List<string> { $"--{option}", value };
            if (option != "smoke") args.Add("--smoke");
            if (option != "threads") args.AddRange(new[] { "--threads", "1" });
            if (option != "data") args.AddRange(new[] { "--data", dir.File("empty-data") });
            if (option != "out") args.AddRange(new[] { "--out", dir.File("run") });
            var task = Task.Run(() => PaperMain.Run(paper.Main, args.ToArray()));
            Assert.True(task.Wait(TimeSpan.FromSeconds(60)), $"{paperName} --{option} '{value}': no answer within 60 s");
            var (exit, stderr) = task.Result;
            string what = $"{paperName} --{option} '{value}' → exit {exit}: {stderr}";
            Assert.True(exit is 1 or 2, what);
            Assert.Contains("error: ", stderr);
            Assert.DoesNotContain(PaperProgram.UnforeseenPrefix, stderr);
            Assert.DoesNotContain("   at ", stderr);
            Assert.DoesNotContain("Exception", stderr.Split('\n').First(l => l.StartsWith("error: ")));
            Assert.False(Directory.Exists(dir.File("run")) && Directory.EnumerateFileSystemEntries(dir.File("run")).Any(), $"{what}: left a run folder behind");
        }
    }

    [Theory]
    [MemberData(nameof(Papers))]
    public void Version_prints_and_exits_0_and_help_lists_every_option(string paperName)
    {
        var paper = PaperEntry.All.Single(p => p.Name == paperName);
        var output = new StringWriter();
        var old = Console.Out;
        Console.SetOut(output);
        try
        {
            Assert.Equal(0, paper.Main(new[] { "--version" }));
            Assert.StartsWith($"{paperName} (PaperLab ", output.ToString());
            output.GetStringBuilder().Clear();
            Assert.Equal(0, paper.Main(new[] { "--help" }));
        }
        finally { Console.SetOut(old); }
        foreach (var option in OptionSet.Describe(paper.Options).Where(o => !o.Rules.Derived))
            Assert.Contains($"--{option.Name}", output.ToString());
    }

    public static TheoryData<string> Papers()
    {
        var data = new TheoryData<string>();
        foreach (var p in PaperEntry.All) data.Add(p.Name);
        return data;
    }
}
