using System.Text.Json;
using Xunit;

namespace PaperLab.Tests;

/// <summary>
/// The troubleshooting toolkit on every paper, through its command line in-process (--smoke sizes): each
/// flag must end in the documented exit, leave its result in summary.json and a section in report.html.
/// Papers whose steps are not batches of training data (reinforcement learning) must refuse --find-lr and
/// --overfit-batch with a usage error instead.
/// </summary>
public class ToolkitTests
{
    public static TheoryData<string> Papers()
    {
        var data = new TheoryData<string>();
        foreach (var p in PaperEntry.All) data.Add(p.Name);
        return data;
    }

    static readonly HashSet<string> NotBatches = ["dqn"];

    /// <summary>Smaller batches where the smoke size would take tens of seconds per flag.</summary>
    static readonly Dictionary<string, string[]> Smaller = new() { ["transformer"] = ["--batch-tokens", "400", "--d-model", "32", "--d-ff", "64"], ["ddpm"] = ["--batch-size", "16", "--channels", "8"], ["batchnorm"] = ["--networks", "bn", "--lr", "1"] };

    static (int Exit, string Stderr, JsonElement? Summary, string Report) Run(string paper, string dir, params string[] flags)
    {
        var entry = PaperEntry.All.Single(p => p.Name == paper);
        var (exit, stderr) = PaperMain.Run(entry.Main, [.. flags, .. Smaller.GetValueOrDefault(paper, []), "--smoke", "--threads", "1", "--out", dir]);
        string summary = Path.Combine(dir, "summary.json"), report = Path.Combine(dir, "report.html");
        JsonElement? json = File.Exists(summary) ? JsonDocument.Parse(File.ReadAllText(summary)).RootElement.Clone() : null;
        return (exit, stderr, json, File.Exists(report) ? File.ReadAllText(report) : "");
    }

    [Theory]
    [MemberData(nameof(Papers))]
    public void Find_lr_suggests_a_rate_and_stops(string paper)
    {
        using var dir = new TempDir();
        var (exit, stderr, summary, report) = Run(paper, dir.File("run"), "--find-lr");
        if (NotBatches.Contains(paper))
        {
            Assert.Equal(2, exit);
            Assert.Contains("--find-lr does not apply", stderr);
            return;
        }
        Assert.True(exit == 0, $"{paper} --find-lr: exit {exit}: {stderr}");
        double lr = summary!.Value.GetProperty("suggested_lr").GetDouble();
        Assert.True(lr > 1e-7 && lr < 100, $"{paper}: suggested learning rate {lr}");
        Assert.Contains("Learning-rate range test", report);
        Assert.DoesNotContain(File.ReadAllLines(dir.File("run", "metrics.csv")), l => l.Contains(",train,loss,"));   // no training followed
    }

    [Theory]
    [MemberData(nameof(Papers))]
    public void Overfit_batch_reaches_its_target_or_fails_with_a_diagnosis(string paper)
    {
        using var dir = new TempDir();
        var (exit, stderr, summary, report) = Run(paper, dir.File("run"), "--overfit-batch");
        if (NotBatches.Contains(paper))
        {
            Assert.Equal(2, exit);
            Assert.Contains("--overfit-batch does not apply", stderr);
            return;
        }
        // a model that cannot drive one batch's loss towards zero has a bug; the smoke models can
        Assert.True(exit == 0, $"{paper} --overfit-batch: exit {exit}: {stderr}");
        int steps = summary!.Value.GetProperty("overfit_steps").GetInt32();
        Assert.True(steps >= 1, $"{paper}: overfit_steps {steps}");   // reached within the paper's own limit (LoopSettings.OverfitSteps)
        Assert.Contains("Overfitting one batch", report);
    }

    [Theory]
    [MemberData(nameof(Papers))]
    public void Diagnose_and_profile_observe_a_training_run(string paper)
    {
        using var dir = new TempDir();
        var (exit, stderr, summary, report) = Run(paper, dir.File("run"), "--diagnose", "--diagnose-every", "5", "--profile");
        Assert.True(exit == 0, $"{paper} --diagnose --profile: exit {exit}: {stderr}");
        var profile = summary!.Value.GetProperty("profile");
        Assert.True(profile.GetProperty("steps").GetInt64() > 0);
        double share = profile.GetProperty("sections").EnumerateArray().Sum(s => s.GetProperty("fraction").GetDouble());
        Assert.InRange(share, 0.99, 1.01);   // the sections account for the whole time
        Assert.Contains("Where the time went", report);
        if (summary.Value.TryGetProperty("diagnostics", out var findings))
        {
            Assert.Equal(JsonValueKind.Array, findings.ValueKind);
            Assert.Contains("Diagnostics", report);
            Assert.True(File.Exists(dir.File("run", "diagnostics.json")));
        }
        else Assert.Contains("--diagnose", stderr);   // a paper without TorchSharp modules says why nothing was observed
    }
}
