// PaperName experiment, top to bottom: options → data → model → the training step → run folder.
// The model is in PaperName.cs. Keep this file readable in one pass: the step body below is the heart of
// training, where a reader should find it.

using PaperLab.Cli;
using PaperLab.Data;
using PaperLab.Reporting;
using PaperLab.Runs;
using PaperLab.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace PaperLab.Papers.PaperName;

/// <summary>Hyperparameters of a run: each property is a command-line option (--kebab-case) and a field of config.json.</summary>
public sealed record PaperNameOptions
{
    /// <summary>The dataset: mnist or fashion-mnist.</summary>
    [Option(OneOf = new[] { "mnist", "fashion-mnist" })] public string Dataset { get; init; } = "mnist";
    /// <summary>Passes over the training set.</summary>
    [Option(Min = 1, Max = 10_000)] public int Epochs { get; init; } = 5;
    /// <summary>Examples per optimizer step.</summary>
    [Option(Min = 1, Max = 60_000)] public int BatchSize { get; init; } = 64;
    /// <summary>Peak learning rate of Adam, per step; a half cosine takes it to 0 over the run.</summary>
    [Option(Min = 0, MinExclusive = true, Max = 10)] public double Lr { get; init; } = 1e-3;
    /// <summary>H, hidden units.</summary>
    [Option(Min = 1, Max = 100_000)] public int Hidden { get; init; } = 100;
    /// <summary>Use only the first N training images (smoke runs); none: all.</summary>
    [Option(Min = 1, Max = 60_000)] public int? TrainLimit { get; init; }
    /// <summary>Use only the first N test images; none: all.</summary>
    [Option(Min = 1, Max = 10_000, MayChangeOnResume = true)] public int? TestLimit { get; init; }

    /// <summary>The defaults of a run; --smoke: a few hundred real images for a few epochs, seconds (what CI trains).</summary>
    public static PaperNameOptions Defaults(PaperNameOptions given, RunOptions run) => run.Smoke
        ? new() { Dataset = given.Dataset, Epochs = 3, BatchSize = 32, TrainLimit = 1000, TestLimit = 500 }
        : new() { Dataset = given.Dataset };
}

/// <summary>summary.json of a run (snake_case keys).</summary>
public sealed record PaperNameSummary : RunSummary
{
    /// <summary>Accuracy of the final model on the test images.</summary>
    public double TestAccuracy { get; init; }
    /// <summary>1 − test accuracy.</summary>
    public double TestError { get; init; }
    /// <summary>Accuracy of always answering the most frequent training class: the baseline to beat.</summary>
    public double MajorityAccuracy { get; init; }
}

/// <summary>The PaperName experiment.</summary>
public static class Experiment
{
    /// <summary>The paper, for run folders and --help.</summary>
    public static readonly PaperInfo Paper = new("papername", "PaperName (replace with: authors year, title) on MNIST");

    /// <summary>The figure the paper reports, with its source: replace with the paper's table and number.</summary>
    public static Published PublishedFor(string dataset) =>
        new("test_error", 0.047, "placeholder: LeCun et al. 1998 / the MNIST page, 2-layer net with 300 hidden units, 4.7% (replace with your paper's figure)");

    /// <summary>Parses the command line, runs, prints the run folder last. Exit 0, 1 (failure), 2 (usage), 130 (Ctrl-C).</summary>
    public static int Main(string[] args) => PaperProgram.Main<PaperNameOptions>(args, Paper, PaperNameOptions.Defaults, Run);

