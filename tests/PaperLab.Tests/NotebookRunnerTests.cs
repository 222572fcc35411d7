using System.Text.Json.Nodes;
using Xunit;

namespace PaperLab.Tests;

/// <summary>
/// NotebookRunner on small notebooks written to a temporary folder: it must report the failing cell and
/// its error for a compile error and for a runtime exception, and record outputs like VS Code does.
/// </summary>
[Collection(NotebookCollection.Name)]
public sealed class NotebookRunnerTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("paperlab-notebook-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>Writes a notebook of C# code cells (markdown cells when a string starts with "md:").</summary>
    string Write(string name, params string[] cells)
    {
        var array = new JsonArray();
        foreach (var c in cells)
        {
            bool md = c.StartsWith("md:");
            var cell = new JsonObject
            {
                ["cell_type"] = md ? "markdown" : "code",
                ["metadata"] = md ? new JsonObject() : new JsonObject
                {
                    ["polyglot_notebook"] = new JsonObject { ["kernelName"] = "csharp" },
                },
                ["source"] = new JsonArray(md ? c[3..] : c),
            };
            if (!md) { cell["execution_count"] = null; cell["outputs"] = new JsonArray(); }
            array.Add(cell);
        }
        var nb = new JsonObject
        {
            ["cells"] = array,
            ["metadata"] = new JsonObject
            {
                ["kernelspec"] = new JsonObject
                {
                    ["display_name"] = ".NET (C#)", ["language"] = "C#", ["name"] = ".net-csharp",
                },
                ["polyglot_notebook"] = new JsonObject
                {
                    ["kernelInfo"] = new JsonObject { ["defaultKernelName"] = "csharp" },
                },
            },
            ["nbformat"] = 4,
            ["nbformat_minor"] = 2,
        };
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, nb.ToJsonString());
        return path;
    }

    static JsonArray OutputsOf(string executedPath, int cellNumber) =>
        (JsonArray)NotebookRunner.ReadNotebook(executedPath)["cells"]![cellNumber - 1]!["outputs"]!;

    [Fact]
    public async Task Compile_error_in_cell_3_fails_naming_cell_3_and_the_diagnostic()
    {
        var path = Write("compile.ipynb",
            "md:# Title", "var a = 1;", "int b = \"text\";", "Console.WriteLine(a);");

        var run = await NotebookRunner.RunAsync(path, Path.Combine(_dir, "out", "compile.ipynb"), TimeSpan.FromMinutes(2));

        Assert.False(run.Succeeded);
        Assert.Null(run.Aborted);
        Assert.Equal(3, run.FirstFailure!.Number);
        Assert.Contains("CS0029", run.FirstFailure.Error);
        Assert.Contains("cell 3", run.FailureMessage);
        Assert.Equal([2, 3], run.Cells.Select(c => c.Number)); // stops at the failure
        var error = Assert.Single(OutputsOf(run.ExecutedPath, 3));
        Assert.Equal("error", (string?)error!["output_type"]);
        Assert.Empty(OutputsOf(run.ExecutedPath, 4));
    }

    [Fact]
    public async Task Runtime_exception_fails_naming_the_cell_and_the_exception()
    {
        var path = Write("throws.ipynb",
            "Console.WriteLine(\"before\");", "throw new InvalidOperationException(\"boom\");", "1 + 1");

        var run = await NotebookRunner.RunAsync(path, Path.Combine(_dir, "throws.out.ipynb"), TimeSpan.FromMinutes(2));

        Assert.False(run.Succeeded);
        Assert.Equal(2, run.FirstFailure!.Number);
        Assert.Contains("System.InvalidOperationException: boom", run.FirstFailure.Error);
        Assert.Contains("cell 2", run.FailureMessage);
        Assert.True(run.Cells[0].Succeeded);
    }

    [Fact]
    public async Task Outputs_and_working_directory_are_those_of_VS_Code()
    {
        var path = Write("ok.ipynb",
            "Console.WriteLine(\"hello\");\nSystem.IO.Directory.GetCurrentDirectory()",
            "display(HTML(\"<div id='chart-1'>x</div>\"));");

        var run = await NotebookRunner.RunAsync(path, Path.Combine(_dir, "ok.out.ipynb"), TimeSpan.FromMinutes(2));

        Assert.True(run.Succeeded, run.FailureMessage);
        var first = OutputsOf(run.ExecutedPath, 1);
        Assert.Equal("hello\n", NotebookRunner.JoinSource(first[0]!["text"]));
        var result = first.Single(o => (string?)o!["output_type"] == "execute_result")!;
        Assert.Equal(_dir, NotebookRunner.JoinSource(result["data"]!["text/plain"]));
        var html = Assert.Single(OutputsOf(run.ExecutedPath, 2));
        Assert.Equal("<div id='chart-1'>x</div>", NotebookRunner.JoinSource(html!["data"]!["text/html"]));
        Assert.Equal(1, (int?)NotebookRunner.ReadNotebook(run.ExecutedPath)["cells"]![0]!["execution_count"]);
        // the check of committed notebooks: the source is clean, the executed copy is not
        Assert.Empty(NotebookRunner.StoredResults(NotebookRunner.ReadNotebook(path)));
        Assert.Equal(["cell 1 has outputs", "cell 1 has an execution count", "cell 2 has outputs", "cell 2 has an execution count"],
            NotebookRunner.StoredResults(NotebookRunner.ReadNotebook(run.ExecutedPath)));
    }

    [Fact]
    public async Task A_shared_chart_renders_as_html_in_the_kernel()
    {
        // PaperLab.Shared of this test's build output, with its charts/ folder (Plotly.NET in its own load context)
        var shared = Path.Combine(AppContext.BaseDirectory, "PaperLab.Shared.dll");
        var path = Write("chart.ipynb",
            $"#r \"{shared}\"\nusing PaperLab.Reporting;",
            "var chart = Charts.Line(\"loss\", \"step\", \"loss\", new[] { Series.Of(\"train\", new[] { 2.0, 1.0, 0.5 }) });\n" +
            "display(HTML(HtmlPage.ForNotebook(chart)));");

        var run = await NotebookRunner.RunAsync(path, Path.Combine(_dir, "chart.out.ipynb"), TimeSpan.FromMinutes(2));

        Assert.True(run.Succeeded, run.FailureMessage);
        var html = NotebookRunner.JoinSource(Assert.Single(OutputsOf(run.ExecutedPath, 2))!["data"]!["text/html"]);
        Assert.Matches("<div id=\"[0-9a-f-]{36}\">", html);
        Assert.Contains("Plotly.newPlot", html);
        Assert.Contains("\"train\"", html);
    }

    [Fact]
    public async Task Consecutive_prints_make_one_stream_output()
    {
        var path = Write("prints.ipynb", "Console.WriteLine(\"a\");\nConsole.WriteLine(\"b\");\nConsole.Error.WriteLine(\"c\");");

        var run = await NotebookRunner.RunAsync(path, Path.Combine(_dir, "prints.out.ipynb"), TimeSpan.FromMinutes(2));

        Assert.True(run.Succeeded, run.FailureMessage);
        var outputs = OutputsOf(run.ExecutedPath, 1);
        Assert.Equal(2, outputs.Count);
        Assert.Equal("a\nb\n", NotebookRunner.JoinSource(outputs[0]!["text"]));
        Assert.Equal("stderr", (string?)outputs[1]!["name"]);
    }

    [Fact]
    public void References_to_unbuilt_dlls_are_reported_before_running()
    {
        Directory.CreateDirectory(Path.Combine(_dir, "bin"));
        File.WriteAllText(Path.Combine(_dir, "bin", "Built.dll"), "");
        var path = Write("refs.ipynb", "md:#r \"bin/InMarkdown.dll\"",
            "#r \"bin/Built.dll\"\n#r \"bin/Missing.dll\"", "  #r \"../elsewhere/Other.dll\"\nvar x = 1;");

        Assert.Equal([Path.Combine(_dir, "bin", "Missing.dll"), Path.GetFullPath(Path.Combine(_dir, "..", "elsewhere", "Other.dll"))],
            NotebookRunner.MissingReferences(path));
    }

    [Fact]
    public async Task A_cell_that_hangs_is_stopped_at_the_timeout_and_named()
    {
        var path = Write("hangs.ipynb", "var x = 1;", "System.Threading.Thread.Sleep(-1);");

        var run = await NotebookRunner.RunAsync(path, Path.Combine(_dir, "hangs.out.ipynb"), TimeSpan.FromSeconds(20));

        Assert.False(run.Succeeded);
        Assert.Contains("timed out after 20 s while running cell 2", run.FailureMessage);
    }
}
