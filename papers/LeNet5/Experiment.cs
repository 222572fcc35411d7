// LeNet-5 experiment, top to bottom: options → MNIST (or your folder of images) → model → the training step
// → run folder. The model is in LeNet5.cs, the data in Data.cs; the figures it is compared with are cited in
// Published below.

using PaperLab.Cli;
using PaperLab.Data;
using PaperLab.Data.Sources;
using PaperLab.Metrics;
using PaperLab.Runs;
using PaperLab.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace PaperLab.Papers.LeNet5;

/// <summary>Hyperparameters of a LeNet-5 run: each property is a command-line option (--kebab-case) and a field of config.json.</summary>
public sealed record LeNet5Options : ICheckedOptions
{
    /// <summary>The dataset: mnist (the paper's), fashion-mnist, or folder:DIR, your images in one subfolder per class (DIR/cat/*.jpg, DIR/dog/*.png; or DIR/train/&lt;class&gt;/ and DIR/valid/&lt;class&gt;/).</summary>
    public string Dataset { get; init; } = "mnist";

    /// <summary>Passes over the training set.</summary>
    [Option(Min = 1, Max = 10_000)] public int Epochs { get; init; } = 12;

    /// <summary>Images per optimizer step.</summary>
    [Option(Min = 1, Max = 60_000)] public int BatchSize { get; init; } = 64;

    /// <summary>Peak learning rate of Adam (per step); a half cosine takes it to 0 over the run.</summary>
    [Option(Min = 0, MinExclusive = true, Max = 10)] public double Lr { get; init; } = 2e-3;

    /// <summary>L2 penalty coefficient (Adam's weight_decay).</summary>
    [Option(Min = 0, Max = 1)] public double WeightDecay { get; init; }

    /// <summary>Random training shifts of up to this many pixels on each axis (0: none).</summary>
    [Option(Min = 0, Max = 8)] public int Shift { get; init; }

    /// <summary>Random left-right mirroring in training (for clothing: a mirrored digit is another glyph).</summary>
    public bool Flip { get; init; }

    /// <summary>Use only the first N training images (smoke runs); none: all 60,000.</summary>
    [Option(Min = 1, Max = 60_000)] public int? TrainLimit { get; init; }

    /// <summary>Use only the first N test images; none: all 10,000.</summary>
    [Option(Min = 1, Max = 10_000)] public int? TestLimit { get; init; }

    /// <summary>Time N training steps (after a warm-up) and print images/s as one JSON line, instead of a run; no run folder (Bench.cs, bench/compare.sh).</summary>
    [Option(Min = 1, Max = 1_000_000, MayChangeOnResume = true)] public int? Bench { get; init; }

    /// <summary>folder: only. Side N of the square images the network reads; every image is scaled so its shorter side fits, then centre-cropped.</summary>
    [Option(Min = 12, Max = 512)] public int ImageSize { get; init; } = 28;

    /// <summary>folder: only. 1: grey (Pillow's luma), 3: RGB.</summary>
    [Option(Min = 1, Max = 3)] public int Channels { get; init; } = 1;

    /// <summary>folder: only. Percentage of each class held out for validation (by content hash) when the folder has no valid/.</summary>
    [Option(Min = 0, Max = 100, MaxExclusive = true)] public double ValidPct { get; init; } = 10;

    /// <summary>folder: only. Fail on the first unreadable image instead of skipping it (skipped images are named in the data report).</summary>
    public bool Strict { get; init; }

    /// <summary>The built-in datasets.</summary>
    public static readonly string[] BuiltIns = ["mnist", "fashion-mnist"];

