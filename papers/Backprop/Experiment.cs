// Backpropagation experiment, top to bottom: options → MNIST as plain arrays → an MLP on the engine → the
// training step in a foreach over the training loop → run folder. No TorchSharp in training: the forward
// pass, the backward pass (Variable.cs, Operations.cs) and the optimiser (Optimizers.cs) are this paper's.
//
// Rows reproduced (MNIST, no distortions, test error on the 10,000 test images):
//   784-300-10, squared error, 4.7%        LeCun, Bottou, Bengio & Haffner 1998, §III.C.5 and Fig. 9
//   784-300-100-10, squared error, 3.05%   same
//   784-800-10, cross-entropy, 1.6%        Simard, Steinkraus & Platt 2003, Table 1
// The learning rule is the generalised delta rule of Rumelhart, Hinton & Williams 1986 (Eqs. 4–7) with
// momentum (Eq. 9), on mini-batches. Deviations (README.md, Deviations): SGD with momentum on a half-cosine
// schedule instead of LeCun's stochastic diagonal Levenberg–Marquardt; weights drawn with standard deviation
// fan_in^−½ (LeCun et al., "Efficient BackProp", 1998, §4.6) instead of ±2.4/fan_in, with which a single
// global learning rate stalls near 7%; ReLU hidden units for the 800-unit row (scaled tanh ends near 1.7%).

using System.Diagnostics;
using PaperLab.Cli;
using PaperLab.Data;
using PaperLab.Runs;
using PaperLab.Training;
using ActivationKind = PaperLab.Papers.Backprop.Activation;

namespace PaperLab.Papers.Backprop;

/// <summary>Hyperparameters of a run: each property is a command-line option (--kebab-case) and a field of config.json.</summary>
public sealed record BackpropOptions
{
    /// <summary>The network: 300 (784-300-10, LeCun et al. 1998: 4.7%), 300-100 (784-300-100-10: 3.05%) or 800 (784-800-10, cross-entropy, Simard et al. 2003: 1.6%). With --recipe it sets the defaults of the options below (those shown are 300's).</summary>
    [Option(OneOf = new[] { "300", "300-100", "800" })] public string Preset { get; init; } = "300";

    /// <summary>How to train it: paper (the row's loss, SGD with momentum as Eq. 9; LeCun's scaled tanh for 300 and 300-100, ReLU for 800) or modern (ReLU, He initialisation, cross-entropy, Adam).</summary>
    [Option(OneOf = new[] { "paper", "modern" })] public string Recipe { get; init; } = "paper";

    /// <summary>Nonlinearity of the hidden units: scaled-tanh (1.7159·tanh(2a/3), LeCun 1998, Eq. A.1), tanh, sigmoid (Rumelhart 1986, Eq. 2) or relu.</summary>
    [Option(OneOf = new[] { "scaled-tanh", "tanh", "sigmoid", "relu" })] public string Activation { get; init; } = "scaled-tanh";

    /// <summary>Training criterion: squared-error (½ Σ (y − d)² on one-hot targets, Eq. 3) or cross-entropy (log-softmax + negative log-likelihood).</summary>
    [Option(OneOf = new[] { "squared-error", "cross-entropy" })] public string Loss { get; init; } = "squared-error";

    /// <summary>Initial weights (biases start at 0): efficient-backprop (std fan_in^−½), lecun1998 (uniform ±2.4/fan_in, stalls with SGD: see README), glorot or he.</summary>
    [Option(OneOf = new[] { "efficient-backprop", "lecun1998", "glorot", "he" })] public string Init { get; init; } = "efficient-backprop";

    /// <summary>Optimiser: sgd (with momentum, Eq. 9) or adam (Kingma &amp; Ba 2015).</summary>
    [Option(OneOf = new[] { "sgd", "adam" })] public string Optimizer { get; init; } = "sgd";

    /// <summary>Peak learning rate, per step on the batch-mean loss; a half cosine takes it to 0 over the run.</summary>
    [Option(Min = 0, MinExclusive = true, Max = 10)] public double Lr { get; init; } = 0.005;

    /// <summary>SGD's momentum μ (the paper's α in Eq. 9); ignored by Adam.</summary>
    [Option(Min = 0, Max = 1, MaxExclusive = true)] public double Momentum { get; init; } = 0.9;

