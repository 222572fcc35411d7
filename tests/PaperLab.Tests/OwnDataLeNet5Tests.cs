using System.Text.Json;
using PaperLab.Cli;
using PaperLab.Data;
using PaperLab.Data.Sources;
using PaperLab.Papers.LeNet5;
using Xunit;
using static TorchSharp.torch;

namespace PaperLab.Tests;

/// <summary>LeNet-5 on your own folder of images, built at test time from real MNIST written as PNG/JPEG.</summary>
[Collection("mnist")]
public class OwnDataLeNet5Tests(MnistFixture mnist) : IDisposable
{
    readonly TempFolder _tmp = new();
    public void Dispose() => _tmp.Dispose();

    static LeNet5Options Smoke(string dataset) => LeNet5Options.Defaults(new() { Dataset = dataset }, new RunOptions { Smoke = true }) with { Dataset = dataset };

    /// <summary>The index encoded in a file name written by ImageFolderWriter ("train/3/00042.png" → 42).</summary>
    static int IndexOf(string file) => int.Parse(Path.GetFileNameWithoutExtension(file)[..5]);

    [Fact]
    public void Smoke_run_on_a_folder_of_png_digits_beats_the_majority_class_and_reports_the_data()
    {
        ImageFolderWriter.Write(mnist.Train.Take(700), _tmp["digits"]);
        var o = Smoke("folder:" + _tmp["digits"]);
        var summary = PaperRun.Run(Experiment.Run, o, PaperRun.Context(Experiment.Paper, _tmp["run"]));

        Assert.Equal("valid", summary.EvalSplit);
        Assert.Equal(10, summary.Classes);
        Assert.NotNull(summary.MajorityAccuracy);
        Assert.True(summary.TestAccuracy > summary.MajorityAccuracy + 0.3,
                    $"accuracy {summary.TestAccuracy} on the validation digits vs always-the-most-frequent-class {summary.MajorityAccuracy}");
        Assert.False(summary.Published.Comparable);
        foreach (var f in new[] { "data_report.txt", "data_report.json", "data_samples.png", "report.html", "model.pt" })
            Assert.True(File.Exists(Path.Combine(_tmp["run"], f)), $"{f} missing from the run folder");
        string html = File.ReadAllText(Path.Combine(_tmp["run"], "report.html"));
        Assert.Contains("<h2>Data</h2>", html);
        Assert.Contains("images used of 700 image files", html);
        using var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(_tmp["run"], "config.json")));
        var source = config.RootElement.GetProperty("data").GetProperty("source");
        Assert.Equal(700, source.GetProperty("file_count").GetInt32());
        Assert.Equal(64, source.GetProperty("content_sha256").GetString()!.Length);
    }

    [Fact]
    public void The_network_adapts_to_rgb_images_of_another_size_and_to_the_number_of_classes()
    {
        var three = mnist.Train.Take(400);
        var keep = Enumerable.Range(0, three.Count).Where(i => three.Labels[i] < 3).ToArray();
        ImageFolderWriter.Write(three.Subset(keep), _tmp["abc"], ImageFileFormat.Jpeg);
        var o = Smoke("folder:" + _tmp["abc"]) with { Channels = 3, ImageSize = 32, Epochs = 2 };
        var summary = PaperRun.Run(Experiment.Run, o, PaperRun.Context(Experiment.Paper, _tmp["run"]));

        Assert.Equal(3, summary.Classes);
        Assert.Equal(LeNet5.ExpectedParameters(3, 3, 32), summary.Parameters);
        Assert.Equal(6 * (3 * 25 + 1) + 16 * 151 + 120 * (16 * 6 * 6 + 1) + 84 * 121 + 3 * 85, summary.Parameters);   // S4 is 6×6 for N = 32
        Assert.True(summary.TestAccuracy > summary.MajorityAccuracy, $"{summary.TestAccuracy} vs majority {summary.MajorityAccuracy}");
    }

    [Fact]
    public void The_same_images_as_png_and_as_idx_give_the_same_tensors()
    {
        var train = mnist.Train.Take(300);
        var test = mnist.Test.Take(100);
        ImageFolderWriter.WriteTrainTest(train, test, _tmp["mnist-png"]);
        var o = new LeNet5Options { Dataset = "folder:" + _tmp["mnist-png"], ValidPct = 0 };
        var folder = LeNet5Data.LoadFolder(o, DatasetArgument.Parse(o.Dataset), threads: 2);
        Assert.Equal(300, folder.Train.Count);
        Assert.Equal(100, folder.Test!.Count);

        foreach (var (set, idx) in new[] { (folder.Train, train), (folder.Test, test) })
        {
            var order = set.Files.Select(IndexOf).ToArray();          // folder order → IDX record
            var fromIdx = idx.Subset(order);
            Assert.Equal(fromIdx.Pixels, set.Pixels);                 // every pixel, byte for byte
            Assert.Equal(fromIdx.Labels.Select(l => (int)l), set.Labels);
            using var a = new ImageTensorDataset(fromIdx.Pixels, fromIdx.Labels, 28, 28, 0.1307, 0.3081);
            using var b = new ImageSetTensors(set, [0.1307], [0.3081]);
            long[] all = Enumerable.Range(0, set.Count).Select(i => (long)i).ToArray();
            var (xa, ya) = a.Gather(all);
            var (xb, yb) = b.Gather(all);
            Assert.Equal(xa.shape, xb.shape);
            Assert.True(xa.allclose(xb, rtol: 0, atol: 1e-6), $"largest difference {(xa - xb).abs().max().item<float>()}");
            Assert.True(ya.equal(yb).all().item<bool>());
        }
    }

    [Fact]
    public void Bad_folders_exit_1_naming_the_path_and_leave_no_run_folder()
    {
        Directory.CreateDirectory(_tmp["empty"]);
        ImageFolderWriter.Write(mnist.Train.Subset(Enumerable.Range(0, 50).Where(i => mnist.Train.Labels[i] == 1).ToArray()), _tmp["one"]);
        ImageFolderWriter.Write(mnist.Train.Take(60), _tmp["corrupt"]);
        File.WriteAllBytes(Path.Combine(_tmp["corrupt"], "3", "broken.png"), [0x89, 0x50, 0x4E, 0x47, 1, 2, 3]);

        foreach (var (dir, extra, expect) in new[]
                 {
                     (_tmp["empty"], "", "no images"),
                     (_tmp["nowhere"], "", "no such folder"),
                     (_tmp["one"], "", "only one class"),
                     (_tmp["corrupt"], "--strict", "broken.png"),
                 })
        {
            var args = new List<string> { "--dataset", "folder:" + dir, "--smoke", "--threads", "1", "--out", _tmp["run"] };
            if (extra.Length > 0) args.Add(extra);
            var (exit, stderr) = PaperMain.Run(Experiment.Main, args.ToArray());
            Assert.True(exit == 1, $"{dir}: exit {exit}: {stderr}");
            string line = stderr.Split('\n').Single(l => l.StartsWith("error: "));
            Assert.Contains(expect, line);
            Assert.Contains(expect == "broken.png" ? Path.Combine(_tmp["corrupt"], "3") : dir, line);
            Assert.False(Directory.Exists(_tmp["run"]) && Directory.EnumerateFileSystemEntries(_tmp["run"]).Any(), $"{dir}: left a run folder");
        }
    }

    [Theory]
    [InlineData("LeNet-5 cannot train on --dataset text:", "--dataset", "text:poems.txt")]
    [InlineData("neither a built-in dataset nor KIND:PATH", "--dataset", "cifar10")]
    [InlineData("--image-size and --channels apply to folder: datasets", "--image-size", "32")]
    [InlineData("--channels 2: give 1 (grey) or 3 (RGB)", "--dataset", "folder:x", "--channels", "2")]
    public void Sources_it_cannot_use_exit_2(string message, params string[] args)
    {
        var (exit, stderr) = PaperMain.Run(Experiment.Main, args);
        Assert.Equal(2, exit);
        Assert.Contains(message, stderr);
    }
}

