using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using PaperLab.Runs;

namespace PaperLab.Reporting;

/// <summary>One run folder as the runs index lists it.</summary>
/// <param name="Folder">The run folder (full path).</param>
/// <param name="Id">Its path below the runs root with '/' separators, e.g. "lenet5/20261203-101500": the run's name in charts and legends.</param>
/// <param name="Paper">config.json's paper (the project's name in lower case), else the first folder below the root.</param>
/// <param name="Dataset">summary.json's dataset, else config.json's hyperparameters.dataset; null if neither says.</param>
/// <param name="Metric">The key metric: summary.json's published.metric; null for a run without a summary (unfinished) or a published figure.</param>
/// <param name="Value">The run's value of <paramref name="Metric"/>; null if absent.</param>
/// <param name="StartedUtc">config.json's started_utc; null if absent.</param>
/// <param name="Finished">summary.json exists.</param>
/// <param name="Metrics">metrics.csv's rows (<see cref="MetricsLog.Read"/>).</param>
public sealed record RunEntry(string Folder, string Id, string Paper, string? Dataset, string? Metric, double? Value,
                              DateTime? StartedUtc, bool Finished, IReadOnlyList<MetricRow> Metrics);

/// <summary>
/// <c>runs/index.html</c>: every run under the runs root in one table (paper, dataset, key metric, date, a
/// link to its report) and, per paper, the curves of metrics.csv of all its runs overlaid in the same charts as
/// the reports; ticking runs in the table shows only those (or a legend click hides one).
/// </summary>
public static class RunsIndex
{
    /// <summary>Most points drawn per curve: longer ones are thinned to every k-th point (the last kept).</summary>
    public const int MaxPointsPerCurve = 600;

    /// <summary>
    /// Every run folder (a folder holding metrics.csv) at any depth under <paramref name="runsRoot"/>, newest
    /// first (by start time, then folder name). A folder whose metrics.csv or JSON cannot be read is skipped and
    /// named in <paramref name="skipped"/>.
    /// </summary>
    /// <exception cref="DirectoryNotFoundException">The runs root does not exist.</exception>
    public static IReadOnlyList<RunEntry> Find(string runsRoot, List<string>? skipped = null)
    {
        if (!Directory.Exists(runsRoot))
            throw new DirectoryNotFoundException($"{runsRoot} does not exist: no run has been made there yet (runs go to RunFolder.RunsRoot(), or PAPERLAB_RUNS).");
        var runs = new List<RunEntry>();
        foreach (string csv in Directory.EnumerateFiles(runsRoot, MetricsLog.FileName, SearchOption.AllDirectories))
        {
            string folder = Path.GetDirectoryName(Path.GetFullPath(csv))!;
            try { runs.Add(Read(runsRoot, folder)); }
            catch (Exception e) when (e is IFailureMessage or System.Text.Json.JsonException or IOException or InvalidOperationException or FormatException)
            {
                skipped?.Add($"{folder}: {e.Message}");
            }
        }
        return runs.OrderByDescending(r => r.StartedUtc ?? DateTime.MinValue).ThenByDescending(r => r.Id, StringComparer.Ordinal).ToList();
    }

    static RunEntry Read(string runsRoot, string folder)
    {
        static JsonObject? Json(string path) => File.Exists(path) ? JsonNode.Parse(File.ReadAllText(path)) as JsonObject : null;
        JsonObject? summary = Json(Path.Combine(folder, "summary.json"));
        JsonObject? config = Json(Path.Combine(folder, "config.json"));
        string id = Path.GetRelativePath(Path.GetFullPath(runsRoot), folder).Replace(Path.DirectorySeparatorChar, '/');
        string paper = config?["paper"]?.GetValue<string>() ?? id.Split('/')[0];
        string? dataset = (summary?["dataset"] ?? config?["hyperparameters"]?["dataset"])?.ToString();
        string? metric = summary?["published"]?["metric"]?.GetValue<string>();
        double? value = metric is not null && summary?[metric] is JsonValue v && v.TryGetValue(out double d) ? d : null;
        DateTime? started = config?["started_utc"]?.GetValue<string>() is { } s
            && DateTime.TryParse(s, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var t) ? t : null;
        return new RunEntry(folder, id, paper, dataset, metric, value, started, summary is not null,
            MetricsLog.Read(Path.Combine(folder, MetricsLog.FileName)));
    }

