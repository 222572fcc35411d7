using PaperLab.Cli;
using PaperLab.Data;
using PaperLab.Runs;
using PaperLab.Training;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace PaperLab.Tests;

/// <summary>A paper small enough to train in milliseconds, for testing the shared spine end to end.</summary>
public sealed record ToyOptions : ICheckedOptions
{
    /// <summary>Optimizer steps.</summary>
    [Option(Min = 1, Max = 100_000)] public int Steps { get; init; } = 40;
    /// <summary>Peak learning rate.</summary>
    [Option(Min = 0, MinExclusive = true, Max = 10)] public double Lr { get; init; } = 0.05;
    /// <summary>Dropout probability.</summary>
    [Option(Min = 0, Max = 1, MaxExclusive = true)] public double Dropout { get; init; } = 0.2;
    /// <summary>Width of the hidden layer.</summary>
    [Option(Min = 1, Max = 64)] public int Hidden { get; init; } = 8;
    /// <summary>Evaluate every this many steps.</summary>
    [Option(Min = 1, MayChangeOnResume = true)] public int EvalEvery { get; init; } = 10;
    /// <summary>Multiply the loss by NaN at this step (tests).</summary>
    [Option(Min = 0)] public int? PoisonAt { get; init; }
    /// <summary>Multiply the loss by 1e30 from this step on (tests).</summary>
    [Option(Min = 0)] public int? BlowUpAt { get; init; }
    /// <summary>Make the evaluation NaN at this step (tests).</summary>
    [Option(Min = 0)] public int? BadEvalAt { get; init; }
    /// <summary>Throw an unforeseen exception after this step (tests).</summary>
    [Option(Min = 0)] public int? CrashAt { get; init; }
    /// <summary>End the run after this step (tests).</summary>
    [Option(Min = 0)] public int? EndAt { get; init; }
    /// <summary>Record no loss before this step (tests).</summary>
    [Option(Min = 0)] public int? LossFrom { get; init; }
    /// <summary>A mode choice.</summary>
    [Option(OneOf = new[] { "a", "b" })] public string Mode { get; init; } = "a";
    /// <summary>A flag.</summary>
    public bool Flag { get; init; }

    public IEnumerable<string> Problems()
    {
        if (Hidden == 13) yield return "--hidden 13 is unlucky";
    }

    public static ToyOptions Defaults(ToyOptions given, RunOptions run) => run.Smoke ? new ToyOptions { Steps = 20 } : given.Mode == "b" ? new ToyOptions { Mode = "b", Hidden = 4 } : new ToyOptions();
}

public sealed record ToySummary : RunSummary
{
    public required float[] Losses { get; init; }
    public required float[] Weights { get; init; }
}

public static class ToyPaper
{
    public static readonly PaperInfo Info = new("toy", "a toy regression");

    public static int Program(string[] args) => PaperProgram.Main<ToyOptions>(args, Info, ToyOptions.Defaults, Run, progress: TrainingProgress.Silent());

    public static ToySummary Run(ToyOptions o, RunContext ctx)
    {
        var run = ctx.Start(o);
        torch.manual_seed(ctx.Common.Seed);
        var model = nn.Sequential(nn.Linear(4, o.Hidden), nn.Tanh(), nn.Dropout(o.Dropout), nn.Linear(o.Hidden, 1));
        var optimizer = optim.Adam(model.parameters(), lr: o.Lr);
        var data = new ToyData(256);
        var loader = new BatchLoader(data, 16, Sampling.Shuffle, ctx.Common.Seed);
        var loop = new TrainingLoop(ctx, new LoopSettings { TotalSteps = o.Steps, EvalEvery = o.EvalEvery, LogEvery = 5, ItemsPerStep = 16 });
        loop.Add("model", model);
        loop.Add("optimizer", optimizer, Schedules.Cosine(o.Lr, o.Steps));
        loop.Evaluate = step =>
        {
            Assert.False(model.training);
            Assert.False(torch.is_grad_enabled());
            var (x, y) = data.Gather(Enumerable.Range(0, 64).Select(i => (long)i).ToArray());
            double mse = nn.functional.mse_loss(model.forward(x), y).item<float>();
            return new Dictionary<string, double> { ["val/mse"] = step == o.BadEvalAt ? double.NaN : mse };
        };
        foreach (var step in loop)
        {
            Assert.True(model.training);
            if (step.Index == o.CrashAt) throw new InvalidTimeZoneException("a bug");
            var (x, y) = loader.Batch(step.Index);
            optimizer.zero_grad();
            var loss = nn.functional.mse_loss(model.forward(x), y);
            if (step.Index == o.PoisonAt) loss = loss * float.NaN;
            if (step.Index >= o.BlowUpAt) loss = loss * 1e30f;
            if (step.Index >= (o.LossFrom ?? 0)) step.Record(loss);
            step.Log("custom", "index", step.Index);
            if (step.Index == o.EndAt) step.EndRun();
            loss.backward();
            optimizer.step();
        }
        var summary = new ToySummary
        {
            Paper = "toy", Dataset = "random", Published = new("val_mse", 0.1, "none"),
            Losses = loop.Result.Losses.ToArray(),
            Weights = model.parameters().SelectMany(p => p.data<float>().ToArray()).ToArray(),
            Steps = loop.Result.Steps, TrainSeconds = loop.Result.TrainSeconds,
        };
        run.WriteSummary(summary);
        return summary;
    }

