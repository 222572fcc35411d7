// Batch Normalization experiment (Ioffe & Szegedy 2015, §4.1 and Fig. 1; §3.3), top to bottom:
// options → MNIST → the networks → the training step in a foreach over the training loop → run folder.
// The layer is in BatchNorm.cs (Algorithms 1–2, the backward of §3) and the network in MnistMlp.cs.
//
// One run trains, from the same initial weights and on the same mini-batches,
//   plain, bn                 the §4.1 network without and with BN, SGD at --lr (Fig. 1 a–c);
//   plain_high_lr, bn_high_lr the same two at --high-lr for the first --high-lr-steps steps (§3.3: "Batch
//                             Normalization enables higher learning rates"), where the plain one fails.
// Every network is watched by the shared diagnostics (activations, gradients, update ratios), so the report
// can show side by side why the plain network lags: its sigmoids' inputs drift and, at the high rate, saturate.
//
// The paper trains 50,000 steps and gives neither the optimizer nor the learning rate of this experiment
// (README.md, Deviations): plain SGD at 0.1 from N(0, 0.1²) weights; 10,000 steps by default, where Fig. 1's
// contrast (BN faster and higher, its sigmoid inputs stable) is already clear, in minutes on one thread.

using PaperLab.Cli;
using PaperLab.Data;
using PaperLab.Diagnostics;
using PaperLab.Runs;
using PaperLab.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace PaperLab.Papers.BatchNorm;

/// <summary>Hyperparameters of a run: each property is a command-line option (--kebab-case) and a field of config.json.</summary>
public sealed record BatchNormOptions : ICheckedOptions
{
    /// <summary>Training steps (mini-batches) of the Fig. 1 pair; the paper: 50,000 (about 16 minutes on one thread under load).</summary>
    [Option(Min = 1, Max = 10_000_000)] public int Steps { get; init; } = 10_000;

    /// <summary>Examples per mini-batch (the paper's 60; BN's statistics need at least 2).</summary>
    [Option(Min = 2, Max = 60_000)] public int BatchSize { get; init; } = 60;

    /// <summary>SGD's learning rate (no momentum), per step on the batch-mean cross-entropy.</summary>
    [Option(Min = 0, MinExclusive = true, Max = 1000)] public double Lr { get; init; } = 0.1;

    /// <summary>§3.3: the much higher learning rate of the second pair of networks (100× --lr by default).</summary>
    [Option(Min = 0, MinExclusive = true, Max = 1000)] public double HighLr { get; init; } = 10.0;

    /// <summary>Steps the high-learning-rate pair trains (from step 0); 0: leave the §3.3 comparison out.</summary>
    [Option(Min = 0, Max = 10_000_000)] public int HighLrSteps { get; init; } = 2_000;

    /// <summary>Which Fig. 1 networks to train: both, plain (no BN) or bn. One network makes --find-lr and --overfit-batch test that network alone.</summary>
    [Option(OneOf = new[] { "both", "plain", "bn" })] public string Networks { get; init; } = "both";

    /// <summary>Standard deviation of the Gaussian initial weights (the paper's "small random Gaussian values"); biases start at 0.</summary>
    [Option(Min = 0, MinExclusive = true, Max = 10)] public double InitStd { get; init; } = 0.1;

    /// <summary>Steps between evaluations on the test set (accuracy, loss and the sigmoid-input percentiles of Fig. 1) and checkpoints.</summary>
    [Option(Min = 1, Max = 10_000_000)] public int EvalEvery { get; init; } = 100;

    /// <summary>Which of the 100 sigmoids of the last hidden layer Fig. 1(b, c) follows.</summary>
    [Option(Min = 0, Max = MnistMlp.Hidden - 1)] public int ProbeUnit { get; init; }

    /// <summary>Use only the first N training images (smoke runs); none: all 60,000.</summary>
    [Option(Min = 1, Max = 60_000)] public int? TrainLimit { get; init; }

