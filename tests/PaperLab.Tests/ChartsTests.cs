using System.Runtime.Loader;
using System.Text.Json;
using System.Text.RegularExpressions;
using PaperLab.Reporting;
using Xunit;

namespace PaperLab.Tests;

public class ChartsTests
{
    // every copy of plotly.js starts with this banner comment
    const string PlotlyJsBanner = "plotly.js v";

    static int Count(string text, string part) => Regex.Matches(text, Regex.Escape(part)).Count;

    // plotly.js itself mentions Plotly.newPlot: count chart calls after the <head>
    static string Body(string page) => page[page.IndexOf("</head>", StringComparison.Ordinal)..];

    /// <summary>The JSON literal assigned to <c>var name = ...;</c> in a fragment's script.</summary>
    static JsonElement ScriptVariable(string fragment, string name)
    {
        Match m = Regex.Match(fragment, $@"var {name} = (.*);\r?\n");
        Assert.True(m.Success, $"no 'var {name}' in the fragment");
        return JsonDocument.Parse(m.Groups[1].Value).RootElement;
    }

    [Fact]
    public void LineFragmentHasTitleAndDataButNoPlotlyJs()
    {
        string html = Charts.Line("Loss per epoch", "epoch", "loss",
            [Series.Of("train", [0.75, 0.5, 0.125]), new Series("test", [1, 3], [0.875, 0.625])], logY: true);

        Assert.Contains("Plotly.newPlot(", html);
        Assert.DoesNotContain(PlotlyJsBanner, html);
        Assert.DoesNotContain("<script src", html);
        JsonElement data = ScriptVariable(html, "data");
        Assert.Equal(2, data.GetArrayLength());
        Assert.Equal("train", data[0].GetProperty("name").GetString());
        Assert.Equal([0.75, 0.5, 0.125], data[0].GetProperty("y").EnumerateArray().Select(v => v.GetDouble()));
        Assert.Equal([1.0, 2.0, 3.0], data[0].GetProperty("x").EnumerateArray().Select(v => v.GetDouble()));
        Assert.Equal([1.0, 3.0], data[1].GetProperty("x").EnumerateArray().Select(v => v.GetDouble()));
        JsonElement layout = ScriptVariable(html, "layout");
        Assert.Equal("Loss per epoch", layout.GetProperty("title").GetProperty("text").GetString());
        Assert.Equal("log", layout.GetProperty("yaxis").GetProperty("type").GetString());
        Assert.Equal("epoch", layout.GetProperty("xaxis").GetProperty("title").GetProperty("text").GetString());
    }

    [Fact]
    public void LineRejectsSeriesOfUnequalLength()
    {
        var e = Assert.Throws<ArgumentException>(() =>
            Charts.Line("t", "x", "y", [new Series("bad", [1, 2, 3], [1, 2])]));
        Assert.Contains("'bad'", e.Message);
    }

    [Fact]
    public void ConfusionMatrixShowsCountsWithTrueClassesAsRows()
    {
        long[,] counts = { { 50, 2, 0 }, { 3, 41, 7 }, { 0, 1, 38 } };
        string html = Charts.ConfusionMatrix(counts, ["cat", "dog", "bird"]);

        JsonElement trace = ScriptVariable(html, "data")[0];
        Assert.Equal("heatmap", trace.GetProperty("type").GetString());
        Assert.Equal("%{text}", trace.GetProperty("texttemplate").GetString());
        string[][] text = trace.GetProperty("text").EnumerateArray()
            .Select(r => r.EnumerateArray().Select(c => c.GetString()!).ToArray()).ToArray();
        Assert.Equal(["3", "41", "7"], text[1]); // row = true class "dog"
        Assert.Equal(Math.Log10(8), trace.GetProperty("z")[1][2].GetDouble(), 12);   // coloured by log10(1 + count)
        Assert.Equal(0.0, trace.GetProperty("z")[0][2].GetDouble());
        Assert.Equal(0.0, trace.GetProperty("zmin").GetDouble());
        Assert.Equal(["cat", "dog", "bird"], trace.GetProperty("y").EnumerateArray().Select(v => v.GetString()));
        JsonElement layout = ScriptVariable(html, "layout");
        Assert.Equal("reversed", layout.GetProperty("yaxis").GetProperty("autorange").GetString());
        Assert.Equal("true class", layout.GetProperty("yaxis").GetProperty("title").GetProperty("text").GetString());
    }

