// Implement it yourself: a paper's key pieces blanked in a workspace of your own, its tests as the teacher.
//
//   dotnet run --project tools/Exercises -- start LeNet5 [--dir DIR]
//       copies the repository's tracked files to DIR (default: ../paperlab-lenet5 beside the repository),
//       replaces each marked piece of LeNet5 by `throw new NotImplementedException("<exercise>: <hint>")`,
//       builds, and lists the exercises
//   dotnet run --project tools/Exercises -- check [EXERCISE]      (inside the workspace)
//       builds, runs the tests of each exercise (or one) and says which pass; exit 1 while any fails
//   dotnet run --project tools/Exercises -- solution EXERCISE
//       prints the reference code
//   dotnet run --project tools/Exercises -- list
//       the exercises (of the workspace's paper, or of every paper)
//   dotnet run --project tools/Exercises -- verify [PAPER ...]    (CI)
//       checks that every exercise's tests fail on its blank and that every blank compiles
//
// Usage errors exit 2, runtime failures 1, each with one line naming the cause.

using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using PaperLab.Runs;
using PaperLab.Tools.Exercises;

var root = new RootCommand("Implement a paper's key pieces yourself: blanked in a workspace of your own, checked by the paper's tests.");

var start = new Command("start", "make a workspace with the paper's exercises blanked, build it, list the exercises");
var paperArgument = new Argument<string>("paper") { Description = "the paper's folder under papers/, e.g. LeNet5" };
var dirOption = new Option<string?>("--dir") { Description = "the workspace folder, new or empty and outside the repository (default: ../paperlab-<paper> beside the repository)" };
var noBuild = new Option<bool>("--no-build") { Description = "do not build the workspace (check builds it later)" };
start.Arguments.Add(paperArgument);
start.Options.Add(dirOption);
start.Options.Add(noBuild);

var check = new Command("check", "inside a workspace: build, run each exercise's tests, say which exercises pass (exit 1 while any fails)");
var exerciseOptional = new Argument<string?>("exercise") { Description = "only this exercise (default: all of the workspace's paper)", Arity = ArgumentArity.ZeroOrOne };
check.Arguments.Add(exerciseOptional);

var solution = new Command("solution", "print the reference code of an exercise");
var exerciseArgument = new Argument<string>("exercise") { Description = "the exercise id, e.g. lenet5-forward" };
solution.Arguments.Add(exerciseArgument);

var list = new Command("list", "list the exercises: the workspace's paper's inside a workspace, every paper's elsewhere");

var verify = new Command("verify", "for CI: every exercise's tests fail on its blank, and every blank compiles (one build per run, not per exercise)");
var papersArgument = new Argument<string[]>("papers") { Description = "papers to verify (default: every paper with exercises)", Arity = ArgumentArity.ZeroOrMore };
var verifyDir = new Option<string?>("--dir") { Description = "the scratch workspace (default: a new temporary folder, deleted afterwards)" };
var keep = new Option<bool>("--keep") { Description = "keep the scratch workspace" };
verify.Arguments.Add(papersArgument);
verify.Options.Add(verifyDir);
verify.Options.Add(keep);

foreach (var c in new[] { start, check, solution, list, verify }) root.Subcommands.Add(c);

start.SetAction(r => Guard(() => Start(r.GetValue(paperArgument)!, r.GetValue(dirOption), !r.GetValue(noBuild))));
check.SetAction(r => Guard(() => Check(r.GetValue(exerciseOptional))));
solution.SetAction(r => Guard(() => Solution(r.GetValue(exerciseArgument)!)));
list.SetAction(r => Guard(List));
verify.SetAction(r => Guard(() => Verify(r.GetValue(papersArgument) ?? [], r.GetValue(verifyDir), r.GetValue(keep))));

var parsed = root.Parse(args);
if (parsed.Errors.Count > 0)
{
    foreach (var e in parsed.Errors) Console.Error.WriteLine($"error: {e.Message}");
    Console.Error.WriteLine("usage: dotnet run --project tools/Exercises -- start <Paper> [--dir DIR] | check [exercise] | solution <exercise> | list | verify   (--help for more)");
    return ExitCodes.UsageError;
}
return parsed.Invoke();