    /// <summary>Trains the model and writes the run folder (config.json, metrics.csv, checkpoint.bin, model.pt, summary.json, report.html).</summary>
    /// <exception cref="DatasetNotFoundException">The dataset is nowhere to be found and cannot be downloaded.</exception>
    /// <exception cref="NonFiniteLossException">The loss became NaN or infinite.</exception>
    public static PaperNameSummary Run(PaperNameOptions o, RunContext ctx)
    {
        var wall = System.Diagnostics.Stopwatch.StartNew();
        var (train, test, data) = MnistFamily.Locate(o.Dataset, ctx.Common.Data, o.TrainLimit, o.TestLimit);
        var run = ctx.Start(o, data);
        using var trainSet = new ImageTensorDataset(train.Pixels, train.Labels, 28, 28, 0.5, 0.5);   // pixels scaled to [−1, 1]
        using var testSet = new ImageTensorDataset(test.Pixels, test.Labels, 28, 28, 0.5, 0.5);

        torch.manual_seed(ctx.Common.Seed);
        var model = new PaperName(784, o.Hidden, 10);
        foreach (var line in ParameterCounts.Lines(model, PaperName.ExpectedParameters(784, o.Hidden, 10))) ctx.Progress.Line(line);

        var loader = new BatchLoader(trainSet, o.BatchSize, Sampling.Shuffle, ctx.Common.Seed);
        var testLoader = new BatchLoader(testSet, 1000, Sampling.Sequential);
        var optimizer = optim.Adam(model.parameters(), lr: o.Lr);
        long totalSteps = (long)o.Epochs * loader.BatchesPerEpoch;
        var loop = new TrainingLoop(ctx, new LoopSettings
        {
            TotalSteps = totalSteps, StepsPerEpoch = loader.BatchesPerEpoch, LogEvery = Math.Max(1, loader.BatchesPerEpoch / 4), ItemsPerStep = o.BatchSize,
        });
        loop.Add("model", model);
        loop.Add("optimizer", optimizer, Schedules.Cosine(o.Lr, totalSteps));
        loop.Evaluate = _ => new Dictionary<string, double> { ["test/accuracy"] = Accuracy(model, testLoader) };

        foreach (var step in loop)
        {
            var (x, y) = loader.Batch(step.Index);                             // (B, 1, 28, 28), (B)
            optimizer.zero_grad();
            var loss = nn.functional.cross_entropy(model.forward(x), y);        // mean over the batch
            step.Record(loss);                                                 // stops here if the loss is NaN or infinite
            loss.backward();
            optimizer.step();
        }

        double accuracy = Accuracy(model, testLoader);
        PyTorchExport.Save(model, run.File("model.pt"));
        int majority = train.Labels.GroupBy(l => l).MaxBy(g => g.Count())!.Key;
        var result = loop.Result;
        var summary = new PaperNameSummary
        {
            Paper = "PaperName (replace with: authors year)",
            Dataset = o.Dataset,
            Published = PublishedFor(o.Dataset),
            TestAccuracy = accuracy,
            TestError = 1 - accuracy,
            MajorityAccuracy = test.Labels.Count(l => l == majority) / (double)test.Count,
            Steps = result.Steps,
            TrainSeconds = result.TrainSeconds,
            WallSeconds = wall.Elapsed.TotalSeconds,
            Threads = ctx.Threads,
            Parameters = ParameterCounts.Total(model),
        };
        run.WriteSummary(summary);

        var page = new HtmlPage($"PaperName on {o.Dataset}");
        page.Table(new[] { "model", "test error", "source" }, new[]
        {
            new[] { "published", $"{summary.Published.Value:P2}", summary.Published.Source },
            new[] { "this run", $"{summary.TestError:P2}", "summary.json" },
            new[] { "majority class", $"{1 - summary.MajorityAccuracy:P2}", "the baseline to beat" },
        });
        var (steps, losses) = run.Metrics.Series("train", "loss");
        page.Chart(Charts.Line("Training loss", "optimizer step", "cross-entropy (nats)", new[] { new Series("train (running mean)", steps, losses) }));
        page.Save(run);
        ctx.Progress.Line($"test error {summary.TestError:P2} (published {summary.Published.Value:P2}; majority class {1 - summary.MajorityAccuracy:P2})");
        return summary;
    }

    /// <summary>Fraction of the examples of <paramref name="loader"/> whose highest logit is the label, in eval mode.</summary>
    public static double Accuracy(PaperName model, BatchLoader loader)
    {
        using var _ = Evaluation.Mode(model);
        long correct = 0, seen = 0;
        for (long b = 0; b < loader.BatchesPerEpoch; b++)
        {
            using var scope = NewDisposeScope();
            var (x, y) = loader.Batch(b);
            correct += model.forward(x).argmax(1).eq(y).sum().item<long>();
            seen += y.shape[0];
        }
        return (double)correct / seen;
    }
}