    sealed class ToyData(int n) : ITensorDataset
    {
        readonly Tensor _x = randn(n, 4, generator: new Generator(7));
        public long Count => n;
        public (Tensor Input, Tensor Target) Gather(long[] indices)
        {
            using var idx = tensor(indices);
            var x = _x.index_select(0, idx);
            return (x, (x[.., 0] * 2 - x[.., 1]).unsqueeze(1).tanh());
        }
    }
}

public class OptionTests
{
    static (int Exit, string Out, string Err) Main_(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int exit = PaperProgram.Main<ToyOptions>(args, ToyPaper.Info, ToyOptions.Defaults, ToyPaper.Run, o, e, TrainingProgress.Silent());
        return (exit, o.ToString(), e.ToString());
    }

    static (ToyOptions? Options, RunOptions? Common, int Exit, string Err) Parse(params string[] args)
    {
        var e = new StringWriter();
        var r = PaperProgram.Parse<ToyOptions>(args, ToyPaper.Info, ToyOptions.Defaults, new StringWriter(), e, out int exit);
        return (r?.Options, r?.Common, exit, e.ToString());
    }

    [Fact]
    public void Option_names_are_the_properties_in_kebab_case()
    {
        Assert.Equal("batch-size", OptionSet.Kebab("BatchSize"));
        Assert.Equal("n-embd", OptionSet.Kebab("NEmbd"));
        Assert.Equal("d-ff", OptionSet.Kebab("DFf"));
        var names = OptionSet.Describe(typeof(ToyOptions)).Select(o => o.Name).ToArray();
        Assert.Equal(new[] { "steps", "lr", "dropout", "hidden", "eval-every", "poison-at", "blow-up-at", "bad-eval-at", "crash-at", "end-at", "loss-from", "mode", "flag" }, names);
    }

    [Fact]
    public void Given_values_land_on_the_preset_the_selectors_choose()
    {
        var r = Parse("--mode", "b", "--lr", "0.5", "--flag", "--seed", "3", "--threads", "1");
        Assert.Equal(new ToyOptions { Mode = "b", Hidden = 4, Lr = 0.5, Flag = true }, r.Options);
        Assert.Equal(3, r.Common!.Seed);
        Assert.Equal(new ToyOptions { Steps = 20, Hidden = 2 }, Parse("--smoke", "--hidden", "2").Options);
        Assert.Equal(new ToyOptions { Flag = false }, Parse("--flag", "false").Options);
    }

