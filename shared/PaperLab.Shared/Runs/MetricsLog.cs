using System.Globalization;
using Microsoft.Data.Analysis;

namespace PaperLab.Runs;

/// <summary>A row of metrics.csv.</summary>
/// <param name="Step">Optimizer step the value belongs to.</param>
/// <param name="Split">"train", "val", "test", "process", …</param>
/// <param name="Name">"loss", "accuracy", "lr", …</param>
/// <param name="Value">The value.</param>
/// <param name="WallSeconds">Seconds since the run started (counting earlier processes of a resumed run).</param>
public sealed record MetricRow(long Step, string Split, string Name, double Value, double WallSeconds);

/// <summary>
/// metrics.csv: one row per measurement, <c>step,split,name,value,wall_seconds</c>, appended and flushed as
/// the run goes. A resumed run rewrites it from the checkpoint's history (the rows up to the checkpoint's
/// step), then appends: the file always tells one consistent story.
/// </summary>
public sealed class MetricsLog
{
    /// <summary>The file name inside a run folder.</summary>
    public const string FileName = "metrics.csv";
    const string Header = "step,split,name,value,wall_seconds";
    readonly string _path;
    readonly List<MetricRow> _rows = new();
    readonly System.Diagnostics.Stopwatch _clock = System.Diagnostics.Stopwatch.StartNew();
    double _wallOffset;

    MetricsLog(string path) => _path = path;

    /// <summary>Starts a new, empty metrics.csv at <paramref name="path"/>.</summary>
    public static MetricsLog Create(string path)
    {
        var log = new MetricsLog(path);
        AtomicFile.WriteAllText(path, Header + "\n");
        return log;
    }

    /// <summary>Opens the metrics.csv of a run being resumed; <see cref="Restore"/> then rewrites it from the checkpoint.</summary>
    public static MetricsLog Continue(string path)
    {
        var log = new MetricsLog(path);
        if (!File.Exists(path)) AtomicFile.WriteAllText(path, Header + "\n");
        return log;
    }

    /// <summary>The file.</summary>
    public string Path => _path;

    /// <summary>Every row of this run so far (restored history included), in order.</summary>
    public IReadOnlyList<MetricRow> Rows => _rows;

    /// <summary>Seconds since the run started, counting the earlier processes of a resumed run.</summary>
    public double WallSeconds => _wallOffset + _clock.Elapsed.TotalSeconds;

    /// <summary>
    /// Replaces the file's content with <paramref name="history"/> (atomically) and continues the wall clock
    /// from <paramref name="wallSeconds"/>: what a resumed run does with its checkpoint's history.
    /// </summary>
    public void Restore(IReadOnlyList<MetricRow> history, double wallSeconds)
    {
        _rows.Clear();
        _rows.AddRange(history);
        _wallOffset = wallSeconds;
        _clock.Restart();
        AtomicFile.WriteAllText(_path, Header + "\n" + string.Concat(history.Select(Line)));
    }

    /// <summary>Appends one row (and flushes it to disk).</summary>
    /// <param name="step">Optimizer step the value belongs to.</param>
    /// <param name="split">"train", "val" or "test".</param>
    /// <param name="name">e.g. "loss", "accuracy", "lr".</param>
    /// <param name="value">The value.</param>
    /// <exception cref="FileAccessFailure">metrics.csv cannot be written.</exception>
    public void Log(long step, string split, string name, double value)
    {
        var row = new MetricRow(step, split, name, value, WallSeconds);
        _rows.Add(row);
        FileAccessFailure.Guard(_path, "the metrics file", writing: true, () => File.AppendAllText(_path, Line(row)));
    }

    /// <summary>The (step, value) series of one metric of one split.</summary>
    public (double[] Steps, double[] Values) Series(string split, string name)
    {
        var rows = _rows.Where(r => r.Split == split && r.Name == name).ToArray();
        return (rows.Select(r => (double)r.Step).ToArray(), rows.Select(r => r.Value).ToArray());
    }

    static string Line(MetricRow r) => string.Create(CultureInfo.InvariantCulture,
        $"{r.Step},{r.Split},{r.Name},{r.Value:R},{r.WallSeconds:F3}\n");

    /// <summary>
    /// Reads a metrics.csv into a Microsoft.Data.Analysis DataFrame with typed columns
    /// (step int64, split string, name string, value float64, wall_seconds float64).
    /// </summary>
    /// <exception cref="RunFailureException">The file is missing or malformed: the message names it and its first bad line.</exception>
    public static DataFrame ReadFrame(string path)
    {
        if (!File.Exists(path)) throw new RunFailureException($"{path} does not exist: not a run folder, or the run never started");
        try
        {
            var frame = DataFrame.LoadCsv(path, separator: ',', header: true,
                dataTypes: new[] { typeof(long), typeof(string), typeof(string), typeof(double), typeof(double) }, cultureInfo: CultureInfo.InvariantCulture);
            if (frame.Columns.Count != 5 || frame.Columns[0].Name != "step" || frame.Columns[3].Name != "value")
                throw new FormatException("the header is not step,split,name,value,wall_seconds");
            return frame;
        }
        catch (Exception e) when (e is FormatException or ArgumentException or IndexOutOfRangeException or InvalidOperationException or OverflowException)
        {
            throw new RunFailureException($"{path} is not a metrics file: {FirstBadLine(path) ?? e.Message}; it is written by the programs, do not edit it", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw FileAccessFailure.Explain(path, "the metrics file", writing: false, e);
        }
    }

    /// <summary>The rows of a metrics.csv (see <see cref="ReadFrame"/>).</summary>
    public static IReadOnlyList<MetricRow> Read(string path)
    {
        var f = ReadFrame(path);
        var rows = new List<MetricRow>((int)f.Rows.Count);
        var step = (PrimitiveDataFrameColumn<long>)f.Columns["step"];
        var split = (StringDataFrameColumn)f.Columns["split"];
        var name = (StringDataFrameColumn)f.Columns["name"];
        var value = (PrimitiveDataFrameColumn<double>)f.Columns["value"];
        var wall = (PrimitiveDataFrameColumn<double>)f.Columns["wall_seconds"];
        for (long i = 0; i < f.Rows.Count; i++)
        {
            if (step[i] is not long s || value[i] is not double v || split[i] is not string sp || name[i] is not string n)
                throw new RunFailureException($"{path} is not a metrics file: row {i + 2} has an empty field; it is written by the programs, do not edit it");
            rows.Add(new MetricRow(s, sp, n, v, wall[i] ?? 0));
        }
        return rows;
    }

    static string? FirstBadLine(string path)
    {
        try
        {
            int n = 0;
            foreach (var line in File.ReadLines(path))
            {
                n++;
                if (n == 1) { if (line.Trim() != Header) return $"line 1 is '{Trim(line)}', expected '{Header}'"; continue; }
                var f = line.Split(',');
                if (f.Length != 5 || !long.TryParse(f[0], NumberStyles.Integer, CultureInfo.InvariantCulture, out _)
                    || !double.TryParse(f[3], NumberStyles.Float, CultureInfo.InvariantCulture, out _))
                    return $"line {n} is '{Trim(line)}'";
            }
        }
        catch (IOException) { }
        return null;
    }

    static string Trim(string s) => s.Length > 60 ? s[..60] + "…" : s;
}
