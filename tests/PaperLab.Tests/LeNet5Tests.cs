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
        var counts = model.ParameterCounts();
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

        GradientCheck.MatchesFiniteDifferences(model, Loss);
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

    [Fact]
    public void Smoke_run_on_real_mnist_beats_chance_by_far_and_writes_the_run_folder()
    {
        string outDir = Path.Combine(Path.GetTempPath(), "lenet5-smoke-" + Guid.NewGuid().ToString("N"));
        var run = Experiment.Run(LeNet5Config.Smoke("mnist"), new CommonOptions(0, 1, outDir, mnist.Dir, null, true),
                                 TrainingProgress.Silent());
        using var summary = JsonDocument.Parse(File.ReadAllText(run.File("summary.json")));
        double accuracy = summary.RootElement.GetProperty("test_accuracy").GetDouble();
        Assert.True(accuracy > 0.6, $"smoke accuracy {accuracy} (chance is 0.1)");
        Assert.Equal(0.0095, summary.RootElement.GetProperty("published").GetProperty("value").GetDouble());
        foreach (var f in new[] { "config.json", "metrics.csv", "checkpoint.bin", "model.pt" })
            Assert.True(File.Exists(run.File(f)), $"{f} missing from the run folder");
        Directory.Delete(outDir, true);
    }

    static IReadOnlyList<float> TrainLosses(ImageTensorDataset data, int seed, int epochs, string? checkpoint = null,
                                            string? resume = null, int? initSeed = null)
    {
        torch.manual_seed(initSeed ?? seed);
        var model = new LeNet5();
        var opt = optim.Adam(model.parameters(), lr: 1e-3);
        var loader = new BatchLoader(data, 32, Sampling.Shuffle, seed);
        // a schedule over a fixed horizon of 2 epochs, so that a resumed run must fast-forward it
        long horizon = 2 * loader.BatchesPerEpoch;
        var schedule = optim.lr_scheduler.LambdaLR(opt, s => 0.5 * (1 + Math.Cos(Math.PI * Math.Min(s, horizon) / horizon)));
        var trainer = new Trainer(model, opt, loader, (x, y) => nn.functional.cross_entropy(model.forward(x), y),
            new TrainSettings { Epochs = epochs, Seed = seed, CheckpointPath = checkpoint }, schedule: schedule,
            progress: TrainingProgress.Silent());
        return trainer.Run(resume).Losses;
    }

    [Fact]
    public void Same_seed_gives_identical_losses_and_another_seed_does_not()
    {
        using var data = mnist.TrainTensors(256);
        var a = TrainLosses(data, seed: 5, epochs: 1);
        var b = TrainLosses(data, seed: 5, epochs: 1);
        var c = TrainLosses(data, seed: 6, epochs: 1);
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
    }

    [Fact]
    public void Resuming_from_a_checkpoint_gives_the_losses_of_an_uninterrupted_run()
    {
        using var data = mnist.TrainTensors(256);
        string dir = Directory.CreateTempSubdirectory("resume").FullName;
        var uninterrupted = TrainLosses(data, seed: 3, epochs: 2);

        var first = TrainLosses(data, seed: 3, epochs: 1, checkpoint: Path.Combine(dir, "ckpt.bin"));
        // start from other initial weights: the checkpoint must override them (and the optimizer state)
        var rest = TrainLosses(data, seed: 3, epochs: 2, resume: Path.Combine(dir, "ckpt.bin"), initSeed: 99);

        Assert.Equal(uninterrupted.Count, first.Count + rest.Count);
        Assert.Equal(uninterrupted, first.Concat(rest).ToList());
        Directory.Delete(dir, true);
    }

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
    [InlineData("--bogus")]
    [InlineData("--epochs", "zero")]
    [InlineData("--epochs", "0")]
    [InlineData("--dataset", "cifar10")]
    [InlineData("--lr", "-1")]
    public void Bad_flags_exit_2(params string[] args)
    {
        var (exit, stderr) = PaperMain.Run(Experiment.Main, args);
        Assert.Equal(2, exit);
        Assert.Contains("Usage:", stderr);
    }
}