    [Theory]
    [InlineData("--lr: expected a number in (0, 10], got 'abc'", "--lr", "abc")]
    [InlineData("--lr: expected a number in (0, 10], got '0'", "--lr", "0")]
    [InlineData("--lr: expected a number in (0, 10], got '-1'", "--lr", "-1")]
    [InlineData("--lr: expected a number in (0, 10], got '1e400' (not a finite number)", "--lr", "1e400")]
    [InlineData("--lr: expected a number in (0, 10], got 'NaN' (not a finite number)", "--lr", "NaN")]
    [InlineData("--lr: expected a number in (0, 10], got 'Infinity' (not a finite number)", "--lr", "Infinity")]
    [InlineData("--lr: expected a number in (0, 10], got '-Infinity' (not a finite number)", "--lr", "-Infinity")]
    [InlineData("--lr: expected a number in (0, 10], got an empty value", "--lr", "")]
    [InlineData("--steps: expected an integer in [1, 100000], got '2147483648' (too large)", "--steps", "2147483648")]
    [InlineData("--steps: expected an integer in [1, 100000], got '99999999999999999999999' (too large)", "--steps", "99999999999999999999999")]
    [InlineData("--steps: expected an integer in [1, 100000], got '1.5'", "--steps", "1.5")]
    [InlineData("--dropout: expected a number in [0, 1), got '1'", "--dropout", "1")]
    [InlineData("--mode: expected one of a, b, got 'c'", "--mode", "c")]
    [InlineData("--flag: expected true or false, got 'maybe'", "--flag", "maybe")]
    [InlineData("--seed: expected an integer ≥ 0, got '-1'", "--seed", "-1")]
    [InlineData("--threads: expected an integer in [1, 1024], got '0'", "--threads", "0")]
    [InlineData("--out: expected a value, got an empty value", "--out", "")]
    [InlineData("--hidden 13 is unlucky", "--hidden", "13")]
    public void A_bad_value_names_the_option_and_what_it_accepts_and_exits_2(string message, params string[] args)
    {
        var r = Main_(args);
        Assert.Equal(2, r.Exit);
        Assert.Contains("error: " + message + "\n", r.Err.Replace("\r", ""));
        Assert.Equal("", r.Out);
    }

    [Theory]
    [InlineData("--bogus")]
    [InlineData("--lr")]
    [InlineData("--lr", "1", "--lr", "2")]
    [InlineData("extra")]
    public void Unknown_or_incomplete_options_exit_2_with_a_pointer_to_help(params string[] args)
    {
        var r = Main_(args);
        Assert.Equal(2, r.Exit);
        Assert.StartsWith("error: ", r.Err);
        Assert.Contains("--help lists the options", r.Err);
    }

    [Fact]
    public void Help_shows_each_option_with_its_doc_comment_range_and_default()
    {
        var r = Main_("--help");
        Assert.Equal(0, r.Exit);
        string help = string.Join(' ', r.Out.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("--lr <number> Peak learning rate. [a number in (0, 10]; default 0.05]", help);
        Assert.Contains("--mode <value> A mode choice. [one of a, b; default a]", help);
        Assert.Contains("--smoke", help);
        Assert.Contains("--version", help);
    }

    [Fact]
    public void Version_prints_the_versions_and_does_not_train()
    {
        using var dir = new TempDir();
        var r = Main_("--version", "--out", dir.File("run"));
        Assert.Equal(0, r.Exit);
        Assert.Matches(@"^toy \(PaperLab .+\); TorchSharp 0\.107\.\d+, libtorch 2\.\d+\.\d+\S*; \.NET", r.Out);
        Assert.False(Directory.Exists(dir.File("run")));
    }

    [Fact]
    public void A_run_prints_its_folder_last_and_writes_config_with_the_resolved_options()
    {
        using var dir = new TempDir();
        var r = Main_("--out", dir.File("run"), "--steps", "12", "--threads", "1");
        Assert.Equal(0, r.Exit);
        Assert.Equal(dir.File("run"), r.Out.Trim());
        var config = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(dir.File("run"), "config.json")))!;
        Assert.Equal(12, (int)config["hyperparameters"]!["Steps"]!);
        Assert.Equal(1, (int)config["threads"]!);
        Assert.Equal("toy", (string)config["paper"]!);
        Assert.True(File.Exists(Path.Combine(dir.File("run"), "summary.json")));
        Assert.False(File.Exists(Path.Combine(dir.File("run"), ".lock")));
    }
}

public class TrainingLoopTests
{
    static RunContext Context(string outDir, string? resume = null, long? stopAfter = null, string? allow = null, int seed = 0) =>
        new(ToyPaper.Info, new RunOptions { Out = outDir, Resume = resume, Threads = 1, AllowChange = allow, Seed = seed }, TrainingProgress.Silent()) { StopAfterStep = stopAfter };

    static ToySummary Train(string outDir, ToyOptions? o = null, string? resume = null, long? stopAfter = null, string? allow = null, int seed = 0)
    {
        var ctx = Context(outDir, resume, stopAfter, allow, seed);
        try { return ToyPaper.Run(o ?? new ToyOptions(), ctx); }
        finally { ctx.Run?.Close(failed: false); }
    }

