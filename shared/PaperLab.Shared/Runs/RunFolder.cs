using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace PaperLab.Runs;

/// <summary>
/// One experiment's folder: config.json, metrics.csv, summary.json, report.html, checkpoint.bin and the
/// paper's own outputs. Every file is written atomically (temp file, then rename), and a live run holds a
/// lock on the folder so that two runs never write into one.
/// </summary>
/// <remarks>
/// <para>Where runs go: <c>--out DIR</c>; else, when resuming, the checkpoint's own folder; else
/// <c>runs/&lt;paper&gt;/&lt;UTC yyyyMMdd-HHmmss&gt;/</c> under <see cref="RunsRoot"/>.</para>
/// <para>A folder that already holds a run (config.json, metrics.csv or checkpoint.bin) is refused unless
/// the run resumes from it. If the run fails before its first training step, the folder is removed
/// again (when this process created it), except for error.log after an unforeseen error.</para>
/// </remarks>
public sealed class RunFolder : IDisposable
{
    /// <summary>JSON as the run files use it: indented, property names as given by each type (snake_case for summaries).</summary>
    public static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>JSON of summaries and records: snake_case keys (<c>TestError</c> → <c>test_error</c>), nulls kept.</summary>
    public static readonly JsonSerializerOptions SnakeCase = new(Json) { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    const string LockName = ".lock", LockPidName = ".lock.pid";
    static readonly string[] RunFiles = { "config.json", MetricsLog.FileName, "checkpoint.bin" };
    readonly FileStream _lock;
    readonly bool _created;

    /// <summary>Absolute path of the folder.</summary>
    public string Path { get; }
    /// <summary>metrics.csv of this run.</summary>
    public MetricsLog Metrics { get; }
    /// <summary>True once a training step has completed in this process (a failure after that keeps the folder).</summary>
    public bool Started { get; internal set; }

    /// <summary>What --diagnose saw (summary.json's <c>diagnostics</c>, a section of report.html); null without it.</summary>
    public PaperLab.Diagnostics.DiagnosticsReport? Diagnostics { get; internal set; }
    /// <summary>Where the time went (--profile; summary.json's <c>profile</c>, a section of report.html); null without it.</summary>
    public PaperLab.Training.ProfileReport? Profile { get; internal set; }
    /// <summary>The learning-rate range test of --find-lr; null without it.</summary>
    public PaperLab.Diagnostics.LrFinderResult? LrFinder { get; internal set; }
    /// <summary>The overfit-one-batch check of --overfit-batch; null without it.</summary>
    public PaperLab.Diagnostics.OverfitResult? Overfit { get; internal set; }
    /// <summary>The data report (your own data): text printed before training and shown at the top of report.html; null if none.</summary>
    public string? DataReport { get; set; }
    /// <summary>PNG of sample images per class, for the top of report.html; null if none.</summary>
    public byte[]? DataSamplesPng { get; set; }

    RunFolder(string path, bool created, FileStream lockFile, bool resuming)
    {
        Path = path;
        _created = created;
        _lock = lockFile;
        RemoveStaleTempFiles();
        Metrics = resuming ? MetricsLog.Continue(File(MetricsLog.FileName)) : MetricsLog.Create(File(MetricsLog.FileName));
    }

    /// <summary>
    /// The folder new runs go under: <c>PAPERLAB_RUNS</c> if set; else <c>runs/</c> in the repository
    /// holding this program (<see cref="Repository.Root"/>), whichever directory the program was started
    /// from, so that notebooks find every run; else <c>runs/</c> in the current directory.
    /// </summary>
    public static string RunsRoot()
    {
        if (Environment.GetEnvironmentVariable("PAPERLAB_RUNS") is { Length: > 0 } env) return System.IO.Path.GetFullPath(env);
        return System.IO.Path.Combine(Repository.Root() ?? Directory.GetCurrentDirectory(), "runs");
    }

    /// <summary>The default folder of a new run of <paramref name="paper"/>: <c>&lt;RunsRoot&gt;/&lt;paper&gt;/&lt;UTC yyyyMMdd-HHmmss&gt;</c> (a suffix if taken).</summary>
    public static string DefaultPath(string paper, DateTime? utcNow = null)
    {
        string stem = System.IO.Path.Combine(RunsRoot(), paper, (utcNow ?? DateTime.UtcNow).ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture));
        string path = stem;
        for (int i = 2; Directory.Exists(path); i++) path = $"{stem}-{i}";
        return path;
    }

