// Renders executed notebooks (notebooks/executed/*.ipynb, written by NotebookTests) into a static site that
// reads offline, outputs included, without a kernel: notebooks/executed/book/index.html and a page per
// notebook. Markdown (cells and the papers' READMEs) goes through Markdig; outputs are shown as the
// notebook viewers show them (nbformat 4 output types and MIME bundles).
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Markdig;
using Markdig.Syntax;
using Markdig.Syntax.Inlines;
using PaperLab.Reporting;

namespace PaperLab.Tests;

/// <summary>One rendered page of the book.</summary>
/// <param name="Path">The .html file.</param>
/// <param name="ChartIds">The id of every chart's &lt;div&gt; on the page (one per plotly chart output), in order.</param>
/// <param name="Images">Number of PNG images on the page (image outputs and image-grid cells).</param>
public sealed record BookPage(string Path, IReadOnlyList<string> ChartIds, int Images);

/// <summary>The static book of executed notebooks.</summary>
public static class NotebookBook
{
    static readonly MarkdownPipeline Markdown = new MarkdownPipelineBuilder().UseAdvancedExtensions().Build();

    // a plotly chart fragment of PaperLab.Reporting.Charts: its <div> with a GUID id (Plotly.NET's toChartHTML)
    static readonly Regex ChartDiv = new("<div id=\"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\"", RegexOptions.Compiled);
    const string PlotlyJsBanner = "plotly.js v";

    /// <summary>
    /// Renders every <c>*.ipynb</c> of <paramref name="executedDir"/> into <c>&lt;executedDir&gt;/book/</c>: a page
    /// per notebook (<c>&lt;Name&gt;.html</c>), the paper's README as <c>&lt;Name&gt;.readme.html</c> where
    /// <c>papers/&lt;Name&gt;/README.md</c> exists, and <c>index.html</c> linking them and each paper's newest
    /// <c>report.html</c> under <paramref name="runsRoot"/>. Pages are self-contained: a page with charts
    /// carries plotly.js once (the notebook's own inline copy, else one added in its head).
    /// </summary>
    /// <param name="executedDir">Folder of executed notebooks (nbformat 4, with outputs).</param>
    /// <param name="repoRoot">The repository, for papers/&lt;Name&gt;/README.md.</param>
    /// <param name="runsRoot">The runs folder (runs/&lt;name in lower case&gt;/&lt;run&gt;/report.html).</param>
    /// <returns>The notebook pages in name order, then index.html (no charts).</returns>
    /// <exception cref="InvalidDataException">A file that is not an nbformat-4 notebook.</exception>
    public static IReadOnlyList<BookPage> Render(string executedDir, string repoRoot, string runsRoot)
    {
        string bookDir = Path.Combine(executedDir, "book");
        Directory.CreateDirectory(bookDir);
        var pages = new List<BookPage>();
        var toc = new StringBuilder();
        foreach (string notebook in Directory.EnumerateFiles(executedDir, "*.ipynb").Order(StringComparer.Ordinal))
        {
            string name = Path.GetFileNameWithoutExtension(notebook);
            pages.Add(RenderNotebook(notebook, Path.Combine(bookDir, name + ".html")));
            string readme = Path.Combine(repoRoot, "papers", name, "README.md");
            string? readmePage = null;
            if (File.Exists(readme))
            {
                readmePage = name + ".readme.html";
                RenderMarkdownFile(readme, Path.Combine(bookDir, readmePage), $"papers/{name}/README.md");
            }
            string? report = NewestReport(Path.Combine(runsRoot, name.ToLowerInvariant()));
            toc.Append("<li><a href=\"").Append(Attr(name + ".html")).Append("\">").Append(Html(name)).Append("</a> — ")
               .Append(Html(Title(notebook) ?? name)).Append("<br><small>")
               .Append(readmePage is null ? "no README" : $"<a href=\"{Attr(readmePage)}\">README</a>")
               .Append(" · ")
               .Append(report is null ? "no run yet (the README's command makes one)"
                   : $"<a href=\"{Attr(RelativeUrl(bookDir, report))}\">latest report</a> ({Html(Path.GetFileName(Path.GetDirectoryName(report)!))})")
               .Append("</small></li>\n");
        }
        string index = Path.Combine(bookDir, "index.html");
        File.WriteAllText(index, Page("PaperLab notebooks",
            "<p>Every notebook of PaperLab, executed top to bottom with its outputs, charts and images, readable offline. " +
            "Each notebook runs in VS Code (Polyglot Notebooks) or from a terminal; see notebooks/README.md.</p>\n<ul class=\"toc\">\n" +
            toc + "</ul>\n", plotlyJs: false));
        pages.Add(new BookPage(index, [], 0));
        return pages;
    }