    [Fact]
    public void Same_seed_gives_the_same_losses_and_another_seed_does_not()
    {
        using var dir = new TempDir();
        var a = Train(dir.File("a"));
        var b = Train(dir.File("b"));
        var c = Train(dir.File("c"), seed: 1);
        Assert.Equal(a.Losses, b.Losses);
        Assert.NotEqual(a.Losses, c.Losses);
        Assert.True(a.Losses.TakeLast(5).Average() < a.Losses.Take(5).Average() * 0.7, "the toy regression should learn");
    }

    [Fact]
    public void Stopping_and_resuming_gives_exactly_the_uninterrupted_run_with_one_history()
    {
        using var dir = new TempDir();
        var straight = Train(dir.File("straight"));
        // stopped after step 17 (as by Ctrl-C): a checkpoint at 17, then resumed in the same folder
        var e = Assert.Throws<RunInterruptedException>(() => Train(dir.File("split"), stopAfter: 17));
        Assert.Equal(130, ((IFailureMessage)e).ExitCode);
        Assert.Contains("--resume", e.Message);
        var resumed = Train(dir.File("split"), resume: Path.Combine(dir.File("split"), "checkpoint.bin"));
        Assert.Equal(straight.Losses[17..], resumed.Losses);
        Assert.Equal(straight.Weights, resumed.Weights);
        Assert.Equal(straight.Steps, resumed.Steps);
        // metrics.csv tells one story: the rows of the straight run, in the same order (wall clock aside)
        static string[] Rows(string runDir) => File.ReadAllLines(Path.Combine(runDir, "metrics.csv"))
            .Where(l => !l.Contains(",process,")).Select(l => string.Join(',', l.Split(',')[..4])).ToArray();
        Assert.Equal(Rows(dir.File("straight")), Rows(dir.File("split")));
    }

    [Fact]
    public void Resuming_into_another_folder_carries_the_history_there()
    {
        using var dir = new TempDir();
        var straight = Train(dir.File("straight"));
        Assert.Throws<RunInterruptedException>(() => Train(dir.File("first"), stopAfter: 25));
        var resumed = Train(dir.File("second"), resume: dir.File("first"));   // a run folder works as well as its checkpoint.bin
        Assert.Equal(straight.Weights, resumed.Weights);
        var rows = MetricsLog.Read(Path.Combine(dir.File("second"), "metrics.csv"));
        Assert.Equal(new long[] { 5, 10, 15, 20, 25, 30, 35, 40 }, rows.Where(r => r.Name == "loss").Select(r => r.Step));
    }

    [Fact]
    public void A_NaN_loss_stops_before_the_weights_change_and_names_the_last_good_checkpoint()
    {
        using var dir = new TempDir();
        var e = Assert.Throws<NonFiniteLossException>(() => Train(dir.File("run"), new ToyOptions { PoisonAt = 23 }));
        Assert.Equal(23, e.Step);
        Assert.Equal(Path.Combine(dir.File("run"), "checkpoint.bin"), e.LastCheckpoint);
        Assert.Contains("step 23", e.Message);
        Assert.Equal(20, Checkpoint.Read(e.LastCheckpoint!).Header.Step);
    }

    [Fact]
    public void A_loss_that_explodes_but_stays_finite_stops_the_run_and_keeps_the_good_checkpoint()
    {
        using var dir = new TempDir();
        var e = Assert.Throws<DivergedException>(() => Train(dir.File("run"), new ToyOptions { BlowUpAt = 12, EvalEvery = 10 }));
        Assert.Contains("diverged", e.Message);
        Assert.Equal(10, Checkpoint.Read(Path.Combine(dir.File("run"), "checkpoint.bin")).Header.Step);
    }

    [Fact]
    public void A_non_finite_evaluation_never_replaces_the_last_good_checkpoint()
    {
        using var dir = new TempDir();
        var e = Assert.Throws<DivergedException>(() => Train(dir.File("run"), new ToyOptions { BadEvalAt = 30 }));
        Assert.Contains("val/mse = NaN", e.Message);
        Assert.Equal(20, Checkpoint.Read(Path.Combine(dir.File("run"), "checkpoint.bin")).Header.Step);
    }

