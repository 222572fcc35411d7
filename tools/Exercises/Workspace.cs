// The learner's workspace: a copy of the repository's tracked files with one paper's exercises blanked,
// and the dotnet build / dotnet test runs that check them.

using System.Diagnostics;
using System.Text.Json;
using System.Xml.Linq;
using PaperLab.Runs;

namespace PaperLab.Tools.Exercises;

/// <summary>What a workspace remembers about itself (.exercises/workspace.json).</summary>
public sealed class WorkspaceState
{
    /// <summary>The paper whose exercises are blanked.</summary>
    public string Paper { get; set; } = "";
    /// <summary>The repository it was copied from.</summary>
    public string Source { get; set; } = "";
    /// <summary>The reference code of each blanked exercise, by id (what <c>solution</c> prints).</summary>
    public Dictionary<string, string> References { get; set; } = [];
}

/// <summary>Creating workspaces and finding the one the current directory is in.</summary>
public static class Workspace
{
    /// <summary>The workspace's own folder, holding its state and test results.</summary>
    public const string StateFolder = ".exercises";
    /// <summary>The test project every check runs.</summary>
    public const string TestProject = "tests/PaperLab.Tests/PaperLab.Tests.csproj";

    /// <summary>The workspace containing <paramref name="dir"/>, or null.</summary>
    public static (string Root, WorkspaceState State)? Find(string dir)
    {
        for (var d = new DirectoryInfo(dir); d is not null; d = d.Parent)
        {
            string file = Path.Combine(d.FullName, StateFolder, "workspace.json");
            if (!File.Exists(file)) continue;
            var state = FileAccessFailure.Guard(file, "the workspace state", false, () => JsonSerializer.Deserialize<WorkspaceState>(File.ReadAllText(file)))
                        ?? throw new RunFailureException($"{file} is empty; start the workspace again");
            return (d.FullName, state);
        }
        return null;
    }

    /// <summary>The repository's tracked files (git ls-files), relative with '/' separators.</summary>
    /// <exception cref="RunFailureException">git is missing or <paramref name="repo"/> is not a git checkout.</exception>
    public static IReadOnlyList<string> TrackedFiles(string repo)
    {
        var (code, output) = Processes.Capture("git", ["-C", repo, "ls-files", "-z"], repo);
        if (code != 0) throw new RunFailureException($"cannot list the repository's files with 'git ls-files' in {repo}: {output.Trim()}; the exercise tool copies a git checkout");
        return output.Split('\0', StringSplitOptions.RemoveEmptyEntries);
    }

    /// <summary>The C# files and exercise lists under papers/ and shared/ of a workspace (it need not be a git checkout).</summary>
    public static IReadOnlyList<string> SourceFiles(string root) =>
        new[] { "papers", "shared" }
            .Select(top => Path.Combine(root, top))
            .Where(Directory.Exists)
            .SelectMany(top => Directory.EnumerateFiles(top, "*", SearchOption.AllDirectories))
            .Select(f => Path.GetRelativePath(root, f).Replace('\\', '/'))
            .Where(f => !f.Split('/').Any(part => part is "bin" or "obj"))
            .Where(f => f.EndsWith(".cs") || f.EndsWith("/" + Catalog.ListFile))
            .ToList();

    /// <summary>
    /// Copies <paramref name="files"/> of <paramref name="repo"/> into the empty or new folder <paramref name="dir"/>
    /// and links the repository's data sets (data/ is not tracked) so that the tests find them.
    /// </summary>
    public static void Copy(string repo, IReadOnlyList<string> files, string dir)
    {
        foreach (var file in files)
        {
            string from = Path.Combine(repo, file), to = Path.Combine(dir, file);
            if (!File.Exists(from)) continue;   // deleted in the working tree
            FileAccessFailure.Guard(to, "the workspace file", true, () =>
            {
                Directory.CreateDirectory(Path.GetDirectoryName(to)!);
                File.Copy(from, to);
            });
        }
        string data = Path.Combine(repo, "data");
        if (!Directory.Exists(data)) return;
        Directory.CreateDirectory(Path.Combine(dir, "data"));
        foreach (var entry in Directory.EnumerateFileSystemEntries(data))
        {
            string to = Path.Combine(dir, "data", Path.GetFileName(entry));
            if (File.Exists(to) || Directory.Exists(to)) continue;
            var info = new FileInfo(entry);
            string target = info.LinkTarget is { } link ? Path.GetFullPath(link, data) : entry;
            if (Directory.Exists(target)) Directory.CreateSymbolicLink(to, target);
        }
    }

    /// <summary>Rewrites the marked regions of <paramref name="exercises"/> in the copy at <paramref name="dir"/>.</summary>
    public static void Rewrite(string dir, IEnumerable<Exercise> exercises, Markers.Rewrite how)
    {
        foreach (var group in exercises.GroupBy(e => e.Region.File))
        {
            string path = Path.Combine(dir, group.Key);
            string text = File.ReadAllText(path);
            string rewritten = Markers.Apply(text, group.Key, group.Select(e => e.Id).ToHashSet(), how);
            AtomicFile.WriteAllText(path, rewritten);
        }
    }

