using PaperLab.Cli;
using PaperLab.Papers.Backprop;
using PaperLab.Training;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace PaperLab.Tests;

/// <summary>
/// The Backprop experiment on the training spine: a smoke run on real MNIST, resuming bit for bit, the
/// step-addressed batches, the engine's checkpoint state and model.pt, and the command line's refusals.
/// </summary>
[Collection("mnist")]
public class BackpropExperimentTests(MnistFixture mnist)
{
    static BackpropOptions Smoke(string preset = "300", string recipe = "paper") =>
        BackpropOptions.Defaults(new BackpropOptions { Preset = preset, Recipe = recipe }, new RunOptions { Smoke = true });

    [Fact]
    public void Smoke_run_on_real_digits_beats_the_majority_class_by_far_and_exports_model_pt()
    {
        using var dir = new TempDir();
        var summary = PaperRun.Run(Experiment.Run, Smoke(), PaperRun.Context(Experiment.Paper, dir.File("run")))!;
        Assert.True(summary.TestError < summary.MajorityError - 0.6,
                    $"test error {summary.TestError:P1} against the majority class's {summary.MajorityError:P1}");
        Assert.Equal(0.047, summary.Published.Value);
        Assert.Equal("test_error", summary.Published.Metric);
        Assert.Equal(2000, summary.TrainImages);
        Assert.Equal(4 * 63, summary.Steps);   // ⌈2000 / 32⌉ batches per epoch
        foreach (var f in new[] { "config.json", "metrics.csv", "checkpoint.bin", "model.pt", "summary.json", "report.html" })
            Assert.True(File.Exists(dir.File("run", f)), $"{f} missing from the run folder");
        string json = File.ReadAllText(dir.File("run", "summary.json"));
        Assert.Contains("\"test_error\":", json);
        Assert.Contains("\"published\":", json);

        // model.pt loads into nn.Linear layers and classifies the test digits as the run reported
        var o = Smoke();
        using var torchModel = new TorchMlp(new Mlp<float>(o.Model(), seed: 99));
        PyTorchExport.Load(torchModel, dir.File("run", "model.pt"));
        var data = MnistArrays<float>.From(mnist.Train, mnist.Test, trainLimit: 10, testLimit: 1000);
        using var scope = NewDisposeScope();
        var predicted = torchModel.forward(tensor(data.TestImages, [1000, 784])).argmax(1).data<long>().ToArray();
        double error = predicted.Zip(data.TestLabels).Count(p => p.First != p.Second) / 1000.0;
        Assert.Equal(summary.TestError, error, 1e-9);
    }

    [Fact]
    public void Resuming_gives_exactly_the_uninterrupted_run() =>
        PaperRun.ResumesBitIdentically(Experiment.Paper, Experiment.Run, Smoke() with { TrainLimit = 1000, Epochs = 2 }, stopAfter: 40);

    [Fact]
    public void Resuming_an_adam_run_gives_exactly_the_uninterrupted_run() =>
        PaperRun.ResumesBitIdentically(Experiment.Paper, Experiment.Run, Smoke("300-100", "modern") with { TrainLimit = 1000, Epochs = 2 }, stopAfter: 20);

    [Fact]
    public void Batches_depend_on_seed_and_step_only_and_each_epoch_sees_every_image_once()
    {
        int n = 103, features = 2;
        var images = Enumerable.Range(0, n * features).Select(i => (float)(i / features)).ToArray();   // image i holds (i, i)
        var labels = Enumerable.Range(0, n).Select(i => i % 10).ToArray();
        var batches = new ShuffledBatches<float>(images, labels, features, batchSize: 10, seed: 5);
        Assert.Equal(11, batches.BatchesPerEpoch);
        for (int epoch = 0; epoch < 2; epoch++)
        {
            var seen = Enumerable.Range(0, 11).SelectMany(b => batches.Batch(epoch * 11 + b).X.Where((_, k) => k % features == 0)).Select(v => (int)v).ToList();
            Assert.Equal(Enumerable.Range(0, n), seen.Order());
        }
        Assert.Equal(3, batches.Batch(10).Labels.Length);   // the remainder closes the epoch
        // a fresh object (a resumed run) gives the same batch of step 15 without having seen steps 0–14
        Assert.Equal(batches.Batch(15).X, new ShuffledBatches<float>(images, labels, features, 10, seed: 5).Batch(15).X);
        Assert.NotEqual(batches.Batch(0).X, batches.Batch(11).X);                                                 // epochs are reshuffled
        Assert.NotEqual(batches.Batch(0).X, new ShuffledBatches<float>(images, labels, features, 10, seed: 6).Batch(0).X);
        var (x, y) = batches.Batch(4);
        for (int i = 0; i < y.Length; i++) Assert.Equal(labels[(int)x[i * features]], y[i]);                   // labels stay with their images
    }