// ---- commands -------------------------------------------------------------------------------------------------

static int Start(string paperName, string? dir, bool build)
{
    string repo = RepositoryRoot();
    var files = Workspace.TrackedFiles(repo);
    var all = Catalog.Load(repo, files);
    string paper = ResolvePaper(all, paperName);
    var exercises = all.Where(e => e.Paper == paper).ToList();
    dir ??= Path.Combine(Path.GetDirectoryName(repo.TrimEnd(Path.DirectorySeparatorChar))!, "paperlab-" + paper.ToLowerInvariant());
    string target = Workspace.Prepare(repo, dir);

    Console.WriteLine($"copying the repository's {files.Count} tracked files to {target}");
    Workspace.Copy(repo, files, target);
    Workspace.Rewrite(target, exercises, Markers.Rewrite.Blank);
    var state = new WorkspaceState { Paper = paper, Source = repo, References = exercises.ToDictionary(e => e.Id, e => e.Region.Reference) };
    string stateFile = Path.Combine(target, Workspace.StateFolder, "workspace.json");
    Directory.CreateDirectory(Path.GetDirectoryName(stateFile)!);
    AtomicFile.WriteAllText(stateFile, JsonSerializer.Serialize(state, new JsonSerializerOptions { WriteIndented = true }));

    if (build)
    {
        Console.WriteLine("building the workspace in Release (the first build takes a few minutes) …");
        var errors = Dotnet.Build(target);
        if (errors.Count > 0) throw new RunFailureException($"the new workspace does not build:\n  {string.Join("\n  ", errors.Take(10))}");
    }
    Console.WriteLine();
    Console.WriteLine($"{paper}: {exercises.Count} exercise{(exercises.Count == 1 ? "" : "s")}, each replaced by a throw in {target}:");
    PrintList(exercises);
    Console.WriteLine();
    Console.WriteLine($"next: cd {target}");
    Console.WriteLine($"      write exercise 1 at {exercises[0].Location}, then");
    Console.WriteLine($"      dotnet run --project tools/Exercises -- check {exercises[0].Id}");
    Console.WriteLine($"      (solution {exercises[0].Id} shows the reference; when every exercise passes, dotnet run --project papers/{paper} -c Release trains it)");
    return 0;
}

static int Check(string? only)
{
    var (root, state, exercises) = InWorkspace("check");
    if (only is not null)
    {
        exercises = exercises.Where(e => e.Id == only).ToList();
        if (exercises.Count == 0) throw new UsageException($"no exercise '{only}' in this workspace; its exercises: {string.Join(", ", state.References.Keys)}");
    }
    Console.WriteLine("building …");
    var errors = Dotnet.Build(root);
    if (errors.Count > 0)
    {
        Console.Error.WriteLine("the workspace does not compile:");
        foreach (var e in errors.Take(15)) Console.Error.WriteLine("  " + e);
        return ExitCodes.RuntimeFailure;
    }
    Console.WriteLine($"running the tests of {(only ?? $"{exercises.Count} exercises")} …");
    var results = Dotnet.Test(root, Catalog.Filter(exercises));
    int passed = 0;
    foreach (var (exercise, i) in exercises.Select((e, i) => (e, i)))
    {
        var mine = results.Where(r => Catalog.Covers(exercise, r.Name)).ToList();
        bool blank = mine.Any(r => r.Message.Contains("NotImplementedException") && r.Message.Contains($"{exercise.Id}: "));
        bool ok = mine.Count > 0 && mine.All(r => r.Passed);
        if (ok) passed++;
        string status = ok ? "pass" : mine.Count == 0 ? "NO TESTS" : blank ? "todo" : "FAIL";
        Console.WriteLine($"{status,-8} {exercise.Id,-26} {mine.Count(r => r.Passed)}/{mine.Count} tests   {exercise.Location}");
        if (ok || blank) continue;
        foreach (var r in mine.Where(r => !r.Passed))
        {
            Console.WriteLine($"           ✗ {ShortName(r.Name)}");
            foreach (var line in r.Message.Split('\n').Take(6)) Console.WriteLine($"             {line}");
        }
    }
    Console.WriteLine($"{passed} of {exercises.Count} exercise{(exercises.Count == 1 ? "" : "s")} pass");
    if (passed == exercises.Count && only is null)
        Console.WriteLine($"every exercise of {state.Paper} passes: dotnet run --project papers/{state.Paper} -c Release trains your version");
    return passed == exercises.Count ? 0 : ExitCodes.RuntimeFailure;
}

