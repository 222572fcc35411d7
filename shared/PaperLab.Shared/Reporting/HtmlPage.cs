using System.Net;
using System.Text;

namespace PaperLab.Reporting;

/// <summary>How a page or notebook output gets plotly.js.</summary>
public enum PlotlyJs
{
    /// <summary>plotly.js inlined once in the page's &lt;head&gt; (about 3.6 MB): the page opens offline.</summary>
    Inline,
    /// <summary>A &lt;script src&gt; for the matching plotly.js on the plotly CDN: small, needs internet.</summary>
    Cdn,
}

/// <summary>
/// A self-contained HTML report page: title, headings, paragraphs, tables and charts
/// (fragments from <see cref="Charts"/>), in the order they were added.
/// </summary>
/// <example><code>
/// var page = new HtmlPage("LeNet-5 on MNIST")
///     .Heading("Settings").KeyValues(new Dictionary&lt;string, string&gt; { ["epochs"] = "10" })
///     .Chart(Charts.Line("Loss", "epoch", "loss", [Series.Of("train", trainLoss)]));
/// page.Save("runs/lenet5/report.html");
/// </code></example>
public sealed class HtmlPage(string title)
{
    readonly List<string> blocks = [];
    int chartCount;

    /// <summary>The page title (also its first heading).</summary>
    public string Title { get; } = title;

    /// <summary>Adds a heading; level 2 (section) to 4.</summary>
    /// <exception cref="ArgumentOutOfRangeException">level is not 2, 3 or 4.</exception>
    public HtmlPage Heading(string text, int level = 2)
    {
        if (level is < 2 or > 4) throw new ArgumentOutOfRangeException(nameof(level), level, "Heading level must be 2, 3 or 4 (1 is the page title).");
        blocks.Add($"<h{level}>{Encode(text)}</h{level}>");
        return this;
    }

    /// <summary>Adds a paragraph of plain text (HTML-escaped).</summary>
    public HtmlPage Paragraph(string text)
    {
        blocks.Add($"<p>{Encode(text)}</p>");
        return this;
    }

    /// <summary>Adds a two-column table of names and values, e.g. hyperparameters or final metrics.</summary>
    public HtmlPage KeyValues(IEnumerable<KeyValuePair<string, string>> pairs) =>
        Table(null, pairs.Select(p => new[] { p.Key, p.Value }).ToArray());

    /// <summary>Adds a table. Cells are plain text (HTML-escaped).</summary>
    /// <param name="header">Column names, or null for no header row.</param>
    /// <param name="rows">The rows; they may differ in length.</param>
    public HtmlPage Table(string[]? header, string[][] rows)
    {
        var html = new StringBuilder("<table>");
        if (header is not null)
            html.Append("<thead><tr>").AppendJoin("", header.Select(h => $"<th>{Encode(h)}</th>")).Append("</tr></thead>");
        html.Append("<tbody>");
        foreach (string[] row in rows)
            html.Append("<tr>").AppendJoin("", row.Select(c => $"<td>{Encode(c)}</td>")).Append("</tr>");
        blocks.Add(html.Append("</tbody></table>").ToString());
        return this;
    }

    /// <summary>Adds a chart fragment made by <see cref="Charts"/> (plotly.js is included in the page if any needs it).</summary>
    public HtmlPage Chart(string chartFragment)
    {
        blocks.Add($"<div class=\"chart\">{chartFragment}</div>");
        if (chartFragment.Contains("Plotly.newPlot", StringComparison.Ordinal)) chartCount++; // image grids are PNGs, no plotly.js
        return this;
    }

    /// <summary>Adds trusted HTML as is (not escaped).</summary>
    public HtmlPage Html(string html)
    {
        blocks.Add(html);
        return this;
    }

    /// <summary>The whole page. If it has charts, plotly.js is included once, as <paramref name="plotlyJs"/> says.</summary>
    public string ToHtml(PlotlyJs plotlyJs = PlotlyJs.Inline)
    {
        var html = new StringBuilder();
        html.Append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
            .Append("<title>").Append(Encode(Title)).Append("</title>\n")
            .Append("<style>\n").Append(Style).Append("</style>\n");
        if (chartCount > 0)
            html.Append(plotlyJs == PlotlyJs.Inline
                ? $"<script type=\"text/javascript\" charset=\"utf-8\">{EscapeScript(Charts.PlotlyJsSource())}</script>\n"
                : $"<script src=\"{Charts.PlotlyJsCdnUrl}\" charset=\"utf-8\"></script>\n");
        html.Append("</head>\n<body>\n<h1>").Append(Encode(Title)).Append("</h1>\n");
        foreach (string block in blocks) html.Append(block).Append('\n');
        return html.Append("</body>\n</html>\n").ToString();
    }

    /// <summary>Writes <see cref="ToHtml"/> to <paramref name="path"/> (UTF-8) atomically, creating its folder.</summary>
    /// <exception cref="PaperLab.Runs.FileAccessFailure">The file cannot be written.</exception>
    public void Save(string path, PlotlyJs plotlyJs = PlotlyJs.Inline) => PaperLab.Runs.AtomicFile.WriteAllText(path, ToHtml(plotlyJs));

