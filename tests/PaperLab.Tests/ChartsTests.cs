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
        Assert.Equal(7.0, trace.GetProperty("z")[1][2].GetDouble());
        Assert.Equal(["cat", "dog", "bird"], trace.GetProperty("y").EnumerateArray().Select(v => v.GetString()));
        JsonElement layout = ScriptVariable(html, "layout");
        Assert.Equal("reversed", layout.GetProperty("yaxis").GetProperty("autorange").GetString());
        Assert.Equal("true class", layout.GetProperty("yaxis").GetProperty("title").GetProperty("text").GetString());
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
    public void ImageGridLaysImagesOutUprightWithGaps()
    {
        const int h = 4, w = 3;
        // image i has value i/10 everywhere except its top-left pixel, which is 1
        float[][] images = Enumerable.Range(0, 5).Select(i =>
        {
            var img = Enumerable.Repeat(i / 10f, h * w).ToArray();
            img[0] = 1f;
            return img;
        }).ToArray();
        string html = Charts.ImageGrid("Samples", images, h, w, ["a", "b", "c", "d", "e"], columns: 2);

        JsonElement trace = ScriptVariable(html, "data")[0];
        JsonElement[][] z = trace.GetProperty("z").EnumerateArray().Select(r => r.EnumerateArray().ToArray()).ToArray();
        int gapX = 1, gapY = 3; // max(1, w/8) and, with captions, max(3, h/4)
        Assert.Equal(3 * (h + gapY), z.Length);           // 5 images in 2 columns: 3 rows
        Assert.All(z, row => Assert.Equal(2 * w + gapX, row.Length));
        // image 3 sits in grid row 1, column 1; its top-left pixel is 1, the rest 0.3
        int top = 1 * (h + gapY) + gapY, left = 1 * (w + gapX);
        Assert.Equal(1.0, z[top][left].GetDouble());
        Assert.Equal(0.3, z[top + h - 1][left + w - 1].GetDouble(), 5);
        Assert.Equal(JsonValueKind.Null, z[top][left - 1].ValueKind);  // the gap between columns
        Assert.Equal(JsonValueKind.Null, z[top - 1][left].ValueKind);  // the caption gap above
        Assert.Equal(JsonValueKind.Null, z[^1][^1].ValueKind);         // no 6th image
        JsonElement layout = ScriptVariable(html, "layout");
        JsonElement yRange = layout.GetProperty("yaxis").GetProperty("range");
        Assert.True(yRange[0].GetDouble() > yRange[1].GetDouble(), "y axis must be reversed so images are upright");
        Assert.Equal("x", layout.GetProperty("yaxis").GetProperty("scaleanchor").GetString());
        JsonElement[] captions = layout.GetProperty("annotations").EnumerateArray().ToArray();
        Assert.Equal(["a", "b", "c", "d", "e"], captions.Select(a => a.GetProperty("text").GetString()));
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
            Assert.Equal(2, Count(Body(html), "Plotly.newPlot("));
        }
        finally
        {
            if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void NotebookOutputWaitsForPlotlyJsFromTheCdn()
    {
        string fragment = Charts.Heatmap("Attention", [[0.9, 0.1], [0.2, 0.8]], ["k0", "k1"], ["q0", "q1"]);
        string cell = HtmlPage.ForNotebook(fragment);

        Assert.Contains($"https://cdn.plot.ly/plotly-{Charts.PlotlyJsVersion}.min.js", cell);
        Assert.Contains("var draw = function (Plotly) {", cell);
        Assert.Contains("requirejs.config", cell);
        // the drawing code is inside draw(), not run at the top level of its own script
        Assert.Equal(1, Count(cell, "<script"));
        Assert.True(cell.IndexOf("var draw") < cell.IndexOf("Plotly.newPlot("));
        Assert.Contains(Regex.Match(fragment, "<div id=\"[^\"]+\">").Value, cell);
        Assert.DoesNotContain(PlotlyJsBanner, cell);
        Assert.Throws<ArgumentException>(() => HtmlPage.ForNotebook("<p>not a chart</p>"));
    }
}