    /// <summary>Passes over the training set.</summary>
    [Option(Min = 1, Max = 10_000)] public int Epochs { get; init; } = 20;

    /// <summary>Images per optimiser step.</summary>
    [Option(Min = 1, Max = 60_000)] public int BatchSize { get; init; } = 32;

    /// <summary>Use only the first N training images (smoke runs); none: all 60,000.</summary>
    [Option(Min = 1, Max = 60_000)] public int? TrainLimit { get; init; }

    /// <summary>Use only the first N test images; none: all 10,000.</summary>
    [Option(Min = 1, Max = 10_000, MayChangeOnResume = true)] public int? TestLimit { get; init; }

    /// <summary>Instead of training: time this many training steps of the engine and of TorchSharp on this network (random batches), and the matmuls of a step; prints JSON lines, writes no run folder (bench/compare.sh).</summary>
    [Option(Min = 1, Max = 1_000_000, MayChangeOnResume = true)] public int? Bench { get; init; }

    /// <summary>Units per layer, input first: 784-300-10, 784-300-100-10 or 784-800-10.</summary>
    public int[] Widths => Preset switch
    {
        "300" => [784, 300, 10],
        "300-100" => [784, 300, 100, 10],
        _ => [784, 800, 10],
    };

    /// <summary>The network this run builds.</summary>
    public MlpConfig Model() => new(Widths,
        Activation switch { "tanh" => ActivationKind.Tanh, "sigmoid" => ActivationKind.Sigmoid, "relu" => ActivationKind.Relu, _ => ActivationKind.ScaledTanh },
        Loss == "cross-entropy" ? LossKind.CrossEntropy : LossKind.SquaredError,
        Init switch { "lecun1998" => InitKind.LeCun1998, "glorot" => InitKind.Glorot, "he" => InitKind.He, _ => InitKind.EfficientBackprop });

    /// <summary>The optimiser this run uses.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public OptimizerKind OptimizerKind => Optimizer == "adam" ? OptimizerKind.Adam : OptimizerKind.Sgd;

    /// <summary>
    /// The defaults of a run, chosen in full runs (README.md, Results). paper: the row's loss (squared error for
    /// 300 and 300-100, cross-entropy for 800), SGD with momentum 0.9, batch 32, half-cosine schedule; 300 and
    /// 300-100: scaled tanh, Efficient BackProp initialisation, lr 0.005, 20 epochs; 800: ReLU, He initialisation,
    /// lr 0.01, 30 epochs. modern: ReLU, He initialisation, cross-entropy, Adam at 1e-3, batch 64, 20 epochs.
    /// --smoke: the same network on 2,000 training images for 4 epochs, tested on 1,000 (about a second).
    /// </summary>
    public static BackpropOptions Defaults(BackpropOptions given, RunOptions run)
    {
        var o = For(given.Preset, given.Recipe);
        return run.Smoke ? o with { Epochs = 4, TrainLimit = 2000, TestLimit = 1000 } : o;
    }

    /// <summary>The full-run settings of a preset and recipe.</summary>
    public static BackpropOptions For(string preset, string recipe) => recipe == "modern"
        ? new() { Preset = preset, Recipe = recipe, Activation = "relu", Loss = "cross-entropy", Init = "he", Optimizer = "adam", Lr = 1e-3, BatchSize = 64, Epochs = 20 }
        : preset == "800"
            ? new() { Preset = preset, Activation = "relu", Init = "he", Loss = "cross-entropy", Lr = 0.01, Epochs = 30 }
            : new() { Preset = preset };
}

/// <summary>summary.json of a run (snake_case keys).</summary>
public sealed record BackpropSummary : RunSummary
{
    /// <summary>The network preset (300, 300-100, 800).</summary>
    public required string Preset { get; init; }
    /// <summary>The recipe (1998, modern).</summary>
    public required string Recipe { get; init; }
    /// <summary>The network in words: widths, activation, loss, initialisation, optimiser.</summary>
    public required string Network { get; init; }
    /// <summary>Fraction of the test images misclassified by the final network: the paper's figure.</summary>
    public double TestError { get; init; }
    /// <summary>Mean training criterion on the test images.</summary>
    public double TestLoss { get; init; }
    /// <summary>Fraction of the first 10,000 training images misclassified by the final network.</summary>
    public double TrainError { get; init; }
    /// <summary>Error of always answering the most frequent training class: the baseline to beat.</summary>
    public double MajorityError { get; init; }
    /// <summary>Passes over the training set.</summary>
    public int Epochs { get; init; }
    /// <summary>Training throughput of this process, images per second.</summary>
    public double? SamplesPerSecond { get; init; }
    /// <summary>Training images used.</summary>
    public int TrainImages { get; init; }
    /// <summary>Test images used.</summary>
    public int TestImages { get; init; }
}

