using PaperLab.Cli;
using PaperLab.Data;
using PaperLab.Papers.LeNet5;
using PaperLab.Training;
using System.Text.Json;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace PaperLab.Tests;

/// <summary>Real MNIST, loaded once for the LeNet-5 tests (found like the experiment finds it).</summary>
public sealed class MnistFixture : IDisposable
{
    public ImageDataset Train { get; }
    public ImageDataset Test { get; }
    public string Dir { get; }

    public MnistFixture()
    {
        Dir = DatasetLocator.Locate(DatasetCatalog.Get("mnist"), null);
        Train = MnistFamily.Load(Dir, Split.Train, "mnist");
        Test = MnistFamily.Load(Dir, Split.Test, "mnist");
    }

    /// <summary>The first <paramref name="n"/> training images as normalised tensors.</summary>
    public ImageTensorDataset TrainTensors(int n)
    {
        var part = Train.Take(n);
        return new ImageTensorDataset(part.Pixels, part.Labels, 28, 28, 0.1307, 0.3081);
    }

    public void Dispose() { }
}

[CollectionDefinition("mnist")]
public sealed class MnistCollection : ICollectionFixture<MnistFixture> { }

[Collection("mnist")]
public class LeNet5Tests(MnistFixture mnist)
{
    static LeNet5 NewModel(int seed = 0)
    {
        torch.manual_seed(seed);
        return new LeNet5();
    }

    [Fact]
    public void Parameter_count_matches_the_derivation_layer_by_layer()
    {
        using var model = NewModel();
        var counts = ParameterCounts.ByChild(model);
        Assert.Equal(new[] { ("conv1", 156L), ("conv2", 2416L), ("fc1", 48120L), ("fc2", 10164L), ("fc3", 850L) }, counts);
        Assert.Equal(61_706L, LeNet5.ExpectedParameters());
        Assert.Equal(LeNet5.ExpectedParameters(), model.parameters().Sum(p => p.numel()));
    }

    [Fact]
    public void Shapes_through_the_network_are_the_papers()
    {
        using var model = NewModel();
        using var x = randn(3, 1, 28, 28);
        using var logits = model.forward(x);
        using var features = model.Features(x);
        Assert.Equal(new long[] { 3, 10 }, logits.shape);
        Assert.Equal(new long[] { 3, 84 }, features.shape);
        var e = Assert.Throws<ArgumentException>(() => model.forward(randn(3, 1, 32, 32)));
        Assert.Contains("(B, 1, 28, 28)", e.Message);
    }

    [Fact]
    public void Gradients_match_finite_differences()
    {
        // Central differences in float64 on a tiny batch, for a sample of weights in every layer.
        using var model = NewModel(seed: 1);
        model.to(float64);
        using var x = randn(2, 1, 28, 28, dtype: float64);
        using var y = tensor(new long[] { 3, 7 });
        Tensor Loss() => nn.functional.cross_entropy(model.forward(x), y);

        Diagnostics.GradientCheck.MatchesFiniteDifferences(model, Loss);
    }

    [Fact]
    public void Loss_at_initialisation_is_about_ln_10()
    {
        using var model = NewModel();
        using var data = mnist.TrainTensors(512);
        var (x, y) = data.Gather(Enumerable.Range(0, 512).Select(i => (long)i).ToArray());
        double loss = nn.functional.cross_entropy(model.forward(x), y).item<float>();
        Assert.InRange(loss, Math.Log(10) - 0.15, Math.Log(10) + 0.15);
    }

    [Fact]
    public void Overfits_one_batch_of_real_digits()
    {
        using var model = NewModel();
        using var data = mnist.TrainTensors(32);
        var (x, y) = data.Gather(Enumerable.Range(0, 32).Select(i => (long)i).ToArray());
        var opt = optim.Adam(model.parameters(), lr: 3e-3);
        double loss = double.NaN;
        for (int i = 0; i < 150; i++)
        {
            using var scope = NewDisposeScope();
            opt.zero_grad();
            var l = nn.functional.cross_entropy(model.forward(x), y);
            l.backward();
            opt.step();
            loss = l.item<float>();
        }
        Assert.True(loss < 0.01, $"loss after 150 steps on one batch: {loss}");
        Assert.Equal(y.data<long>().ToArray(), model.forward(x).argmax(1).data<long>().ToArray());
    }

