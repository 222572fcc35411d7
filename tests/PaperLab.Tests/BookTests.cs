using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using PaperLab.Reporting;
using PaperLab.Runs;
using Xunit;
using Xunit.Abstractions;

namespace PaperLab.Tests;

/// <summary>
/// The book of executed notebooks (NotebookBook) opened in a real headless browser with the network off:
/// every chart is drawn, no placeholder is left, images are inline, and a screenshot of each page is
/// saved beside it (book/&lt;Name&gt;.png: the first 10,000 CSS pixels of the page at half scale).
/// </summary>
[Collection(NotebookCollection.Name)]
public class BookTests(ITestOutputHelper output) : IDisposable
{
    readonly string _dir = Path.Combine(Path.GetTempPath(), "paperlab-book-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    static bool InCi => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    /// <summary>False (and says why) when there is no browser outside CI; in CI a missing browser fails the test.</summary>
    bool BrowserPresent()
    {
        if (HeadlessBrowser.Executable is not null) return true;
        Assert.False(InCi, "CI must have headless Chromium: .ci/setup installs chromium-headless-shell with apt-get.");
        output.WriteLine("SKIPPED: no headless Chromium on PATH (apt-get install chromium-headless-shell, or set PAPERLAB_CHROMIUM); the book was not checked in a browser.");
        return false;
    }

    [Fact]
    public async Task Book_of_executed_notebooks_draws_every_chart_offline()
    {
        // the notebooks NotebookTests executed (notebooks/executed/); on a fresh clone, where they have not run
        // yet, a small executed notebook made here with the same display helpers
        string executed = Path.Combine(NotebookRunner.RepoRoot(), "notebooks", "executed");
        bool real = Directory.Exists(executed) && Directory.EnumerateFiles(executed, "*.ipynb").Any();
        if (!real)
        {
            executed = Path.Combine(_dir, "executed");
            WriteFixtureNotebook(Path.Combine(executed, "Fixture.ipynb"));
        }
        var pages = NotebookBook.Render(executed, NotebookRunner.RepoRoot(), RunFolder.RunsRoot());
        output.WriteLine($"book of {(real ? "notebooks/executed" : "a fixture notebook")}: {Path.Combine(executed, "book", "index.html")}");
        Assert.True(pages.Count >= 2, "a page per notebook and the index");
        string index = File.ReadAllText(pages[^1].Path);
        foreach (var page in pages.SkipLast(1))
            Assert.Contains($"href=\"{Path.GetFileName(page.Path)}\"", index);
        if (!BrowserPresent()) return;

        // two browsers at a time (two cores)
        using var gate = new SemaphoreSlim(2);
        var results = await Task.WhenAll(pages.Select(async page =>
        {
            await gate.WaitAsync();
            try { return (page, dom: await HeadlessBrowser.LoadAsync(page.Path, Path.ChangeExtension(page.Path, ".png"), height: 10000, scale: 0.5)); }
            finally { gate.Release(); }
        }));
        foreach (var (page, dom) in results)
        {
            string name = Path.GetFileName(page.Path);
            output.WriteLine($"{name}: {page.ChartIds.Count} charts, {page.Images} PNG images; screenshot {Path.ChangeExtension(page.Path, ".png")}");
            foreach (string id in page.ChartIds)
                Assert.True(Regex.IsMatch(dom, $"<div id=\"{id}\"[^>]*class=\"[^\"]*js-plotly-plot[^>]*>.*?class=\"main-svg\"", RegexOptions.Singleline),
                    $"{name}: chart {id} was not drawn (no plotly SVG in its div after load, network off)");
            Assert.DoesNotContain("paperlab-plotly-wait", dom);        // every placeholder was replaced by its chart
            Assert.Equal(page.Images, Regex.Matches(dom, "<img src=\"data:image/png;base64,").Count);
            Assert.True(new FileInfo(Path.ChangeExtension(page.Path, ".png")).Length > 1000, $"{name}: no screenshot");
        }
        if (!real)
        {
            var fixture = pages.Single(p => p.Path.EndsWith("Fixture.html"));
            Assert.Equal(2, fixture.ChartIds.Count);
            Assert.Equal(3, fixture.Images);
            string html = File.ReadAllText(fixture.Path);
            Assert.Contains("<h1 id=\"a-fixture\">A fixture</h1>", html);         // Markdown rendered
            Assert.Contains("<em>emphasis</em>", html);
            Assert.Contains("var x = 1 &lt; 2;", html);                           // code escaped
            Assert.Contains("<pre class=\"stdout\">printed\n</pre>", html);
        }
    }

    /// <summary>An executed notebook: Markdown, code, a printed line, two charts (the first carrying plotly.js, as the kernel's first chart does), an image grid.</summary>
    static void WriteFixtureNotebook(string path)
    {
        static JsonObject Display(string html) => new()
        {
            ["output_type"] = "display_data", ["data"] = new JsonObject { ["text/html"] = html }, ["metadata"] = new JsonObject(),
        };
        var line = Charts.Line("Loss", "step", "loss", [Series.Of("train", [2.0, 1.0, 0.5])]);
        var heat = Charts.Heatmap("Attention of a long title that wraps in a narrow chart", [[0.9, 0.1], [0.2, 0.8]], ["k0", "k1"], ["q0", "q1"], width: 300, height: 300);
        var grid = Charts.ImageGrid("Digits", [new float[16], Enumerable.Repeat(1f, 16).ToArray(), Enumerable.Repeat(0.5f, 16).ToArray()], 4, 4, ["0", "1", "2"]);
        var notebook = new JsonObject
        {
            ["nbformat"] = 4, ["nbformat_minor"] = 5, ["metadata"] = new JsonObject(),
            ["cells"] = new JsonArray(
                new JsonObject { ["cell_type"] = "markdown", ["metadata"] = new JsonObject(), ["source"] = "# A fixture\n\nSome *emphasis*." },
                new JsonObject
                {
                    ["cell_type"] = "code", ["execution_count"] = 1, ["metadata"] = new JsonObject(), ["source"] = "var x = 1 < 2;",
                    ["outputs"] = new JsonArray(
                        new JsonObject { ["output_type"] = "stream", ["name"] = "stdout", ["text"] = "printed\n" },
                        Display(HtmlPage.ForNotebook(line, includePlotlyJs: true)),
                        Display(HtmlPage.ForNotebook(heat, includePlotlyJs: false)),
                        Display(HtmlPage.ForNotebook(grid))),
                }),
        };
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, notebook.ToJsonString());
    }
}