    [Theory]
    [InlineData(OptimizerKind.Sgd)]
    [InlineData(OptimizerKind.Adam)]
    public void Engine_state_restores_weights_and_optimizer_so_the_next_step_is_identical(OptimizerKind kind)
    {
        var config = new MlpConfig([6, 5, 3], Activation.Tanh, LossKind.CrossEntropy, InitKind.Glorot);
        var random = new Random(2);
        var x = Enumerable.Range(0, 4 * 6).Select(_ => (float)random.NextDouble()).ToArray();
        int[] y = [0, 2, 1, 2];
        var model = new Mlp<float>(config, seed: 1);
        var optimizer = MlpTraining.CreateOptimizer(model, kind, 0.05, 0.9);
        for (int i = 0; i < 3; i++) MlpTraining.Step(model, optimizer, x, y);
        var saved = new MemoryStream();
        new EngineState<float>(model, optimizer).Save(new BinaryWriter(saved));

        var restored = new Mlp<float>(config, seed: 42);
        var restoredOptimizer = MlpTraining.CreateOptimizer(restored, kind, 0.05, 0.9);
        new EngineState<float>(restored, restoredOptimizer).Load(new BinaryReader(new MemoryStream(saved.ToArray())));
        var a = MlpTraining.Step(model, optimizer, x, y);
        var b = MlpTraining.Step(restored, restoredOptimizer, x, y);
        Assert.Equal(a.Loss, b.Loss);
        foreach (var (p, q) in model.Parameters().Zip(restored.Parameters())) Assert.Equal(p.Data, q.Data);

        // another network or optimiser is refused, and leaves the model untouched
        var other = new Mlp<float>(config with { Widths = [6, 4, 3] }, seed: 0);
        var before = other.Layers[0].W.Data.ToArray();
        Assert.Throws<InvalidDataException>(() => new EngineState<float>(other, MlpTraining.CreateOptimizer(other, kind, 0.05, 0.9))
            .Load(new BinaryReader(new MemoryStream(saved.ToArray()))));
        Assert.Equal(before, other.Layers[0].W.Data);
        var otherKind = kind == OptimizerKind.Sgd ? OptimizerKind.Adam : OptimizerKind.Sgd;
        Assert.Throws<InvalidDataException>(() => new EngineState<float>(restored, MlpTraining.CreateOptimizer(restored, otherKind, 0.05, 0.9))
            .Load(new BinaryReader(new MemoryStream(saved.ToArray()))));
    }

    [Theory]
    [InlineData("--preset: expected one of 300, 300-100, 800, got '500'", "--preset", "500")]
    [InlineData("--recipe: expected one of paper, modern, got '1998'", "--recipe", "1998")]
    [InlineData("--lr", "--lr", "0")]
    [InlineData("--momentum", "--momentum", "1")]
    [InlineData("--init", "--init", "xavier")]
    public void Bad_options_exit_2_naming_the_option(string message, params string[] args)
    {
        var (exit, stderr) = PaperMain.Run(Experiment.Main, args);
        Assert.Equal(2, exit);
        Assert.Contains(message, stderr);
    }

    [Fact]
    public void Presets_and_recipes_pick_the_papers_networks_and_figures()
    {
        var run = new RunOptions();
        Assert.Equal([784, 300, 100, 10], BackpropOptions.Defaults(new() { Preset = "300-100" }, run).Widths);
        var ce = BackpropOptions.Defaults(new() { Preset = "800" }, run);
        Assert.Equal((LossKind.CrossEntropy, Activation.Relu, OptimizerKind.Sgd), (ce.Model().Loss, ce.Model().Activation, ce.OptimizerKind));
        var squared = BackpropOptions.Defaults(new(), run).Model();
        Assert.Equal((LossKind.SquaredError, Activation.ScaledTanh, InitKind.EfficientBackprop), (squared.Loss, squared.Activation, squared.Init));
        var modern = BackpropOptions.Defaults(new() { Recipe = "modern" }, run);
        Assert.Equal((Activation.Relu, InitKind.He, OptimizerKind.Adam), (modern.Model().Activation, modern.Model().Init, modern.OptimizerKind));
        Assert.Equal(0.0305, Experiment.PublishedFor("300-100", "paper").Value);
        Assert.Equal(0.016, Experiment.PublishedFor("800", "paper").Value);
        Assert.True(Experiment.PublishedFor("800", "paper").Comparable);
        Assert.False(Experiment.PublishedFor("800", "modern").Comparable);
    }
}