    [Fact]
    public void AttentionColoursFromZeroToTheLargestWeight()
    {
        // near-uniform weights: the scale runs from 0, not from the smallest weight, so they look uniform
        double[][] w = [[0.26, 0.24, 0.25, 0.25], [0.25, 0.25, 0.24, 0.26]];
        string[] keys = ["a", "b", "c", "d"];
        JsonElement trace = ScriptVariable(Charts.Attention("Attention", w, keys, ["q0", "q1"]), "data")[0];
        Assert.Equal(0.0, trace.GetProperty("zmin").GetDouble());
        Assert.Equal(0.26, trace.GetProperty("zmax").GetDouble());
        Assert.Contains("[0, 1]", Assert.Throws<ArgumentException>(() => Charts.Attention("t", [[1.5, -0.5]], ["a", "b"], ["q"])).Message);
    }

    [Fact]
    public void HeatmapRejectsUnknownColorscaleAndMismatchedLabels()
    {
        double[][] z = [[1, 2], [3, 4]];
        Assert.Contains("Viridis", Assert.Throws<ArgumentException>(() =>
            Charts.Heatmap("t", z, ["a", "b"], ["c", "d"], colorscale: "NoSuchScale")).Message);
        Assert.Throws<ArgumentException>(() => Charts.Heatmap("t", z, ["a"], ["c", "d"]));
    }

    [Fact]
    public void ImageGridIsPngImagesUprightWithCaptionsAndNoScript()
    {
        const int h = 4, w = 3;
        // image i has value i/10 everywhere except its top-left pixel, which is 1
        float[][] images = Enumerable.Range(0, 5).Select(i =>
        {
            var img = Enumerable.Repeat(i / 10f, h * w).ToArray();
            img[0] = 1f;
            return img;
        }).ToArray();
        string html = Charts.ImageGrid("Samples <5>", images, h, w, ["a", "b", "c", "d", "e"], columns: 2, cellPixels: 5);

        Assert.DoesNotContain("<script", html);
        Assert.Contains("Samples &lt;5&gt;", html);
        Assert.Contains("repeat(2, max-content)", html);
        var uris = Regex.Matches(html, "<img src=\"data:image/png;base64,([^\"]+)\" width=\"15\" height=\"20\"").Select(m => m.Groups[1].Value).ToArray();
        Assert.Equal(5, uris.Length);
        Assert.Equal(["a", "b", "c", "d", "e"], Regex.Matches(html, "<figcaption style=\"font: 11px[^\"]*\">([^<]*)</figcaption>").Select(m => m.Groups[1].Value));
        // image 3 decoded: top-left pixel white (255), the rest round(0.3f·255) = 76 (0.3f is just below 0.3), row 0 first (upright)
        byte[] pixels = DecodeGrayPng(Convert.FromBase64String(uris[3]), out int pw, out int ph);
        Assert.Equal((w, h), (pw, ph));
        Assert.Equal(255, pixels[0]);
        Assert.All(pixels.Skip(1), p => Assert.Equal(76, p));
    }

