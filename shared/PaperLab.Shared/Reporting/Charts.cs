using System.Reflection;
using System.Runtime.ExceptionServices;
using System.Runtime.Loader;

namespace PaperLab.Reporting;

/// <summary>One line of a line chart: a name for the legend and its points (X[i], Y[i]).</summary>
/// <param name="Name">Legend entry, e.g. "train loss".</param>
/// <param name="X">x values (e.g. epochs); same length as <paramref name="Y"/>.</param>
/// <param name="Y">y values.</param>
public sealed record Series(string Name, double[] X, double[] Y)
{
    /// <summary>A series whose x values are 1, 2, ..., n (e.g. one value per epoch).</summary>
    public static Series Of(string name, IEnumerable<double> y)
    {
        double[] ys = y.ToArray();
        return new Series(name, Enumerable.Range(1, ys.Length).Select(i => (double)i).ToArray(), ys);
    }
}

/// <summary>
/// Interactive charts (plotly.js, built with Plotly.NET) as HTML fragments for report pages
/// (<see cref="HtmlPage"/>) and notebooks (<see cref="HtmlPage.ForNotebook"/>).
/// </summary>
/// <remarks>
/// Plotly.NET 6 needs FSharp.Core 10.1; a .NET Interactive kernel has an older FSharp.Core loaded
/// already, and a load context holds one FSharp.Core. So the charts live in PaperLab.Charts.dll, which
/// the build copies with all its dependencies to a <c>charts/</c> folder beside PaperLab.Shared.dll,
/// and this class loads them into ONE isolated load context of their own (created on first use) and
/// calls them by reflection. Only arrays, strings and numbers cross that boundary; PaperLab.Shared
/// itself has no reference to Plotly.NET or FSharp.Core.
/// A fragment is a &lt;div&gt; and a &lt;script&gt; calling <c>Plotly.newPlot</c>; it does not include
/// plotly.js, which the page loads once.
/// </remarks>
public static class Charts
{
    const string ImplementationType = "PaperLab.Charts.PlotlyCharts";
    static readonly object Gate = new();
    static Type? implementation;
    static AssemblyLoadContext? loadContext;

    /// <summary>The folder the chart assemblies are loaded from: <c>charts/</c> beside PaperLab.Shared.dll.</summary>
    /// <exception cref="InvalidOperationException">PaperLab.Shared was loaded from memory, without a file path.</exception>
    public static string Folder
    {
        get
        {
            string location = typeof(Charts).Assembly.Location;
            if (string.IsNullOrEmpty(location))
                throw new InvalidOperationException(
                    "PaperLab.Shared was loaded from memory (no file path), so its charts/ folder cannot be found. Load PaperLab.Shared.dll from its build output folder.");
            return Path.Combine(Path.GetDirectoryName(location)!, "charts");
        }
    }

    /// <summary>The isolated load context holding PaperLab.Charts, Plotly.NET and FSharp.Core (loads them on first use).</summary>
    /// <exception cref="FileNotFoundException">The charts/ folder or PaperLab.Charts.dll is missing.</exception>
    public static AssemblyLoadContext LoadContext
    {
        get
        {
            EnsureLoaded();
            return loadContext!;
        }
    }

    /// <summary>The plotly.js version the fragments are made for, e.g. "2.28.0".</summary>
    public static string PlotlyJsVersion => (string)Invoke("PlotlyJsVersion");

    /// <summary>The minified plotly.js source bundled with Plotly.NET (about 3.6 MB), to inline once per page.</summary>
    public static string PlotlyJsSource() => (string)Invoke("PlotlyJsSource");

    /// <summary>The address of the matching plotly.js on the plotly CDN (opening it needs internet).</summary>
    public static string PlotlyJsCdnUrl => $"https://cdn.plot.ly/plotly-{PlotlyJsVersion}.min.js";

    /// <summary>Line chart of one or more series, e.g. train and test loss per epoch.</summary>
    /// <param name="title">Chart title.</param>
    /// <param name="xTitle">x-axis title.</param>
    /// <param name="yTitle">y-axis title.</param>
    /// <param name="series">The lines; each needs as many X as Y values.</param>
    /// <param name="logY">Logarithmic y axis (y values must be positive).</param>
    /// <param name="width">Width in CSS pixels.</param>
    /// <param name="height">Height in CSS pixels.</param>
    /// <returns>HTML fragment (div + script), without plotly.js.</returns>
    /// <exception cref="ArgumentException">A series with different numbers of x and y values.</exception>
    public static string Line(string title, string xTitle, string yTitle, IReadOnlyList<Series> series,
        bool logY = false, int width = 720, int height = 420) =>
        (string)Invoke("LineChart", title, xTitle, yTitle,
            series.Select(s => s.Name).ToArray(), series.Select(s => s.X).ToArray(), series.Select(s => s.Y).ToArray(),
            logY, width, height);