/// <summary>The backpropagation experiment: an MLP trained on MNIST by the from-scratch engine.</summary>
public static class Experiment
{
    /// <summary>The paper, for run folders and --help.</summary>
    public static readonly PaperInfo Paper = new("backprop",
        "Backpropagation (Rumelhart, Hinton & Williams 1986) from scratch: MLPs on MNIST trained by a plain C# autograd engine");

    /// <summary>Images of the training set whose error is tracked during training (the first ones).</summary>
    public const int TrainEvalImages = 10_000;

    /// <summary>The published test error of the preset's network; given for orientation only with the modern recipe.</summary>
    public static Published PublishedFor(string preset, string recipe)
    {
        var (value, source) = preset switch
        {
            "300" => (0.047, "LeCun et al. 1998, §III.C.5 and Fig. 9 (and the MNIST page): 2-layer NN, 300 hidden units, mean squared error, no distortions"),
            "300-100" => (0.0305, "LeCun et al. 1998, §III.C.5 and Fig. 9 (and the MNIST page): 3-layer NN, 300+100 hidden units, mean squared error, no distortions"),
            _ => (0.016, "Simard, Steinkraus & Platt 2003, Table 1: 2-layer MLP, 800 hidden units, cross-entropy, no distortions"),
        };
        return recipe == "modern"
            ? new("test_error", value, source + "; this run trains the same widths the modern way (ReLU, cross-entropy, Adam)", Comparable: false)
            : new("test_error", value, source);
    }

    /// <summary>Parses the command line, runs, prints the run folder last. Exit 0, 1 (failure), 2 (usage), 130 (Ctrl-C).</summary>
    public static int Main(string[] args) => PaperProgram.Main<BackpropOptions>(args, Paper, BackpropOptions.Defaults, Run);

