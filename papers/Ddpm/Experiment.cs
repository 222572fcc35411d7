// DDPM experiment, top to bottom: options → images scaled to [−1, 1] → U-Net ε_θ → the training step of
// Algorithm 1 with an EMA of the weights → samples → Fréchet distance on LeNet-5 features → run folder.
// The diffusion itself is in Diffusion.cs, the network in UNet.cs, the evaluation in Evaluation.cs.
// Your own images (--dataset folder:DIR, with or without class subfolders) go through the same step; with no
// feature network for them, they are judged by L_simple on held-out images against the loss of predicting
// ε = 0 (which is 1, the variance of ε), and by looking at the samples.

using PaperLab.Cli;
using PaperLab.Data;
using PaperLab.Data.Sources;
using PaperLab.Runs;
using PaperLab.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace PaperLab.Papers.Ddpm;

/// <summary>Hyperparameters of a DDPM run: each property is a command-line option (--kebab-case) and a field of config.json.</summary>
public sealed record DdpmOptions : ICheckedOptions
{
    /// <summary>The dataset: fashion-mnist, mnist, or folder:DIR (your images: in class subfolders, or all directly in DIR).</summary>
    public string Dataset { get; init; } = "fashion-mnist";
    /// <summary>folder: only. Side of the square images (a multiple of 4, for the U-Net's two halvings); images are scaled so the shorter side fits, then centre-cropped.</summary>
    [Option(Min = 8, Max = 256)] public int ImageSize { get; init; } = 28;
    /// <summary>folder: only. 1: grey, 3: RGB (--channels is the U-Net's width).</summary>
    [Option(Min = 1, Max = 3)] public int ImageChannels { get; init; } = 1;
    /// <summary>folder: only. Percentage of the images held out (by content hash) to measure L_simple on, when the folder has no valid/.</summary>
    [Option(Min = 0, MinExclusive = true, Max = 100, MaxExclusive = true)] public double ValidPct { get; init; } = 10;
    /// <summary>folder: only. Fail on the first unreadable image instead of skipping it.</summary>
    public bool Strict { get; init; }
    /// <summary>Optimizer steps (none: 2,500, or --epochs passes).</summary>
    [Option(Min = 1, Max = 100_000_000)] public long? Steps { get; init; }
    /// <summary>Passes over the training set, instead of --steps.</summary>
    [Option(Min = 1, Max = 100_000)] public int? Epochs { get; init; }
    /// <summary>Images per optimizer step (the paper: 128).</summary>
    [Option(Min = 1, Max = 60_000)] public int BatchSize { get; init; } = 64;
    /// <summary>Peak Adam learning rate, after the warm-up, then a half cosine to 0 (the paper: 2e-4, constant).</summary>
    [Option(Min = 0, MinExclusive = true, Max = 10)] public double Lr { get; init; } = 1e-3;
    /// <summary>Steps of linear learning-rate warm-up (the paper: 5,000).</summary>
    [Option(Min = 0, Max = 10_000_000)] public int WarmupSteps { get; init; } = 100;
    /// <summary>Global gradient-norm clip (the paper: 1).</summary>
    [Option(Min = 0, MinExclusive = true, Max = 1e6)] public double ClipGradNorm { get; init; } = 1.0;
    /// <summary>Decay of the weight average used for sampling (the paper: 0.9999 over 800k steps).</summary>
    [Option(Min = 0, Max = 1, MaxExclusive = true)] public double EmaDecay { get; init; } = 0.995;
    /// <summary>T, the number of diffusion steps (the paper: 1000).</summary>
    [Option(Name = "diffusion-steps", Min = 2, Max = 100_000)] public int T { get; init; } = 1000;
    /// <summary>Noise schedule: linear (the paper) or cosine (Nichol &amp; Dhariwal 2021).</summary>
    [Option(OneOf = new[] { "linear", "cosine" })] public string Schedule { get; init; } = "linear";
    /// <summary>U-Net base channels (a multiple of 8, for GroupNorm's 8 groups).</summary>
    [Option(Min = 8, Max = 1024)] public int Channels { get; init; } = 24;
    /// <summary>Use only the first N training images (smoke runs); none: all 60,000.</summary>
    [Option(Min = 1, Max = 60_000)] public int? TrainLimit { get; init; }

