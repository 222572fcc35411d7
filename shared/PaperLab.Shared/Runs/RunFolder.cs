using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace PaperLab.Runs;

/// <summary>
/// One experiment's folder: config.json, metrics.csv, summary.json, report.html and checkpoints.
/// Every JSON file is written atomically (temp file, then rename), so a crash never leaves half a file.
/// </summary>
public sealed class RunFolder
{
    /// <summary>JSON as the run files use it: indented, snake_case keys left as given.</summary>
    public static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    /// <summary>Absolute path of the folder.</summary>
    public string Path { get; }
    /// <summary>metrics.csv of this run.</summary>
    public MetricsLog Metrics { get; }

    RunFolder(string path)
    {
        Path = path;
        Directory.CreateDirectory(path);
        Metrics = new MetricsLog(File(MetricsLog.FileName));
    }

    /// <summary>
    /// Creates (or reuses) the run folder: <paramref name="outDir"/> if given, else
    /// <c>runs/&lt;paper&gt;/&lt;UTC yyyyMMdd-HHmmss&gt;/</c> under the current directory.
    /// </summary>
    /// <exception cref="IOException">The folder cannot be created.</exception>
    public static RunFolder Create(string paper, string? outDir, DateTime? utcNow = null)
    {
        string path = outDir ?? System.IO.Path.Combine("runs", paper,
            (utcNow ?? DateTime.UtcNow).ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture));
        return new RunFolder(System.IO.Path.GetFullPath(path));
    }

    /// <summary>The path of <paramref name="name"/> inside the folder.</summary>
    public string File(string name) => System.IO.Path.Combine(Path, name);

    /// <summary>Writes <paramref name="value"/> as JSON to <paramref name="name"/>, atomically.</summary>
    public void WriteJson(string name, object value) =>
        AtomicFile.WriteAllText(File(name), JsonSerializer.Serialize(value, value.GetType(), Json));

    /// <summary>
    /// Writes config.json: the resolved hyperparameters plus seed, threads, package versions and machine.
    /// </summary>
    public void WriteConfig(string paper, object hyperparameters, int seed, int threads)
    {
        var config = new JsonObject
        {
            ["paper"] = paper,
            ["hyperparameters"] = JsonSerializer.SerializeToNode(hyperparameters, hyperparameters.GetType(), Json),
            ["seed"] = seed,
            ["threads"] = threads,
            ["packages"] = JsonSerializer.SerializeToNode(RunEnvironment.Versions(), Json),
            ["machine"] = JsonSerializer.SerializeToNode(RunEnvironment.Machine(), Json),
            ["command_line"] = string.Join(' ', System.Environment.GetCommandLineArgs().Skip(1)),
            ["started_utc"] = DateTime.UtcNow.ToString("o", CultureInfo.InvariantCulture),
        };
        AtomicFile.WriteAllText(File("config.json"), config.ToJsonString(Json));
    }
}

/// <summary>Writes files so that readers see the old content or the new one, never a mix.</summary>
public static class AtomicFile
{
    /// <summary>Writes through <paramref name="write"/> into a temp file beside <paramref name="path"/>, then renames it over.</summary>
    public static void Write(string path, Action<Stream> write)
    {
        string dir = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!;
        Directory.CreateDirectory(dir);
        string tmp = System.IO.Path.Combine(dir, $".{System.IO.Path.GetFileName(path)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var fs = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write))
            {
                write(fs);
                fs.Flush(flushToDisk: true);
            }
            File.Move(tmp, path, overwrite: true);
        }
        finally
        {
            if (File.Exists(tmp)) File.Delete(tmp);
        }
    }

    /// <summary>Writes UTF-8 text atomically.</summary>
    public static void WriteAllText(string path, string text) =>
        Write(path, s => { using var w = new StreamWriter(s, leaveOpen: true); w.Write(text); });
}

/// <summary>metrics.csv: one row per measurement, <c>step,split,name,value,wall_seconds</c>.</summary>
public sealed class MetricsLog
{
    /// <summary>The file name inside a run folder.</summary>
    public const string FileName = "metrics.csv";
    readonly string _path;
    readonly List<MetricRow> _rows = new();
    readonly System.Diagnostics.Stopwatch _clock = System.Diagnostics.Stopwatch.StartNew();

    /// <summary>Opens (and truncates) the file at <paramref name="path"/>.</summary>
    public MetricsLog(string path)
    {
        _path = path;
        File.WriteAllText(path, "step,split,name,value,wall_seconds\n");
    }

    /// <summary>Every row logged so far, in order.</summary>
    public IReadOnlyList<MetricRow> Rows => _rows;

    /// <summary>Appends one row (and flushes it to disk).</summary>
    /// <param name="step">Optimizer step the value belongs to.</param>
    /// <param name="split">"train", "val" or "test".</param>
    /// <param name="name">e.g. "loss", "accuracy", "lr".</param>
    /// <param name="value">The value.</param>
    public void Log(long step, string split, string name, double value)
    {
        var row = new MetricRow(step, split, name, value, _clock.Elapsed.TotalSeconds);
        _rows.Add(row);
        File.AppendAllText(_path, string.Create(CultureInfo.InvariantCulture,
            $"{row.Step},{row.Split},{row.Name},{row.Value:R},{row.WallSeconds:F3}\n"));
    }

    /// <summary>The (step, value) series of one metric of one split.</summary>
    public (double[] Steps, double[] Values) Series(string split, string name)
    {
        var rows = _rows.Where(r => r.Split == split && r.Name == name).ToArray();
        return (rows.Select(r => (double)r.Step).ToArray(), rows.Select(r => r.Value).ToArray());
    }
}

/// <summary>A row of metrics.csv.</summary>
public sealed record MetricRow(long Step, string Split, string Name, double Value, double WallSeconds);

/// <summary>What a run records about its software and machine.</summary>
public static class RunEnvironment
{
    /// <summary>Versions of .NET, TorchSharp, libtorch and ML.NET in this process.</summary>
    public static Dictionary<string, string> Versions() => new()
    {
        ["dotnet"] = RuntimeInformation.FrameworkDescription,
        ["TorchSharp"] = PackageVersion(typeof(TorchSharp.torch)),
        ["libtorch"] = TorchSharp.torch.__version__,
        ["Microsoft.ML"] = PackageVersion(typeof(Microsoft.ML.MLContext)),
        ["TorchSharp.PyBridge"] = PackageVersion(typeof(TorchSharp.PyBridge.PyBridgeModuleExtensions)),
    };

    /// <summary>The informational (package) version of the assembly defining <paramref name="type"/>, without a commit suffix.</summary>
    static string PackageVersion(Type type)
    {
        var assembly = type.Assembly;
        string? v = assembly.GetCustomAttributes(typeof(System.Reflection.AssemblyInformationalVersionAttribute), false)
            .OfType<System.Reflection.AssemblyInformationalVersionAttribute>().FirstOrDefault()?.InformationalVersion;
        return (v ?? assembly.GetName().Version?.ToString() ?? "?").Split('+')[0];
    }

    /// <summary>OS, CPU model, logical cores and memory of this machine.</summary>
    public static Dictionary<string, object> Machine()
    {
        string cpu = "unknown";
        try
        {
            cpu = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name"))?.Split(':', 2)[1].Trim() ?? cpu;
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return new()
        {
            ["os"] = RuntimeInformation.OSDescription,
            ["cpu"] = cpu,
            ["logical_cores"] = System.Environment.ProcessorCount,
            ["memory_gib"] = Math.Round(GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / (1024.0 * 1024 * 1024), 1),
        };
    }
}
