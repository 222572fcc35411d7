using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Data.Analysis;

namespace PaperLab.Runs;

/// <summary>
/// One reported result: what a finished run measured, with everything the README's results table shows
/// and the run's full summary and hyperparameters. Written by <c>tools/Results add RUN</c> to
/// <c>papers/&lt;Paper&gt;/results/&lt;name&gt;.json</c>, so every figure in a README traces back to a run.
/// </summary>
/// <param name="Paper">The paper as the table names it (summary.json's paper).</param>
/// <param name="Project">The paper's project folder, e.g. papers/LeNet5.</param>
/// <param name="Dataset">summary.json's dataset.</param>
/// <param name="Metric">The figure compared (published.metric), e.g. test_error.</param>
/// <param name="Ours">Our value of it.</param>
/// <param name="Published">The published figure.</param>
/// <param name="Command">The command that makes the run again (without --out).</param>
/// <param name="TrainSeconds">Seconds in training steps.</param>
/// <param name="WallSeconds">Seconds from start to summary (null if the summary does not say).</param>
/// <param name="Threads">libtorch threads.</param>
/// <param name="DateUtc">When the run started (UTC, yyyy-MM-dd).</param>
/// <param name="Machine">CPU, logical cores and memory.</param>
/// <param name="Run">The run folder's name.</param>
/// <param name="Summary">summary.json, whole.</param>
/// <param name="Hyperparameters">config.json's hyperparameters, whole.</param>
/// <param name="Note">What a reader must know about the measurement, e.g. "under load (other jobs on the machine)"; shown in the table.</param>
public sealed record ResultRecord(string Paper, string Project, string Dataset, string Metric, double Ours, Published Published, string Command,
                                  double TrainSeconds, double? WallSeconds, int Threads, string DateUtc, string Machine, string Run,
                                  JsonObject Summary, JsonObject Hyperparameters, string? Note = null)
{
    /// <summary>The record of a finished run folder (summary.json and config.json).</summary>
    /// <exception cref="RunFailureException">The folder is not a finished run, or its files lack a field the table needs.</exception>
    public static ResultRecord FromRun(string folder)
    {
        JsonObject Read(string name)
        {
            string path = Path.Combine(folder, name);
            if (!File.Exists(path)) throw new RunFailureException($"{path} is missing: {folder} is not a finished run folder");
            try { return JsonNode.Parse(File.ReadAllText(path)) as JsonObject ?? throw new JsonException("not an object"); }
            catch (JsonException e) { throw new RunFailureException($"{path} is not valid JSON ({e.Message}); it is written by the programs, do not edit it", e); }
        }
        var summary = Read("summary.json");
        var config = Read("config.json");
        T Need<T>(JsonNode? node, string what)
        {
            try { return node is null ? throw new InvalidOperationException() : node.GetValue<T>(); }
            catch (Exception e) when (e is InvalidOperationException or FormatException)
            { throw new RunFailureException($"{folder}: {what} is missing or not a {typeof(T).Name}"); }
        }
        var published = summary["published"] ?? throw new RunFailureException($"{folder}/summary.json has no published figure");
        string metric = Need<string>(published["metric"], "published.metric");
        var pub = new Published(metric, Need<double>(published["value"], "published.value"), Need<string>(published["source"], "published.source"),
                                published["lower_is_better"]?.GetValue<bool>() ?? true, published["comparable"]?.GetValue<bool>() ?? true);
        double ours = summary[metric] is JsonNode n ? Need<double>(n, metric) : double.NaN;
        string project = config["project"]?.GetValue<string>() ?? $"papers/{Need<string>(config["paper"], "config.paper")}";
        var machine = config["machine"];
        string machineText = machine is null ? "unknown"
            : $"{machine["cpu"]}, {machine["logical_cores"]} cores, {machine["memory_gib"]} GiB";
        string started = config["started_utc"]?.GetValue<string>() ?? "";
        return new ResultRecord(Need<string>(summary["paper"], "paper"), project, Need<string>(summary["dataset"], "dataset"), metric, ours, pub,
            CommandOf(project, config["command_line"]?.GetValue<string>() ?? ""),
            summary["train_seconds"]?.GetValue<double>() ?? double.NaN, summary["wall_seconds"]?.GetValue<double?>(),
            config["threads"]?.GetValue<int>() ?? 0, started.Length >= 10 ? started[..10] : started, machineText,
            Path.GetFileName(Path.GetFullPath(folder).TrimEnd(Path.DirectorySeparatorChar)), summary, config["hyperparameters"] as JsonObject ?? new JsonObject());
    }

    /// <summary>
    /// The record with <paramref name="metric"/> of the run's summary as our figure, for a paper whose published
    /// figure is not one the run can measure (DDPM: the paper's CIFAR-10 Inception FID, ours a Fréchet distance
    /// on LeNet-5 features); such a row stays "not comparable" unless the published figure says it is.
    /// </summary>
    /// <exception cref="UsageException">The summary has no number named <paramref name="metric"/>; the message lists those it has.</exception>
    public ResultRecord WithMetric(string metric)
    {
        static bool Number(JsonNode? node, out double value)
        {
            value = double.NaN;
            return node is JsonValue v && v.GetValueKind() == JsonValueKind.Number
                && double.TryParse(v.ToJsonString(), NumberStyles.Float, CultureInfo.InvariantCulture, out value);
        }
        if (Number(Summary[metric], out double ours)) return this with { Metric = metric, Ours = ours };
        var numbers = Summary.Where(p => Number(p.Value, out _)).Select(p => p.Key);
        throw new UsageException($"{Run}/summary.json has no number '{metric}'; --metric takes one of: {string.Join(", ", numbers)}");
    }

    /// <summary>"dotnet run --project papers/LeNet5 -c Release -- --dataset fashion-mnist", leaving out --out and --data (this machine's folders) with their values.</summary>
    public static string CommandOf(string project, string commandLine)
    {
        var args = commandLine.Split(' ', StringSplitOptions.RemoveEmptyEntries).ToList();
        for (int i = 0; i < args.Count; i++)
            if (args[i] is "--out" or "--data") { args.RemoveRange(i, Math.Min(2, args.Count - i)); i--; }   // where, not what
        return $"dotnet run --project {project} -c Release" + (args.Count > 0 ? " -- " + string.Join(' ', args) : "");
    }

    /// <summary>Reads a record written by <see cref="Save"/>.</summary>
    /// <exception cref="RunFailureException">Not a result record.</exception>
    public static ResultRecord Load(string path)
    {
        try { return JsonSerializer.Deserialize<ResultRecord>(File.ReadAllText(path), RunFolder.SnakeCase) ?? throw new JsonException("empty"); }
        catch (JsonException e) { throw new RunFailureException($"{path} is not a result record: {e.Message}", e); }
    }

    /// <summary>Writes the record as indented JSON (atomically).</summary>
    public void Save(string path) => AtomicFile.WriteAllText(path, JsonSerializer.Serialize(this, RunFolder.SnakeCase) + "\n");
}

