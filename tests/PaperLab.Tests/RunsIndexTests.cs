using System.Text.Json;
using System.Text.RegularExpressions;
using PaperLab.Reporting;
using PaperLab.Runs;
using Xunit;

namespace PaperLab.Tests;

/// <summary>runs/index.html (RunsIndex, `tools/Results runs`) on two fake run folders written here.</summary>
public class RunsIndexTests : IDisposable
{
    readonly string _root = Path.Combine(Path.GetTempPath(), "paperlab-runs-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_root)) Directory.Delete(_root, recursive: true);
    }

    /// <summary>A run folder as the programs write it: config.json, metrics.csv, and summary.json/report.html when finished.</summary>
    string FakeRun(string id, string started, double[] trainLoss, double? testError, bool finished = true)
    {
        string folder = Path.Combine(_root, id);
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "config.json"),
            $$"""{ "paper": "lenet5", "project": "papers/LeNet5", "hyperparameters": { "dataset": "mnist" }, "started_utc": "{{started}}" }""");
        var log = MetricsLog.Create(Path.Combine(folder, MetricsLog.FileName));
        for (int i = 0; i < trainLoss.Length; i++) log.Log(100 * (i + 1), "train", "loss", trainLoss[i]);
        if (testError is double e) log.Log(100 * trainLoss.Length, "test", "error", e);
        if (finished)
        {
            File.WriteAllText(Path.Combine(folder, "summary.json"), JsonSerializer.Serialize(new Dictionary<string, object>
            {
                ["paper"] = "LeNet-5", ["dataset"] = "mnist", ["test_error"] = testError!,
                ["published"] = new Dictionary<string, object> { ["metric"] = "test_error", ["value"] = 0.0095, ["source"] = "LeCun et al. 1998" },
            }));
            File.WriteAllText(Path.Combine(folder, "report.html"), "<html></html>");
        }
        return folder;
    }

    [Fact]
    public void Index_lists_every_run_and_overlays_their_curves()
    {
        FakeRun("lenet5/20261201-090000", "2026-12-01T09:00:00Z", [2.3, 0.9, 0.4], 0.0123);
        FakeRun("lenet5/20261202-100000", "2026-12-02T10:00:00Z", [2.2, 0.7, 0.3, 0.2], 0.0081);
        FakeRun("lenet5/20261203-110000", "2026-12-03T11:00:00Z", [2.3], null, finished: false);
        Directory.CreateDirectory(Path.Combine(_root, "empty-folder"));

        var runs = RunsIndex.Find(_root);

        Assert.Equal(["lenet5/20261203-110000", "lenet5/20261202-100000", "lenet5/20261201-090000"], runs.Select(r => r.Id)); // newest first
        var best = runs[1];
        Assert.Equal(("lenet5", "mnist", "test_error", 0.0081, true), (best.Paper, best.Dataset, best.Metric, best.Value!.Value, best.Finished));
        Assert.Equal(new DateTime(2026, 12, 2, 10, 0, 0, DateTimeKind.Utc), best.StartedUtc);
        Assert.Equal(5, best.Metrics.Count);
        Assert.False(runs[0].Finished);
        Assert.Null(runs[0].Metric);

        string path = RunsIndex.WriteIndex(_root);
        Assert.Equal(Path.Combine(_root, "index.html"), path);
        string html = File.ReadAllText(path);
        // the table: one row per run, the key metric formatted as the README's table does, a relative link to each report
        Assert.Equal(3, Regex.Matches(html, "<input type=\"checkbox\" class=\"pick\"").Count);
        Assert.Contains("<td>test_error</td><td>0.81%</td><td>2026-12-02 10:00</td><td><a href=\"lenet5/20261202-100000/report.html\">", html);
        Assert.Contains("lenet5/20261203-110000 (unfinished)", html);
        // the charts: train loss with the three runs' curves, test error with the two that have it
        string train = ChartWithTitle(html, "train loss");
        JsonElement data = Data(train);
        Assert.Equal(["lenet5/20261203-110000", "lenet5/20261202-100000", "lenet5/20261201-090000"],
            data.EnumerateArray().Select(t => t.GetProperty("name").GetString()));
        Assert.Equal([2.2, 0.7, 0.3, 0.2], data[1].GetProperty("y").EnumerateArray().Select(v => v.GetDouble()));
        Assert.Equal([100.0, 200, 300, 400], data[1].GetProperty("x").EnumerateArray().Select(v => v.GetDouble()));
        Assert.Equal(2, Data(ChartWithTitle(html, "test error")).GetArrayLength());
        Assert.DoesNotMatch(@"<script[^>]*\ssrc\s*=", html); // plotly.js inline: opens offline
    }

    [Fact]
    public void Long_curves_are_thinned_keeping_the_last_point()
    {
        var loss = Enumerable.Range(0, 5000).Select(i => 1.0 / (i + 1)).ToArray();
        FakeRun("gpt/20261201-090000", "2026-12-01T09:00:00Z", loss, 0.5);

        string html = File.ReadAllText(RunsIndex.WriteIndex(_root));

        var ys = Data(ChartWithTitle(html, "train loss"))[0].GetProperty("y").EnumerateArray().Select(v => v.GetDouble()).ToArray();
        Assert.InRange(ys.Length, RunsIndex.MaxPointsPerCurve / 2, RunsIndex.MaxPointsPerCurve + 1);
        Assert.Equal(loss[0], ys[0]);
        Assert.Equal(loss[^1], ys[^1]);
    }

    [Fact]
    public void A_missing_runs_root_is_named()
    {
        var e = Assert.Throws<DirectoryNotFoundException>(() => RunsIndex.Find(Path.Combine(_root, "nowhere")));
        Assert.Contains("nowhere", e.Message);
    }

    static string ChartWithTitle(string html, string title)
    {
        foreach (Match m in Regex.Matches(html, @"<div class=""chart"">.*?</script>", RegexOptions.Singleline))
            if (m.Value.Contains($"\"text\":\"{title}\"")) return m.Value;
        throw new Xunit.Sdk.XunitException($"no chart titled '{title}'");
    }

    static JsonElement Data(string chart) =>
        JsonDocument.Parse(Regex.Match(chart, @"var data = (.*);\r?\n").Groups[1].Value).RootElement;
}