    /// <summary>Sample and measure the Fréchet distance every this many steps (and at the end).</summary>
    [Option(Min = 1, Max = 100_000_000, MayChangeOnResume = true)] public long EvalEvery { get; init; } = 500;
    /// <summary>Samples per evaluation during training.</summary>
    [Option(Min = 2, Max = 100_000, MayChangeOnResume = true)] public int EvalSamples { get; init; } = 256;
    /// <summary>DDIM steps of those samples.</summary>
    [Option(Min = 1, Max = 100_000, MayChangeOnResume = true)] public int EvalSampleSteps { get; init; } = 25;
    /// <summary>Samples of the final Fréchet distance and class coverage.</summary>
    [Option(Name = "samples", Min = 2, Max = 1_000_000, MayChangeOnResume = true)] public int FinalSamples { get; init; } = 1000;
    /// <summary>DDIM steps of the final samples; equal to --diffusion-steps means Algorithm 2 (ancestral) instead.</summary>
    [Option(Min = 1, Max = 100_000, MayChangeOnResume = true)] public int SampleSteps { get; init; } = 50;
    /// <summary>Images drawn with Algorithm 2 (all T steps) for the sample grid and trajectories.</summary>
    [Option(Min = 1, Max = 10_000, MayChangeOnResume = true)] public int AncestralSamples { get; init; } = 36;
    /// <summary>LeNet-5 weights for the features (model.pt of a papers/LeNet5 run on the same dataset); none: train one here.</summary>
    [Option(MayChangeOnResume = true)] public string? Classifier { get; init; }
    /// <summary>Epochs of the in-process LeNet-5 feature network (when no --classifier is given).</summary>
    [Option(Min = 1, Max = 1000, MayChangeOnResume = true)] public int ClassifierEpochs { get; init; } = 2;
    /// <summary>Use only the first N test images; none: all 10,000.</summary>
    [Option(Min = 1, Max = 10_000, MayChangeOnResume = true)] public int? TestLimit { get; init; }

    /// <summary>Gradient checkpointing (Chen et al. 2016) of the U-Net's residual blocks: same gradients, less memory, more time (papers/Gpt/CHECKPOINTING.md).</summary>
    [Option(MayChangeOnResume = true)] public bool GradCheckpoint { get; init; }

    /// <summary>Time N training steps on a fixed synthetic batch (after a warm-up) and print images/s as one JSON line, instead of a run; no run folder (Bench.cs, bench/compare.sh).</summary>
    [Option(Min = 1, Max = 1_000_000, MayChangeOnResume = true)] public int? Bench { get; init; }

    /// <summary>The U-Net built.</summary>
    public UNetConfig UNet => new(BaseChannels: Channels, GradientCheckpointing: GradCheckpoint);

    /// <summary>Optimizer steps of the run: --steps, or --epochs passes over the (limited) training set, else 2,500.</summary>
    public long TotalSteps => Steps ?? (Epochs is int e ? e * (((long)(TrainLimit ?? 60_000) + BatchSize - 1) / BatchSize) : 2500);

    /// <inheritdoc/>
    public IEnumerable<string> Problems()
    {
        DatasetArgument? source = null;
        string? bad = null;
        try
        {
            source = DatasetArgument.Parse(Dataset);
            source.Require("DDPM", ["fashion-mnist", "mnist"], DataSourceKind.Folder);
        }
        catch (ArgumentException e) { bad = e.Message; }
        if (bad != null) yield return bad;
        else if (source!.Kind == DataSourceKind.BuiltIn && (ImageSize != 28 || ImageChannels != 1 || source.Name != Dataset))
            yield return $"--image-size and --image-channels apply to folder: datasets; {Dataset} is grey 28×28";
        if (ImageChannels == 2) yield return "--image-channels 2: give 1 (grey) or 3 (RGB)";
        if (ImageSize % 4 != 0) yield return $"--image-size {ImageSize}: give a multiple of 4 (the U-Net halves the images twice)";
        if (Steps != null && Epochs != null) yield return "give --steps or --epochs, not both";
        if (Channels % 8 != 0) yield return $"--channels must be a multiple of 8 (GroupNorm with 8 groups), got {Channels}";
        if (SampleSteps > T) yield return $"--sample-steps {SampleSteps} must be at most --diffusion-steps {T}";
        if (EvalSampleSteps > T) yield return $"--eval-sample-steps {EvalSampleSteps} must be at most --diffusion-steps {T}";
    }