/// <summary>The results table of the README, built from result records with Microsoft.Data.Analysis.</summary>
public static class ResultsTable
{
    /// <summary>The marker lines between which README files carry the generated table.</summary>
    public const string Begin = "<!-- results:begin (generated by `dotnet run --project tools/Results -- readme`; do not edit) -->",
                        End = "<!-- results:end -->";

    static readonly string[] Columns = { "paper", "dataset", "metric", "ours", "published", "command", "train time", "threads", "date", "machine" };

    /// <summary>The records as a DataFrame, one row per result, sorted by paper then dataset.</summary>
    public static DataFrame Frame(IEnumerable<ResultRecord> records)
    {
        var list = records.OrderBy(r => r.Project, StringComparer.Ordinal).ThenBy(r => r.Dataset, StringComparer.Ordinal).ThenBy(r => r.Command, StringComparer.Ordinal).ToList();
        var frame = new DataFrame(
            new StringDataFrameColumn("paper", list.Select(r => r.Paper)),
            new StringDataFrameColumn("dataset", list.Select(r => r.Dataset)),
            new StringDataFrameColumn("metric", list.Select(r => r.Metric)),
            new DoubleDataFrameColumn("ours", list.Select(r => (double?)r.Ours)),
            new DoubleDataFrameColumn("published", list.Select(r => (double?)r.Published.Value)),
            new StringDataFrameColumn("source", list.Select(r => r.Published.Source)),
            new BooleanDataFrameColumn("comparable", list.Select(r => (bool?)r.Published.Comparable)),
            new BooleanDataFrameColumn("lower_is_better", list.Select(r => (bool?)r.Published.LowerIsBetter)),
            new StringDataFrameColumn("command", list.Select(r => r.Command)),
            new DoubleDataFrameColumn("train_seconds", list.Select(r => (double?)r.TrainSeconds)),
            new Int32DataFrameColumn("threads", list.Select(r => (int?)r.Threads)),
            new StringDataFrameColumn("date", list.Select(r => r.DateUtc)),
            new StringDataFrameColumn("machine", list.Select(r => r.Note is { Length: > 0 } note ? $"{r.Machine}; {note}" : r.Machine)));
        return frame;
    }

