using System.Diagnostics;
using System.IO.Compression;
using System.Runtime.InteropServices;
using PaperLab.Data;
using PaperLab.Papers.Gpt;
using PaperLab.Runs;
using PaperLab.Training;
using Xunit;

namespace PaperLab.Tests;

/// <summary>What a new user does to a program by accident: compressed or mislabelled files, Ctrl-C, kill -9.</summary>
public class HardeningTests
{
    static string Kit(string relative) =>
        Path.Combine(Environment.GetEnvironmentVariable("PAPERLAB_DATA") ?? Path.Combine(Repository.Root()!, "..", "shared", "data"), relative);

    [Fact]
    public void Gzip_is_told_by_content_not_by_name()
    {
        using var dir = new TempDir();
        // a valid input.txt.gz: found, verified and read
        Directory.CreateDirectory(dir.File("gz"));
        using (var gz = new GZipStream(File.Create(dir.File("gz", "input.txt.gz")), CompressionLevel.Fastest))
        using (var source = File.OpenRead(Kit("tinyshakespeare/input.txt")))
            source.CopyTo(gz);
        var chars = ShakespeareChars.Load(dir.File("gz"));
        Assert.Equal(1_003_854, chars.Train.Length);
        Assert.EndsWith("input.txt.gz", chars.Source);
        // plain text named .gz: read as the text it is
        File.Copy(FileContent.Find(Path.GetDirectoryName(Kit("multi30k/val.de.gz"))!, "val.de", "multi30k"), dir.File("val.de.gz"));
        string[] lines = PaperLab.Papers.Transformer.TranslationPairs.ReadLines(dir.File("val.de.gz"));
        File.WriteAllText(dir.File("plain.de.gz"), string.Join('\n', lines));
        Assert.False(FileContent.IsGzip(dir.File("plain.de.gz")));
        Assert.Equal(lines, PaperLab.Papers.Transformer.TranslationPairs.ReadLines(dir.File("plain.de.gz")));
        // a damaged gzip is named
        byte[] real = File.ReadAllBytes(dir.File("gz", "input.txt.gz"));
        real[real.Length / 2] ^= 0xff;   // a flipped byte in the deflate stream
        File.WriteAllBytes(dir.File("bad.gz"), real);
        Assert.Contains(dir.File("bad.gz"), Assert.Throws<DataFormatException>(() => FileContent.ReadAllText(dir.File("bad.gz"))).Message);
    }

    /// <summary>A GPT smoke run with a very long schedule in a child process; its output is drained into <paramref name="stderr"/>.</summary>
    static Process StartGpt(string runDir, System.Text.StringBuilder stderr)
    {
        string dll = Path.Combine(Repository.Root()!, "papers", "Gpt", "bin", "Release", "net10.0", "Gpt.dll");
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { dll, "--smoke", "--max-iters", "100000", "--eval-interval", "20", "--eval-iters", "1", "--threads", "1",
                                  "--data", Path.GetDirectoryName(Kit("tinyshakespeare/input.txt"))!, "--out", runDir })
            info.ArgumentList.Add(a);
        var p = Process.Start(info)!;
        p.OutputDataReceived += (_, _) => { };   // drained, or a full pipe would stall the child
        p.ErrorDataReceived += (_, e) => { if (e.Data != null) lock (stderr) stderr.AppendLine(e.Data); };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return p;
    }

    static void WaitForCheckpoint(Process p, string runDir, System.Text.StringBuilder stderr)
    {
        var clock = Stopwatch.StartNew();
        while (!File.Exists(Path.Combine(runDir, "checkpoint.bin")) && clock.Elapsed < TimeSpan.FromMinutes(3) && !p.HasExited) Thread.Sleep(100);
        Assert.False(p.HasExited, "the run ended before its first checkpoint: " + stderr);
    }

    [DllImport("libc", SetLastError = true)]
    static extern int kill(int pid, int signal);

    [Fact]
    public void Ctrl_C_stops_at_a_step_boundary_with_a_checkpoint_exit_130_and_the_run_resumes_from_it()
    {
        if (!OperatingSystem.IsLinux()) return;
        using var dir = new TempDir();
        var stderrText = new System.Text.StringBuilder();
        using var p = StartGpt(dir.File("run"), stderrText);
        WaitForCheckpoint(p, dir.File("run"), stderrText);
        Assert.Equal(0, kill(p.Id, 2));   // SIGINT, as Ctrl-C in a terminal
        if (!p.WaitForExit(120_000)) { p.Kill(); Assert.Fail("no exit within two minutes of Ctrl-C: " + stderrText); }
        p.WaitForExit();
        string err = stderrText.ToString();
        Assert.Equal(130, p.ExitCode);
        Assert.Contains("--resume", err);
        Assert.DoesNotContain("   at ", err);
        var (header, _) = Checkpoint.Read(dir.File("run", "checkpoint.bin"));
        Assert.True(header.Step > 0);
        Assert.False(File.Exists(dir.File("run", ".lock.pid")));
        // the interrupted run continues from its checkpoint (here with a shorter total, allowed explicitly)
        var (exit, stderr) = PaperMain.Run(Experiment.Main, new[] { "--resume", dir.File("run"), "--smoke", "--max-iters", (header.Step + 5).ToString(),
            "--allow-change", "max-iters", "--eval-interval", "20", "--eval-iters", "1", "--threads", "1", "--data", Path.GetDirectoryName(Kit("tinyshakespeare/input.txt"))! });
        Assert.True(exit == 0, stderr);
        Assert.Equal(header.Step + 5, Checkpoint.Read(dir.File("run", "checkpoint.bin")).Header.Step);
    }

    [Fact]
    public void Kill_9_never_leaves_a_damaged_checkpoint_and_a_second_run_into_a_live_folder_is_refused()
    {
        if (!OperatingSystem.IsLinux()) return;
        using var dir = new TempDir();
        var stderrText = new System.Text.StringBuilder();
        using var p = StartGpt(dir.File("run"), stderrText);
        WaitForCheckpoint(p, dir.File("run"), stderrText);
        // a second run into the same folder while the first is alive
        var (exit, err) = PaperMain.Run(Experiment.Main, new[] { "--smoke", "--out", dir.File("run"), "--data", Path.GetDirectoryName(Kit("tinyshakespeare/input.txt"))! });
        Assert.True(exit == 1 && err.Contains($"in use by process {p.Id}"), $"exit {exit}: {err}");
        for (int i = 0; i < 3; i++)
        {
            Thread.Sleep(400 + 300 * i);   // at moments unrelated to the checkpoint writes
            Checkpoint.Read(dir.File("run", "checkpoint.bin"));
        }
        p.Kill();   // SIGKILL
        p.WaitForExit();
        var (header, _) = Checkpoint.Read(dir.File("run", "checkpoint.bin"));   // whole and verified
        Assert.True(header.Step > 0);
    }
}