    /// <summary>The reported configuration; --smoke: a tiny U-Net and T = 100 on 1,000 images, seconds.</summary>
    public static DdpmOptions Defaults(DdpmOptions given, RunOptions run) => run.Smoke
        ? new() { Dataset = given.Dataset, Steps = 30, BatchSize = 16, WarmupSteps = 5, EmaDecay = 0.9, T = 100, Channels = 8, EvalEvery = 15, EvalSamples = 32,
                  EvalSampleSteps = 5, FinalSamples = 64, SampleSteps = 10, AncestralSamples = 4, ClassifierEpochs = 1, TrainLimit = 1000, TestLimit = 500 }
        : new() { Dataset = given.Dataset };
}

/// <summary>summary.json of a DDPM run.</summary>
public sealed record DdpmSummary : RunSummary
{
    /// <summary>Fréchet distance of the final samples to the test set, on LeNet-5 F6 features.</summary>
    public double FdLenet { get; init; }
    /// <summary>The same for as many real training images: where a perfect generator lands.</summary>
    public double FdLenetRealFloor { get; init; }
    /// <summary>Samples of the final Fréchet distance.</summary>
    public int FdSamples { get; init; }
    /// <summary>How they were drawn.</summary>
    public required string FdSampler { get; init; }
    /// <summary>Which features.</summary>
    public required string FdFeatures { get; init; }
    /// <summary>Fraction of the final samples LeNet-5 puts in each class.</summary>
    public required Dictionary<string, double> ClassCoverage { get; init; }
    /// <summary>Classes holding at least 2% of the samples.</summary>
    public int ClassesCovered { get; init; }
    /// <summary>Your own images: L_simple of the EMA weights on the held-out images (fixed t and ε); built-in: null.</summary>
    public double? ValidLoss { get; init; }
    /// <summary>Your own images: L_simple of predicting ε = 0 on the same held-out draws (≈ 1): the trivial baseline to beat.</summary>
    public double? ZeroNoiseLoss { get; init; }
    /// <summary>The Fréchet distance at each evaluation during training (this process and, resumed, before).</summary>
    public required List<FdPoint> FdHistory { get; init; }
    /// <summary>Mean training loss of the last 100 steps of this process.</summary>
    public double? FinalTrainLoss { get; init; }
    /// <summary>Training throughput of this process, images per second.</summary>
    public double? ImagesPerSecond { get; init; }
    /// <summary>Seconds of the final sampling.</summary>
    public double SamplingSeconds { get; init; }
    /// <summary>Test accuracy of the LeNet-5 feature network.</summary>
    public double ClassifierTestAccuracy { get; init; }
}

/// <summary>One evaluation during training.</summary>
/// <param name="Step">Optimizer step.</param>
/// <param name="FdLenet">Fréchet distance of the evaluation samples.</param>
/// <param name="FdLenetRealFloor">Real-vs-real floor at that sample count.</param>
public sealed record FdPoint(long Step, double FdLenet, double FdLenetRealFloor);

/// <summary>The DDPM experiment.</summary>
public static class Experiment
{
    /// <summary>The paper, for run folders and --help.</summary>
    public static readonly PaperInfo Paper = new("ddpm", "Denoising Diffusion Probabilistic Models (Ho et al. 2020) on Fashion-MNIST, MNIST or your own images");

    /// <summary>The paper's headline figure, for orientation only.</summary>
    public static readonly Published Cifar10Fid = new("fid_inception_cifar10", 3.17,
        "Ho et al. 2020, Table 1: FID 3.17 on CIFAR-10 (Inception-v3 features, 50k samples, 35.7M-parameter U-Net, 800k steps). " +
        "Not comparable with fd_lenet: other dataset, other feature network, other sample count.", Comparable: false);

    /// <summary>Parses the command line, runs, prints the run folder last. Exit 0, 1 (failure), 2 (usage), 130 (Ctrl-C).</summary>
    public static int Main(string[] args) => PaperProgram.Main<DdpmOptions>(args, Paper, DdpmOptions.Defaults, Run);

