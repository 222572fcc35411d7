using PaperLab.Cli;
using PaperLab.Data;
using PaperLab.Metrics;
using PaperLab.Runs;
using PaperLab.Training;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace PaperLab.Tests;

/// <summary>Ten examples whose input is its own index, for checking what a loader hands out.</summary>
sealed class IndexDataset(long count) : ITensorDataset
{
    public long Count => count;
    public (Tensor Input, Tensor Target) Gather(long[] indices) => (tensor(indices).to(float32).unsqueeze(1), tensor(indices));
}

public class BatchLoaderTests
{
    static long[] Epoch(BatchLoader loader, int epoch) =>
        Enumerable.Range(0, loader.BatchesPerEpoch).SelectMany(b => loader.Indices((long)epoch * loader.BatchesPerEpoch + b)).ToArray();

    [Fact]
    public void Shuffle_visits_every_example_once_per_epoch_in_a_new_order()
    {
        var loader = new BatchLoader(new IndexDataset(103), 10, Sampling.Shuffle, seed: 1);
        Assert.Equal(11, loader.BatchesPerEpoch);
        var e0 = Epoch(loader, 0);
        var e1 = Epoch(loader, 1);
        Assert.Equal(Enumerable.Range(0, 103).Select(i => (long)i), e0.Order());
        Assert.Equal(Enumerable.Range(0, 103).Select(i => (long)i), e1.Order());
        Assert.NotEqual(e0, e1);
        Assert.NotEqual(Enumerable.Range(0, 103).Select(i => (long)i), e0);
    }

    [Fact]
    public void The_batch_of_a_step_depends_only_on_seed_and_step()
    {
        var a = new BatchLoader(new IndexDataset(1000), 32, Sampling.Shuffle, seed: 7);
        var b = new BatchLoader(new IndexDataset(1000), 32, Sampling.Shuffle, seed: 7);
        var c = new BatchLoader(new IndexDataset(1000), 32, Sampling.Shuffle, seed: 8);
        // b asked out of order (as after a resume) still agrees with a
        Assert.Equal(a.Indices(40), b.Indices(40));
        Assert.Equal(a.Indices(3), b.Indices(3));
        Assert.NotEqual(a.Indices(3), c.Indices(3));
        var r1 = new BatchLoader(new IndexDataset(1000), 32, Sampling.WithReplacement, seed: 7);
        Assert.Equal(r1.Indices(5), new BatchLoader(new IndexDataset(1000), 32, Sampling.WithReplacement, seed: 7).Indices(5));
        Assert.NotEqual(r1.Indices(5), r1.Indices(6));
    }

    [Fact]
    public void Drop_last_and_sequential_batches()
    {
        var keep = new BatchLoader(new IndexDataset(25), 10, Sampling.Sequential);
        Assert.Equal(3, keep.BatchesPerEpoch);
        Assert.Equal(new long[] { 20, 21, 22, 23, 24 }, keep.Indices(2));
        var drop = new BatchLoader(new IndexDataset(25), 10, Sampling.Sequential, dropLast: true);
        Assert.Equal(2, drop.BatchesPerEpoch);
        Assert.Equal(Enumerable.Range(10, 10).Select(i => (long)i), drop.Indices(1));
        Assert.Throws<ArgumentException>(() => new BatchLoader(new IndexDataset(5), 10, dropLast: true));
        Assert.Throws<ArgumentException>(() => new BatchLoader(new IndexDataset(5), 0));
    }

    [Fact]
    public void Token_windows_pair_each_token_with_the_next()
    {
        var data = new TokenWindowDataset(Enumerable.Range(100, 20).ToArray(), blockSize: 4);
        Assert.Equal(16, data.Count);
        var (x, y) = data.Gather(new long[] { 0, 15 });
        Assert.Equal(new long[] { 2, 4 }, x.shape);
        Assert.Equal(new long[] { 100, 101, 102, 103, 115, 116, 117, 118 }, x.data<long>().ToArray());
        Assert.Equal(new long[] { 101, 102, 103, 104, 116, 117, 118, 119 }, y.data<long>().ToArray());
        Assert.Throws<ArgumentException>(() => new TokenWindowDataset(new int[4], 4));
    }