    [Fact]
    public void A_resume_with_other_settings_is_refused_naming_them_unless_allowed()
    {
        using var dir = new TempDir();
        Assert.Throws<RunInterruptedException>(() => Train(dir.File("run"), stopAfter: 10));
        string ckpt = Path.Combine(dir.File("run"), "checkpoint.bin");
        var e = Assert.Throws<CheckpointException>(() => Train(dir.File("other"), new ToyOptions { Lr = 0.01, Steps = 60 }, resume: ckpt));
        Assert.Equal(2, e.ExitCode);
        Assert.Contains("--lr 0.05 --steps 40", e.Message);
        Assert.Contains("--lr 0.01 --steps 60", e.Message);
        Assert.Contains("--allow-change lr,steps", e.Message);
        // a setting that does not change the weights may differ freely; the seed may not
        Assert.Contains("--seed 0", Assert.Throws<CheckpointException>(() => Train(dir.File("seed"), resume: ckpt, seed: 5)).Message);
        var longer = Train(dir.File("longer"), new ToyOptions { Steps = 60, EvalEvery = 7 }, resume: ckpt, allow: "steps");
        Assert.Equal(60, longer.Steps);
        Assert.Contains("no setting named bogus", Assert.Throws<UsageException>(() => Train(dir.File("x"), resume: ckpt, allow: "bogus")).Message);
    }

    [Fact]
    public void A_checkpoint_past_the_end_or_of_another_paper_is_refused()
    {
        using var dir = new TempDir();
        Assert.Throws<RunInterruptedException>(() => Train(dir.File("run"), stopAfter: 30));
        string ckpt = Path.Combine(dir.File("run"), "checkpoint.bin");
        var e = Assert.Throws<CheckpointException>(() => Train(dir.File("short"), new ToyOptions { Steps = 20 }, resume: ckpt, allow: "steps"));
        Assert.Contains("step 30, outside this run's 0…20", e.Message);
        var (header, sections) = Checkpoint.Read(ckpt);
        Checkpoint.Write(ckpt, header with { Paper = "gpt" }, sections);
        Assert.Contains("a checkpoint of gpt, not of toy", Assert.Throws<CheckpointException>(() => Train(dir.File("x"), resume: ckpt)).Message);
        Checkpoint.Write(ckpt, header with { Step = 1_000_000_000_000 }, sections);
        Assert.Contains("outside this run's", Assert.Throws<CheckpointException>(() => Train(dir.File("y"), resume: ckpt)).Message);
    }

    [Fact]
    public void Evaluation_runs_in_eval_mode_and_training_resumes_in_train_mode()
    {
        using var dir = new TempDir();
        var s = Train(dir.File("run"), new ToyOptions { Steps = 25, EvalEvery = 5 });   // the asserts are inside the toy paper
        Assert.Equal(25, s.Steps);
        Assert.Equal(5, MetricsLog.Read(Path.Combine(dir.File("run"), "metrics.csv")).Count(r => r.Name == "mse"));
    }

    [Fact]
    public void A_run_can_end_early_and_steps_may_record_no_loss()
    {
        using var dir = new TempDir();
        var s = Train(dir.File("run"), new ToyOptions { EndAt = 22, LossFrom = 7 });
        Assert.Equal(23, s.Steps);
        Assert.Equal(16, s.Losses.Length);                                  // steps 7…22
        var rows = MetricsLog.Read(dir.File("run", "metrics.csv"));
        Assert.Equal(Enumerable.Range(1, 23).Select(i => (double)i - 1), rows.Where(r => r.Split == "custom").Select(r => r.Value));
        Assert.DoesNotContain(rows, r => r.Name == "loss" && r.Step == 5);  // no loss recorded before step 7: none logged
        Assert.Contains(rows, r => r.Name == "mse" && r.Step == 23);        // the early end evaluates
        var (header, _) = Checkpoint.Read(dir.File("run", "checkpoint.bin"));
        Assert.Equal((23L, 23L), (header.Step, header.TotalSteps));
        var again = Train(dir.File("run"), new ToyOptions { EndAt = 22, LossFrom = 7 }, resume: dir.File("run", "checkpoint.bin"));
        Assert.Empty(again.Losses);                                         // a finished run resumes to nothing
        Assert.Equal(s.Weights, again.Weights);
    }

