using System.Diagnostics;
using PaperLab.Data;
using PaperLab.Runs;
using Xunit;
using Xunit.Abstractions;

namespace PaperLab.Tests;

/// <summary>
/// templates/Paper, used as README.md says, in a fresh copy of the repository (its tracked files only):
/// `dotnet new install templates/Paper`, `dotnet new paperlab-paper -n Perceptron -o papers/Perceptron`,
/// then the new paper builds, smoke-trains on real MNIST, and its own tests pass under `dotnet test`.
/// </summary>
public class TemplateTests(ITestOutputHelper output)
{
    static readonly TimeSpan Limit = TimeSpan.FromMinutes(12);

    (int Exit, string Output) Run(string dir, string file, params string[] args)
    {
        var info = new ProcessStartInfo(file) { WorkingDirectory = dir, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) info.ArgumentList.Add(a);
        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        info.Environment["DOTNET_NOLOGO"] = "1";
        info.Environment["PAPERLAB_OFFLINE"] = "1";
        using var p = Process.Start(info)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(Limit)) { p.Kill(entireProcessTree: true); throw new TimeoutException($"{file} {string.Join(' ', args)} took over {Limit}"); }
        string text = stdout.Result + stderr.Result;
        output.WriteLine($"$ {file} {string.Join(' ', args)}  → exit {p.ExitCode}");
        return (p.ExitCode, text);
    }

    [Fact]
    public void A_new_paper_from_the_template_builds_smoke_trains_and_passes_its_tests_in_a_fresh_clone()
    {
        string repo = Repository.Root() ?? throw new InvalidOperationException("not inside the repository");
        string root = Directory.CreateTempSubdirectory("paperlab-template-").FullName;
        string clone = Path.Combine(root, "PaperLab"), hive = Path.Combine(root, "hive");
        try
        {
            // the repository's tracked files, as a clone has them
            var (listed, files) = Run(repo, "git", "ls-files", "-z");
            Assert.Equal(0, listed);
            foreach (var file in files.Split('\0', StringSplitOptions.RemoveEmptyEntries))
            {
                string source = Path.Combine(repo, file), target = Path.Combine(clone, file);
                if (!File.Exists(source)) continue;
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                File.Copy(source, target);
            }
            // the data set-up step of README.md: MNIST in data/mnist/ (linked to this machine's copy)
            string mnist = DatasetLocator.Locate(DatasetCatalog.Mnist, null, new LocatorOptions { AllowDownload = false, Log = _ => { } });
            Directory.CreateSymbolicLink(Path.Combine(clone, "data", "mnist"), mnist);

            var install = Run(clone, "dotnet", "new", "install", "templates/Paper", "--debug:custom-hive", hive);
            Assert.True(install.Exit == 0, install.Output);
            var create = Run(clone, "dotnet", "new", "paperlab-paper", "-n", "Perceptron", "-o", "papers/Perceptron", "--debug:custom-hive", hive);
            Assert.True(create.Exit == 0, create.Output);
            foreach (var f in new[] { "papers/Perceptron/Perceptron.csproj", "papers/Perceptron/Perceptron.cs", "papers/Perceptron/Experiment.cs",
                                      "papers/Perceptron/README.md", "tests/PaperLab.Tests/PerceptronTests.cs", "notebooks/Perceptron.ipynb" })
                Assert.True(File.Exists(Path.Combine(clone, f)), $"the template did not create {f}");
            Assert.Contains("papers/Perceptron/Perceptron.csproj", File.ReadAllText(Path.Combine(clone, "PaperLab.sln")).Replace('\\', '/'));

            var build = Run(clone, "dotnet", "build", "papers/Perceptron", "-c", "Release", "-v", "q", "-clp:ErrorsOnly");
            Assert.True(build.Exit == 0, build.Output);
            var smoke = Run(clone, "dotnet", "run", "--project", "papers/Perceptron", "-c", "Release", "--no-build", "--", "--smoke", "--threads", "1",
                            "--out", Path.Combine(root, "run"));
            Assert.True(smoke.Exit == 0, smoke.Output);
            Assert.True(File.Exists(Path.Combine(root, "run", "summary.json")), smoke.Output);
            var test = Run(clone, "dotnet", "test", "tests/PaperLab.Tests", "-c", "Release", "--filter", "FullyQualifiedName~PerceptronTests");
            Assert.True(test.Exit == 0, test.Output);
            Assert.Matches(@"Passed!\s+-\s+Failed:\s+0, Passed:\s+[1-9]", test.Output);
        }
        finally
        {
            var link = new DirectoryInfo(Path.Combine(clone, "data", "mnist"));
            if (link.LinkTarget != null) link.Delete();   // the link only, never the data it points to
            try { Directory.Delete(root, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }
}
