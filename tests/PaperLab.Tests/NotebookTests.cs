using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Xunit;
using Xunit.Abstractions;

namespace PaperLab.Tests;

/// <summary>
/// Every notebook in notebooks/ runs top to bottom in the pinned Polyglot kernel (see NotebookRunner),
/// and is committed with its outputs stripped. The executed copies land in notebooks/executed/.
/// </summary>
[Collection(NotebookCollection.Name)]
public class NotebookTests(ITestOutputHelper output)
{
    /// <summary>Limit per notebook, kernel start-up included.</summary>
    static readonly TimeSpan Timeout = TimeSpan.FromMinutes(5);

    static string NotebooksDir => Path.Combine(NotebookRunner.RepoRoot(), "notebooks");

    /// <summary>File names of notebooks/*.ipynb.</summary>
    public static TheoryData<string> Notebooks()
    {
        var data = new TheoryData<string>();
        foreach (var path in Directory.EnumerateFiles(NotebooksDir, "*.ipynb").Order(StringComparer.Ordinal))
            data.Add(Path.GetFileName(path));
        return data;
    }

    [Theory]
    [MemberData(nameof(Notebooks))]
    public async Task Notebook_runs_without_errors(string notebook)
    {
        var path = Path.Combine(NotebooksDir, notebook);
        AssertReferencedAssembliesBuilt(path);

        var run = await NotebookRunner.RunAsync(path, Path.Combine(NotebooksDir, "executed", notebook), Timeout);

        output.WriteLine($"{notebook}: kernel start-up {run.KernelStartup.TotalSeconds:0.0} s, " +
                         $"total {run.Elapsed.TotalSeconds:0.0} s");
        foreach (var cell in run.Cells)
            output.WriteLine($"  cell {cell.Number,3} {(cell.Succeeded ? "ok  " : "FAIL")} " +
                             $"{cell.Elapsed.TotalSeconds,6:0.0} s  {cell.FirstLine}");
        Assert.True(run.Succeeded, run.FailureMessage);
    }

    [Theory]
    [MemberData(nameof(Notebooks))]
    public void Committed_notebook_has_no_outputs(string notebook)
    {
        var path = Path.Combine(NotebooksDir, notebook);
        var dirty = NotebookRunner.StoredResults(NotebookRunner.ReadNotebook(path));
        Assert.True(dirty.Count == 0,
            $"{path}: {string.Join("; ", dirty)}. Commit notebooks with outputs cleared " +
            "(VS Code: \"Clear All Outputs\", then save).");
    }

    /// <summary>
    /// The notebooks #r the Release build of the papers (bin/Release/net10.0, with libtorch beside
    /// TorchSharp.dll); a missing file fails here with the command that produces it.
    /// </summary>
    static void AssertReferencedAssembliesBuilt(string notebookPath)
    {
        var dir = Path.GetDirectoryName(notebookPath)!;
        var cells = (JsonArray)NotebookRunner.ReadNotebook(notebookPath)["cells"]!;
        var missing = new List<string>();
        foreach (var cell in cells)
        {
            if ((string?)cell!["cell_type"] != "code") continue;
            foreach (Match m in Regex.Matches(NotebookRunner.JoinSource(cell["source"]),
                         @"^\s*#r\s+""(?<path>[^""]+\.dll)""", RegexOptions.Multiline))
            {
                var full = Path.GetFullPath(Path.Combine(dir, m.Groups["path"].Value));
                if (!File.Exists(full)) missing.Add(full);
                else if (Path.GetFileName(full) == "TorchSharp.dll"
                         && !File.Exists(Path.Combine(Path.GetDirectoryName(full)!, "libLibTorchSharp.so"))
                         && OperatingSystem.IsLinux())
                    missing.Add(Path.Combine(Path.GetDirectoryName(full)!, "libLibTorchSharp.so"));
            }
        }
        Assert.True(missing.Count == 0,
            $"{Path.GetFileName(notebookPath)} references files that are not built:\n  " +
            string.Join("\n  ", missing.Distinct()) +
            "\nRun `dotnet build PaperLab.sln -c Release` at the repository root first.");
    }
}

/// <summary>Notebook kernels are heavy (a .NET process each, plus libtorch): run them one at a time.</summary>
[CollectionDefinition(Name)]
public class NotebookCollection
{
    /// <summary>Collection name shared by the notebook test classes.</summary>
    public const string Name = "Notebooks";
}