    /// <summary>Decodes an 8-bit grayscale, filter-0 PNG (what PngGrid writes) with System.IO.Compression.</summary>
    static byte[] DecodeGrayPng(byte[] png, out int width, out int height)
    {
        Assert.Equal([137, 80, 78, 71, 13, 10, 26, 10], png[..8]);
        width = height = 0;
        using var idat = new MemoryStream();
        for (int at = 8; at < png.Length;)
        {
            int length = System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(at));
            string type = System.Text.Encoding.ASCII.GetString(png, at + 4, 4);
            if (type == "IHDR")
            {
                width = System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(at + 8));
                height = System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(at + 12));
                Assert.Equal((8, 0), (png[at + 16], png[at + 17])); // 8-bit grayscale
            }
            if (type == "IDAT") idat.Write(png, at + 8, length);
            at += 12 + length;
        }
        idat.Position = 0;
        using var z = new System.IO.Compression.ZLibStream(idat, System.IO.Compression.CompressionMode.Decompress);
        using var raw = new MemoryStream();
        z.CopyTo(raw);
        byte[] rows = raw.ToArray();
        var pixels = new byte[width * height];
        for (int y = 0; y < height; y++)
        {
            Assert.Equal(0, rows[y * (width + 1)]); // filter: none
            Array.Copy(rows, y * (width + 1) + 1, pixels, y * width, width);
        }
        return pixels;
    }

    [Fact]
    public void LongTitlesWrapToNarrowCharts()
    {
        const string title = "Encoder self-attention, layer 3, head 2: queries against keys of the first test sentence";
        string narrow = Charts.Heatmap(title, [[0.5, 0.5], [0.5, 0.5]], ["a", "b"], ["c", "d"], width: 320, height: 320);
        JsonElement layout = ScriptVariable(narrow, "layout");
        string[] lines = layout.GetProperty("title").GetProperty("text").GetString()!.Split("<br>");
        Assert.True(lines.Length >= 3, $"a {title.Length}-character title in 320 px should wrap, got: {string.Join(" | ", lines)}");
        Assert.All(lines, l => Assert.True(l.Length * 14 * 0.55 <= 320 - 40, $"line too long for 320 px: '{l}'"));
        Assert.Equal(title, string.Join(" ", lines));
        Assert.True(layout.GetProperty("margin").GetProperty("t").GetInt32() >= lines.Length * 14, "room above the plot for every line");
        // a wide chart keeps it on one line
        string wide = Charts.Line(title, "x", "y", [Series.Of("s", [1.0, 2.0])], width: 1400);
        Assert.Equal(title, ScriptVariable(wide, "layout").GetProperty("title").GetProperty("text").GetString());
    }

    [Fact]
    public void ImageGridRejectsWrongImageSize()
    {
        var e = Assert.Throws<ArgumentException>(() => Charts.ImageGrid("t", [new float[10]], 28, 28));
        Assert.Contains("784", e.Message);
    }

    [Fact]
    public void ChartsLoadInTheirOwnContextWithFSharpCore10_1()
    {
        Charts.Line("t", "x", "y", [Series.Of("s", [1.0, 2.0])]); // loads Plotly.NET and FSharp.Core

        AssemblyLoadContext context = Charts.LoadContext;
        Assert.NotSame(AssemblyLoadContext.Default, context);
        var plotly = context.Assemblies.Single(a => a.GetName().Name == "Plotly.NET");
        Assert.NotSame(AssemblyLoadContext.Default, AssemblyLoadContext.GetLoadContext(plotly));
        var fsharpCore = context.Assemblies.Single(a => a.GetName().Name == "FSharp.Core");
        Assert.StartsWith(Path.GetFullPath(Charts.Folder), fsharpCore.Location);
        Version version = fsharpCore.GetName().Version!; // FSharp.Core 10.1.x has assembly version 10.1.0.0
        Assert.Equal((10, 1), (version.Major, version.Minor));
        Assert.DoesNotContain(AssemblyLoadContext.Default.Assemblies, a => a.GetName().Name is "Plotly.NET" or "FSharp.Core");
        Assert.Same(context, Charts.LoadContext); // created once
    }

    [Fact]
    public void InlinePageHasPlotlyJsOnceAndNoRemoteScripts()
    {
        string page = new HtmlPage("Run <1>")
            .Heading("Settings").KeyValues(new Dictionary<string, string> { ["learning rate"] = "0.01" })
            .Paragraph("Two charts follow.")
            .Table(["class", "accuracy"], [["cat", "0.91"], ["dog", "0.88"]])
            .Chart(Charts.Line("A", "x", "y", [Series.Of("s", [1.0, 2.0])]))
            .Chart(Charts.Heatmap("B", [[1, 2], [3, 4]], ["a", "b"], ["c", "d"]))
            .ToHtml(PlotlyJs.Inline);

        Assert.Equal(1, Count(page, PlotlyJsBanner));
        Assert.Equal(2, Count(Body(page), "Plotly.newPlot("));
        Assert.True(page.IndexOf(PlotlyJsBanner) < page.IndexOf("</head>"), "plotly.js must be in <head>, before the charts");
        Assert.Contains("<title>Run &lt;1&gt;</title>", page);
        Assert.Contains("<td>learning rate</td><td>0.01</td>", page);
        Assert.Contains("<th>accuracy</th>", page);
    }

    [Fact]
    public void CdnPageReferencesTheMatchingPlotlyJsVersion()
    {
        string page = new HtmlPage("p").Chart(Charts.Line("A", "x", "y", [Series.Of("s", [1.0])])).ToHtml(PlotlyJs.Cdn);

        Assert.Matches(@"^\d+\.\d+\.\d+$", Charts.PlotlyJsVersion);
        Assert.Contains($"<script src=\"https://cdn.plot.ly/plotly-{Charts.PlotlyJsVersion}.min.js\"", page);
        Assert.DoesNotContain(PlotlyJsBanner, page);
    }

    [Fact]
    public void SavedReportHasNoRemoteScriptInInlineMode()
    {
        string folder = Path.Combine(Path.GetTempPath(), "paperlab-charts-" + Guid.NewGuid().ToString("N"));
        try
        {
            string path = Path.Combine(folder, "run", "report.html");
            new HtmlPage("Report")
                .Chart(Charts.ImageGrid("Digits", [new float[784], Enumerable.Repeat(1f, 784).ToArray()], 28, 28, ["0", "1"]))
                .Chart(Charts.ConfusionMatrix(new long[,] { { 5, 1 }, { 0, 4 } }, ["0", "1"]))
                .Save(path);

            string html = File.ReadAllText(path);
            Assert.DoesNotMatch(@"<script[^>]*\ssrc\s*=\s*[""']?https?:", html);
            Assert.Equal(1, Count(html, PlotlyJsBanner));
            Assert.Equal(1, Count(Body(html), "Plotly.newPlot("));
            Assert.Equal(2, Count(Body(html), "data:image/png;base64,"));
        }
        finally
        {
            if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void NotebookOutputCarriesPlotlyJsOnceAndWaitsForIt()
    {
        string fragment = Charts.Heatmap("Attention", [[0.9, 0.1], [0.2, 0.8]], ["k0", "k1"], ["q0", "q1"]);
        string first = HtmlPage.ForNotebook(fragment, includePlotlyJs: true);
        string later = HtmlPage.ForNotebook(fragment, includePlotlyJs: false);

        // the first chart of a notebook carries plotly.js, with AMD/CommonJS hidden so it sets window.Plotly
        Assert.Equal(1, Count(first, PlotlyJsBanner));
        Assert.Contains("(function (define, module, exports) {", first);
        Assert.True(first.IndexOf(PlotlyJsBanner) < first.IndexOf("var draw"), "plotly.js comes before the chart's script");
        Assert.DoesNotContain(PlotlyJsBanner, later);
        foreach (string cell in new[] { first, later })
        {
            Assert.Contains("var draw = function (Plotly) {", cell);
            Assert.True(cell.IndexOf("var draw") < cell.LastIndexOf("Plotly.newPlot("));
            Assert.Contains(Regex.Match(fragment, "<div id=\"[^\"]+\">").Value, cell);
            Assert.Contains("waiting for plotly.js", cell);                                   // a placeholder until drawn
            Assert.Contains($"https://cdn.plot.ly/plotly-{Charts.PlotlyJsVersion}.min.js", cell); // the fallback, after 4 s
        }
        Assert.Equal(1, Count(later, "<script"));
        // an image grid is shown as it is; anything else is refused
        string grid = Charts.ImageGrid("g", [new float[4]], 2, 2);
        Assert.Same(grid, HtmlPage.ForNotebook(grid));
        Assert.Throws<ArgumentException>(() => HtmlPage.ForNotebook("<p>not a chart</p>"));
    }
}

public class NumbersTests
{
    [Theory]
    [InlineData(3e-3 / 10, "3e-4")]            // 0.00030000000000000003 in full
    [InlineData(0.0003, "3e-4")]
    [InlineData(2.5e-4, "2.5e-4")]
    [InlineData(0.002, "0.002")]
    [InlineData(0.1 + 0.2, "0.3")]
    [InlineData(12.0, "12")]
    [InlineData(1.5e7, "1.5e7")]
    [InlineData(-6e-5, "-6e-5")]
    [InlineData(0.0, "0")]
    public void Learning_rates_print_as_typed(double x, string expected) => Assert.Equal(expected, PaperLab.Cli.Numbers.Format(x));

    [Fact]
    public void Fewer_significant_digits_round_and_carry()
    {
        Assert.Equal("2.88e-4", PaperLab.Cli.Numbers.Format(0.00028765, 3));
        Assert.Equal("1e-4", PaperLab.Cli.Numbers.Format(0.000099996, 3));
    }
}