    [Fact]
    public void Learning_rates_follow_the_schedule_from_the_step_itself()
    {
        using var dir = new TempDir();
        Train(dir.File("run"), new ToyOptions { Steps = 40 });
        var lr = MetricsLog.Read(Path.Combine(dir.File("run"), "metrics.csv")).Where(r => r.Name == "lr").ToList();
        var cosine = Schedules.Cosine(0.05, 40);
        Assert.All(lr, r => Assert.Equal(cosine(r.Step - 1), r.Value, 12));   // logged after step s: the rate step s − 1 used
    }
}

public class CheckpointTests
{
    static (nn.Module Model, optim.Optimizer Opt) Tiny(int seed = 0)
    {
        torch.manual_seed(seed);
        var model = nn.Linear(3, 2);
        var opt = optim.Adam(model.parameters(), 0.01);
        opt.zero_grad();
        model.forward(randn(4, 3)).sum().backward();
        opt.step();
        return (model, opt);
    }

    static string Write(TempDir dir)
    {
        var (model, opt) = Tiny();
        string path = dir.File("checkpoint.bin");
        var header = new CheckpointHeader("toy", 7, 10, 1.5, 70, 2.0, new() { ["lr"] = "0.01", ["seed"] = "0" });
        Checkpoint.Write(path, header, new[] { Checkpoint.Of("model", model), Checkpoint.Of("optimizer", opt), Checkpoint.Of(Array.Empty<MetricRow>()) });
        return path;
    }

    [Fact]
    public void A_checkpoint_reads_back_its_header_and_loads_into_a_fresh_model()
    {
        using var dir = new TempDir();
        string path = Write(dir);
        var (header, sections) = Checkpoint.Read(path);
        Assert.Equal(7, header.Step);
        Assert.Equal("0.01", header.Fingerprint["lr"]);
        var (model, opt) = Tiny(seed: 1);
        Checkpoint.Load(path, sections[0], model);
        Checkpoint.Load(path, sections[1], opt);
        var (original, _) = Tiny();
        Assert.All(model.parameters().Zip(original.parameters()), p => Assert.Equal(p.Second.data<float>().ToArray(), p.First.data<float>().ToArray()));
        Assert.Empty(Directory.GetFiles(dir.Path, "*.tmp"));
    }

    /// <summary>One flipped byte anywhere — magic, header, step, weights, optimizer state, digest — is refused, naming the file.</summary>
    [Theory]
    [InlineData(0.0)]
    [InlineData(0.02)]
    [InlineData(0.1)]
    [InlineData(0.3)]
    [InlineData(0.5)]
    [InlineData(0.7)]
    [InlineData(0.9)]
    [InlineData(0.999)]
    public void A_flipped_byte_anywhere_is_refused(double where)
    {
        using var dir = new TempDir();
        string path = Write(dir);
        byte[] bytes = File.ReadAllBytes(path);
        int i = Math.Min(bytes.Length - 1, (int)(where * bytes.Length));
        bytes[i] ^= 0x10;
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<CheckpointException>(() => Checkpoint.Read(path));
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void Truncated_empty_missing_and_foreign_files_are_refused_with_one_line()
    {
        using var dir = new TempDir();
        string path = Write(dir);
        byte[] bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);
        Assert.Contains("damaged", Assert.Throws<CheckpointException>(() => Checkpoint.Read(path)).Message);
        File.WriteAllBytes(path, Array.Empty<byte>());
        Assert.Contains("not a PaperLab checkpoint", Assert.Throws<CheckpointException>(() => Checkpoint.Read(path)).Message);
        File.WriteAllText(path, "\u00ff\u00ff\u00ff\u00ff some text that is long enough to be read as a length-prefixed string and more");
        Assert.Contains("not a PaperLab checkpoint", Assert.Throws<CheckpointException>(() => Checkpoint.Read(path)).Message);
        Assert.Contains("does not exist", Assert.Throws<CheckpointException>(() => Checkpoint.Read(dir.File("none.bin"))).Message);
        var (model, _) = Tiny();
        PyTorchExport.Save(model, path);
        Assert.Contains("not a PaperLab checkpoint", Assert.Throws<CheckpointException>(() => Checkpoint.Read(path)).Message);
    }