    /// <summary>Use only the first N test images; none: all 10,000.</summary>
    [Option(Min = 1, Max = 10_000)] public int? TestLimit { get; init; }

    /// <summary>Time N training steps of the Fig. 1 networks (after a warm-up) and print images/s as one JSON line, instead of a run; no run folder (Bench.cs, bench/compare.sh).</summary>
    [Option(Min = 1, Max = 1_000_000, MayChangeOnResume = true)] public int? Bench { get; init; }

    /// <summary>
    /// The defaults of a run: 10,000 steps of 60 images for the Fig. 1 pair at lr 0.1, and the §3.3 pair at lr 10
    /// for its first 2,000 steps. --smoke: 300 steps on 6,000 training images (100 for the high-rate pair),
    /// tested on 1,000, evaluated every 50 steps: seconds.
    /// </summary>
    public static BatchNormOptions Defaults(BatchNormOptions given, RunOptions run) => run.Smoke
        ? new() { Steps = 300, HighLrSteps = 100, EvalEvery = 50, TrainLimit = 6_000, TestLimit = 1_000 }
        : new();

    /// <inheritdoc/>
    public IEnumerable<string> Problems()
    {
        if (HighLrSteps > Steps) yield return $"--high-lr-steps {HighLrSteps} must be at most --steps {Steps} (the high-rate pair trains within the run)";
        if (TrainLimit is int n && n < BatchSize) yield return $"--train-limit {n} must be at least --batch-size {BatchSize} (one full mini-batch)";
    }
}

/// <summary>summary.json of a run (snake_case keys).</summary>
public sealed record BatchNormSummary : RunSummary
{
    /// <summary>Fig. 1's result in words, as the paper states it (§4.1).</summary>
    public required string PublishedResult { get; init; }
    /// <summary>Test accuracy of the network with BN after the run (null if not trained).</summary>
    public double? BnTestAccuracy { get; init; }
    /// <summary>Test accuracy of the network without BN after the run (null if not trained).</summary>
    public double? PlainTestAccuracy { get; init; }
    /// <summary>Test accuracy of both at fixed step counts (Fig. 1a).</summary>
    public required IReadOnlyList<AccuracyAtStep> AccuracyAtSteps { get; init; }
    /// <summary>First evaluated step at which each network reached 90%, 95% and 97% test accuracy (null: never).</summary>
    public required IReadOnlyList<StepsToAccuracy> StepsToAccuracy { get; init; }
    /// <summary>The 15th/50th/85th percentiles of the probed sigmoid input at the first and the last evaluation, and how far the median moved (Fig. 1b, c).</summary>
    public required IReadOnlyList<ProbeDrift> SigmoidInput { get; init; }
    /// <summary>§3.3: the high-learning-rate pair (null when --high-lr-steps is 0).</summary>
    public HighLearningRateResult? HighLearningRate { get; init; }
    /// <summary>What the shared diagnostics found in each network (empty list: nothing looked wrong).</summary>
    public required IReadOnlyDictionary<string, IReadOnlyList<Finding>> NetworkDiagnostics { get; init; }
    /// <summary>Training images used.</summary>
    public int TrainImages { get; init; }
    /// <summary>Test images used.</summary>
    public int TestImages { get; init; }
}

/// <summary>Test accuracy of the two Fig. 1 networks after <paramref name="Step"/> steps (null: not trained).</summary>
public sealed record AccuracyAtStep(long Step, double? Plain, double? Bn);

/// <summary>The first evaluated step at which each network reached <paramref name="Accuracy"/> (null: never in the run).</summary>
public sealed record StepsToAccuracy(double Accuracy, long? Plain, long? Bn);

/// <summary>Fig. 1(b, c) in numbers for one network: the {15, 50, 85}th percentiles of the probed sigmoid's input over the test images.</summary>
/// <param name="Network">plain, bn, plain_high_lr or bn_high_lr.</param>
/// <param name="First">Percentiles at the first evaluation.</param>
/// <param name="Last">At the last evaluation.</param>
/// <param name="MedianRange">max − min of the median over all evaluations: how far it drifted.</param>
public sealed record ProbeDrift(string Network, double[] First, double[] Last, double MedianRange);