    [Fact]
    public void Image_tensors_are_scaled_and_normalised()
    {
        byte[] pixels = { 0, 255, 51, 102 };
        using var data = new ImageTensorDataset(pixels, new byte[] { 3 }, 2, 2, mean: 0.5, std: 0.5);
        var (x, y) = data.Gather(new long[] { 0 });
        Assert.Equal(new long[] { 1, 1, 2, 2 }, x.shape);
        Assert.Equal(new[] { -1f, 1f, -0.6f, -0.2f }, x.data<float>().ToArray().Select(v => MathF.Round(v, 5)));
        Assert.Equal(3L, y.item<long>());
        Assert.Throws<ArgumentException>(() => new ImageTensorDataset(pixels, new byte[2], 2, 2));
    }
}

public class ClassificationTests
{
    static float[] OneHot(int[] classes, int k) =>
        classes.SelectMany(c => Enumerable.Range(0, k).Select(j => j == c ? 1f : 0f)).ToArray();

    [Fact]
    public void Class_indices_reach_MLNET_unshifted_including_class_0()
    {
        // Pins how ML.NET reads key-typed labels here: class k passed as k, 0 included.
        int[] labels = { 0, 0, 1, 2, 2, 2 };
        var perfect = Classification.Evaluate(OneHot(labels, 3), labels, 3);
        Assert.Equal(1.0, perfect.Accuracy, 10);
        Assert.Equal(new[] { 2, 0, 0 }, perfect.Confusion[0]);
        Assert.Equal(new[] { 0, 1, 0 }, perfect.Confusion[1]);
        Assert.Equal(new[] { 0, 0, 3 }, perfect.Confusion[2]);

        // every prediction shifted by one class: nothing is right
        int[] shifted = labels.Select(c => (c + 1) % 3).ToArray();
        var wrong = Classification.Evaluate(OneHot(shifted, 3), labels, 3);
        Assert.Equal(0.0, wrong.Accuracy, 10);
        Assert.Equal(2, wrong.Confusion[0][1]); // true 0 predicted 1 (rows: truth, columns: prediction)
    }

    [Fact]
    public void Accuracy_error_and_log_loss_agree_with_their_definitions()
    {
        int[] labels = { 0, 1, 1, 0 };
        float[] p = { 0.9f, 0.1f, 0.2f, 0.8f, 0.6f, 0.4f, 0.7f, 0.3f };
        var r = Classification.Evaluate(p, labels, 2);
        Assert.Equal(0.75, r.Accuracy, 10);
        Assert.Equal(0.25, r.Error, 10);
        double logLoss = -(Math.Log(0.9) + Math.Log(0.8) + Math.Log(0.4) + Math.Log(0.7)) / 4;
        Assert.Equal(logLoss, r.LogLoss, 5);
        Assert.Throws<ArgumentException>(() => Classification.Evaluate(p, new[] { 0, 1, 2, 0 }, 2));
    }

    [Fact]
    public void Running_mean_and_throughput()
    {
        var m = new RunningMean();
        Assert.True(double.IsNaN(m.Mean));
        m.Add(1.0, 3);
        m.Add(3.0, 1);
        Assert.Equal(1.5, m.Mean);
        var t = new Throughput();
        t.Start(); Thread.Sleep(50); t.Add(100); t.Stop();
        Assert.InRange(t.PerSecond, 100, 2100);
    }
}

public class TrainerTests
{
    static (nn.Module<Tensor, Tensor> Model, optim.Optimizer Opt, BatchLoader Loader) Tiny()
    {
        torch.manual_seed(0);
        var model = nn.Linear(1, 1);
        var opt = optim.SGD(model.parameters(), 0.01);
        return (model, opt, new BatchLoader(new IndexDataset(64), 8, Sampling.Shuffle, 0));
    }