    [Fact]
    public void A_section_that_does_not_fit_the_model_is_named()
    {
        using var dir = new TempDir();
        string path = Write(dir);
        var (_, sections) = Checkpoint.Read(path);
        torch.manual_seed(0);
        var other = nn.Linear(5, 2);
        var e = Assert.Throws<CheckpointException>(() => Checkpoint.Load(path, sections[0], other));
        Assert.Contains("its model does not fit", e.Message);
    }
}

public class RunFolderTests
{
    [Fact]
    public void A_live_run_locks_its_folder_and_a_second_run_is_refused_naming_the_holder()
    {
        using var dir = new TempDir();
        using var first = RunFolder.Open(dir.File("run"), resuming: false);
        var e = Assert.Throws<RunFailureException>(() => RunFolder.Open(dir.File("run"), resuming: false));
        Assert.Contains($"in use by process {Environment.ProcessId}", e.Message);
        first.Close(failed: false);
        Assert.Contains("already holds a run", Assert.Throws<RunFailureException>(() => RunFolder.Open(dir.File("run"), resuming: false)).Message);
        using var again = RunFolder.Open(dir.File("run"), resuming: true);
    }

    [Fact]
    public void A_run_that_fails_before_its_first_step_leaves_no_folder_or_only_its_error_log()
    {
        using var dir = new TempDir();
        var run = RunFolder.Open(dir.File("a"), resuming: false);
        run.Close(failed: true);
        Assert.False(Directory.Exists(dir.File("a")));
        run = RunFolder.Open(dir.File("b"), resuming: false);
        run.WriteErrorLog(new InvalidOperationException("boom"));
        run.Close(failed: true, keepErrorLog: true);
        Assert.Equal(new[] { "error.log" }, Directory.GetFiles(dir.File("b")).Select(Path.GetFileName));
    }

    [Fact]
    public void Stale_temp_files_of_killed_writes_are_removed_when_a_run_opens_the_folder()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(dir.File("run"));
        File.WriteAllText(Path.Combine(dir.File("run"), ".checkpoint.bin.0123456789abcdef.tmp"), "half");
        using var run = RunFolder.Open(dir.File("run"), resuming: false);
        Assert.Empty(Directory.GetFiles(dir.File("run"), "*.tmp"));
    }

    [Fact]
    public void Atomic_writes_leave_the_old_file_when_writing_fails_and_name_an_unwritable_file()
    {
        using var dir = new TempDir();
        string path = dir.File("summary.json");
        AtomicFile.WriteAllText(path, "old");
        Assert.Throws<InvalidOperationException>(() => AtomicFile.Write(path, s => { s.WriteByte(1); throw new InvalidOperationException(); }));
        Assert.Equal("old", File.ReadAllText(path));
        Assert.Single(Directory.GetFiles(dir.Path));
        File.WriteAllText(dir.File("file"), "x");
        var e = Assert.Throws<FileAccessFailure>(() => AtomicFile.WriteAllText(Path.Combine(dir.File("file"), "inside.json"), "{}"));
        Assert.Contains(Path.Combine(dir.File("file"), "inside.json"), e.Message);
    }

    [Fact]
    public void A_malformed_metrics_file_is_named_with_its_bad_line()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("metrics.csv"), "step,split,name,value,wall_seconds\n1,train,loss,0.5,0.1\n2,train,loss,oops,0.2\n");
        var e = Assert.Throws<RunFailureException>(() => MetricsLog.Read(dir.File("metrics.csv")));
        Assert.Contains("line 3", e.Message);
        Assert.Contains(dir.File("metrics.csv"), e.Message);
    }
}

public class ScheduleTests
{
    [Fact]
    public void Cosine_falls_from_the_peak_to_the_floor_by_half_a_cosine()
    {
        var f = Schedules.Cosine(2e-3, 100);
        Assert.Equal(2e-3, f(0), 15);
        Assert.Equal(1e-3, f(50), 15);
        Assert.Equal(0, f(100), 15);
        Assert.Equal(0, f(150), 15);
        Assert.Equal(2e-4 + 0.5 * (1 + Math.Cos(Math.PI * 0.25)) * 1.8e-3, Schedules.Cosine(2e-3, 100, min: 2e-4)(25), 15);
    }