    /// <inheritdoc/>
    public IEnumerable<string> Problems()
    {
        string? problem = null;
        DatasetArgument? source = null;
        try
        {
            source = DatasetArgument.Parse(Dataset);
            source.Require("LeNet-5", BuiltIns, DataSourceKind.Folder);
        }
        catch (ArgumentException e) { problem = e.Message; }
        if (problem != null) { yield return problem; yield break; }
        if (source!.Kind == DataSourceKind.BuiltIn && source.Name != Dataset) yield return $"--dataset {Dataset}: write it as {source.Name}";
        if (Channels == 2) yield return "--channels 2: give 1 (grey) or 3 (RGB)";
        if (Bench != null && source.Kind != DataSourceKind.BuiltIn) yield return $"--bench times the recipe on the built-in datasets ({string.Join(", ", BuiltIns)}), not on {Dataset}: give one of them, or leave out --bench";
        if (source.Kind == DataSourceKind.BuiltIn && (ImageSize != 28 || Channels != 1))
            yield return $"--image-size and --channels apply to folder: datasets; {Dataset} is grey 28×28";
    }

    /// <summary>
    /// The defaults of a run. MNIST: the paper's setting, no distortions. Fashion-MNIST: mirroring, ±1-pixel
    /// shifts, a little weight decay and 30 epochs, the usual recipe for clothing, since the 61k-parameter
    /// network overfits it within a few epochs otherwise. Your own folder: the MNIST settings. --smoke: 640
    /// real images for 4 epochs, seconds.
    /// </summary>
    public static LeNet5Options Defaults(LeNet5Options given, RunOptions run)
    {
        var o = given.Dataset == "fashion-mnist" ? new LeNet5Options { Dataset = given.Dataset, Epochs = 30, WeightDecay = 5e-4, Shift = 1, Flip = true }
                                                 : new LeNet5Options { Dataset = given.Dataset };
        return run.Smoke ? o with { Epochs = 4, BatchSize = 32, TrainLimit = 640, TestLimit = 500 } : o;
    }
}

/// <summary>summary.json of a LeNet-5 run.</summary>
public sealed record LeNet5Summary : RunSummary
{
    /// <summary>Accuracy of the final model on the test images.</summary>
    public double TestAccuracy { get; init; }
    /// <summary>1 − test accuracy: the paper's figure.</summary>
    public double TestError { get; init; }
    /// <summary>Mean cross-entropy on the test images (nats).</summary>
    public double TestLoss { get; init; }
    /// <summary>Passes over the training set.</summary>
    public int Epochs { get; init; }
    /// <summary>Training throughput of this process, images per second.</summary>
    public double? SamplesPerSecond { get; init; }
    /// <summary>Training images used.</summary>
    public int TrainImages { get; init; }
    /// <summary>Test images used.</summary>
    public int TestImages { get; init; }
    /// <summary>The linear classifier on the same pixels.</summary>
    public required LinearBaselineResult Baseline { get; init; }
    /// <summary>Which split the test figures are of: "test", or "valid" for a folder without test/.</summary>
    public string EvalSplit { get; init; } = "test";
    /// <summary>Your own folder: accuracy of always answering the most frequent training class on the evaluation split; built-in: null.</summary>
    public double? MajorityAccuracy { get; init; }
    /// <summary>Number of classes.</summary>
    public int Classes { get; init; } = 10;
}

/// <summary>What the linear baseline reached.</summary>
/// <param name="Name">What it is.</param>
/// <param name="TestAccuracy">Its test accuracy.</param>
/// <param name="TestError">1 − accuracy.</param>
public sealed record LinearBaselineResult(string Name, double TestAccuracy, double TestError);

/// <summary>The LeNet-5 experiment.</summary>
public static class Experiment
{
    /// <summary>The paper, for run folders and --help.</summary>
    public static readonly PaperInfo Paper = new("lenet5", "LeNet-5 (LeCun et al. 1998) on MNIST, Fashion-MNIST or your own folder of images",
                                                 DefaultThreads: 1);   // batches of 64 small images: two threads train slower than one (README, "Speed")

    /// <summary>The figure compared with, per built-in dataset.</summary>
    public static Published PublishedFor(string dataset) => dataset == "mnist"
        ? new("test_error", 0.0095, "LeCun et al. 1998, Section III.C: LeNet-5 test error without distortions, 0.95%")
        : new("test_accuracy", 0.916, "Fashion-MNIST benchmark (zalandoresearch/fashion-mnist README): 2 conv + pooling, 91.6%", LowerIsBetter: false);