/// <summary>§3.3 in numbers: both networks at the high learning rate.</summary>
public sealed record HighLearningRateResult(double Lr, long Steps, double PlainTestAccuracy, double BnTestAccuracy, double PlainBestTestAccuracy, double BnBestTestAccuracy);

/// <summary>The Batch Normalization experiment.</summary>
public static class Experiment
{
    /// <summary>The paper, for run folders and --help.</summary>
    public static readonly PaperInfo Paper = new("batchnorm",
        "Batch Normalization (Ioffe & Szegedy 2015): the §4.1 MNIST sigmoid network with and without BN (Fig. 1), and at a 100x learning rate (§3.3)");

    /// <summary>
    /// The figure compared with. Fig. 1(a) has no number in the text; the value is read off the plot (BN's curve
    /// near 98% at 50,000 steps), for orientation only: a default run trains 10,000 steps.
    /// </summary>
    public static readonly Published Published = new("bn_test_accuracy", 0.98,
        "Ioffe & Szegedy 2015, §4.1, Fig. 1(a): the BN network's test accuracy read off the plot at 50,000 steps (about 98%, not given in the text); " +
        "the network without BN stays below it throughout", LowerIsBetter: false, Comparable: false);

    /// <summary>§4.1's result in the paper's words.</summary>
    public const string PublishedResult =
        "Fig. 1(a): the batch-normalized network reaches a higher test accuracy, and sooner; Fig. 1(b, c): the distribution of a last-layer " +
        "sigmoid's input ({15, 50, 85}th percentiles) changes much over training without BN and stays stable with it. §3.3: BN enables higher learning rates.";

    /// <summary>Accuracies the summary reports the first step of.</summary>
    public static readonly double[] AccuracyMarks = [0.90, 0.95, 0.97];

    /// <summary>Step counts at which the summary reports both networks' accuracy (those the run evaluates).</summary>
    public static readonly long[] ReportedSteps = [100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000];

    /// <summary>Parses the command line, runs, prints the run folder last. Exit 0, 1 (failure), 2 (usage), 130 (Ctrl-C).</summary>
    public static int Main(string[] args) => PaperProgram.Main<BatchNormOptions>(args, Paper, BatchNormOptions.Defaults, Run);