    /// <summary>
    /// Trains the U-Net with Algorithm 1, samples from the weight average and writes the run folder
    /// (config.json, metrics.csv, checkpoint.bin with the EMA inside, ema.pt, summary.json, report.html, PNG grids).
    /// </summary>
    /// <exception cref="DatasetNotFoundException">The dataset is nowhere to be found and cannot be downloaded.</exception>
    /// <exception cref="RunFailureException">The --classifier file cannot be used.</exception>
    /// <returns>The summary; null in --bench mode (which prints its measurements and writes no run folder).</returns>
    /// <exception cref="NonFiniteLossException">The loss became NaN or infinite.</exception>
    public static DdpmSummary? Run(DdpmOptions o, RunContext ctx)
    {
        if (o.Bench is int benchSteps)
        {
            Bench.Run(o, ctx.Threads, ctx.Common.Seed, benchSteps);
            return null;
        }
        var wall = System.Diagnostics.Stopwatch.StartNew();
        if (DatasetArgument.Parse(o.Dataset) is { Kind: DataSourceKind.Folder } folderSource) return OwnImages.Run(o, ctx, folderSource);
        var (train, test, data) = MnistFamily.Locate(o.Dataset, ctx.Common.Data, o.TrainLimit, o.TestLimit);
        var judge = FeatureJudge.Create(o, ctx.Common.Seed, train, test, ctx.Progress);   // a bad --classifier fails here, before any folder exists
        var run = ctx.Start(o, data);
        ctx.Progress.Line($"feature network: {judge.Source}; test accuracy {judge.TestAccuracy:P2}");
        // x_0 scaled to [−1, 1] (§4: "data scaled linearly to [−1, 1]"): (p/255 − 0.5)/0.5
        using var trainSet = new ImageTensorDataset(train.Pixels, train.Labels, 28, 28, 0.5, 0.5);

        torch.manual_seed(ctx.Common.Seed);
        var unet = new UNet(o.UNet);
        var shadow = new UNet(o.UNet);
        var ema = new ExponentialMovingAverage(unet, shadow, o.EmaDecay);
        ctx.Progress.Line($"U-Net ε_θ: {ParameterCounts.Total(unet):N0} parameters");
        using var diffusion = new GaussianDiffusion(NoiseSchedule.Named(o.Schedule, o.T));

        var loader = new BatchLoader(trainSet, o.BatchSize, Sampling.Shuffle, ctx.Common.Seed, dropLast: true);
        Tensor EpsEma(Tensor xt, Tensor t) => shadow.forward(xt, t);
        double evalFloor = judge.RealFloor(o.EvalSamples, ctx.Common.Seed);
        var result = Train(o, ctx, unet, ema, diffusion, loader, o.TotalSteps, _ =>
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            using var scope = NewDisposeScope();
            Tensor x = SampleMany(diffusion, EpsEma, o.EvalSamples, o.EvalSampleSteps, seed: 1_000_003);
            return new Dictionary<string, double> { ["eval/fd_lenet"] = judge.Fd(x), ["eval/fd_lenet_real_floor"] = evalFloor, ["eval/sample_seconds"] = clock.Elapsed.TotalSeconds };
        });
        PyTorchExport.Save(shadow, run.File("ema.pt"));

