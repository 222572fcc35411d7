// LeNet-5 experiment: options → data → model → shared training loop → run folder.
// The model is in LeNet5.cs; the published figures it is compared with are cited in Published below.

using System.CommandLine;
using PaperLab.Cli;
using PaperLab.Data;
using PaperLab.Metrics;
using PaperLab.Runs;
using PaperLab.Training;
using Spectre.Console;
using TorchSharp;
using static TorchSharp.torch;

namespace PaperLab.Papers.LeNet5;

/// <summary>Hyperparameters of a LeNet-5 run; every field lands in config.json.</summary>
/// <param name="Dataset">"mnist" or "fashion-mnist".</param>
/// <param name="Epochs">Passes over the training set.</param>
/// <param name="BatchSize">Images per optimizer step.</param>
/// <param name="Lr">Peak learning rate of Adam (per step), decayed to 0 by a half cosine over the run.</param>
/// <param name="WeightDecay">L2 penalty coefficient (Adam's weight_decay).</param>
/// <param name="TrainLimit">Use only the first N training images (smoke runs); null: all 60,000.</param>
/// <param name="TestLimit">Use only the first N test images; null: all 10,000.</param>
/// <param name="MaxShift">Training-time random translation, in pixels (0: none).</param>
/// <param name="Flip">Training-time random left–right mirroring (clothing only: a mirrored digit is another glyph).</param>
public sealed record LeNet5Config(string Dataset = "mnist", int Epochs = 12, int BatchSize = 64, double Lr = 2e-3,
                                  double WeightDecay = 0.0, int? TrainLimit = null, int? TestLimit = null,
                                  int MaxShift = 0, bool Flip = false)
{
    /// <summary>
    /// The configuration of the reproduced results (see README's results table). MNIST: the paper's setting,
    /// no distortions. Fashion-MNIST: mirroring, ±1-pixel shifts, a little weight decay and more epochs, the
    /// usual recipe for clothing, since the 61k-parameter network overfits it within a few epochs otherwise.
    /// </summary>
    public static LeNet5Config Default(string dataset) => dataset == "mnist"
        ? new(dataset)
        : new(dataset, Epochs: 30, WeightDecay: 5e-4, MaxShift: 1, Flip: true);

    /// <summary>A few hundred real images for a few epochs: seconds of training, what CI runs.</summary>
    public static LeNet5Config Smoke(string dataset) => new(dataset, Epochs: 4, BatchSize: 32, Lr: 2e-3, TrainLimit: 640, TestLimit: 500);
}

/// <summary>The figure a run is compared with.</summary>
/// <param name="Metric">summary.json key it corresponds to.</param>
/// <param name="Value">The published value.</param>
/// <param name="Source">Where it is published.</param>
public sealed record Published(string Metric, double Value, string Source)
{
    /// <summary>The published figure for <paramref name="dataset"/>.</summary>
    public static Published For(string dataset) => dataset switch
    {
        "mnist" => new("test_error", 0.0095, "LeCun et al. 1998, Section III.C: LeNet-5 test error without distortions, 0.95%"),
        _ => new("test_accuracy", 0.916, "Fashion-MNIST benchmark (zalandoresearch/fashion-mnist README): 2 conv + pooling, 91.6%"),
    };
}