    /// <summary>
    /// Trains the networks of Fig. 1 (and §3.3) and writes the run folder (config.json, metrics.csv, checkpoint.bin,
    /// model_plain.pt, model_bn.pt, diagnostics.json, summary.json, report.html).
    /// </summary>
    /// <exception cref="DatasetNotFoundException">MNIST is nowhere to be found and cannot be downloaded.</exception>
    /// <returns>The summary; null in --bench mode (which prints its measurements and writes no run folder).</returns>
    /// <exception cref="NonFiniteLossException">A Fig. 1 network's loss became NaN or infinite (lower --lr).</exception>
    public static BatchNormSummary? Run(BatchNormOptions o, RunContext ctx)
    {
        if (o.Bench is int benchSteps)
        {
            Bench.Run(o, ctx.Threads, ctx.Common.Data, ctx.Common.Seed, benchSteps);
            return null;
        }
        var wall = System.Diagnostics.Stopwatch.StartNew();
        var (train, test, data) = MnistFamily.Locate("mnist", ctx.Common.Data, o.TrainLimit, o.TestLimit);
        var run = ctx.Start(o, data);
        using var trainSet = Tensors(train);
        using var testSet = Tensors(test);
        var (testX, testY) = testSet.Gather(Enumerable.Range(0, test.Count).Select(i => (long)i).ToArray());   // (N, 1, 28, 28), (N): kept for every evaluation

        // The networks, each from the same initial weights (the seed is reset before each): the comparison is BN alone.
        bool toolkitCheck = ctx.Common.FindLr || ctx.Common.OverfitBatch;    // the toolkit's checks test the Fig. 1 network(s) alone
        int highLrSteps = toolkitCheck ? 0 : o.HighLrSteps;
        var networks = new List<Network>();
        void AddNetwork(string name, bool batchNorm, double lr, long steps, bool fig1)
        {
            torch.manual_seed(ctx.Common.Seed);
            var model = new MnistMlp(batchNorm, o.InitStd);
            var diagnostics = new TrainingDiagnostics(model, DiagnosticsOptions.ForRun(steps, every: ctx.Common.DiagnoseEvery));
            networks.Add(new Network(name, batchNorm, model, optim.SGD(model.parameters(), lr), lr, steps, fig1, diagnostics));
        }
        if (o.Networks != "bn") AddNetwork("plain", batchNorm: false, o.Lr, o.Steps, fig1: true);
        if (o.Networks != "plain") AddNetwork("bn", batchNorm: true, o.Lr, o.Steps, fig1: true);
        if (highLrSteps > 0)
        {
            AddNetwork("plain_high_lr", batchNorm: false, o.HighLr, highLrSteps, fig1: false);
            AddNetwork("bn_high_lr", batchNorm: true, o.HighLr, highLrSteps, fig1: false);
        }
        foreach (var n in networks)
            ctx.Progress.Line($"{n.Name}: {ParameterCounts.Total(n.Model):N0} parameters (formula: {MnistMlp.ExpectedParameters(n.BatchNorm):N0}), SGD at {n.Lr:g3} for {n.Steps:N0} steps");

        var loader = new BatchLoader(trainSet, o.BatchSize, Sampling.Shuffle, ctx.Common.Seed, dropLast: true);
        const int logEvery = 100;
        var loop = new TrainingLoop(ctx, new LoopSettings
        {
            TotalSteps = o.Steps, StepsPerEpoch = loader.BatchesPerEpoch, EvalEvery = o.EvalEvery, LogEvery = logEvery, ItemsPerStep = o.BatchSize,
            OverfitSteps = 5_000,   // plain SGD on a sigmoid network needs thousands of updates to fit a batch (the plain one about 3,000 at 0.1)
        });
        foreach (var n in networks)   // one checkpoint carries every network and its optimizer: a resume continues all of them
        {
            loop.Add(n.Name, n.Model);
            loop.Add(n.Name + "_sgd", n.Optimizer);
        }
        loop.Evaluate = step =>
        {
            var metrics = new Dictionary<string, double>();
            foreach (var n in networks.Where(n => step <= n.Steps))
            {
                var e = Evaluate(n.Model, testX, testY, o.ProbeUnit);
                metrics[$"test/{n.Name}/accuracy"] = e.Accuracy;
                metrics[$"test/{n.Name}/loss"] = e.Loss;
                metrics[$"probe/{n.Name}/p15"] = e.P15;
                metrics[$"probe/{n.Name}/p50"] = e.P50;
                metrics[$"probe/{n.Name}/p85"] = e.P85;
            }
            return metrics;
        };

        foreach (var step in loop)
        {
            var (x, y) = loader.Batch(step.Index);                               // (60, 1, 28, 28) pixels in [0, 1], (60) labels
            var training = networks.Where(n => n.Fig1 || step.Index < n.Steps).ToList();   // the high-rate pair stops after its steps
            var losses = new Tensor[training.Count];
            for (int i = 0; i < training.Count; i++)
            {
                var n = training[i];
                n.Diagnostics.BeginStep(step.Index);
                n.Optimizer.zero_grad();
                losses[i] = nn.functional.cross_entropy(n.Model.call(x), y);     // forward: BN with the batch's statistics (Alg. 1)
            }
            // The Fig. 1 networks' mean loss is the run's loss: a NaN stops the run before any weight changes.
            step.Record(stack(training.Select((n, i) => (n, i)).Where(p => p.n.Fig1).Select(p => losses[p.i])).mean());
            for (int i = 0; i < training.Count; i++)
            {
                var n = training[i];
                float loss = losses[i].item<float>();
                if (step.Index % logEvery == 0) step.Log("train", $"{n.Name}/loss", loss);
                if (float.IsFinite(loss))                                         // a high-rate network whose loss blew up is left as it was
                {
                    losses[i].backward();                                         // BN's backward is §3's chain rule (BatchNormFunction)
                    n.Optimizer.step();                                           // w ← w − lr·∂ℓ/∂w
                }
                n.Diagnostics.EndStep(loss);
            }
        }

        // After training: the summary, the weights, the diagnostics of each network, the report.
        var result = loop.Result;
        var fig1 = networks.Where(n => n.Fig1).ToList();
        foreach (var n in fig1) PyTorchExport.Save(n.Model, run.File($"model_{n.Name}.pt"));
        var reports = networks.ToDictionary(n => n.Name, n => n.Diagnostics.Report());
        run.WriteJson("diagnostics_networks.json", reports, RunFolder.SnakeCase);
        var summary = Summarise(o, ctx, run.Metrics, networks, reports, result, wall.Elapsed.TotalSeconds, train.Count, test.Count);
        run.WriteSummary(summary);
        Report.Write(run, o, summary, reports);
        foreach (var n in networks) n.Diagnostics.Dispose();
        foreach (var line in Report.Lines(summary)) ctx.Progress.Line(line);
        return summary;
    }