    [Fact]
    public void A_NaN_loss_stops_the_run_names_the_step_and_keeps_the_last_good_checkpoint()
    {
        var (model, opt, loader) = Tiny();
        string dir = Directory.CreateTempSubdirectory("nan").FullName;
        string ckpt = Path.Combine(dir, "ckpt.bin");
        long step = 0;
        var trainer = new Trainer(model, opt, loader,
            (x, y) => (step++ == 10 ? float.NaN : 1f) * nn.functional.mse_loss(model.forward(x), y.to(float32).unsqueeze(1) / 64),
            new TrainSettings { Steps = 20, EvalEvery = 4, Seed = 0, CheckpointPath = ckpt }, progress: TrainingProgress.Silent());

        var e = Assert.Throws<NonFiniteLossException>(() => trainer.Run());
        Assert.Equal(10, e.Step);
        Assert.Equal(ckpt, e.LastCheckpoint);
        Assert.Contains("step 10", e.Message);
        Assert.Contains("NaN", e.Message);
        // the checkpoint on disk is the one of step 8, and it loads
        var (model2, opt2, _) = Tiny();
        Assert.Equal(8, Checkpoint.Load(ckpt, model2, opt2));
        Directory.Delete(dir, true);
    }

    [Fact]
    public void Gradient_clipping_bounds_the_update()
    {
        var (model, _, loader) = Tiny();
        var before = model.parameters().Select(p => p.detach().clone()).ToArray();
        var opt = optim.SGD(model.parameters(), 1.0);
        new Trainer(model, opt, loader, (x, y) => 1e6 * nn.functional.mse_loss(model.forward(x), y.to(float32).unsqueeze(1)),
            new TrainSettings { Steps = 1, ClipGradNorm = 0.5 }, progress: TrainingProgress.Silent()).Run();
        double moved = Math.Sqrt(model.parameters().Zip(before).Sum(p => (p.First - p.Second).pow(2).sum().item<float>()));
        Assert.InRange(moved, 0.49, 0.5001); // lr 1 × gradient of norm 0.5
    }

    [Fact]
    public void Progress_lines_count_the_items_the_run_names()
    {
        var (model, opt, loader) = Tiny();
        var log = new StringWriter();
        new Trainer(model, opt, loader, (x, y) => nn.functional.mse_loss(model.forward(x), y.to(float32).unsqueeze(1)),
            new TrainSettings { Steps = 4, LogEvery = 2, ItemsPerStep = 8 * 32, ItemName = "tokens" },
            progress: new TrainingProgress(log)).Run();
        var lines = log.ToString().Split('\n').Where(l => l.StartsWith("step ")).ToArray();
        Assert.Equal(2, lines.Length);
        Assert.All(lines, l => Assert.Contains(" tokens/s", l));
        Assert.DoesNotContain("samples/s", log.ToString());
    }

    [Fact]
    public void Corrupt_or_missing_checkpoints_are_named_in_the_error()
    {
        var (model, opt, _) = Tiny();
        string dir = Directory.CreateTempSubdirectory("ckpt").FullName;
        string path = Path.Combine(dir, "ckpt.bin");
        Assert.Contains("does not exist", Assert.Throws<CheckpointException>(() => Checkpoint.Load(path, model, opt)).Message);
        Checkpoint.Save(path, model, opt, 5);
        byte[] bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);
        var e = Assert.Throws<CheckpointException>(() => Checkpoint.Load(path, model, opt));
        Assert.Contains(path, e.Message);
        File.WriteAllText(path, "hello");
        Assert.Contains("not a PaperLab checkpoint", Assert.Throws<CheckpointException>(() => Checkpoint.Load(path, model, opt)).Message);
        Assert.Empty(Directory.GetFiles(dir, "*.tmp"));
        Directory.Delete(dir, true);
    }

    [Fact]
    public void Atomic_writes_leave_the_old_file_when_writing_fails()
    {
        string dir = Directory.CreateTempSubdirectory("atomic").FullName;
        string path = Path.Combine(dir, "summary.json");
        AtomicFile.WriteAllText(path, "old");
        Assert.Throws<InvalidOperationException>(() => AtomicFile.Write(path, s => { s.WriteByte(1); throw new InvalidOperationException(); }));
        Assert.Equal("old", File.ReadAllText(path));
        Assert.Single(Directory.GetFiles(dir));
        Directory.Delete(dir, true);
    }
}