/// <summary>Command-line entry of the LeNet-5 experiment.</summary>
public static class Experiment
{
    /// <summary>Parses the command line, runs the experiment, prints the run folder last. Exit 0, 1 (failure) or 2 (usage).</summary>
    public static int Main(string[] args)
    {
        var cli = new PaperCommandLine("lenet5", "LeNet-5 (LeCun et al. 1998) on MNIST or Fashion-MNIST");
        var dataset = cli.Add(new Option<string>("--dataset") { Description = "mnist or fashion-mnist", DefaultValueFactory = _ => "mnist" });
        dataset.AcceptOnlyFromAmong("mnist", "fashion-mnist");
        var epochs = cli.Add(new Option<int?>("--epochs") { Description = "passes over the training set" });
        var batch = cli.Add(new Option<int?>("--batch-size") { Description = "images per optimizer step" });
        var lr = cli.Add(new Option<double?>("--lr") { Description = "peak learning rate (Adam, cosine decay to 0)" });
        var weightDecay = cli.Add(new Option<double?>("--weight-decay") { Description = "L2 penalty of Adam (default 0)" });
        var shift = cli.Add(new Option<int?>("--shift") { Description = "random training shifts of up to N pixels (default: 0 for MNIST, 1 for Fashion-MNIST)" });
        var flip = cli.Add(new Option<bool?>("--flip") { Description = "random left-right mirroring in training (default: on for Fashion-MNIST only)" });
        PaperCommandLine.AtLeast(weightDecay, 0.0);
        PaperCommandLine.AtLeast(shift, 0);
        PaperCommandLine.AtLeast(epochs, 1);
        PaperCommandLine.AtLeast(batch, 1);
        PaperCommandLine.Positive(lr);

        if (!cli.TryParse(args, out var common, out var parsed, out int exit)) return exit;

        string name = parsed.GetValue(dataset)!;
        var config = common.Smoke ? LeNet5Config.Smoke(name) : LeNet5Config.Default(name);
        config = config with
        {
            Epochs = parsed.GetValue(epochs) ?? config.Epochs,
            BatchSize = parsed.GetValue(batch) ?? config.BatchSize,
            Lr = parsed.GetValue(lr) ?? config.Lr,
            WeightDecay = parsed.GetValue(weightDecay) ?? config.WeightDecay,
            MaxShift = parsed.GetValue(shift) ?? config.MaxShift,
            Flip = parsed.GetValue(flip) ?? config.Flip,
        };
        try
        {
            var run = Run(config, common);
            Console.WriteLine(run.Path);
            return 0;
        }
        catch (Exception e) when (e is IOException or NonFiniteLossException or CheckpointException)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return PaperCommandLine.RuntimeFailure;
        }
    }

    /// <summary>Runs one experiment and returns its run folder (config.json, metrics.csv, summary.json, report.html, checkpoints).</summary>
    /// <exception cref="DatasetNotFoundException">The dataset is nowhere to be found and cannot be downloaded.</exception>
    /// <exception cref="NonFiniteLossException">Training diverged.</exception>
    public static RunFolder Run(LeNet5Config config, CommonOptions common, TrainingProgress? progress = null)
    {
        int threads = common.ThreadCount;
        torch.set_num_threads(threads);
        var run = RunFolder.Create("lenet5", common.Out);
        run.WriteConfig("lenet5", config, common.Seed, threads);
        progress ??= TrainingProgress.ForConsole();

        var (train, test) = LoadData(config, common.Data);
        var stats = Normalisation(config.Dataset);
        using var trainSet = new ImageTensorDataset(train.Pixels, train.Labels, 28, 28, stats.Mean, stats.Std);
        using var testSet = new ImageTensorDataset(test.Pixels, test.Labels, 28, 28, stats.Mean, stats.Std);

        torch.manual_seed(common.Seed);
        var model = new LeNet5(numClasses: 10);
        PrintParameters(model, progress);

        var loader = new BatchLoader(trainSet, config.BatchSize, Sampling.Shuffle, common.Seed);
        var testLoader = new BatchLoader(testSet, 1000, Sampling.Sequential);
        var optimizer = optim.Adam(model.parameters(), lr: config.Lr, weight_decay: config.WeightDecay);
        long totalSteps = (long)config.Epochs * loader.BatchesPerEpoch;
        // half-cosine decay of the learning rate from Lr to 0 over the run
        var schedule = optim.lr_scheduler.LambdaLR(optimizer, s => 0.5 * (1 + Math.Cos(Math.PI * Math.Min(s, totalSteps) / totalSteps)));

        double black = -stats.Mean / stats.Std; // a 0 pixel after normalisation
        Tensor Augment(Tensor x) => config.MaxShift > 0 || config.Flip ? ImageAugment.ShiftAndFlip(x, config.MaxShift, config.Flip, black) : x;
        var trainer = new Trainer(model, optimizer, loader,
            (x, y) => nn.functional.cross_entropy(model.forward(Augment(x)), y),
            new TrainSettings
            {
                Epochs = config.Epochs, Seed = common.Seed, LogEvery = Math.Max(1, loader.BatchesPerEpoch / 4),
                CheckpointPath = run.File("checkpoint.bin"),
            },
            run.Metrics, schedule, progress)
        {
            Evaluate = _ =>
            {
                var (probs, labels, loss) = Predict(model, testLoader);
                var report = Classification.Evaluate(probs, labels, 10);
                return new Dictionary<string, double> { ["test/loss"] = loss, ["test/accuracy"] = report.Accuracy };
            },
        };
        var result = trainer.Run(common.Resume);

        var (finalProbs, finalLabels, _) = Predict(model, testLoader);
        var final = Classification.Evaluate(finalProbs, finalLabels, 10);
        PyTorchExport.Save(model, run.File("model.pt"));

        progress.Line("training the linear baseline (ML.NET) on the same pixels…");
        var baselineClock = System.Diagnostics.Stopwatch.StartNew();
        double baseline = LinearBaseline.TestAccuracy(train, test, common.Seed);
        progress.Line($"baseline test accuracy {baseline:P2} in {baselineClock.Elapsed.TotalSeconds:F0} s");

        var published = Published.For(config.Dataset);
        var summary = new Dictionary<string, object?>
        {
            ["paper"] = "LeNet-5 (LeCun et al. 1998)",
            ["dataset"] = config.Dataset,
            ["test_accuracy"] = final.Accuracy,
            ["test_error"] = final.Error,
            ["epochs"] = config.Epochs,
            ["train_seconds"] = result.TrainSeconds,
            ["samples_per_second"] = result.ItemsPerSecond,
            ["parameters"] = model.parameters().Sum(p => p.numel()),
            ["train_images"] = train.Labels.Length,
            ["test_images"] = test.Labels.Length,
            ["published"] = new Dictionary<string, object> { ["metric"] = published.Metric, ["value"] = published.Value, ["source"] = published.Source },
            ["baseline"] = new Dictionary<string, object> { ["name"] = LinearBaseline.Name, ["test_accuracy"] = baseline, ["test_error"] = 1 - baseline },
        };
        run.WriteJson("summary.json", summary);

        var outcome = new Outcome(config.Dataset, final, baseline, published);
        Report.Write(run, outcome, test, finalProbs);
        outcome.Print();
        progress.Line($"README results row: {ResultsRow(summary)}");
        return run;
    }

    /// <summary>The README results-table row of a run, from its summary: | dataset | test error | accuracy | epochs | train s | samples/s | published |.</summary>
    public static string ResultsRow(IReadOnlyDictionary<string, object?> s) => string.Create(System.Globalization.CultureInfo.InvariantCulture,
        $"| {s["dataset"]} | {Outcome.Pct((double)s["test_error"]!)} | {Outcome.Pct((double)s["test_accuracy"]!)} | {s["epochs"]} | {(double)s["train_seconds"]!:F0} | {(double)s["samples_per_second"]!:F0} | {((Dictionary<string, object>)s["published"]!)["value"]} |");

    /// <summary>Mean and standard deviation of the training pixels scaled to [0, 1].</summary>
    public static (double Mean, double Std) Normalisation(string dataset) =>
        dataset == "mnist" ? (0.1307, 0.3081) : (0.2860, 0.3530);

    /// <summary>
    /// Softmax probabilities (N·10, row-major), true labels and mean cross-entropy over every batch of
    /// <paramref name="loader"/>. Call in eval mode.
    /// </summary>
    public static (float[] Probabilities, int[] Labels, double Loss) Predict(LeNet5 model, BatchLoader loader)
    {
        var probs = new List<float>();
        var labels = new List<int>();
        double lossSum = 0;
        using var _ = no_grad();
        foreach (var (x, y) in loader.Epoch())
        {
            using var scope = NewDisposeScope();
            var logits = model.forward(x);
            lossSum += nn.functional.cross_entropy(logits, y, reduction: nn.Reduction.Sum).item<float>();
            probs.AddRange(nn.functional.softmax(logits, 1).data<float>().ToArray());
            labels.AddRange(y.data<long>().ToArray().Select(v => (int)v));
        }
        return (probs.ToArray(), labels.ToArray(), lossSum / labels.Count);
    }

    static void PrintParameters(LeNet5 model, TrainingProgress progress)
    {
        foreach (var (layer, count) in model.ParameterCounts()) progress.Line($"  {layer,-6} {count,8:N0} parameters");
        progress.Line($"  total  {model.parameters().Sum(p => p.numel()),8:N0} parameters");
    }

    static (ImageDataset Train, ImageDataset Test) LoadData(LeNet5Config config, string? dataDir)
    {
        var spec = DatasetCatalog.Get(config.Dataset);
        string dir = DatasetLocator.Locate(spec, dataDir);
        var train = MnistFamily.Load(dir, Split.Train, config.Dataset);
        var test = MnistFamily.Load(dir, Split.Test, config.Dataset);
        if (config.TrainLimit is int n) train = train.Take(n);
        if (config.TestLimit is int m) test = test.Take(m);
        return (train, test);
    }
}