    /// <summary>The newest run folder's report.html under <paramref name="paperRuns"/> (by the report's write time); null if none.</summary>
    public static string? NewestReport(string paperRuns) =>
        Directory.Exists(paperRuns)
            ? Directory.EnumerateFiles(paperRuns, "report.html", SearchOption.AllDirectories)
                .MaxBy(File.GetLastWriteTimeUtc)
            : null;

    static BookPage RenderNotebook(string notebookPath, string pagePath)
    {
        JsonObject notebook = NotebookRunner.ReadNotebook(notebookPath);
        var body = new StringBuilder();
        var chartIds = new List<string>();
        int images = 0;
        bool hasPlotlyJs = false;
        body.Append("<p class=\"nav\"><a href=\"index.html\">← all notebooks</a></p>\n");
        foreach (JsonNode? cellNode in (JsonArray)notebook["cells"]!)
        {
            var cell = (JsonObject)cellNode!;
            string source = NotebookRunner.JoinSource(cell["source"]);
            switch ((string?)cell["cell_type"])
            {
                case "markdown":
                    body.Append("<div class=\"markdown\">").Append(Markdig.Markdown.ToHtml(source, Markdown)).Append("</div>\n");
                    break;
                case "code":
                    if (string.IsNullOrWhiteSpace(source)) break;
                    string count = cell["execution_count"] is JsonValue v ? $"[{v}]" : "[ ]";
                    body.Append("<div class=\"cell\"><div class=\"prompt\">").Append(count).Append("</div><pre class=\"code\"><code>")
                        .Append(Html(source)).Append("</code></pre>\n");
                    foreach (JsonNode? output in cell["outputs"] as JsonArray ?? [])
                    {
                        string html = Output((JsonObject)output!);
                        chartIds.AddRange(ChartDiv.Matches(html).Select(m => m.Groups[1].Value));
                        images += Regex.Matches(html, "<img src=\"data:image/png;base64,").Count;
                        hasPlotlyJs |= html.Contains(PlotlyJsBanner, StringComparison.Ordinal);
                        body.Append("<div class=\"output\">").Append(html).Append("</div>\n");
                    }
                    body.Append("</div>\n");
                    break;
            }
        }
        string title = Title(notebookPath) ?? Path.GetFileNameWithoutExtension(notebookPath);
        // a notebook executed by this version carries plotly.js in its first chart; an older one needs it here
        File.WriteAllText(pagePath, Page(title, body.ToString(), plotlyJs: chartIds.Count > 0 && !hasPlotlyJs));
        return new BookPage(pagePath, chartIds, images);
    }

    // One nbformat output as HTML: the richest MIME type a browser shows, as Jupyter and VS Code pick it.
    static string Output(JsonObject output)
    {
        switch ((string?)output["output_type"])
        {
            case "stream":
                string stream = (string?)output["name"] == "stderr" ? "stderr" : "stdout";
                return $"<pre class=\"{stream}\">{Html(NotebookRunner.JoinSource(output["text"]))}</pre>";
            case "error":
                return $"<pre class=\"error\">{Html((string?)output["ename"] + ": " + (string?)output["evalue"])}</pre>";
            case "display_data" or "execute_result":
                var data = output["data"] as JsonObject ?? [];
                string Text(string mime) => NotebookRunner.JoinSource(data[mime]);
                if (data.ContainsKey("text/html")) return Text("text/html");
                if (data.ContainsKey("image/svg+xml")) return Text("image/svg+xml");
                if (data.ContainsKey("image/png")) return $"<img src=\"data:image/png;base64,{Text("image/png").Trim()}\" alt=\"image output\">";
                if (data.ContainsKey("text/markdown")) return Markdig.Markdown.ToHtml(Text("text/markdown"), Markdown);
                if (data.ContainsKey("text/plain")) return $"<pre class=\"stdout\">{Html(Text("text/plain"))}</pre>";
                return "";
            default:
                return "";
        }
    }