    /// <summary>Checks that <paramref name="dir"/> can become a workspace: outside the repository, and new or empty.</summary>
    /// <exception cref="UsageException">It is inside the repository or holds files.</exception>
    public static string Prepare(string repo, string dir)
    {
        string full = Path.GetFullPath(dir);
        string repoFull = Path.GetFullPath(repo).TrimEnd(Path.DirectorySeparatorChar) + Path.DirectorySeparatorChar;
        if ((full + Path.DirectorySeparatorChar).StartsWith(repoFull, StringComparison.Ordinal))
            throw new UsageException($"--dir {dir} is inside the repository; a workspace must be a folder of its own, e.g. --dir {Path.Combine(Path.GetDirectoryName(repoFull.TrimEnd(Path.DirectorySeparatorChar))!, "paperlab-exercises")}");
        if (File.Exists(full) || (Directory.Exists(full) && Directory.EnumerateFileSystemEntries(full).Any()))
            throw new UsageException($"--dir {dir} already exists and is not empty; choose a new folder or delete that one");
        return full;
    }
}

/// <summary>Runs dotnet build and dotnet test in a workspace.</summary>
public static class Dotnet
{
    /// <summary>The test assembly that build produces.</summary>
    public const string TestAssembly = "tests/PaperLab.Tests/bin/Release/net10.0/PaperLab.Tests.dll";

    /// <summary>Builds the test project (and so every paper) in Release; returns the compiler errors, none when it built.</summary>
    public static IReadOnlyList<string> Build(string root)
    {
        var (code, output) = Processes.Capture("dotnet", ["build", Workspace.TestProject, "-c", "Release", "-nologo", "-v", "q", "-clp:ErrorsOnly"], root);
        if (code == 0) return [];
        var errors = output.Split('\n').Select(l => l.Trim()).Where(l => l.Contains(": error ")).Distinct()
                           .Select(l => l.Replace(root + Path.DirectorySeparatorChar, "")).ToList();
        return errors.Count > 0 ? errors : [output.Trim()];
    }

    /// <summary>One test's result: its display name, whether it passed, and the first lines of its failure message.</summary>
    public sealed record TestResult(string Name, string Outcome, string Message)
    {
        /// <summary>Passed.</summary>
        public bool Passed => Outcome == "Passed";
    }

    /// <summary>
    /// Runs the tests selected by <paramref name="filter"/> (already built) and reads their results from a TRX file.
    /// </summary>
    /// <param name="root">The workspace.</param>
    /// <param name="filter">A dotnet test --filter expression.</param>
    /// <param name="environment">Extra environment variables of the test process.</param>
    /// <exception cref="RunFailureException">dotnet test did not produce results (e.g. the build is missing).</exception>
    public static IReadOnlyList<TestResult> Test(string root, string filter, IReadOnlyDictionary<string, string>? environment = null)
    {
        string results = Path.Combine(root, Workspace.StateFolder, "results");
        string name = $"check-{Environment.ProcessId}-{Guid.NewGuid():N}.trx";
        string trx = Path.Combine(results, name);
        // the built assembly, not the project: no MSBuild evaluation per run
        string assembly = Path.Combine(root, TestAssembly);
        if (!File.Exists(assembly)) throw new RunFailureException($"{TestAssembly} is missing: build the workspace first (check builds it)");
        var (code, output) = Processes.Capture("dotnet",
            ["test", assembly, "--filter", filter, "--logger", $"trx;LogFileName={name}", "--results-directory", results], root, environment);
        if (!File.Exists(trx))
        {
            if (output.Contains("No test matches the given testcase filter")) return [];
            throw new RunFailureException($"dotnet test gave no results (exit {code}): {Last(output, 5)}");
        }
        XNamespace ns = "http://microsoft.com/schemas/VisualStudio/TeamTest/2010";
        var doc = XDocument.Load(trx);
        File.Delete(trx);
        return doc.Descendants(ns + "UnitTestResult")
            .Select(r => new TestResult(
                (string?)r.Attribute("testName") ?? "",
                (string?)r.Attribute("outcome") ?? "",
                Last(r.Descendants(ns + "Message").FirstOrDefault()?.Value ?? "", 0)))
            .OrderBy(r => r.Name, StringComparer.Ordinal)
            .ToList();
    }

    static string Last(string text, int lines)
    {
        var all = text.Split('\n').Select(l => l.TrimEnd()).Where(l => l.Length > 0).ToArray();
        return string.Join("\n", lines == 0 ? all : all.TakeLast(lines));
    }
}

/// <summary>Starting child processes and collecting their output.</summary>
public static class Processes
{
    /// <summary>Runs <paramref name="file"/> and returns its exit code and its stdout and stderr together.</summary>
    /// <exception cref="RunFailureException">The program cannot be started.</exception>
    public static (int ExitCode, string Output) Capture(string file, IEnumerable<string> args, string directory,
                                                       IReadOnlyDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo(file)
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in args) start.ArgumentList.Add(a);
        // the tool itself runs under `dotnet run`, whose MSBuild variables must not leak into the child builds
        foreach (var key in new[] { "MSBuildExtensionsPath", "MSBuildSDKsPath", "MSBUILD_EXE_PATH" }) start.Environment.Remove(key);
        if (environment is not null) foreach (var (k, v) in environment) start.Environment[k] = v;
        Process process;
        try { process = Process.Start(start) ?? throw new RunFailureException($"cannot start {file}"); }
        catch (System.ComponentModel.Win32Exception e) { throw new RunFailureException($"cannot start {file}: {e.Message}; is it installed and on PATH?", e); }
        using (process)
        {
            var output = new System.Text.StringBuilder();
            process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
            process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            process.WaitForExit();
            return (process.ExitCode, output.ToString());
        }
    }
}
