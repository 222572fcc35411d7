// The results table of the READMEs, built from runs, never copied by hand.
//
//   dotnet run --project tools/Results -- add runs/lenet5/20261203-101500 [--name mnist] [--note "under load"] [--metric fd_lenet]
//       records a finished run as papers/<Paper>/results/<name>.json (summary, settings, command, machine)
//   dotnet run --project tools/Results -- table [RUN or RECORD ...]
//       prints the Markdown rows (of the given runs or records; default: every recorded result)
//   dotnet run --project tools/Results -- readme [--check]
//       rewrites the generated table of README.md and of each papers/<Paper>/README.md; --check only
//       says whether they are up to date (exit 1 if not)
//   dotnet run --project tools/Results -- runs [--root DIR]
//       writes runs/index.html: every run under the runs root (paper, dataset, key metric, date, report) and
//       the curves of metrics.csv of each paper's runs overlaid, to tick and compare

using System.CommandLine;
using PaperLab.Runs;

var root = new RootCommand("The README results table, built from run folders (summary.json + config.json).");
var add = new Command("add", "record finished run folders as papers/<Paper>/results/<name>.json");
var runs = new Argument<string[]>("runs") { Description = "run folders", Arity = ArgumentArity.OneOrMore };
var name = new Option<string?>("--name") { Description = "file name of the record (default: the dataset, plus the preset if any)" };
var metric = new Option<string?>("--metric") { Description = "the summary figure to report as ours (default: the published figure's metric; for a paper whose published figure the run cannot measure, e.g. DDPM: fd_lenet)" };
var note = new Option<string?>("--note") { Description = "what a reader must know about the measurement, e.g. \"under load\" (shown in the table)" };
add.Arguments.Add(runs);
add.Options.Add(name);
add.Options.Add(metric);
add.Options.Add(note);
var table = new Command("table", "print the Markdown rows");
var sources = new Argument<string[]>("sources") { Description = "run folders or result records (default: every recorded result)", Arity = ArgumentArity.ZeroOrMore };
table.Arguments.Add(sources);
var readme = new Command("readme", "rewrite the generated tables of README.md and papers/*/README.md");
var check = new Option<bool>("--check") { Description = "only check that they are up to date (exit 1 if not)" };
readme.Options.Add(check);
var runsIndex = new Command("runs", "write runs/index.html: every run, and their curves overlaid to compare");
var runsRoot = new Option<string?>("--root") { Description = "the runs folder (default: runs/ of the repository, or PAPERLAB_RUNS)" };
runsIndex.Options.Add(runsRoot);
root.Subcommands.Add(add);
root.Subcommands.Add(runsIndex);
root.Subcommands.Add(table);
root.Subcommands.Add(readme);

string repo = Repository.Root() ?? Directory.GetCurrentDirectory();

add.SetAction(r => GuardVoid(() =>
{
    foreach (var run in r.GetValue(runs)!)
    {
        var record = ResultRecord.FromRun(run) with { Note = r.GetValue(note) };
        if (r.GetValue(metric) is { } m) record = record.WithMetric(m);
        else if (double.IsNaN(record.Ours))
            throw new UsageException($"{run}/summary.json has no '{record.Metric}', the published figure's metric; say which figure is ours with --metric");
        string preset = record.Summary["preset"]?.GetValue<string>() is { } p && p != "cpu" ? "-" + p : "";
        string file = (r.GetValue(name) ?? Slug(record.Dataset) + preset) + ".json";
        string path = Path.Combine(repo, record.Project, "results", file);
        record.Save(path);
        Console.WriteLine($"{Path.GetRelativePath(repo, path)}: {record.Paper}, {record.Dataset}, {record.Metric} {ResultsTable.Format(record.Metric, record.Ours)}");
    }
}));

table.SetAction(r => GuardVoid(() =>
{
    var given = r.GetValue(sources) ?? [];
    var records = given.Length == 0
        ? ResultsTable.All(repo).Select(x => x.Record)
        : given.Select(s => Directory.Exists(s) ? ResultRecord.FromRun(s) : ResultRecord.Load(s));
    Console.Write(ResultsTable.Markdown(records));
}));

readme.SetAction(r => Guard(() =>
{
    var all = ResultsTable.All(repo).Select(x => x.Record).ToList();
    var files = new List<(string Path, IEnumerable<ResultRecord> Records)> { (Path.Combine(repo, "README.md"), all) };
    foreach (var project in all.Select(x => x.Project).Distinct())
        files.Add((Path.Combine(repo, project, "README.md"), all.Where(x => x.Project == project)));
    bool stale = false;
    foreach (var (path, records) in files)
    {
        if (!File.Exists(path)) continue;
        string text = File.ReadAllText(path);
        string updated = ResultsTable.Splice(text, ResultsTable.Markdown(records));
        if (updated == text) continue;
        stale = true;
        if (r.GetValue(check)) Console.Error.WriteLine($"{Path.GetRelativePath(repo, path)}: the results table is out of date; run `dotnet run --project tools/Results -- readme`");
        else { AtomicFile.WriteAllText(path, updated); Console.WriteLine($"updated {Path.GetRelativePath(repo, path)}"); }
    }
    return r.GetValue(check) && stale ? 1 : 0;
}));

runsIndex.SetAction(r => Guard(() =>
{
    string folder = Path.GetFullPath(r.GetValue(runsRoot) ?? RunFolder.RunsRoot());
    if (!Directory.Exists(folder))
    {
        Console.Error.WriteLine($"error: {folder} does not exist: no run has been made yet (e.g. `dotnet run --project papers/LeNet5 -c Release -- --smoke`)");
        return 1;
    }
    var skipped = new List<string>();
    string page = PaperLab.Reporting.RunsIndex.WriteIndex(folder, skipped);
    foreach (string s in skipped) Console.Error.WriteLine($"skipped {s}");
    Console.WriteLine(page);
    return 0;
}));

var parsed = root.Parse(args);
if (parsed.Errors.Count > 0)   // a usage error: exit 2, as every program here
{
    foreach (var error in parsed.Errors) Console.Error.WriteLine($"error: {error.Message}");
    return ExitCodes.UsageError;
}
return parsed.Invoke();

static int Guard(Func<int> action)
{
    try { return action(); }
    catch (Exception e) when (e is IFailureMessage failure)
    {
        Console.Error.WriteLine($"error: {e.Message}");
        return failure.ExitCode;   // 2 for a usage error, 1 for a runtime failure
    }
}

static int GuardVoid(Action action) => Guard(() => { action(); return 0; });

static string Slug(string text) => new string(text.ToLowerInvariant().Select(c => char.IsAsciiLetterOrDigit(c) ? c : '-').ToArray()).Trim('-').Split('-', StringSplitOptions.RemoveEmptyEntries) is var parts ? string.Join('-', parts.Take(4)) : text;