    // A README as a page; its relative links (results/, ../../data/README.md) point back into the repository.
    static void RenderMarkdownFile(string markdownPath, string pagePath, string title)
    {
        MarkdownDocument document = Markdig.Markdown.Parse(File.ReadAllText(markdownPath), Markdown);
        string from = Path.GetDirectoryName(pagePath)!, dir = Path.GetDirectoryName(markdownPath)!;
        foreach (LinkInline link in document.Descendants<LinkInline>())
            if (link.Url is { Length: > 0 } url && !url.StartsWith('#') && !Regex.IsMatch(url, "^[a-z][a-z0-9+.-]*:", RegexOptions.IgnoreCase))
                link.Url = RelativeUrl(from, Path.GetFullPath(Path.Combine(dir, url.Split('#')[0]))) + (url.Contains('#') ? url[url.IndexOf('#')..] : "");
        string body = "<p class=\"nav\"><a href=\"index.html\">← all notebooks</a></p>\n<div class=\"markdown\">" +
                      document.ToHtml(Markdown) + "</div>\n";
        File.WriteAllText(pagePath, Page(title, body, plotlyJs: false));
    }

    /// <summary>The first Markdown heading of the notebook (its title), without the #s; null if none.</summary>
    static string? Title(string notebookPath)
    {
        foreach (JsonNode? cell in (JsonArray)NotebookRunner.ReadNotebook(notebookPath)["cells"]!)
            if ((string?)cell!["cell_type"] == "markdown")
                foreach (string line in NotebookRunner.JoinSource(cell["source"]).Split('\n'))
                    if (line.StartsWith('#')) return line.TrimStart('#').Trim();
        return null;
    }

    static string Page(string title, string body, bool plotlyJs)
    {
        var html = new StringBuilder("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
        html.Append("<title>").Append(Html(title)).Append("</title>\n<style>\n").Append(Style).Append("</style>\n");
        if (plotlyJs)
            html.Append("<script type=\"text/javascript\" charset=\"utf-8\">")
                .Append(Charts.PlotlyJsSource().Replace("</script", "<\\/script", StringComparison.OrdinalIgnoreCase)).Append("</script>\n");
        return html.Append("</head>\n<body>\n").Append(body).Append("</body>\n</html>\n").ToString();
    }

    static string RelativeUrl(string fromDir, string toPath) =>
        string.Join('/', Path.GetRelativePath(fromDir, toPath).Split(Path.DirectorySeparatorChar).Select(Uri.EscapeDataString));

    static string Html(string text) => WebUtility.HtmlEncode(text);
    static string Attr(string text) => WebUtility.HtmlEncode(text);

    const string Style = """
        body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; padding: 0 1em; color: #222; line-height: 1.45; }
        .markdown table { border-collapse: collapse; margin: 0.5em 0 1em; }
        .markdown th, .markdown td { border: 1px solid #ccc; padding: 0.2em 0.6em; }
        .cell { margin: 1em 0; border-left: 3px solid #d0d7de; padding-left: 0.8em; }
        .prompt { font: 11px monospace; color: #888; }
        pre { overflow-x: auto; padding: 0.6em; margin: 0.3em 0; font-size: 13px; }
        pre.code { background: #f6f8fa; }
        pre.stdout { background: #fff; border: 1px solid #eee; }
        pre.stderr { background: #fff5f5; }
        pre.error { background: #ffecec; color: #a00; }
        .output { margin: 0.3em 0; overflow-x: auto; }
        .toc li { margin: 0.6em 0; }
        .nav { font-size: 14px; }

        """;
}