    /// <summary>
    /// Opens <paramref name="path"/> for one run: creates it if needed and takes its lock.
    /// </summary>
    /// <param name="path">The run folder.</param>
    /// <param name="resuming">The run continues the one in this folder (its files are expected and kept).</param>
    /// <exception cref="RunFailureException">
    /// The folder is in use by another live run (its pid is named), already holds a run and this one does
    /// not resume it, or cannot be created.
    /// </exception>
    public static RunFolder Open(string path, bool resuming)
    {
        if (string.IsNullOrWhiteSpace(path)) throw new UsageException("--out: expected a folder path, got an empty value");
        string full = System.IO.Path.GetFullPath(path);
        if (System.IO.File.Exists(full)) throw new RunFailureException($"run folder {full} is a file; choose another --out");
        bool created = !Directory.Exists(full);
        FileAccessFailure.Guard(full, "the run folder", writing: true, () => Directory.CreateDirectory(full));
        FileStream lockFile;
        try
        {
            lockFile = new FileStream(System.IO.Path.Combine(full, LockName), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException e) when (e is not FileNotFoundException and not DirectoryNotFoundException && !IsDiskFull(e))
        {
            string pid = "another process";
            try { pid = "process " + System.IO.File.ReadAllText(System.IO.Path.Combine(full, LockPidName)).Trim(); } catch (IOException) { }
            throw new RunFailureException($"run folder {full} is in use by {pid}, which is still running; wait for it or choose another --out", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw FileAccessFailure.Explain(full, "the run folder", writing: true, e);
        }
        try
        {
            AtomicFile.WriteAllText(System.IO.Path.Combine(full, LockPidName), Environment.ProcessId.ToString(CultureInfo.InvariantCulture));
            if (!resuming && !created && RunFiles.FirstOrDefault(f => System.IO.File.Exists(System.IO.Path.Combine(full, f))) is { } existing)
                throw new RunFailureException($"run folder {full} already holds a run ({existing}); choose another --out, or continue it with --resume {System.IO.Path.Combine(full, "checkpoint.bin")}");
            return new RunFolder(full, created, lockFile, resuming);
        }
        catch
        {
            lockFile.Dispose();
            if (created) TryDelete(full);
            throw;
        }
    }

    static bool IsDiskFull(IOException e) => e.HResult == 28 || e.Message.Contains("No space left", StringComparison.OrdinalIgnoreCase);

    /// <summary>The path of <paramref name="name"/> inside the folder.</summary>
    public string File(string name) => System.IO.Path.Combine(Path, name);

    /// <summary>Writes <paramref name="value"/> as JSON to <paramref name="name"/>, atomically.</summary>
    public void WriteJson(string name, object value, JsonSerializerOptions? options = null) =>
        AtomicFile.WriteAllText(File(name), JsonSerializer.Serialize(value, value.GetType(), options ?? Json));

    /// <summary>Writes summary.json (snake_case keys, atomically), with the toolkit's findings and profile when they ran.</summary>
    public void WriteSummary(RunSummary summary) =>
        WriteJson("summary.json", summary with { Diagnostics = Diagnostics?.Findings, Profile = Profile }, SnakeCase);

    /// <summary>
    /// Writes config.json: the resolved hyperparameters, the common options, the data used (folder and
    /// each file's sha256), package versions, machine, command line and start time.
    /// </summary>
    public void WriteConfig(string paper, object hyperparameters, object common, object? data, int threads, string? resumedFrom)
    {
        var config = new JsonObject
        {
            ["paper"] = paper,
            ["project"] = $"papers/{hyperparameters.GetType().Assembly.GetName().Name}",
            ["hyperparameters"] = JsonSerializer.SerializeToNode(hyperparameters, hyperparameters.GetType(), Json),
            ["run"] = JsonSerializer.SerializeToNode(common, common.GetType(), Json),
            ["seed"] = (int?)common.GetType().GetProperty("Seed")?.GetValue(common),
            ["threads"] = threads,
            ["data"] = data is null ? null : JsonSerializer.SerializeToNode(data, data.GetType(), SnakeCase),
            ["resumed_from"] = resumedFrom,
            ["packages"] = JsonSerializer.SerializeToNode(RunEnvironment.Versions(), Json),
            ["machine"] = JsonSerializer.SerializeToNode(RunEnvironment.Machine(), Json),
            ["command_line"] = RunEnvironment.CommandLine(),
            ["started_utc"] = DateTime.UtcNow.ToString("o", CultureInfo.InvariantCulture),
        };
        AtomicFile.WriteAllText(File("config.json"), config.ToJsonString(Json));
    }

    /// <summary>Writes the full trace of an unforeseen error to error.log and returns its path.</summary>
    public string WriteErrorLog(Exception e)
    {
        string path = File("error.log");
        try { AtomicFile.WriteAllText(path, $"{DateTime.UtcNow:o}\n{RunEnvironment.CommandLine()}\n\n{e}\n"); }
        catch (Exception inner) when (inner is IOException or UnauthorizedAccessException or IFailureMessage) { }
        return path;
    }

    /// <summary>
    /// Ends the run: releases the lock. After a failure before the first training step (<see cref="Started"/>
    /// false), a folder this process created is removed, keeping only error.log if <paramref name="keepErrorLog"/>.
    /// </summary>
    public void Close(bool failed, bool keepErrorLog = false)
    {
        _lock.Dispose();
        TryDeleteFile(File(LockName));
        TryDeleteFile(File(LockPidName));
        if (!failed || Started || !_created) return;
        if (!keepErrorLog) { TryDelete(Path); return; }
        foreach (var f in Directory.EnumerateFiles(Path))
            if (System.IO.Path.GetFileName(f) != "error.log") TryDeleteFile(f);
    }

    /// <summary>Releases the lock (a successful or externally handled end).</summary>
    public void Dispose() => Close(failed: false);

    void RemoveStaleTempFiles()
    {
        foreach (var tmp in Directory.EnumerateFiles(Path, ".*.tmp")) TryDeleteFile(tmp);
    }

    static void TryDelete(string dir)
    {
        try { Directory.Delete(dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    static void TryDeleteFile(string file)
    {
        try { System.IO.File.Delete(file); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}

/// <summary>Writes files so that readers see the old content or the new one, never a mix.</summary>
public static class AtomicFile
{
    /// <summary>
    /// Writes through <paramref name="write"/> into a temp file beside <paramref name="path"/>, flushes it to
    /// disk, then renames it over <paramref name="path"/>. On any failure the temp file is removed and
    /// <paramref name="path"/> keeps its old content.
    /// </summary>
    /// <exception cref="FileAccessFailure">The folder cannot be written (permission, disk full, …): the message names the file.</exception>
    public static void Write(string path, Action<Stream> write)
    {
        string full = System.IO.Path.GetFullPath(path);
        string dir = System.IO.Path.GetDirectoryName(full)!;
        string tmp = System.IO.Path.Combine(dir, $".{System.IO.Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            Directory.CreateDirectory(dir);
            using (var fs = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write))
            {
                write(fs);
                fs.Flush(flushToDisk: true);
            }
            File.Move(tmp, full, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException && e is not IFailureMessage)
        {
            throw FileAccessFailure.Explain(full, "the file", writing: true, e);
        }
        finally
        {
            try { if (File.Exists(tmp)) File.Delete(tmp); } catch (IOException) { }
        }
    }

    /// <summary>Writes UTF-8 text atomically.</summary>
    public static void WriteAllText(string path, string text) =>
        Write(path, s => { using var w = new StreamWriter(s, new System.Text.UTF8Encoding(false), leaveOpen: true); w.Write(text); });

    /// <summary>Writes bytes atomically.</summary>
    public static void WriteAllBytes(string path, byte[] bytes) => Write(path, s => s.Write(bytes));
}

/// <summary>What a run records about its software and machine.</summary>
public static class RunEnvironment
{
    /// <summary>The program's command line as typed (arguments after the program).</summary>
    public static string CommandLine() => string.Join(' ', Environment.GetCommandLineArgs().Skip(1).Select(a => a.Contains(' ') ? $"\"{a}\"" : a));

    /// <summary>Versions of .NET, TorchSharp, libtorch and ML.NET in this process, the oneDNN setting and oneMKL's kernels.</summary>
    public static Dictionary<string, string> Versions() => new()
    {
        ["dotnet"] = RuntimeInformation.FrameworkDescription,
        ["TorchSharp"] = PackageVersion(typeof(TorchSharp.torch)),
        ["libtorch"] = TorchSharp.torch.__version__,
        ["Microsoft.ML"] = PackageVersion(typeof(Microsoft.ML.MLContext)),
        ["TorchSharp.PyBridge"] = PackageVersion(typeof(TorchSharp.PyBridge.PyBridgeModuleExtensions)),
        ["onednn"] = PaperLab.Torch.TorchRuntime.OneDnnSetting,
        ["mkl"] = PaperLab.Torch.TorchRuntime.MklSetting,
    };

    /// <summary>The informational (package) version of the assembly defining <paramref name="type"/>, without a commit suffix.</summary>
    public static string PackageVersion(Type type)
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
            ["logical_cores"] = Environment.ProcessorCount,
            ["memory_gib"] = Math.Round(GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / (1024.0 * 1024 * 1024), 1),
        };
    }
}
