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
    public static string Heatmap(string title, double[][] z, string[] xLabels, string[] yLabels, string colorscale,
        bool showValues, string xTitle, string yTitle, int width, int height)
    {
        if (z.Length != yLabels.Length)
            throw new ArgumentException($"z has {z.Length} rows but {yLabels.Length} y labels were given.");
        for (int r = 0; r < z.Length; r++)
            if (z[r].Length != xLabels.Length)
                throw new ArgumentException($"z row {r} has {z[r].Length} values but {xLabels.Length} x labels were given.");
        string scale = PlotlyColorscaleName(colorscale);
        string[][] text = z.Select(row => row.Select(FormatValue).ToArray()).ToArray();
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

    /// <summary>
    /// Grayscale images in a grid, drawn as ONE heatmap (a composite with gaps between the images),
    /// upright (row 0 of an image at the top), square pixels, a caption above each image.
    /// </summary>
    /// <param name="title">Chart title.</param>
    /// <param name="images">N images, each height*width values in [0, 1], row-major (0 = black, 1 = white).</param>
    /// <param name="height">Image height in pixels.</param>
    /// <param name="width">Image width in pixels.</param>
    /// <param name="captions">N captions (e.g. "label 7 / predicted 1"), or an empty array for none.</param>
    /// <param name="columns">Images per grid row (&gt;= 1).</param>
    /// <param name="cellPixels">CSS pixels per image pixel (the chart size follows from it).</param>
    /// <returns>HTML fragment (div + script), without plotly.js. The composite is
    /// rows*(height+gapY) by columns*(width+gapX)-gapX cells, gapX = max(1, width/8),
    /// gapY = max(3, height/4) with captions (room for them) or gapX without.</returns>
    /// <exception cref="ArgumentException">An image of the wrong size, caption count not N, or columns &lt; 1.</exception>
    public static string ImageGrid(string title, float[][] images, int height, int width, string[] captions,
        int columns, int cellPixels)
    {
        if (columns < 1) throw new ArgumentException($"columns must be at least 1, got {columns}.");
        if (height < 1 || width < 1) throw new ArgumentException($"Image size must be positive, got {height}x{width}.");
        if (captions.Length != 0 && captions.Length != images.Length)
            throw new ArgumentException($"{images.Length} images but {captions.Length} captions: give one caption per image, or none.");
        for (int i = 0; i < images.Length; i++)
            if (images[i].Length != height * width)
                throw new ArgumentException($"Image {i} has {images[i].Length} values, expected height*width = {height}*{width} = {height * width}.");

        int n = images.Length, cols = Math.Min(columns, Math.Max(n, 1)), rows = Math.Max(1, (n + cols - 1) / cols);
        int gapX = Math.Max(1, width / 8);
        int gapY = captions.Length > 0 ? Math.Max(3, height / 4) : gapX; // room above each image for its caption
        int compositeW = cols * width + (cols - 1) * gapX, compositeH = rows * (height + gapY);
        // gap cells are null in the chart's JSON: plotly.js leaves them transparent
        var z = new double?[compositeH][];
        for (int y = 0; y < compositeH; y++) z[y] = new double?[compositeW];
        var annotations = new List<Annotation>();
        for (int i = 0; i < n; i++)
        {
            int top = (i / cols) * (height + gapY) + gapY, left = (i % cols) * (width + gapX);
            for (int y = 0; y < height; y++)
                for (int x = 0; x < width; x++)
                    z[top + y][left + x] = images[i][y * width + x];
            if (captions.Length > 0)
            {
                var caption = new Annotation();
                caption.SetProperty("text", captions[i]);
                caption.SetProperty("x", left + (width - 1) / 2.0);
                caption.SetProperty("y", top - 0.5);
                caption.SetProperty("xref", "x");
                caption.SetProperty("yref", "y");
                caption.SetProperty("yanchor", "bottom");
                caption.SetProperty("showarrow", false);
                caption.SetProperty("font", new Dictionary<string, object> { ["size"] = 11 });
                annotations.Add(caption);
            }
        }
        var grays = new[] { Tuple.Create(0.0, Color.fromString("black")), Tuple.Create(1.0, Color.fromString("white")) };
        // Chart.Heatmap's z elements must be IConvertible, which double? is not: an empty z here, the real one below
        GenericChart chart = Chart2D_Heatmap.Chart.Heatmap<double[], double, int, int, string>(
            zData: [], X: null, MultiX: null, Y: null, MultiY: null,
            Name: null, ShowLegend: Some(false), Opacity: null, XGap: null, YGap: null,
            Text: null, MultiText: null, ColorBar: null, ColorScale: Some(StyleParam.Colorscale.NewCustom(grays)),
            ShowScale: Some(false), ReverseScale: null, ZSmooth: null, Transpose: null, UseWebGL: Some(false),
            ReverseYAxis: null, UseDefaults: Some(true)); // reversed below by an explicit range
        foreach (Trace trace in GenericChart.getTraces(chart))
        {
            trace.SetProperty("z", z);
            trace.SetProperty("zmin", 0.0);
            trace.SetProperty("zmax", 1.0);
            trace.SetProperty("hovertemplate", "x %{x}, y %{y}: %{z:.3f}<extra></extra>");
        }
        var xAxis = new LinearAxis();
        var yAxis = new LinearAxis();
        foreach (LinearAxis axis in new[] { xAxis, yAxis })
        {
            axis.SetProperty("showgrid", false);
            axis.SetProperty("zeroline", false);
            axis.SetProperty("showticklabels", false);
            axis.SetProperty("ticks", "");
        }
        xAxis.SetProperty("range", new[] { -0.5, compositeW - 0.5 });
        xAxis.SetProperty("constrain", "domain");
        yAxis.SetProperty("range", new[] { compositeH - 0.5, -0.5 }); // reversed: image row 0 on top
        yAxis.SetProperty("scaleanchor", "x");                        // square pixels
        yAxis.SetProperty("scaleratio", 1);
        yAxis.SetProperty("constrain", "domain");
        chart = Chart.withXAxis(xAxis, null).Invoke(chart);
        chart = Chart.withYAxis(yAxis, null).Invoke(chart);
        chart = Chart.withAnnotations(annotations, Some(false)).Invoke(chart);
        const int marginX = 20, marginTop = 60, marginBottom = 20;
        var margin = new Margin();
        margin.SetProperty("l", marginX);
        margin.SetProperty("r", marginX);
        margin.SetProperty("t", marginTop);
        margin.SetProperty("b", marginBottom);
        GenericChart.getLayout(chart).SetProperty("margin", margin);
        return ToFragment(chart, title, compositeW * cellPixels + 2 * marginX,
            compositeH * cellPixels + marginTop + marginBottom);
    }

    static string ToFragment(GenericChart chart, string title, int width, int height)
    {
        chart = Chart.withTitle(title, null).Invoke(chart);
        chart = Chart.withSize(Some(width), Some(height)).Invoke(chart);
        // toChartHTML gives the chart's <div> and the <script> that calls Plotly.newPlot, and no
        // reference to plotly.js with the default (CDN) display options; strip one if a version adds it.
        return StripPlotlyJs(GenericChart.toChartHTML(chart));
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
