using PaperLab.Runs;
using Xunit;

namespace PaperLab.Tests;

/// <summary>Runs land in one place: the repository's runs/ (or PAPERLAB_RUNS), whichever directory a program starts in.</summary>
public class RunsRootTests
{
    [Fact]
    public void Runs_go_to_the_repositorys_runs_folder_whatever_the_current_directory()
    {
        string repo = NotebookRunner.RepoRoot();
        string expected = Environment.GetEnvironmentVariable("PAPERLAB_RUNS") is { Length: > 0 } env
            ? Path.GetFullPath(env) : Path.Combine(repo, "runs");
        string elsewhere = Directory.CreateTempSubdirectory("paperlab-cwd-").FullName;
        string before = Directory.GetCurrentDirectory();
        string root, path;
        try
        {
            // a run started from another folder (e.g. `dotnet run --project ~/PaperLab/papers/LeNet5` from the home folder)
            Directory.SetCurrentDirectory(elsewhere);
            root = RunFolder.RunsRoot();
            path = RunFolder.DefaultPath("lenet5", new DateTime(2026, 12, 3, 10, 15, 0, DateTimeKind.Utc));
        }
        finally
        {
            Directory.SetCurrentDirectory(before);
            Directory.Delete(elsewhere, recursive: true);
        }
        Assert.Equal(expected, root);
        Assert.Equal(Path.Combine(expected, "lenet5", "20261203-101500"), path);
        Assert.Equal(repo, Repository.Root());   // found from the library's own folder, not the current directory
    }

    [Fact]
    public void The_notebooks_look_for_runs_where_the_programs_put_them()
    {
        // every notebook's "newest run" cell reads RunFolder.RunsRoot(), never a path relative to the notebook
        foreach (string notebook in Directory.EnumerateFiles(Path.Combine(NotebookRunner.RepoRoot(), "notebooks"), "*.ipynb"))
        {
            string code = string.Concat(((System.Text.Json.Nodes.JsonArray)NotebookRunner.ReadNotebook(notebook)["cells"]!)
                .Where(c => (string?)c!["cell_type"] == "code").Select(c => NotebookRunner.JoinSource(c!["source"])));
            Assert.DoesNotContain("\"../runs", code);
            Assert.DoesNotContain("Path.Combine(repo, \"runs\"", code);
            if (code.Contains("newest", StringComparison.Ordinal)) Assert.Contains("RunFolder.RunsRoot()", code);
        }
    }
}
