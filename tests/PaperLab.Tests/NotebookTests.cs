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
        // the notebooks #r the Release build of the papers (bin/Release/net10.0, libtorch beside TorchSharp.dll)
        var missing = NotebookRunner.MissingReferences(path);
        Assert.True(missing.Count == 0,
            $"{notebook} references files that are not built:\n  {string.Join("\n  ", missing)}\n" +
            "Run `dotnet build PaperLab.sln -c Release` at the repository root first.");

        var run = await NotebookRunner.RunAsync(path, Path.Combine(NotebooksDir, "executed", notebook), Timeout);
        // the book of every notebook executed so far (BookTests opens it in a browser)
        NotebookBook.Render(Path.Combine(NotebooksDir, "executed"), NotebookRunner.RepoRoot(), PaperLab.Runs.RunFolder.RunsRoot());

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
}

/// <summary>Notebook kernels are heavy (a .NET process each, plus libtorch): run them one at a time.</summary>
[CollectionDefinition(Name)]
public class NotebookCollection
{
    /// <summary>Collection name shared by the notebook test classes.</summary>
    public const string Name = "Notebooks";
}