/// <summary>DDPM on your own images, with and without class folders.</summary>
[Collection("mnist")]
public class OwnDataDdpmTests(MnistFixture mnist) : IDisposable
{
    readonly TempFolder _tmp = new();
    public void Dispose() => _tmp.Dispose();

    [Fact]
    public void Smoke_on_a_folder_of_unlabelled_images_beats_predicting_zero_noise()
    {
        Directory.CreateDirectory(_tmp["faces"]);
        var digits = mnist.Train.Take(300);
        for (int i = 0; i < digits.Count; i++)   // no class subfolders: images directly in the folder
            File.WriteAllBytes(Path.Combine(_tmp["faces"], $"{i:D4}.png"), ImageDecoding.EncodePng(digits.Image(i), 28, 28, 1));
        var o = Papers.Ddpm.DdpmOptions.Defaults(new() { Dataset = "folder:" + _tmp["faces"] }, new RunOptions { Smoke = true }) with { Steps = 60 };
        var summary = PaperRun.Run(Papers.Ddpm.Experiment.Run, o, PaperRun.Context(Papers.Ddpm.Experiment.Paper, _tmp["run"]));

        Assert.NotNull(summary.ValidLoss);
        Assert.InRange(summary.ZeroNoiseLoss!.Value, 0.8, 1.2);   // E‖ε‖²/D = 1
        Assert.True(summary.ValidLoss < summary.ZeroNoiseLoss - 0.2, $"held-out L_simple {summary.ValidLoss} vs predicting zero {summary.ZeroNoiseLoss}");
        Assert.True(File.Exists(Path.Combine(_tmp["run"], "samples.png")));
        Assert.Contains("unlabelled images", File.ReadAllText(Path.Combine(_tmp["run"], "report.html")));
    }

    [Fact]
    public void Rgb_images_of_another_size_go_through_the_unet_and_bad_sizes_exit_2()
    {
        ImageFolderWriter.Write(mnist.Train.Take(120), _tmp["digits"], ImageFileFormat.Jpeg);
        var o = Papers.Ddpm.DdpmOptions.Defaults(new() { Dataset = "folder:" + _tmp["digits"] }, new RunOptions { Smoke = true })
                with { Steps = 4, ImageChannels = 3, ImageSize = 16, FinalSamples = 4, SampleSteps = 2, EvalEvery = 100 };
        var summary = PaperRun.Run(Papers.Ddpm.Experiment.Run, o, PaperRun.Context(Papers.Ddpm.Experiment.Paper, _tmp["run"]));
        Assert.True(double.IsFinite(summary.ValidLoss!.Value));
        var (exit, stderr) = PaperMain.Run(Papers.Ddpm.Experiment.Main, ["--dataset", "folder:" + _tmp["digits"], "--image-size", "30", "--smoke"]);
        Assert.Equal(2, exit);
        Assert.Contains("--image-size 30: give a multiple of 4", stderr);
    }
}