    /// <summary>
    /// Writes the page as the run's report.html (atomically, plotly.js inline so it opens offline), with the
    /// sections every run shares: the data report at the top, the toolkit's results at the bottom
    /// (<see cref="RunSections"/>).
    /// </summary>
    /// <exception cref="PaperLab.Runs.FileAccessFailure">The file cannot be written.</exception>
    public void Save(PaperLab.Runs.RunFolder run)
    {
        blocks.InsertRange(0, RunSections.Top(run));
        RunSections.Bottom(run, this);
        Save(run.File("report.html"), PlotlyJs.Inline);
    }

    static int notebookPlotlyJsInlined;

    /// <summary>
    /// One fragment of <see cref="Charts"/> made ready for a notebook output cell (VS Code, Jupyter); display
    /// the result as HTML (text/html). Image grids (PNG images, no script) are returned as they are. A chart's
    /// script waits for plotly.js and draws when it is there: the first chart a process makes carries
    /// plotly.js inline (about 3.6 MB, once per kernel, so a notebook's charts draw offline and in its saved
    /// copy); later charts use that copy. If none is there after 4 s (outputs of earlier cells cleared), a
    /// chart loads plotly.js from the CDN (through require.js where the page has it, as in Jupyter) and says
    /// so in its place until it draws.
    /// </summary>
    /// <exception cref="ArgumentException">The string is not a fragment made by <see cref="Charts"/>.</exception>
    public static string ForNotebook(string chartFragment) =>
        IsImageGrid(chartFragment) ? chartFragment
            : ForNotebook(chartFragment, includePlotlyJs: Interlocked.Exchange(ref notebookPlotlyJsInlined, 1) == 0);

    /// <summary>
    /// <see cref="ForNotebook(string)"/> with the choice made by the caller: <paramref name="includePlotlyJs"/>
    /// puts plotly.js inline before the chart (define/module hidden from it, so it sets window.Plotly also
    /// where require.js is loaded); without it, the chart waits for a copy already on the page.
    /// </summary>
    /// <exception cref="ArgumentException">The string is not a fragment made by <see cref="Charts"/>.</exception>
    public static string ForNotebook(string chartFragment, bool includePlotlyJs)
    {
        if (IsImageGrid(chartFragment)) return chartFragment;
        const string open = "<script type=\"text/javascript\">", close = "</script>";
        int start = chartFragment.IndexOf(open, StringComparison.Ordinal);
        int end = chartFragment.LastIndexOf(close, StringComparison.Ordinal);
        if (start < 0 || end < start)
            throw new ArgumentException("Not a chart fragment from PaperLab.Reporting.Charts (no inline <script> drawing a chart).", nameof(chartFragment));
        string body = chartFragment[(start + open.Length)..end];
        string url = Charts.PlotlyJsCdnUrl;
        string id = Guid.NewGuid().ToString("N");
        // The fragment's script uses a global Plotly; run inside draw(Plotly) it uses the loaded one.
        string inline = includePlotlyJs
            ? $"<script type=\"text/javascript\" charset=\"utf-8\">(function (define, module, exports) {{\n{EscapeScript(Charts.PlotlyJsSource())}\n}})();</script>\n"
            : "";
        string loader = $$"""
            <div id="wait-{{id}}" class="paperlab-plotly-wait" style="font: 12px sans-serif; color: #888">chart: waiting for plotly.js…</div>
            <script type="text/javascript">
            (function () {
                var draw = function (Plotly) {
                    var wait = document.getElementById("wait-{{id}}");
                    if (wait) wait.remove();
            {{body}}
                };
                var src = "{{url}}";
                var fromCdn = function () {
                    var wait = document.getElementById("wait-{{id}}");
                    if (wait) wait.textContent = "chart: plotly.js is not on this page (restart the kernel and run all cells to embed it); trying " + src;
                    if (typeof requirejs === "function" && typeof requirejs.config === "function") {
                        requirejs.config({ context: "paperlab-plotly", paths: { plotly: src.replace(/\.js$/, "") } })(["plotly"], draw);
                        return;
                    }
                    var script = document.createElement("script");
                    script.src = src;
                    script.charset = "utf-8";
                    script.onload = function () { draw(window.Plotly); };
                    document.head.appendChild(script);
                };
                if (window.Plotly) { draw(window.Plotly); return; }
                var waited = 0;
                var timer = setInterval(function () {
                    waited += 100;
                    if (window.Plotly) { clearInterval(timer); draw(window.Plotly); }
                    else if (waited >= 4000) { clearInterval(timer); fromCdn(); }
                }, 100);
            })();
            </script>
            """;
        return inline + chartFragment[..start] + loader + chartFragment[(end + close.Length)..];
    }

    static bool IsImageGrid(string fragment) =>
        fragment.StartsWith(PngGrid.HtmlMarker, StringComparison.Ordinal) && !fragment.Contains("<script", StringComparison.OrdinalIgnoreCase);

    /// <summary>HTML-escapes <paramref name="text"/>.</summary>
    public static string Encode(string text) => WebUtility.HtmlEncode(text);

    // a literal "</script" inside the inlined source would end the <script> element early
    static string EscapeScript(string js) => js.Replace("</script", "<\\/script", StringComparison.OrdinalIgnoreCase);

    const string Style = """
        body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
        table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
        th, td { border: 1px solid #ccc; padding: 0.25em 0.7em; text-align: left; }
        th { background: #f3f3f3; }
        td:not(:first-child) { font-variant-numeric: tabular-nums; }
        .chart { margin: 1em 0; }

        """;
}