    /// <summary>A network of the run with its optimizer and its diagnostics.</summary>
    /// <param name="Name">plain, bn, plain_high_lr or bn_high_lr: checkpoint part and metrics prefix.</param>
    /// <param name="BatchNorm">With BN before each hidden sigmoid.</param>
    /// <param name="Model">The §4.1 network.</param>
    /// <param name="Optimizer">Plain SGD.</param>
    /// <param name="Lr">Its learning rate.</param>
    /// <param name="Steps">Steps it trains, from step 0.</param>
    /// <param name="Fig1">One of the Fig. 1 pair (its loss is the run's recorded loss).</param>
    /// <param name="Diagnostics">The shared instruments on it.</param>
    sealed record Network(string Name, bool BatchNorm, MnistMlp Model, optim.Optimizer Optimizer, double Lr, long Steps, bool Fig1, TrainingDiagnostics Diagnostics);

    /// <summary>MNIST grey levels scaled to [0, 1], no mean subtraction: the paper's network reads (near-)binary images.</summary>
    public static ImageTensorDataset Tensors(ImageDataset images) => new(images.Pixels, images.Labels, images.Height, images.Width, mean: 0.0, std: 1.0);

    /// <summary>One evaluation: a point of Fig. 1(a) and one of Fig. 1(b, c).</summary>
    /// <param name="Accuracy">Fraction of the images classified right.</param>
    /// <param name="Loss">Mean cross-entropy (nats).</param>
    /// <param name="P15">15th percentile of the probed sigmoid's input over the images.</param>
    /// <param name="P50">Median.</param>
    /// <param name="P85">85th percentile.</param>
    public sealed record Fig1Point(double Accuracy, double Loss, double P15, double P50, double P85);

    /// <summary>
    /// Test accuracy and loss of <paramref name="model"/>, and the 15th/50th/85th percentiles over the images of
    /// the input of sigmoid <paramref name="probeUnit"/> of the last hidden layer, in evaluation mode (BN with its
    /// running estimates, as at inference: Algorithm 2) under no_grad.
    /// </summary>
    /// <param name="model">The network.</param>
    /// <param name="x">Images (N, 1, 28, 28) or (N, 784) float32.</param>
    /// <param name="y">Labels (N) int64.</param>
    /// <param name="probeUnit">0..99.</param>
    public static Fig1Point Evaluate(MnistMlp model, Tensor x, Tensor y, int probeUnit)
    {
        using var scope = NewDisposeScope();
        using var _ = Evaluation.Mode(model);
        var (logits, z3) = model.ForwardWithProbe(x);                                   // (N, 10), (N, 100)
        double accuracy = logits.argmax(1).eq(y).to(float64).mean().item<double>();
        double loss = nn.functional.cross_entropy(logits, y).item<float>();
        var q = z3[TensorIndex.Colon, probeUnit].to(float64).quantile(tensor(new[] { 0.15, 0.50, 0.85 }, float64)).data<double>().ToArray();
        return new Fig1Point(accuracy, loss, q[0], q[1], q[2]);
    }