    /// <summary>Trains the MLP with the engine and writes the run folder (config.json, metrics.csv, checkpoint.bin, model.pt, summary.json, report.html).</summary>
    /// <returns>The summary; null in --bench mode (which prints its measurements and writes no run folder).</returns>
    /// <exception cref="DatasetNotFoundException">MNIST is nowhere to be found and cannot be downloaded.</exception>
    /// <exception cref="NonFiniteLossException">The loss became NaN or infinite (lower --lr).</exception>
    public static BackpropSummary? Run(BackpropOptions o, RunContext ctx)
    {
        Gemm.Threads = ctx.Threads;   // the engine's matmul splits rows over this many threads; results do not depend on it
        if (o.Bench is int benchSteps)
        {
            Bench.Run(o, ctx.Threads, benchSteps);
            return null;
        }
        var wall = Stopwatch.StartNew();
        var (train, test, record) = MnistFamily.Locate("mnist", ctx.Common.Data, o.TrainLimit, o.TestLimit);
        var data = MnistArrays<float>.From(train, test);   // (N, 784) rows of (pixel/255 − 0.1307)/0.3081
        var run = ctx.Start(o, record);

        var config = o.Model();
        var model = new Mlp<float>(config, ctx.Common.Seed);
        var optimizer = MlpTraining.CreateOptimizer(model, o.OptimizerKind, o.Lr, o.Momentum);
        string network = $"{string.Join("-", config.Widths)}, {o.Activation}, {o.Loss}, {o.Init} initialisation, {Describe(o)}";
        ctx.Progress.Line($"{network}: {config.ParameterCount():N0} parameters; {data.TrainLabels.Length:N0} training and {data.TestLabels.Length:N0} test images");

        var batches = new ShuffledBatches<float>(data.TrainImages, data.TrainLabels, data.Features, o.BatchSize, ctx.Common.Seed);
        long totalSteps = (long)o.Epochs * batches.BatchesPerEpoch, logEvery = Math.Max(1, batches.BatchesPerEpoch / 4);
        var loop = new TrainingLoop(ctx, new LoopSettings
        {
            TotalSteps = totalSteps, StepsPerEpoch = batches.BatchesPerEpoch, LogEvery = logEvery, ItemsPerStep = o.BatchSize,
        });
        loop.Schedule = Schedules.Cosine(o.Lr, totalSteps);   // half cosine from --lr at step 0 to 0 at the end (--find-lr sweeps it instead)
        loop.Add("engine", new EngineState<float>(model, optimizer));   // weights and optimiser state, as plain arrays
        loop.Evaluate = _ =>
        {
            var onTest = MlpTraining.Evaluate(model, data.TestImages, data.TestLabels);
            var onTrain = MlpTraining.Evaluate(model, data.TrainImages, data.TrainLabels, limit: TrainEvalImages);
            return new Dictionary<string, double> { ["test/error"] = onTest.Error, ["test/loss"] = onTest.Loss, ["train_eval/error"] = onTrain.Error };
        };

        foreach (var step in loop)
        {
            var (x, labels) = batches.Batch(step.Index);                      // (n, 784) pixels, n labels
            optimizer.LearningRate = step.LearningRate;
            if (step.Index % logEvery == 0) step.Log("train", "lr", optimizer.LearningRate);
            optimizer.ZeroGrad();
            var (loss, _) = model.Loss(Variable<float>.Constant(x, labels.Length, data.Features), labels);   // forward: Eqs. 1–2 per layer, then the loss
            step.Record(loss.Item(), labels.Length);                           // stops here if the loss is NaN or infinite
            loss.Backward();                                                   // Eqs. 4–7: ∂E/∂w for every weight
            optimizer.Step();                                                  // Eq. 9: Δw = −ε ∂E/∂w + α Δw(t−1) (or Adam)
        }

        var final = MlpTraining.Evaluate(model, data.TestImages, data.TestLabels);
        var finalTrain = MlpTraining.Evaluate(model, data.TrainImages, data.TrainLabels, limit: TrainEvalImages);
        using (var exported = new TorchMlp(model)) PyTorchExport.Save(exported, run.File("model.pt"));
        int majority = data.TrainLabels.GroupBy(l => l).MaxBy(g => g.Count())!.Key;

        var result = loop.Result;
        var summary = new BackpropSummary
        {
            Paper = "Backpropagation (Rumelhart, Hinton & Williams 1986), MLP " + string.Join("-", config.Widths) + (o.Recipe == "modern" ? ", modern recipe" : ""),
            Dataset = "mnist",
            Published = PublishedFor(o.Preset, o.Recipe),
            Preset = o.Preset,
            Recipe = o.Recipe,
            Network = network,
            TestError = final.Error,
            TestLoss = final.Loss,
            TrainError = finalTrain.Error,
            MajorityError = data.TestLabels.Count(l => l != majority) / (double)data.TestLabels.Length,
            Epochs = o.Epochs,
            Steps = result.Steps,
            TrainSeconds = result.TrainSeconds,
            WallSeconds = wall.Elapsed.TotalSeconds,
            SamplesPerSecond = double.IsFinite(result.ItemsPerSecond) ? result.ItemsPerSecond : null,
            Threads = ctx.Threads,
            Parameters = config.ParameterCount(),
            TrainImages = data.TrainLabels.Length,
            TestImages = data.TestLabels.Length,
        };
        run.WriteSummary(summary);
        Report.Write(run, summary, model, test, final.Predicted);
        ctx.Progress.Line($"test error {summary.TestError:P2} (published {summary.Published.Value:P2}{(summary.Published.Comparable ? "" : ", another recipe")}; " +
                          $"train error {summary.TrainError:P2}; majority class {summary.MajorityError:P2})");
        return summary;
    }

    /// <summary>The optimiser and schedule in words, for the summary and the report.</summary>
    public static string Describe(BackpropOptions o) =>
        (o.OptimizerKind == OptimizerKind.Sgd ? $"SGD with momentum {o.Momentum}" : "Adam") +
        $", lr {o.Lr} on a half cosine to 0, batch {o.BatchSize}, {o.Epochs} epochs";
}