    [Fact]
    public void Warmup_cosine_is_nanoGPTs_get_lr()
    {
        var f = Schedules.WarmupCosine(1e-3, warmup: 100, decayEnd: 2000, min: 1e-4);
        Assert.Equal(1e-3 * 1 / 101, f(0), 15);
        Assert.Equal(1e-3 * 100 / 101, f(99), 15);
        Assert.Equal(1e-3, f(100), 15);
        Assert.Equal(1e-4 + 0.5 * (1e-3 - 1e-4), f(1050), 15);
        Assert.Equal(1e-4, f(2000), 15);
        Assert.Equal(1e-4, f(5000), 15);
    }

    [Fact]
    public void Noam_is_Eq_3_of_the_Transformer_paper()
    {
        var f = Schedules.Noam(512, 4000);
        // step_num = s + 1; the peak is at step_num = warmup: d^−0.5 · warmup^−0.5
        Assert.Equal(Math.Pow(512, -0.5) * Math.Pow(4000, -0.5), f(3999), 15);
        Assert.Equal(Math.Pow(512, -0.5) * 1 * Math.Pow(4000, -1.5), f(0), 15);
        Assert.Equal(Math.Pow(512, -0.5) * Math.Pow(16000, -0.5), f(15999), 15);
        Assert.True(f(3998) < f(3999) && f(4000) < f(3999));
    }
}

public class ResultsTests
{
    [Fact]
    public void The_command_of_a_record_leaves_out_this_machines_folders()
    {
        Assert.Equal("dotnet run --project papers/LeNet5 -c Release -- --threads 1 --epochs 3",
                     ResultRecord.CommandOf("papers/LeNet5", "--threads 1 --data /home/me/mnist --epochs 3 --out /tmp/run"));
        Assert.Equal("dotnet run --project papers/Gpt -c Release", ResultRecord.CommandOf("papers/Gpt", "--out x"));
    }

    [Fact]
    public void The_table_formats_errors_as_percentages_marks_wins_and_shows_the_note()
    {
        var record = new ResultRecord("LeNet-5", "papers/LeNet5", "mnist", "test_error", 0.0073, new Published("test_error", 0.0095, "LeCun et al. 1998"),
                                      "dotnet run --project papers/LeNet5 -c Release", 108, 138, 2, "2026-12-02", "AMD EPYC, 2 cores, 24 GiB",
                                      "20261202-101500", new(), new(), Note: "under load");
        string table = ResultsTable.Markdown([record]);
        Assert.Contains("| **0.73%** | 0.95% (LeCun et al. 1998) |", table);
        Assert.Contains("| 1 min 48 s | 2 | 2026-12-02 | AMD EPYC, 2 cores, 24 GiB; under load |", table);
        string readme = $"before\n{ResultsTable.Begin}\nstale row\n{ResultsTable.End}\nafter\n";
        string spliced = ResultsTable.Splice(readme, table);
        Assert.DoesNotContain("stale row", spliced);
        Assert.StartsWith("before\n", spliced);
        Assert.EndsWith($"{ResultsTable.End}\nafter\n", spliced);
        Assert.Equal(spliced, ResultsTable.Splice(spliced, table));   // idempotent: readme --check passes after readme
    }

    [Fact]
    public void A_record_can_report_its_own_figure_beside_a_published_one_it_cannot_measure()
    {
        var summary = new System.Text.Json.Nodes.JsonObject { ["fd_lenet"] = 20.36, ["fd_samples"] = 1000, ["dataset"] = "fashion-mnist" };
        var record = new ResultRecord("DDPM", "papers/Ddpm", "fashion-mnist", "fid_inception_cifar10", double.NaN,
                                      new Published("fid_inception_cifar10", 3.17, "Ho et al. 2020", LowerIsBetter: true, Comparable: false),
                                      "dotnet run --project papers/Ddpm -c Release", 1167, 1434, 2, "2026-12-03", "AMD EPYC, 2 cores, 24 GiB",
                                      "20261203-120134", summary, new());
        Assert.Contains("| — |", ResultsTable.Markdown([record]));
        var ours = record.WithMetric("fd_lenet");
        Assert.Equal(("fd_lenet", 20.36), (ours.Metric, ours.Ours));
        Assert.Contains("| fd lenet | 20.3600 | 3.1700 (Ho et al. 2020) — not comparable |", ResultsTable.Markdown([ours]));
        var e = Assert.Throws<UsageException>(() => record.WithMetric("fid"));
        Assert.Contains("fd_lenet, fd_samples", e.Message);
    }
}