        var final = FinalEvaluation.Run(o, diffusion, EpsEma, judge, ctx.Common.Seed, ctx.Progress);
        var (fdSteps, fds) = run.Metrics.Series("eval", "fd_lenet");
        var (_, floors) = run.Metrics.Series("eval", "fd_lenet_real_floor");
        var summary = new DdpmSummary
        {
            Paper = "Denoising Diffusion Probabilistic Models (Ho et al. 2020)",
            Dataset = o.Dataset,
            Published = Cifar10Fid,
            FdLenet = final.Fd,
            FdLenetRealFloor = final.Floor,
            FdSamples = o.FinalSamples,
            FdSampler = final.SamplerName,
            FdFeatures = "LeNet-5 F6 (84-d), " + judge.Source,
            ClassCoverage = final.Coverage,
            ClassesCovered = final.ClassesCovered,
            FdHistory = fdSteps.Select((s, i) => new FdPoint((long)s, fds[i], floors[i])).ToList(),
            FinalTrainLoss = result.Losses.Count > 0 ? result.Losses.TakeLast(Math.Min(100, result.Losses.Count)).Average() : null,
            Steps = result.Steps,
            TrainSeconds = result.TrainSeconds,
            WallSeconds = wall.Elapsed.TotalSeconds,
            ImagesPerSecond = double.IsFinite(result.ItemsPerSecond) ? result.ItemsPerSecond : null,
            SamplingSeconds = final.SamplingSeconds,
            Parameters = ParameterCounts.Total(unet),
            ClassifierTestAccuracy = judge.TestAccuracy,
            Threads = ctx.Threads,
        };
        run.WriteSummary(summary);
        Report.Write(run, o, summary, final, test.ClassNames);
        ctx.Progress.Line($"fd_lenet {final.Fd:F2} (real-vs-real floor {final.Floor:F2}) with {o.FinalSamples} samples, {final.SamplerName}; " +
                          $"{final.ClassesCovered}/10 classes covered; training {result.TrainSeconds:F0} s");
        return summary;
    }


    /// <summary>
    /// Algorithm 1 of Ho et al. 2020 in the shared training loop, with the weight average updated after every
    /// step (Adam, warm-up then cosine learning rate, gradient clipping): the training of every DDPM run, on
    /// the built-in datasets and on your own images.
    /// </summary>
    /// <param name="o">The options (lr, warm-up, clipping, evaluation cadence).</param>
    /// <param name="ctx">The run (its folder started).</param>
    /// <param name="unet">ε_θ, trained.</param>
    /// <param name="ema">The weight average θ̄ of <paramref name="unet"/>, checkpointed with it.</param>
    /// <param name="diffusion">The forward process q(x_t | x_0) and L_simple.</param>
    /// <param name="loader">Batches of x_0: (B, C, N, N) float32 in [−1, 1].</param>
    /// <param name="total">Optimizer steps.</param>
    /// <param name="evaluate">The loop's evaluation every --eval-every steps (named metrics, EMA weights).</param>
    /// <returns>What the loop measured.</returns>
    /// <exception cref="NonFiniteLossException">The loss became NaN or infinite.</exception>
    public static TrainingResult Train(DdpmOptions o, RunContext ctx, UNet unet, ExponentialMovingAverage ema, GaussianDiffusion diffusion,
                                       BatchLoader loader, long total, Func<long, IReadOnlyDictionary<string, double>> evaluate)
    {
        var optimizer = optim.Adam(unet.parameters(), lr: o.Lr);
        var parameters = unet.parameters().ToArray();
        var loop = new TrainingLoop(ctx, new LoopSettings
        {
            TotalSteps = total, EvalEvery = o.EvalEvery, LogEvery = Math.Max(1, Math.Min(50, total / 20)), ItemsPerStep = loader.BatchSize, ItemName = "images",
        });
        loop.Add("model", unet);
        loop.Add("ema", ema);
        loop.Add("optimizer", optimizer, Schedules.WarmupCosine(o.Lr, Math.Min(o.WarmupSteps, total), total));
        loop.Evaluate = evaluate;

        foreach (var step in loop)
        {
            var (x0, _) = loader.Batch(step.Index);                    // (B, C, N, N) in [−1, 1]
            optimizer.zero_grad();
            var loss = diffusion.L_simple(unet.forward, x0);          // Algorithm 1: t ~ U{1..T}, ε ~ N(0, I), ‖ε − ε_θ(x_t, t)‖²
            step.Record(loss);
            loss.backward();
            nn.utils.clip_grad_norm_(parameters, o.ClipGradNorm);
            optimizer.step();
            ema.Update();                                              // θ̄ ← d·θ̄ + (1 − d)·θ, after every step
        }
        return loop.Result;
    }
    /// <summary>
    /// <paramref name="n"/> samples in batches of at most 256: DDIM with <paramref name="steps"/> steps, or
    /// Algorithm 2 when steps = T. Batch b uses seed + b, so the result depends only on (n, steps, seed).
    /// </summary>
    /// <returns>(n, C, N, N) in about [−1, 1]; (n, 1, 28, 28) by default.</returns>
    public static Tensor SampleMany(GaussianDiffusion diffusion, Func<Tensor, Tensor, Tensor> epsTheta, int n, int steps, int seed, int channels = 1, int imageSize = 28)
    {
        var parts = new List<Tensor>();
        for (int b = 0, done = 0; done < n; b++)
        {
            int size = Math.Min(256, n - done);
            var shape = new long[] { size, channels, imageSize, imageSize };
            parts.Add(steps == diffusion.T ? diffusion.Sample(epsTheta, shape, seed + b).X0 : diffusion.SampleDdim(epsTheta, shape, steps, seed + b));
            done += size;
        }
        return cat(parts, 0);
    }
}