static int Solution(string id)
{
    var here = Workspace.Find(Directory.GetCurrentDirectory());
    if (here is { } ws && ws.State.References.TryGetValue(id, out var reference))
    {
        var exercise = Catalog.Load(ws.Root, Workspace.SourceFiles(ws.Root)).FirstOrDefault(e => e.Id == id);
        Console.WriteLine($"// {exercise?.Location ?? id}: the reference, to put between the markers");
        Console.WriteLine(Markers.Dedent(reference));
        return 0;
    }
    string repo = RepositoryRoot();
    var all = Catalog.Load(repo, Workspace.TrackedFiles(repo));
    var found = all.FirstOrDefault(e => e.Id == id)
                ?? throw new UsageException($"no exercise '{id}'; the exercises: {string.Join(", ", all.Select(e => e.Id))}");
    Console.WriteLine($"// {found.Location}: the reference, to put between the markers");
    Console.WriteLine(Markers.Dedent(found.Region.Reference));
    return 0;
}

static int List()
{
    var here = Workspace.Find(Directory.GetCurrentDirectory());
    if (here is { } ws)
    {
        var mine = Catalog.Load(ws.Root, Workspace.SourceFiles(ws.Root)).Where(e => e.Paper == ws.State.Paper).ToList();
        Console.WriteLine($"{ws.State.Paper} (workspace {ws.Root}):");
        PrintList(mine);
        return 0;
    }
    string repo = RepositoryRoot();
    foreach (var group in Catalog.Load(repo, Workspace.TrackedFiles(repo)).GroupBy(e => e.Paper))
    {
        Console.WriteLine($"{group.Key}:");
        PrintList(group.ToList());
    }
    return 0;
}

static int Verify(string[] papers, string? dir, bool keepDir)
{
    var clock = Stopwatch.StartNew();
    string repo = RepositoryRoot();
    var files = Workspace.TrackedFiles(repo);
    var all = Catalog.Load(repo, files);
    var chosen = papers.Length == 0 ? all.Select(e => e.Paper).Distinct().ToList() : papers.Select(p => ResolvePaper(all, p)).Distinct().ToList();
    var exercises = all.Where(e => chosen.Contains(e.Paper)).ToList();
    string target = dir is null
        ? Path.Combine(Path.GetTempPath(), $"paperlab-verify-{Guid.NewGuid():N}")
        : Workspace.Prepare(repo, dir);
    if (dir is not null) target = Path.GetFullPath(dir);
    var problems = new List<string>();
    try
    {
        Console.WriteLine($"verify: {exercises.Count} exercises of {string.Join(", ", chosen)}; scratch workspace {target}");
        Workspace.Copy(repo, files, target);
        // one build in which every region throws when PAPERLAB_EXERCISE_BLANK names it and is the reference otherwise
        Workspace.Rewrite(target, exercises, Markers.Rewrite.Guard);
        var built = Stopwatch.StartNew();
        var errors = Dotnet.Build(target);
        if (errors.Count > 0) throw new RunFailureException($"the guarded workspace does not build:\n  {string.Join("\n  ", errors.Take(10))}");
        Console.WriteLine($"verify: built in {built.Elapsed.TotalSeconds:F0} s");
        foreach (var exercise in exercises)
        {
            var t = Stopwatch.StartNew();
            var results = Dotnet.Test(target, Catalog.Filter([exercise]), new Dictionary<string, string> { [Markers.BlankVariable] = exercise.Id })
                                .Where(r => Catalog.Covers(exercise, r.Name)).ToList();
            var passing = results.Where(r => r.Outcome != "Failed").ToList();
            string verdict;
            if (results.Count == 0) { verdict = "NO TESTS"; problems.Add($"{exercise.Id}: its tests ({string.Join(", ", exercise.Tests)}) match no test"); }
            else if (passing.Count > 0) { verdict = "PASSES ON BLANK"; problems.Add($"{exercise.Id}: {string.Join(", ", passing.Select(r => ShortName(r.Name)))} do not fail on the blank"); }
            else verdict = "ok";
            var unmatched = exercise.Tests.Where(s => !results.Any(r => r.Name.Contains(s, StringComparison.Ordinal))).ToList();
            if (unmatched.Count > 0 && results.Count > 0) problems.Add($"{exercise.Id}: no test matches {string.Join(", ", unmatched)}");
            Console.WriteLine($"{verdict,-8} {exercise.Id,-26} {results.Count} test(s) fail on the blank   {t.Elapsed.TotalSeconds,5:F1} s");
        }
        // the learner's blanks: all of them at once, rebuilt incrementally (only the rewritten method bodies change)
        foreach (var group in exercises.GroupBy(e => e.Region.File))
            File.Copy(Path.Combine(repo, group.Key), Path.Combine(target, group.Key), overwrite: true);
        Workspace.Rewrite(target, exercises, Markers.Rewrite.Blank);
        built.Restart();
        errors = Dotnet.Build(target);
        if (errors.Count > 0) problems.Add($"the blanks do not compile:\n  {string.Join("\n  ", errors.Take(10))}");
        else Console.WriteLine($"ok       every blank compiles (incremental build {built.Elapsed.TotalSeconds:F0} s)");
    }
    finally
    {
        if (!keepDir && Directory.Exists(target)) Directory.Delete(target, recursive: true);
    }
    Console.WriteLine($"verify: {exercises.Count - problems.Count(p => !p.StartsWith("the blanks"))} of {exercises.Count} exercises verified in {clock.Elapsed.TotalSeconds:F0} s");
    foreach (var p in problems) Console.Error.WriteLine($"error: {p}");
    return problems.Count == 0 ? 0 : ExitCodes.RuntimeFailure;
}