    static LeNet5Options Smoke => LeNet5Options.Defaults(new(), new RunOptions { Smoke = true });

    [Fact]
    public void Smoke_run_on_real_mnist_beats_chance_by_far_and_writes_the_run_folder()
    {
        using var dir = new TempDir();
        var summary = PaperRun.Run(Experiment.Run, Smoke, PaperRun.Context(Experiment.Paper, dir.File("run"), mnist.Dir));
        Assert.True(summary.TestAccuracy > 0.6, $"smoke accuracy {summary.TestAccuracy} (chance is 0.1)");
        Assert.True(summary.TestAccuracy > summary.Baseline.TestAccuracy - 0.1, "LeNet-5 should not trail the linear baseline by far");
        using var json = JsonDocument.Parse(File.ReadAllText(dir.File("run", "summary.json")));
        Assert.Equal(summary.TestError, json.RootElement.GetProperty("test_error").GetDouble());
        Assert.Equal(0.0095, json.RootElement.GetProperty("published").GetProperty("value").GetDouble());
        foreach (var f in new[] { "config.json", "metrics.csv", "checkpoint.bin", "model.pt", "report.html" })
            Assert.True(File.Exists(dir.File("run", f)), $"{f} missing from the run folder");
        var config = JsonDocument.Parse(File.ReadAllText(dir.File("run", "config.json"))).RootElement;
        Assert.Equal("ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
                     config.GetProperty("data").GetProperty("files")[0].GetProperty("sha256").GetString());
    }

    [Fact]
    public void Same_seed_gives_identical_losses_and_another_seed_does_not()
    {
        using var dir = new TempDir();
        var o = Smoke with { Epochs = 1 };
        string[] Losses(string name, int seed)
        {
            PaperRun.Run(Experiment.Run, o, PaperRun.Context(Experiment.Paper, dir.File(name), mnist.Dir, seed: seed));
            return File.ReadAllLines(dir.File(name, "metrics.csv")).Where(l => l.Contains(",train,loss,")).Select(l => l.Split(',')[3]).ToArray();
        }
        var a = Losses("a", 5);
        Assert.Equal(a, Losses("b", 5));
        Assert.NotEqual(a, Losses("c", 6));
    }

    [Fact]
    public void Resuming_gives_exactly_the_uninterrupted_run() =>
        PaperRun.ResumesBitIdentically(Experiment.Paper, Experiment.Run, Smoke with { Shift = 1, Flip = true }, stopAfter: 33, data: mnist.Dir);

    [Fact]
    public void PyTorch_export_loads_back_with_equal_tensors()
    {
        using var model = NewModel(seed: 4);
        string path = Path.Combine(Path.GetTempPath(), $"lenet5-{Guid.NewGuid():N}.pt");
        PyTorchExport.Save(model, path);
        using var copy = NewModel(seed: 5);
        Assert.NotEqual(model.state_dict()["conv1.weight"].data<float>().ToArray(), copy.state_dict()["conv1.weight"].data<float>().ToArray());
        PyTorchExport.Load(copy, path);
        var expected = model.state_dict();
        var actual = copy.state_dict();
        Assert.Equal(new[] { "conv1.bias", "conv1.weight", "conv2.bias", "conv2.weight", "fc1.bias", "fc1.weight", "fc2.bias", "fc2.weight", "fc3.bias", "fc3.weight" },
                     actual.Keys.Order());
        foreach (var (key, t) in expected)
            Assert.True(t.equal(actual[key]).all().item<bool>(), $"{key} differs after the round trip");
        File.Delete(path);
    }

    [Theory]
    [InlineData("--epochs: expected an integer in [1, 10000], got 'zero'", "--epochs", "zero")]
    [InlineData("--epochs: expected an integer in [1, 10000], got '0'", "--epochs", "0")]
    [InlineData("--dataset 'cifar10' is neither a built-in dataset nor KIND:PATH", "--dataset", "cifar10")]
    [InlineData("--lr: expected a number in (0, 10], got '-1'", "--lr", "-1")]
    public void Bad_flags_exit_2_naming_the_option(string message, params string[] args)
    {
        var (exit, stderr) = PaperMain.Run(Experiment.Main, args);
        Assert.Equal(2, exit);
        Assert.Contains(message, stderr);
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