    /// <summary>The Markdown table (header, separator, one row per record).</summary>
    public static string Markdown(IEnumerable<ResultRecord> records)
    {
        var f = Frame(records);
        var sb = new StringBuilder();
        sb.Append("| ").Append(string.Join(" | ", Columns)).Append(" |\n");
        sb.Append('|').Append(string.Concat(Columns.Select(_ => "---|"))).Append('\n');
        for (long i = 0; i < f.Rows.Count; i++)
        {
            var row = f.Rows[i];
            string metric = (string)row["metric"];
            double ours = (double)row["ours"], published = (double)row["published"];
            bool comparable = (bool)row["comparable"], lower = (bool)row["lower_is_better"];
            bool better = comparable && (lower ? ours <= published : ours >= published);
            string oursText = Format(metric, ours);
            string publishedText = $"{Format(metric, published)} ({(string)row["source"]})" + (comparable ? "" : " — not comparable");
            double seconds = (double)row["train_seconds"];
            sb.Append("| ").Append(string.Join(" | ", new[]
            {
                (string)row["paper"], (string)row["dataset"], metric.Replace('_', ' '), better ? $"**{oursText}**" : oursText, publishedText,
                $"`{(string)row["command"]}`", Duration(seconds), ((int)row["threads"]).ToString(CultureInfo.InvariantCulture),
                (string)row["date"], (string)row["machine"],
            }.Select(c => c.Replace("|", "\\|")))).Append(" |\n");
        }
        return sb.ToString();
    }

    /// <summary>0.0073 as "0.73%" for errors and accuracies; other figures with four decimals (two above 100).</summary>
    public static string Format(string metric, double value)
    {
        if (double.IsNaN(value)) return "—";
        if (metric.EndsWith("error") || metric.EndsWith("accuracy")) return (value * 100).ToString("F2", CultureInfo.InvariantCulture) + "%";
        return value.ToString(Math.Abs(value) >= 100 ? "F2" : "F4", CultureInfo.InvariantCulture);
    }

    /// <summary>108 → "1 min 48 s"; 1435 → "23 min 55 s"; NaN → "—".</summary>
    public static string Duration(double seconds)
    {
        if (!double.IsFinite(seconds)) return "—";
        var t = TimeSpan.FromSeconds(Math.Round(seconds));
        return t.TotalHours >= 1 ? $"{(int)t.TotalHours} h {t.Minutes} min" : t.TotalMinutes >= 1 ? $"{t.Minutes} min {t.Seconds} s" : $"{t.Seconds} s";
    }

    /// <summary>
    /// <paramref name="text"/> with the part between <see cref="Begin"/> and <see cref="End"/> replaced by
    /// <paramref name="table"/>; unchanged when the markers are absent.
    /// </summary>
    public static string Splice(string text, string table)
    {
        int b = text.IndexOf(Begin, StringComparison.Ordinal), e = text.IndexOf(End, StringComparison.Ordinal);
        if (b < 0 || e < b) return text;
        return text[..(b + Begin.Length)] + "\n" + table + text[e..];
    }

    /// <summary>Every result record of a repository: papers/*/results/*.json.</summary>
    public static IReadOnlyList<(string Path, ResultRecord Record)> All(string repository) =>
        Directory.Exists(Path.Combine(repository, "papers"))
            ? Directory.EnumerateDirectories(Path.Combine(repository, "papers"))
                .SelectMany(p => Directory.Exists(Path.Combine(p, "results")) ? Directory.EnumerateFiles(Path.Combine(p, "results"), "*.json") : [])
                .Order(StringComparer.Ordinal).Select(p => (p, ResultRecord.Load(p))).ToList()
            : [];
}