    /// <summary>
    /// Writes the index of <paramref name="runs"/> to <paramref name="path"/> (atomically, plotly.js inline so it
    /// opens offline): the table, then per paper one line chart per (split, name) of metrics.csv with one curve
    /// per run. Report links are relative to the page.
    /// </summary>
    /// <exception cref="FileAccessFailure">The page cannot be written.</exception>
    public static void Write(string path, IReadOnlyList<RunEntry> runs)
    {
        string pageDir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        var page = new HtmlPage("Runs");
        page.Paragraph($"{runs.Count} runs, newest first. Tick runs to compare only those in the charts below (none ticked: all); " +
                       "a click on a legend entry hides or shows one curve.");
        var table = new StringBuilder("<table class=\"runs\"><thead><tr><th>compare</th><th>paper</th><th>dataset</th><th>key metric</th>" +
                                      "<th>value</th><th>started (UTC)</th><th>run</th></tr></thead><tbody>");
        foreach (RunEntry run in runs)
        {
            string report = Path.Combine(run.Folder, "report.html");
            string runCell = File.Exists(report)
                ? $"<a href=\"{HtmlPage.Encode(RelativeUrl(pageDir, report))}\">{HtmlPage.Encode(run.Id)}</a>"
                : HtmlPage.Encode(run.Id) + (run.Finished ? "" : " (unfinished)");
            table.Append("<tr><td><input type=\"checkbox\" class=\"pick\" value=\"").Append(HtmlPage.Encode(run.Id)).Append("\"></td>")
                 .Append("<td>").Append(HtmlPage.Encode(run.Paper)).Append("</td>")
                 .Append("<td>").Append(HtmlPage.Encode(run.Dataset ?? "—")).Append("</td>")
                 .Append("<td>").Append(HtmlPage.Encode(run.Metric ?? "—")).Append("</td>")
                 .Append("<td>").Append(run.Value is double v && run.Metric is not null ? HtmlPage.Encode(ResultsTable.Format(run.Metric, v)) : "—").Append("</td>")
                 .Append("<td>").Append(run.StartedUtc?.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture) ?? "—").Append("</td>")
                 .Append("<td>").Append(runCell).Append("</td></tr>");
        }
        page.Html(table.Append("</tbody></table>").ToString());

        foreach (var paper in runs.GroupBy(r => r.Paper).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            page.Heading(paper.Key);
            var curves = paper.SelectMany(r => r.Metrics.Select(m => (m.Split, m.Name))).Distinct()
                .OrderBy(c => c.Split, StringComparer.Ordinal).ThenBy(c => c.Name, StringComparer.Ordinal);
            foreach (var (split, name) in curves)
            {
                var series = new List<Series>();
                foreach (RunEntry run in paper)
                {
                    var rows = run.Metrics.Where(m => m.Split == split && m.Name == name).ToList();
                    if (rows.Count == 0) continue;
                    int every = (rows.Count + MaxPointsPerCurve - 1) / MaxPointsPerCurve;
                    var kept = rows.Where((_, i) => i % every == 0 || i == rows.Count - 1).ToList();
                    series.Add(new Series(run.Id, kept.Select(m => (double)m.Step).ToArray(), kept.Select(m => m.Value).ToArray()));
                }
                page.Chart(Charts.Line($"{split} {name}", "step", name, series, width: 900, height: 380));
            }
        }
        page.Html(PickScript);
        page.Save(path, PlotlyJs.Inline);
    }

    /// <summary>Finds every run under <paramref name="runsRoot"/> and writes <c>&lt;runsRoot&gt;/index.html</c>; returns its path.</summary>
    /// <exception cref="DirectoryNotFoundException">The runs root does not exist.</exception>
    public static string WriteIndex(string runsRoot, List<string>? skipped = null)
    {
        string path = Path.Combine(runsRoot, "index.html");
        Write(path, Find(runsRoot, skipped));
        return path;
    }

    static string RelativeUrl(string fromDir, string toPath) =>
        string.Join('/', Path.GetRelativePath(fromDir, toPath).Split(Path.DirectorySeparatorChar).Select(Uri.EscapeDataString));

    // Ticked runs: every chart shows only their curves (plotly's visible: "legendonly" keeps the others in the legend).
    const string PickScript = """
        <script type="text/javascript">
        (function () {
            var picks = Array.prototype.slice.call(document.querySelectorAll("input.pick"));
            function apply() {
                var chosen = picks.filter(function (p) { return p.checked; }).map(function (p) { return p.value; });
                document.querySelectorAll(".js-plotly-plot").forEach(function (gd) {
                    var visible = gd.data.map(function (trace) { return chosen.length === 0 || chosen.indexOf(trace.name) >= 0 ? true : "legendonly"; });
                    Plotly.restyle(gd, { visible: visible });
                });
            }
            picks.forEach(function (p) { p.addEventListener("change", apply); });
        })();
        </script>
        """;
}