    /// <summary>
    /// Heatmap of a matrix with row 0 at the top, e.g. attention weights (rows = queries, columns = keys).
    /// </summary>
    /// <param name="title">Chart title.</param>
    /// <param name="z">R rows of C values (row-major, all rows of equal length).</param>
    /// <param name="xLabels">C column labels.</param>
    /// <param name="yLabels">R row labels.</param>
    /// <param name="colorscale">A plotly.js colorscale name: Blues, Greys, Viridis, Cividis, Hot, RdBu, ...</param>
    /// <param name="showValues">Write each value in its cell.</param>
    /// <param name="xTitle">x-axis title.</param>
    /// <param name="yTitle">y-axis title.</param>
    /// <param name="width">Width in CSS pixels.</param>
    /// <param name="height">Height in CSS pixels.</param>
    /// <returns>HTML fragment (div + script), without plotly.js.</returns>
    /// <exception cref="ArgumentException">Labels that do not match z's shape, or an unknown colorscale.</exception>
    /// <param name="zMin">Value at the bottom of the colour scale (null: z's smallest).</param>
    /// <param name="zMax">Value at the top of the colour scale (null: z's largest).</param>
    /// <param name="cellText">Texts written in the cells instead of z's values (same shape as z), with <paramref name="showValues"/>.</param>
    /// <param name="colorbarTitle">Title of the colour bar.</param>
    public static string Heatmap(string title, double[][] z, IReadOnlyList<string> xLabels, IReadOnlyList<string> yLabels,
        string colorscale = "Viridis", bool showValues = false, string xTitle = "", string yTitle = "",
        int width = 600, int height = 520, double? zMin = null, double? zMax = null, string[][]? cellText = null, string colorbarTitle = "") =>
        (string)Invoke("Heatmap", title, z, xLabels.ToArray(), yLabels.ToArray(), colorscale, showValues,
            xTitle, yTitle, width, height, cellText ?? [], zMin ?? double.NaN, zMax ?? double.NaN, colorbarTitle);

    /// <summary>
    /// Attention weights as a heatmap (rows = queries, columns = keys), coloured from 0 to the largest weight of
    /// the map rather than from its smallest to its largest: a near-uniform map (every weight about 1/keys) then
    /// looks uniform instead of having its tiny differences stretched over the whole colour scale.
    /// </summary>
    /// <param name="title">Chart title.</param>
    /// <param name="weights">Q rows of K weights in [0, 1] (each row sums to 1).</param>
    /// <param name="keyLabels">K key (column) labels.</param>
    /// <param name="queryLabels">Q query (row) labels.</param>
    /// <param name="colorscale">A plotly.js colorscale name.</param>
    /// <param name="xTitle">x-axis title.</param>
    /// <param name="yTitle">y-axis title.</param>
    /// <param name="width">Width in CSS pixels.</param>
    /// <param name="height">Height in CSS pixels.</param>
    /// <exception cref="ArgumentException">Labels that do not match the shape, or a weight outside [0, 1].</exception>
    public static string Attention(string title, double[][] weights, IReadOnlyList<string> keyLabels, IReadOnlyList<string> queryLabels,
        string colorscale = "Blues", string xTitle = "key", string yTitle = "query", int width = 600, int height = 520)
    {
        double max = weights.SelectMany(r => r).DefaultIfEmpty(1).Max(), min = weights.SelectMany(r => r).DefaultIfEmpty(0).Min();
        if (min < -1e-6 || max > 1 + 1e-6)
            throw new ArgumentException($"Attention weights must lie in [0, 1]; these span [{min:G4}, {max:G4}]. For other matrices use Heatmap.", nameof(weights));
        return Heatmap(title, weights, keyLabels, queryLabels, colorscale, xTitle: xTitle, yTitle: yTitle, width: width, height: height,
            zMin: 0, zMax: max > 0 ? max : 1, colorbarTitle: "weight");
    }