    /// <summary>Your own data has no published figure: the trivial baseline of its data report stands in, marked not comparable.</summary>
    public static Published MajorityFor(double accuracy, string split) =>
        new("test_accuracy", accuracy, $"no published figure for your own data; shown instead: always answering the most frequent training class ({split} accuracy, data report)",
            LowerIsBetter: false, Comparable: false);

    /// <summary>Parses the command line, runs, prints the run folder last. Exit 0, 1 (failure), 2 (usage), 130 (Ctrl-C).</summary>
    public static int Main(string[] args) => PaperProgram.Main<LeNet5Options>(args, Paper, LeNet5Options.Defaults, Run);

    /// <summary>Trains LeNet-5 and writes the run folder (config.json, metrics.csv, checkpoint.bin, model.pt, summary.json, report.html).</summary>
    /// <returns>The summary; null in --bench mode (which prints its measurements and writes no run folder).</returns>
    /// <exception cref="DatasetNotFoundException">The dataset is nowhere to be found and cannot be downloaded.</exception>
    /// <exception cref="DataSourceException">Your folder cannot be used (empty, one class, an unreadable image under --strict...).</exception>
    /// <exception cref="NonFiniteLossException">The loss became NaN or infinite.</exception>
    public static LeNet5Summary? Run(LeNet5Options o, RunContext ctx)
    {
        if (o.Bench is int benchSteps)
        {
            Bench.Run(o, ctx.Threads, ctx.Common.Data, ctx.Common.Seed, benchSteps);
            return null;
        }
        var wall = System.Diagnostics.Stopwatch.StartNew();
        var source = DatasetArgument.Parse(o.Dataset);
        using var data = source.Kind == DataSourceKind.Folder ? LeNet5Data.Folder(o, source, ctx.Threads) : LeNet5Data.BuiltIn(o, ctx.Common.Data);
        if (data.Report is { } dataReport) ctx.Progress.Line(dataReport.ToText());   // before training, and before any run folder exists
        var run = ctx.Start(o, data.Record);
        if (data.Report is { } r)
        {
            run.DataReport = r.ToText();
            run.DataSamplesPng = r.SamplesPng;
            r.WriteTo(run.Path);
        }
        string split = data.EvalSplit;
        int k = data.Classes;

        torch.manual_seed(ctx.Common.Seed);
        var model = new LeNet5(k, data.Channels, data.Size);
        foreach (var line in ParameterCounts.Lines(model, LeNet5.ExpectedParameters(k, data.Channels, data.Size))) ctx.Progress.Line(line);

        var loader = new BatchLoader(data.TrainSet, o.BatchSize, Sampling.Shuffle, ctx.Common.Seed);
        var testLoader = new BatchLoader(data.EvalSet, 1000, Sampling.Sequential);
        var optimizer = optim.Adam(model.parameters(), lr: o.Lr, weight_decay: o.WeightDecay);
        long totalSteps = (long)o.Epochs * loader.BatchesPerEpoch;

        var loop = new TrainingLoop(ctx, new LoopSettings
        {
            TotalSteps = totalSteps, StepsPerEpoch = loader.BatchesPerEpoch, LogEvery = Math.Max(1, loader.BatchesPerEpoch / 4), ItemsPerStep = o.BatchSize,
        });
        loop.Add("model", model);
        loop.Add("optimizer", optimizer, Schedules.Cosine(o.Lr, totalSteps));   // half cosine from Lr to 0
        loop.Evaluate = _ =>
        {
            var (probs, labels, loss) = Predict(model, testLoader);
            return new Dictionary<string, double> { [$"{split}/loss"] = loss, [$"{split}/accuracy"] = Classification.Evaluate(probs, labels, k).Accuracy };
        };

        double black = data.Black; // a 0 pixel after normalisation: what shifted-in pixels become
        foreach (var step in loop)
        {
            var (x, y) = loader.Batch(step.Index);
            if (o.Shift > 0 || o.Flip) x = ImageAugment.ShiftAndFlip(x, o.Shift, o.Flip, black);
            optimizer.zero_grad();
            var loss = nn.functional.cross_entropy(model.forward(x), y);
            step.Record(loss);
            loss.backward();
            optimizer.step();
        }

        var (finalProbs, finalLabels, testLoss) = Predict(model, testLoader);
        var final = Classification.Evaluate(finalProbs, finalLabels, k);
        PyTorchExport.Save(model, run.File("model.pt"));

        ctx.Progress.Line("training the linear baseline (ML.NET) on the same pixels…");
        double baseline = LinearBaseline.TestAccuracy(data.Train, data.Eval, data.Channels * data.Size * data.Size, ctx.Common.Seed);
        double? majority = data.Report is null ? null : split == "test" ? data.Report.Baseline.TestAccuracy : data.Report.Baseline.ValidAccuracy;
        if (data.Report is not null && (o.TrainLimit ?? o.TestLimit) is not null)   // the report counts the whole folder; count what was used
        {
            int common = data.Train.Labels.GroupBy(l => l).OrderByDescending(g => g.Count()).ThenBy(g => g.Key).First().Key;
            majority = data.Eval.Labels.Count(l => l == common) / (double)data.Eval.Labels.Length;
        }

        var result = loop.Result;
        var summary = new LeNet5Summary
        {
            Paper = "LeNet-5 (LeCun et al. 1998)",
            Dataset = o.Dataset,
            Published = majority is double m ? MajorityFor(m, split) : PublishedFor(o.Dataset),
            TestAccuracy = final.Accuracy,
            TestError = final.Error,
            TestLoss = testLoss,
            Epochs = o.Epochs,
            Steps = result.Steps,
            TrainSeconds = result.TrainSeconds,
            WallSeconds = wall.Elapsed.TotalSeconds,
            SamplesPerSecond = double.IsFinite(result.ItemsPerSecond) ? result.ItemsPerSecond : null,
            Threads = ctx.Threads,
            Parameters = ParameterCounts.Total(model),
            TrainImages = data.Train.Labels.Length,
            TestImages = data.Eval.Labels.Length,
            Baseline = new(LinearBaseline.Name, baseline, 1 - baseline),
            EvalSplit = split,
            MajorityAccuracy = majority,
            Classes = k,
        };
        run.WriteSummary(summary);
        var outcome = new Outcome(data.Report is null ? o.Dataset : $"{data.Name} (your folder)", final, baseline, summary.Published, split, majority);
        Report.Write(run, outcome, data, finalProbs);
        outcome.Print();
        return summary;
    }

