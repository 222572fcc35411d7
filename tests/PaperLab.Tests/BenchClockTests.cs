using System.Text.Json;
using PaperLab.Papers.LeNet5;
using PaperLab.Training;
using Xunit;

namespace PaperLab.Tests;

/// <summary>The shared timing behind every paper's --bench (BenchClock) and one paper's bench line through it.</summary>
public sealed class BenchClockTests
{
    [Fact]
    public void Time_runs_the_warmup_untimed_then_the_timed_steps_with_their_indices_in_order()
    {
        var seen = new List<long>();
        var timing = BenchClock.Time(s => { seen.Add(s); Thread.SpinWait(100_000); }, steps: 3, warmup: 2);
        Assert.Equal(new long[] { 0, 1, 2, 3, 4 }, seen);
        Assert.True(timing.Seconds > 0, $"wall time {timing.Seconds}");
        Assert.True(timing.CpuSeconds > 0, $"CPU time {timing.CpuSeconds}");
    }

    [Fact]
    public void Time_refuses_no_timed_steps_and_a_negative_warmup()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => BenchClock.Time(_ => { }, steps: 0, warmup: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => BenchClock.Time(_ => { }, steps: 1, warmup: -1));
    }

    [Fact]
    public void AddRates_divides_the_items_by_the_wall_clock_and_by_the_cpu_time()
    {
        var line = BenchClock.Line(threads: 2, steps: 10);
        double rate = BenchClock.AddRates(line, "tokens", 1000, new BenchClock.Timing(Seconds: 4, CpuSeconds: 8));
        Assert.Equal(250, rate);
        Assert.Equal(250.0, line["tokens_per_second"]);
        Assert.Equal(125.0, line["tokens_per_cpu_second"]);
        foreach (var key in new[] { "framework", "threads", "steps", "date", "machine", "convolutions", "onednn" })
            Assert.True(line.ContainsKey(key), key);
        Assert.Equal(2, line["threads"]);
    }

    [Fact]
    public void LeNet5_bench_prints_one_json_line_with_both_rates_that_match_what_it_returns()
    {
        var stdout = new StringWriter();
        var old = Console.Out;
        Console.SetOut(stdout);
        Dictionary<string, object> returned;
        try { returned = Bench.Run(new LeNet5Options { TrainLimit = 640 }, threads: 1, data: null, seed: 0, steps: 2, warmup: 1); }
        finally { Console.SetOut(old); }

        string line = stdout.ToString().Trim().Split('\n').Last();
        using var json = JsonDocument.Parse(line);
        double wall = json.RootElement.GetProperty("samples_per_second").GetDouble();
        double cpu = json.RootElement.GetProperty("samples_per_cpu_second").GetDouble();
        Assert.True(wall > 0 && cpu > 0, line);
        Assert.Equal((double)returned["samples_per_second"], wall, 6);
        Assert.Equal(64, json.RootElement.GetProperty("batch_size").GetInt32());
        Assert.Equal(2, json.RootElement.GetProperty("steps").GetInt32());
    }

    [Fact]
    public void BatchNorm_bench_through_its_command_line_prints_the_networks_it_timed_and_writes_no_run_folder()
    {
        using var folder = new TempFolder();
        var stdout = new StringWriter();
        var old = Console.Out;
        Console.SetOut(stdout);
        (int Exit, string Stderr) result;
        try
        {
            result = PaperMain.Run(PaperLab.Papers.BatchNorm.Experiment.Main,
                ["--bench", "2", "--networks", "bn", "--train-limit", "600", "--threads", "1", "--out", folder.Path]);
        }
        finally { Console.SetOut(old); }

        Assert.True(result.Exit == 0, result.Stderr);
        string line = stdout.ToString().Split('\n').Last(l => l.StartsWith('{'));
        using var json = JsonDocument.Parse(line);
        Assert.Equal("bn", json.RootElement.GetProperty("networks").GetString());
        Assert.Equal(60, json.RootElement.GetProperty("batch_size").GetInt32());
        Assert.True(json.RootElement.GetProperty("samples_per_second").GetDouble() > 0, line);
        Assert.Empty(Directory.EnumerateFileSystemEntries(folder.Path));
    }
}
