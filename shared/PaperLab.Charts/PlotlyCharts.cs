using System.Globalization;
using System.Reflection;
using Microsoft.FSharp.Core;
using Plotly.NET;
using Plotly.NET.LayoutObjects;

namespace PaperLab.Charts;

/// <summary>
/// Plotly.NET charts as HTML fragments. Every public method takes only arrays, strings and numbers and
/// returns a string, so that it can be called across an <see cref="System.Runtime.Loader.AssemblyLoadContext"/>
/// boundary by reflection (PaperLab.Reporting.Charts does that; call that facade, not this class).
/// A fragment is a &lt;div&gt; plus a &lt;script&gt; calling <c>Plotly.newPlot</c>; it does NOT contain
/// plotly.js: the page that shows it must load plotly.js once (see <see cref="PlotlyJsSource"/>).
/// </summary>
/// <remarks>
/// Plotly.NET is written in F#; its optional arguments are not optional from C#, so each chart
/// constructor below passes every argument by name (null = F# <c>None</c> = plotly.js default).
/// Layout details Plotly.NET has no short helper for are set by their plotly.js attribute names
/// (https://plotly.com/javascript/reference/) on Plotly.NET's dynamic objects.
/// </remarks>
public static class PlotlyCharts
{
    /// <summary>The plotly.js version bundled with (and targeted by) this Plotly.NET, e.g. "2.28.0".</summary>
    public static string PlotlyJsVersion() => Globals.PLOTLYJS_VERSION;