    /// <summary>Mean and standard deviation of the training pixels scaled to [0, 1].</summary>
    public static (double Mean, double Std) Normalisation(string dataset) =>
        dataset == "mnist" ? (0.1307, 0.3081) : (0.2860, 0.3530);

    /// <summary>
    /// Softmax probabilities (N·10, row-major), true labels and mean cross-entropy over every batch of
    /// <paramref name="loader"/>, in eval mode under no_grad.
    /// </summary>
    public static (float[] Probabilities, int[] Labels, double Loss) Predict(LeNet5 model, BatchLoader loader)
    {
        var probs = new List<float>();
        var labels = new List<int>();
        double lossSum = 0;
        using var _ = Evaluation.Mode(model);
        for (long b = 0; b < loader.BatchesPerEpoch; b++)
        {
            using var scope = NewDisposeScope();
            var (x, y) = loader.Batch(b);
            var logits = model.forward(x);
            lossSum += nn.functional.cross_entropy(logits, y, reduction: nn.Reduction.Sum).item<float>();
            probs.AddRange(nn.functional.softmax(logits, 1).data<float>().ToArray());
            labels.AddRange(y.data<long>().ToArray().Select(v => (int)v));
        }
        return (probs.ToArray(), labels.ToArray(), lossSum / labels.Count);
    }
}