    /// <summary>
    /// Confusion matrix as a heatmap with the counts written in the cells: row i = true class i,
    /// column j = predicted class j, so the diagonal holds the correct predictions. Cells are coloured by
    /// log10(1 + count), so that errors of different sizes are told apart next to the large diagonal.
    /// </summary>
    /// <param name="counts">K×K counts, counts[true, predicted].</param>
    /// <param name="classNames">K class names.</param>
    /// <param name="title">Chart title.</param>
    /// <exception cref="ArgumentException">counts is not K×K for K class names.</exception>
    public static string ConfusionMatrix(long[,] counts, IReadOnlyList<string> classNames, string title = "Confusion matrix")
    {
        int k = classNames.Count;
        if (counts.GetLength(0) != k || counts.GetLength(1) != k)
            throw new ArgumentException($"counts is {counts.GetLength(0)}x{counts.GetLength(1)} but there are {k} class names: it must be {k}x{k}.");
        // colour by log10(1 + count): the diagonal holds thousands and the errors a handful, so on a linear scale
        // every error cell looks the same pale blue; on a log scale 1, 10 and 100 errors differ visibly
        double[][] z = Enumerable.Range(0, k).Select(t => Enumerable.Range(0, k).Select(p => Math.Log10(1 + counts[t, p])).ToArray()).ToArray();
        string[][] text = Enumerable.Range(0, k).Select(t => Enumerable.Range(0, k)
            .Select(p => counts[t, p].ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray()).ToArray();
        int size = Math.Clamp(160 + 42 * k, 360, 900);
        return Heatmap(title, z, classNames, classNames, "Blues", showValues: true,
            xTitle: "predicted class", yTitle: "true class", width: size + 80, height: size,
            zMin: 0, cellText: text, colorbarTitle: "log10(1 + count)");
    }

    /// <summary>
    /// Grayscale images in a grid (e.g. misclassified digits), upright, square pixels, a caption below each:
    /// PNG images (data URIs) in HTML, no plotly.js, so they show offline and in any notebook viewer
    /// (<see cref="PngGrid.Html"/>).
    /// </summary>
    /// <param name="title">Title of the grid.</param>
    /// <param name="images">N images of height*width values in [0, 1], row-major; 0 = black, 1 = white.</param>
    /// <param name="height">Image height in pixels.</param>
    /// <param name="width">Image width in pixels.</param>
    /// <param name="captions">N captions, or null for none.</param>
    /// <param name="columns">Images per row of the grid.</param>
    /// <param name="cellPixels">Screen (CSS) pixels per image pixel.</param>
    /// <returns>HTML fragment (a &lt;figure&gt;), without script.</returns>
    /// <exception cref="ArgumentException">An image that is not height*width values, or captions not one per image.</exception>
    public static string ImageGrid(string title, IReadOnlyList<float[]> images, int height, int width,
        IReadOnlyList<string>? captions = null, int columns = 8, int cellPixels = 3) =>
        PngGrid.Html(title, images, height, width, captions, columns, cellPixels);

    static object Invoke(string method, params object[] arguments)
    {
        EnsureLoaded();
        MethodInfo target = implementation!.GetMethod(method, BindingFlags.Public | BindingFlags.Static)
            ?? throw new MissingMethodException(
                $"{implementation.Assembly.Location} has no {ImplementationType}.{method}: charts/ is out of date; rebuild with `dotnet build`.");
        try
        {
            return target.Invoke(null, arguments)!;
        }
        catch (TargetInvocationException e) when (e.InnerException is not null)
        {
            ExceptionDispatchInfo.Capture(e.InnerException).Throw();
            throw; // not reached
        }
    }

    static void EnsureLoaded()
    {
        if (Volatile.Read(ref implementation) is not null) return;
        lock (Gate)
        {
            if (implementation is not null) return;
            string folder = Folder;
            string dll = Path.Combine(folder, "PaperLab.Charts.dll");
            if (!File.Exists(dll))
                throw new FileNotFoundException(
                    $"Charts need {dll}, which is missing. `dotnet build` of any project referencing PaperLab.Shared " +
                    $"(e.g. `dotnet build PaperLab.sln -c Release`) puts PaperLab.Charts and its dependencies in {folder}.", dll);
            var context = new ChartsLoadContext(dll);
            Type type = context.LoadFromAssemblyPath(dll).GetType(ImplementationType, throwOnError: true)!;
            loadContext = context;
            Volatile.Write(ref implementation, type);
        }
    }

    /// <summary>
    /// Resolves PaperLab.Charts' dependencies (Plotly.NET, FSharp.Core, ...) from its deps.json in charts/,
    /// so they load here rather than into the default context; framework assemblies come from the default.
    /// Not collectible: created once, it lives as long as the process.
    /// </summary>
    sealed class ChartsLoadContext(string componentPath) : AssemblyLoadContext("PaperLab.Charts", isCollectible: false)
    {
        readonly AssemblyDependencyResolver resolver = new(componentPath);

        protected override Assembly? Load(AssemblyName assemblyName) =>
            resolver.ResolveAssemblyToPath(assemblyName) is { } path ? LoadFromAssemblyPath(path) : null;

        protected override IntPtr LoadUnmanagedDll(string unmanagedDllName) =>
            resolver.ResolveUnmanagedDllToPath(unmanagedDllName) is { } path ? LoadUnmanagedDllFromPath(path) : IntPtr.Zero;
    }
}