    /// <summary>The minified plotly.js source that Plotly.NET embeds (about 3.6 MB), to inline once per page.</summary>
    /// <exception cref="InvalidOperationException">The resource is missing from Plotly.NET.dll.</exception>
    public static string PlotlyJsSource()
    {
        Assembly plotly = typeof(GenericChart).Assembly;
        string name = $"Plotly.NET.plotly-{Globals.PLOTLYJS_VERSION}.min.js";
        using Stream stream = plotly.GetManifestResourceStream(name)
            ?? throw new InvalidOperationException($"{plotly.Location} has no resource '{name}'.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    /// <summary>
    /// Line chart of one or more series (e.g. loss per epoch for train and test).
    /// </summary>
    /// <param name="title">Chart title.</param>
    /// <param name="xTitle">x-axis title.</param>
    /// <param name="yTitle">y-axis title.</param>
    /// <param name="names">Series names, length S (shown in the legend).</param>
    /// <param name="xs">S arrays of x values; xs[s].Length must equal ys[s].Length.</param>
    /// <param name="ys">S arrays of y values.</param>
    /// <param name="logY">Logarithmic y axis (y values must then be positive).</param>
    /// <param name="width">Width in CSS pixels.</param>
    /// <param name="height">Height in CSS pixels.</param>
    /// <returns>HTML fragment (div + script), without plotly.js.</returns>
    /// <exception cref="ArgumentException">Mismatched series lengths.</exception>
    public static string LineChart(string title, string xTitle, string yTitle, string[] names,
        double[][] xs, double[][] ys, bool logY, int width, int height)
    {
        if (names.Length != xs.Length || names.Length != ys.Length)
            throw new ArgumentException($"{names.Length} names, {xs.Length} x series and {ys.Length} y series: give one name, one x and one y array per series.");
        var traces = new List<GenericChart>();
        for (int s = 0; s < names.Length; s++)
        {
            if (xs[s].Length != ys[s].Length)
                throw new ArgumentException($"Series '{names[s]}' has {xs[s].Length} x values but {ys[s].Length} y values.");
            traces.Add(Chart2D_Scatter.Chart.Line<double, double, string>(
                x: xs[s], y: ys[s], ShowMarkers: Some(xs[s].Length <= 50), Name: Some(names[s]),
                ShowLegend: Some(true), Opacity: null, MultiOpacity: null, Text: null, MultiText: null,
                TextPosition: null, MultiTextPosition: null, MarkerColor: null, MarkerColorScale: null,
                MarkerOutline: null, MarkerSymbol: null, MultiMarkerSymbol: null, Marker: null,
                LineColor: null, LineColorScale: null, LineWidth: null, LineDash: null, Line: null,
                AlignmentGroup: null, OffsetGroup: null, StackGroup: null, Orientation: null,
                GroupNorm: null, Fill: null, FillColor: null, FillPattern: null,
                UseWebGL: Some(false), UseDefaults: Some(true)));
        }
        GenericChart chart = Chart.combine(traces);
        var xAxis = new LinearAxis();
        xAxis.SetProperty("title", new Dictionary<string, object> { ["text"] = xTitle });
        var yAxis = new LinearAxis();
        yAxis.SetProperty("title", new Dictionary<string, object> { ["text"] = yTitle });
        if (logY) yAxis.SetProperty("type", "log");
        chart = Chart.withXAxis(xAxis, null).Invoke(chart);
        chart = Chart.withYAxis(yAxis, null).Invoke(chart);
        return ToFragment(chart, title, width, height);
    }

    /// <summary>
    /// Heatmap of a matrix, row 0 at the top: a confusion matrix (rows = true class, columns = predicted
    /// class) or an attention map (rows = queries, columns = keys).
    /// </summary>
    /// <param name="title">Chart title.</param>
    /// <param name="z">R rows of C values each (row-major).</param>
    /// <param name="xLabels">C column labels.</param>
    /// <param name="yLabels">R row labels.</param>
    /// <param name="colorscale">A plotly.js colorscale name: Greys, Blues, Greens, Viridis, Cividis, Hot, Jet, RdBu, ...</param>
    /// <param name="showValues">Write each cell's value in the cell (integers as is, others with 3 significant digits).</param>
    /// <param name="xTitle">x-axis title (may be empty).</param>
    /// <param name="yTitle">y-axis title (may be empty).</param>
    /// <param name="width">Width in CSS pixels.</param>
    /// <param name="height">Height in CSS pixels.</param>
    /// <returns>HTML fragment (div + script), without plotly.js.</returns>
    /// <exception cref="ArgumentException">Ragged z, label counts that do not match z, or an unknown colorscale.</exception>
    /// <param name="cellText">R rows of C texts to write in the cells instead of the values of z (e.g. counts when z is their
    /// logarithm); an empty array for z's values. Used only with <paramref name="showValues"/>.</param>
    /// <param name="zMin">Value at the bottom of the colour scale; NaN for the smallest value of z.</param>
    /// <param name="zMax">Value at the top of the colour scale; NaN for the largest value of z.</param>
    /// <param name="colorbarTitle">Title of the colour bar (may be empty).</param>
    public static string Heatmap(string title, double[][] z, string[] xLabels, string[] yLabels, string colorscale,
        bool showValues, string xTitle, string yTitle, int width, int height,
        string[][] cellText, double zMin, double zMax, string colorbarTitle)
    {
        if (cellText.Length != 0 && (cellText.Length != z.Length || cellText.Where((row, r) => row.Length != z[r].Length).Any()))
            throw new ArgumentException("cellText must have the shape of z (one text per cell), or be empty.");
        if (z.Length != yLabels.Length)
            throw new ArgumentException($"z has {z.Length} rows but {yLabels.Length} y labels were given.");
        for (int r = 0; r < z.Length; r++)
            if (z[r].Length != xLabels.Length)
                throw new ArgumentException($"z row {r} has {z[r].Length} values but {xLabels.Length} x labels were given.");
        string scale = PlotlyColorscaleName(colorscale);
        string[][] text = cellText.Length != 0 ? cellText : z.Select(row => row.Select(FormatValue).ToArray()).ToArray();
        GenericChart chart = Chart2D_Heatmap.Chart.Heatmap<double[], double, string, string, string>(
            zData: z, X: Some<IEnumerable<string>>(xLabels), MultiX: null, Y: Some<IEnumerable<string>>(yLabels), MultiY: null,
            Name: null, ShowLegend: null, Opacity: null, XGap: Some(1), YGap: Some(1),
            Text: null, MultiText: null,
            ColorBar: null, ColorScale: null, ShowScale: Some(true),
            ReverseScale: null, ZSmooth: null, Transpose: null, UseWebGL: Some(false),
            ReverseYAxis: Some(true), UseDefaults: Some(true)); // row 0 on top
        foreach (Trace trace in GenericChart.getTraces(chart))
        {
            // by name: Plotly.NET's Colorscale type lacks some of plotly.js's scales (Blues, Reds)
            trace.SetProperty("colorscale", scale);
            if (!double.IsNaN(zMin)) trace.SetProperty("zmin", zMin);
            if (!double.IsNaN(zMax)) trace.SetProperty("zmax", zMax);
            if (colorbarTitle.Length > 0)
                trace.SetProperty("colorbar", new Dictionary<string, object> { ["title"] = new Dictionary<string, object> { ["text"] = colorbarTitle, ["side"] = "right" } });
            if (cellText.Length != 0 && showValues)
                trace.SetProperty("hovertemplate", "%{y} → %{x}: %{text}<extra></extra>");
            if (showValues)
            {
                // per-cell text is a matrix, which Chart.Heatmap's text arguments do not take;
                // heatmaps show text only on hover unless texttemplate says to draw it
                trace.SetProperty("text", text);
                trace.SetProperty("texttemplate", "%{text}");
            }
        }
        var xAxis = new LinearAxis();
        xAxis.SetProperty("title", new Dictionary<string, object> { ["text"] = xTitle });
        xAxis.SetProperty("type", "category");
        var yAxis = new LinearAxis();
        yAxis.SetProperty("title", new Dictionary<string, object> { ["text"] = yTitle });
        yAxis.SetProperty("type", "category");
        chart = Chart.withXAxis(xAxis, null).Invoke(chart);
        chart = Chart.withYAxis(yAxis, null).Invoke(chart);
        return ToFragment(chart, title, width, height);
    }

    static string ToFragment(GenericChart chart, string title, int width, int height)
    {
        chart = Chart.withSize(Some(width), Some(height)).Invoke(chart);
        // plotly.js neither wraps nor shrinks a title: a long one is cut off at the edges of a narrow chart.
        // Wrap it at spaces to the chart's width (about 0.55 em per character) and make room above the plot.
        int fontSize = width < 500 ? 14 : 17;
        string[] lines = WrapTitle(title, Math.Max(12, (int)((width - 40) / (fontSize * 0.55))));
        Layout layout = GenericChart.getLayout(chart);
        layout.SetProperty("title", new Dictionary<string, object>
        {
            ["text"] = string.Join("<br>", lines),
            ["font"] = new Dictionary<string, object> { ["size"] = fontSize },
            ["x"] = 0.5, ["xanchor"] = "center", ["y"] = 1.0, ["yanchor"] = "top", ["yref"] = "container", ["pad"] = new Dictionary<string, object> { ["t"] = 10 },
        });
        var margin = new Margin();
        margin.SetProperty("t", 30 + (int)(lines.Length * fontSize * 1.3));
        layout.SetProperty("margin", margin);
        // toChartHTML gives the chart's <div> and the <script> that calls Plotly.newPlot, and no
        // reference to plotly.js with the default (CDN) display options; strip one if a version adds it.
        return StripPlotlyJs(GenericChart.toChartHTML(chart));
    }

    /// <summary>Splits <paramref name="title"/> at spaces into lines of at most <paramref name="maxChars"/> characters (a longer word keeps its own line).</summary>
    public static string[] WrapTitle(string title, int maxChars)
    {
        var lines = new List<string>();
        var line = new System.Text.StringBuilder();
        foreach (string word in title.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            if (line.Length > 0 && line.Length + 1 + word.Length > maxChars) { lines.Add(line.ToString()); line.Clear(); }
            if (line.Length > 0) line.Append(' ');
            line.Append(word);
        }
        if (line.Length > 0 || lines.Count == 0) lines.Add(line.ToString());
        return lines.ToArray();
    }

    static string StripPlotlyJs(string html)
    {
        int start;
        while ((start = html.IndexOf("<script src=", StringComparison.OrdinalIgnoreCase)) >= 0)
        {
            int end = html.IndexOf("</script>", start, StringComparison.OrdinalIgnoreCase);
            if (end < 0) break;
            html = html.Remove(start, end + "</script>".Length - start);
        }
        return html;
    }

    /// <summary>The colorscale names plotly.js knows (https://plotly.com/javascript/colorscales/).</summary>
    static readonly string[] PlotlyColorscales =
    [
        "Blackbody", "Bluered", "Blues", "Cividis", "Earth", "Electric", "Greens", "Greys", "Hot", "Jet",
        "Picnic", "Portland", "Rainbow", "RdBu", "Reds", "Viridis", "YlGnBu", "YlOrRd",
    ];

    static string PlotlyColorscaleName(string name) =>
        PlotlyColorscales.FirstOrDefault(known => string.Equals(known, name, StringComparison.OrdinalIgnoreCase))
        ?? throw new ArgumentException($"Unknown colorscale '{name}'. plotly.js knows: {string.Join(", ", PlotlyColorscales)}.");

    static string FormatValue(double v) =>
        v == Math.Round(v) && Math.Abs(v) < 1e15
            ? v.ToString("0", CultureInfo.InvariantCulture)
            : v.ToString("G3", CultureInfo.InvariantCulture);

    static FSharpOption<T> Some<T>(T value) => FSharpOption<T>.Some(value);
}