    static BatchNormSummary Summarise(BatchNormOptions o, RunContext ctx, MetricsLog metrics, List<Network> networks,
                                      Dictionary<string, DiagnosticsReport> reports, TrainingResult result, double wallSeconds, int trainImages, int testImages)
    {
        (double[] Steps, double[] Values) Series(string split, string name) => metrics.Series(split, name);
        double? At(string network, long step)
        {
            var (s, v) = Series("test", $"{network}/accuracy");
            int i = Array.IndexOf(s, (double)step);
            return i >= 0 ? v[i] : null;
        }
        double? Last(string network) => Series("test", $"{network}/accuracy") is { Values.Length: > 0 } s ? s.Values[^1] : null;
        long? FirstReaching(string network, double accuracy)
        {
            var (s, v) = Series("test", $"{network}/accuracy");
            int i = Array.FindIndex(v, a => a >= accuracy);
            return i >= 0 ? (long)s[i] : null;
        }
        var steps = ReportedSteps.Where(s => s < result.Steps && s % o.EvalEvery == 0).Append(result.Steps).Distinct();
        ProbeDrift? Drift(string network)
        {
            var (_, p15) = Series("probe", $"{network}/p15");
            var (_, p50) = Series("probe", $"{network}/p50");
            var (_, p85) = Series("probe", $"{network}/p85");
            if (p50.Length == 0) return null;
            return new ProbeDrift(network, [p15[0], p50[0], p85[0]], [p15[^1], p50[^1], p85[^1]], p50.Max() - p50.Min());
        }
        HighLearningRateResult? high = null;
        if (networks.Any(n => n.Name == "bn_high_lr"))
        {
            var (_, plain) = Series("test", "plain_high_lr/accuracy");
            var (_, bn) = Series("test", "bn_high_lr/accuracy");
            if (plain.Length > 0 && bn.Length > 0)
                high = new HighLearningRateResult(o.HighLr, networks.First(n => n.Name == "bn_high_lr").Steps, plain[^1], bn[^1], plain.Max(), bn.Max());
        }
        return new BatchNormSummary
        {
            Paper = "Batch Normalization (Ioffe & Szegedy 2015), §4.1 Fig. 1",
            Dataset = "mnist",
            Published = Published,
            PublishedResult = PublishedResult,
            BnTestAccuracy = Last("bn"),
            PlainTestAccuracy = Last("plain"),
            AccuracyAtSteps = steps.Select(s => new AccuracyAtStep(s, At("plain", s), At("bn", s))).ToList(),
            StepsToAccuracy = AccuracyMarks.Select(a => new StepsToAccuracy(a, FirstReaching("plain", a), FirstReaching("bn", a))).ToList(),
            SigmoidInput = networks.Select(n => Drift(n.Name)).OfType<ProbeDrift>().ToList(),
            HighLearningRate = high,
            NetworkDiagnostics = reports.ToDictionary(r => r.Key, r => r.Value.Findings),
            Steps = result.Steps,
            TrainSeconds = result.TrainSeconds,
            WallSeconds = wallSeconds,
            Threads = ctx.Threads,
            Parameters = networks.Where(n => n.Fig1).Sum(n => ParameterCounts.Total(n.Model)),
            TrainImages = trainImages,
            TestImages = testImages,
        };
    }
}