public class CommandLineTests
{
    static (bool Ok, int Exit, string Out, string Err, CommonOptions Common) Parse(params string[] args)
    {
        var cli = new PaperCommandLine("test", "a test paper");
        var epochs = cli.Add(new System.CommandLine.Option<int?>("--epochs"));
        var o = new StringWriter();
        var e = new StringWriter();
        bool ok = cli.TryParse(args, out var common, out _, out int exit, o, e);
        return (ok, exit, o.ToString(), e.ToString(), common);
    }

    [Fact]
    public void Common_options_parse_with_their_defaults()
    {
        var r = Parse("--seed", "3", "--threads", "2", "--smoke", "--out", "x", "--epochs", "4");
        Assert.True(r.Ok);
        Assert.Equal(new CommonOptions(3, 2, "x", null, null, true), r.Common);
        Assert.Equal(0, Parse().Common.Seed);
    }

    [Theory]
    [InlineData("--bogus")]
    [InlineData("--epochs", "many")]
    [InlineData("--seed")]
    [InlineData("--threads", "0")]
    public void Unknown_or_malformed_options_print_usage_to_stderr_and_exit_2(params string[] args)
    {
        var r = Parse(args);
        Assert.False(r.Ok);
        Assert.Equal(2, r.Exit);
        Assert.Contains("error:", r.Err);
        Assert.Contains("Usage:", r.Err);
        Assert.Equal("", r.Out);
    }

    [Fact]
    public void Help_goes_to_stdout_with_exit_0()
    {
        var r = Parse("--help");
        Assert.False(r.Ok);
        Assert.Equal(0, r.Exit);
        Assert.Contains("--seed", r.Out);
        Assert.Contains("--smoke", r.Out);
    }
}

public class ImageAugmentTests
{
    [Fact]
    public void Shifts_move_the_image_and_fill_with_the_given_value()
    {
        torch.manual_seed(0);
        using var x = arange(16, dtype: float32).reshape(1, 1, 4, 4) + 1; // no zero pixel
        using var y = ImageAugment.ShiftAndFlip(x, maxShift: 1, horizontalFlip: false, fill: -5.0);
        Assert.Equal(x.shape, y.shape);
        var v = y.data<float>().ToArray();
        // every output pixel is either an input pixel or the fill
        Assert.All(v, p => Assert.True(p == -5f || (p >= 1 && p <= 16)));
        // over many draws, some image moved and none lost pixels beyond one row and one column
        var moved = Enumerable.Range(0, 20).Select(_ => ImageAugment.ShiftAndFlip(x, 1, false, -5.0)).ToList();
        Assert.Contains(moved, m => !m.equal(x).all().item<bool>());
        Assert.All(moved, m => Assert.True(m.eq(-5f).sum().item<long>() <= 7));
    }

    [Fact]
    public void Flips_mirror_about_half_the_images_left_to_right()
    {
        torch.manual_seed(1);
        using var x = arange(4, dtype: float32).reshape(1, 1, 1, 4).expand(200, 1, 1, 4).contiguous();
        using var y = ImageAugment.ShiftAndFlip(x, 0, horizontalFlip: true);
        var rows = y.reshape(200, 4);
        long mirrored = rows[.., 0].eq(3f).sum().item<long>();
        long kept = rows[.., 0].eq(0f).sum().item<long>();
        Assert.Equal(200, mirrored + kept);
        Assert.InRange(mirrored, 70, 130);
        Assert.Equal(new[] { 3f, 2f, 1f, 0f }, rows[rows[.., 0].eq(3f).nonzero()[0, 0]].data<float>().ToArray());
    }
}