// ---- helpers --------------------------------------------------------------------------------------------------

static (string Root, WorkspaceState State, List<Exercise> Exercises) InWorkspace(string command)
{
    var found = Workspace.Find(Directory.GetCurrentDirectory())
                ?? throw new UsageException($"{command} runs inside a workspace: cd into one made by `dotnet run --project tools/Exercises -- start <Paper>`");
    var exercises = Catalog.Load(found.Root, Workspace.SourceFiles(found.Root)).Where(e => e.Paper == found.State.Paper).ToList();
    return (found.Root, found.State, exercises);
}

static string RepositoryRoot() =>
    Repository.Root() ?? throw new RunFailureException("cannot find the repository (a folder holding PaperLab.sln) above the tool or the current directory");

static string ResolvePaper(IReadOnlyList<Exercise> all, string name)
{
    var papers = all.Select(e => e.Paper).Distinct().ToList();
    return papers.FirstOrDefault(p => string.Equals(p, name, StringComparison.OrdinalIgnoreCase))
           ?? throw new UsageException($"no exercises for paper '{name}'; papers with exercises: {string.Join(", ", papers)}");
}

static void PrintList(IReadOnlyList<Exercise> exercises)
{
    foreach (var (e, i) in exercises.Select((e, i) => (e, i)))
    {
        Console.WriteLine($"  {i + 1}. {e.Id,-26} {e.Location}");
        Console.WriteLine($"     {e.Hint}");
    }
}

static string ShortName(string displayName) => displayName.StartsWith("PaperLab.Tests.") ? displayName["PaperLab.Tests.".Length..] : displayName;

static int Guard(Func<int> action)
{
    try { return action(); }
    catch (Exception e) when (e is IFailureMessage failure)
    {
        Console.Error.WriteLine($"error: {e.Message}");
        return failure.ExitCode;
    }
    catch (MarkerException e)
    {
        Console.Error.WriteLine($"error: {e.Message}");
        return ExitCodes.RuntimeFailure;
    }
    catch (Exception e) when (e is IOException or UnauthorizedAccessException)
    {
        Console.Error.WriteLine($"error: {e.Message}");
        return ExitCodes.RuntimeFailure;
    }
}
