// DDPM experiment: options → data → U-Net ε_θ → L_simple with the shared training loop (EMA of the
// weights alongside) → samples → Fréchet distance on LeNet-5 features → run folder.
// The diffusion itself is in Diffusion.cs, the network in UNet.cs, the evaluation in Evaluation.cs.

using System.CommandLine;
using PaperLab.Cli;
using PaperLab.Data;
using PaperLab.Runs;
using PaperLab.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace PaperLab.Papers.Ddpm;

/// <summary>Hyperparameters of a DDPM run; every field lands in config.json.</summary>
/// <param name="Dataset">"fashion-mnist" or "mnist".</param>
/// <param name="Steps">Optimizer steps.</param>
/// <param name="BatchSize">Images per step (the paper: 128).</param>
/// <param name="Lr">Peak Adam learning rate, reached after <paramref name="WarmupSteps"/> linear warm-up steps, then half-cosine decay to 0 (the paper: 2e-4 constant after 5,000 warm-up steps).</param>
/// <param name="WarmupSteps">Linear warm-up steps of the learning rate.</param>
/// <param name="ClipGradNorm">Global gradient-norm clip (the paper: 1).</param>
/// <param name="EmaDecay">Decay of the weight EMA used for sampling (the paper: 0.9999 over 800k steps).</param>
/// <param name="T">Diffusion steps (the paper: 1000).</param>
/// <param name="Schedule">"linear" (the paper) or "cosine" (Nichol &amp; Dhariwal 2021).</param>
/// <param name="Net">U-Net shape.</param>
/// <param name="EvalEvery">Sample and measure the Fréchet distance every this many steps (and at the end).</param>
/// <param name="EvalSamples">Samples per evaluation during training.</param>
/// <param name="EvalSampleSteps">DDIM steps of those samples.</param>
/// <param name="FinalSamples">Samples of the final Fréchet distance and class coverage.</param>
/// <param name="SampleSteps">DDIM steps of the final samples; equal to T means Algorithm 2 (ancestral) instead.</param>
/// <param name="AncestralSamples">Images drawn with Algorithm 2 (all T steps) for the sample grid and trajectories.</param>
/// <param name="ClassifierEpochs">Epochs of the in-process LeNet-5 feature network (when no --classifier file is given).</param>
/// <param name="TrainLimit">Use only the first N training images (smoke runs); null: all 60,000.</param>
/// <param name="TestLimit">Use only the first N test images; null: all 10,000.</param>
public sealed record DdpmConfig(string Dataset = "fashion-mnist", long Steps = 2500, int BatchSize = 64, double Lr = 1e-3,
                                int WarmupSteps = 100, double ClipGradNorm = 1.0, double EmaDecay = 0.995, int T = 1000,
                                string Schedule = "linear", UNetConfig? Net = null, long EvalEvery = 500, int EvalSamples = 256,
                                int EvalSampleSteps = 25, int FinalSamples = 1000, int SampleSteps = 50, int AncestralSamples = 36,
                                int ClassifierEpochs = 2, int? TrainLimit = null, int? TestLimit = null)
{
    /// <summary>The U-Net actually built.</summary>
    public UNetConfig UNet => Net ?? new UNetConfig(BaseChannels: 24);

    /// <summary>The configuration of the reproduced result (see README's results table).</summary>
    public static DdpmConfig Default(string dataset) => new(dataset);

    /// <summary>Seconds of training on a few hundred images with a tiny U-Net and T = 100: what CI runs.</summary>
    public static DdpmConfig Smoke(string dataset) => new(dataset, Steps: 30, BatchSize: 16, WarmupSteps: 5, EmaDecay: 0.9, T: 100,
        Net: new UNetConfig(BaseChannels: 8), EvalEvery: 15, EvalSamples: 32, EvalSampleSteps: 5, FinalSamples: 64, SampleSteps: 10,
        AncestralSamples: 4, ClassifierEpochs: 1, TrainLimit: 1000, TestLimit: 500);
}

/// <summary>The figure a run is (not) compared with.</summary>
/// <param name="Metric">What it measures.</param>
/// <param name="Value">The published value.</param>
/// <param name="Source">Where it is published, and why it is not comparable.</param>
public sealed record Published(string Metric, double Value, string Source)
{
    /// <summary>The paper's headline figure.</summary>
    public static readonly Published Cifar10Fid = new("fid_inception_cifar10", 3.17,
        "Ho et al. 2020, Table 1: FID 3.17 on CIFAR-10 (Inception-v3 features, 50k samples, 35.7M-parameter U-Net, 800k steps). " +
        "Not comparable with fd_lenet: other dataset, other feature network, other sample count.");
}

/// <summary>Command-line entry of the DDPM experiment.</summary>
public static class Experiment
{
    /// <summary>Parses the command line, runs the experiment, prints the run folder last. Exit 0, 1 (failure) or 2 (usage).</summary>
    public static int Main(string[] args)
    {
        var cli = new PaperCommandLine("ddpm", "Denoising Diffusion Probabilistic Models (Ho et al. 2020) on Fashion-MNIST or MNIST");
        var dataset = cli.Add(new Option<string>("--dataset") { Description = "fashion-mnist or mnist", DefaultValueFactory = _ => "fashion-mnist" });
        dataset.AcceptOnlyFromAmong("fashion-mnist", "mnist");
        var steps = cli.Add(new Option<long?>("--steps") { Description = "optimizer steps (default 2500)" });
        var epochs = cli.Add(new Option<int?>("--epochs") { Description = "passes over the training set (instead of --steps)" });
        var batch = cli.Add(new Option<int?>("--batch-size") { Description = "images per optimizer step" });
        var lr = cli.Add(new Option<double?>("--lr") { Description = "peak learning rate (Adam, warm-up then cosine decay)" });
        var sampleSteps = cli.Add(new Option<int?>("--sample-steps") { Description = "DDIM steps of the final samples (T: Algorithm 2)" });
        var samples = cli.Add(new Option<int?>("--samples") { Description = "samples of the final Fréchet distance" });
        var ancestral = cli.Add(new Option<int?>("--ancestral-samples") { Description = "images drawn with Algorithm 2 (all T steps) for the grid and trajectories" });
        var evalEvery = cli.Add(new Option<long?>("--eval-every") { Description = "steps between Fréchet-distance evaluations" });
        var channels = cli.Add(new Option<int?>("--channels") { Description = "U-Net base channels (multiple of 8)" });
        var schedule = cli.Add(new Option<string?>("--schedule") { Description = "noise schedule: linear (paper) or cosine" });
        schedule.AcceptOnlyFromAmong("linear", "cosine");
        var classifier = cli.Add(new Option<string?>("--classifier") { Description = "LeNet-5 weights (model.pt of a papers/LeNet5 run on the same dataset) for the features; default: train one here" });
        PaperCommandLine.AtLeast(steps, 1L);
        PaperCommandLine.AtLeast(epochs, 1);
        PaperCommandLine.AtLeast(batch, 1);
        PaperCommandLine.Positive(lr);
        PaperCommandLine.AtLeast(sampleSteps, 1);
        PaperCommandLine.AtLeast(samples, 2);
        PaperCommandLine.AtLeast(ancestral, 1);
        PaperCommandLine.AtLeast(evalEvery, 1L);
        PaperCommandLine.AtLeast(channels, 8);

        if (!cli.TryParse(args, out var common, out var parsed, out int exit)) return exit;
        if (parsed.GetValue(steps) != null && parsed.GetValue(epochs) != null)
        {
            Console.Error.WriteLine("error: give --steps or --epochs, not both");
            return PaperCommandLine.UsageError;
        }
        if (parsed.GetValue(channels) is int c && c % 8 != 0)
        {
            Console.Error.WriteLine($"error: --channels must be a multiple of 8 (GroupNorm with 8 groups), got {c}");
            return PaperCommandLine.UsageError;
        }

        string name = parsed.GetValue(dataset)!;
        var config = common.Smoke ? DdpmConfig.Smoke(name) : DdpmConfig.Default(name);
        config = config with
        {
            Steps = parsed.GetValue(steps) ?? config.Steps,
            BatchSize = parsed.GetValue(batch) ?? config.BatchSize,
            Lr = parsed.GetValue(lr) ?? config.Lr,
            SampleSteps = parsed.GetValue(sampleSteps) ?? config.SampleSteps,
            FinalSamples = parsed.GetValue(samples) ?? config.FinalSamples,
            AncestralSamples = parsed.GetValue(ancestral) ?? config.AncestralSamples,
            EvalEvery = parsed.GetValue(evalEvery) ?? config.EvalEvery,
            Schedule = parsed.GetValue(schedule) ?? config.Schedule,
            Net = parsed.GetValue(channels) is int ch ? config.UNet with { BaseChannels = ch } : config.Net,
        };
        if (parsed.GetValue(epochs) is int e)
        {
            long n = config.TrainLimit ?? 60_000;
            config = config with { Steps = e * ((n + config.BatchSize - 1) / config.BatchSize) };
        }
        if (config.SampleSteps > config.T)
        {
            Console.Error.WriteLine($"error: --sample-steps must be at most T = {config.T}");
            return PaperCommandLine.UsageError;
        }
        try
        {
            var run = Run(config, common, parsed.GetValue(classifier));
            Console.WriteLine(run.Path);
            return 0;
        }
        catch (Exception ex) when (ex is IOException or NonFiniteLossException or CheckpointException or DatasetNotFoundException)
        {
            Console.Error.WriteLine($"error: {ex.Message}");
            return PaperCommandLine.RuntimeFailure;
        }
    }

    /// <summary>
    /// Runs one experiment and returns its run folder (config.json, metrics.csv, summary.json, report.html,
    /// checkpoint.bin + ema.bin, ema.pt).
    /// </summary>
    /// <param name="config">Hyperparameters.</param>
    /// <param name="common">Seed, threads, folders, resume.</param>
    /// <param name="classifierPath">LeNet-5 weights (PyTorch state dict) for the features; null trains one in-process.</param>
    /// <param name="progress">Progress output; null: console.</param>
    /// <exception cref="DatasetNotFoundException">The dataset is nowhere to be found and cannot be downloaded.</exception>
    /// <exception cref="NonFiniteLossException">Training diverged.</exception>
    public static RunFolder Run(DdpmConfig config, CommonOptions common, string? classifierPath = null, TrainingProgress? progress = null)
    {
        int threads = common.ThreadCount;
        torch.set_num_threads(threads);
        var run = RunFolder.Create("ddpm", common.Out);
        run.WriteConfig("ddpm", config with { }, common.Seed, threads);
        progress ??= TrainingProgress.ForConsole();

        var (train, test) = LoadData(config, common.Data);
        // x_0 scaled to [−1, 1] (the paper, §4: "data scaled linearly to [−1, 1]"): (p/255 − 0.5)/0.5
        using var trainSet = new ImageTensorDataset(train.Pixels, train.Labels, 28, 28, 0.5, 0.5);
        using var testSet = new ImageTensorDataset(test.Pixels, test.Labels, 28, 28, 0.5, 0.5);

        var judge = FeatureJudge.Create(config, common, train, test, classifierPath, progress);
        progress.Line($"feature network: {judge.Source}; test accuracy {judge.TestAccuracy:P2}");

        torch.manual_seed(common.Seed);
        var unet = new UNet(config.UNet);
        var shadow = new UNet(config.UNet);
        shadow.eval();
        var ema = new ExponentialMovingAverage(unet, shadow, config.EmaDecay);
        progress.Line($"U-Net ε_θ: {unet.parameters().Sum(p => p.numel()):N0} parameters");
        using var diffusion = new GaussianDiffusion(NoiseSchedule.Named(config.Schedule, config.T));

        var loader = new BatchLoader(trainSet, config.BatchSize, Sampling.Shuffle, common.Seed, dropLast: true);
        var optimizer = optim.Adam(unet.parameters(), lr: config.Lr);
        long total = config.Steps;
        var lrSchedule = optim.lr_scheduler.LambdaLR(optimizer, s => s < config.WarmupSteps
            ? (s + 1.0) / config.WarmupSteps
            : 0.5 * (1 + Math.Cos(Math.PI * Math.Min(s - config.WarmupSteps, total - config.WarmupSteps) / Math.Max(1, total - config.WarmupSteps))));

        string emaPath = run.File("ema.bin");
        if (common.Resume != null)
        {
            string saved = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(common.Resume))!, "ema.bin");
            if (!File.Exists(saved))
                throw new CheckpointException($"resuming needs the weight average {saved} beside the checkpoint; it is missing");
            shadow.load(saved);
            // the model's weights come from the checkpoint; the average from ema.bin, saved at the same step
        }

        // The EMA follows every optimizer step. The shared Trainer has no after-step hook, so the update for
        // the weights of step s − 1 is applied when the loss of step s is computed (same weights, one call
        // later), and once more before every evaluation and at the end: `pending` marks a step not yet averaged.
        bool pending = false;
        void CatchUp()
        {
            if (pending) ema.Update();
            pending = false;
        }
        Tensor EpsTheta(Tensor xt, Tensor t) => unet.forward(xt, t);
        Tensor EpsEma(Tensor xt, Tensor t) => shadow.forward(xt, t);

        var fdHistory = new List<(long Step, double Fd, double Floor)>();
        var evalFloor = judge.RealFloor(config.EvalSamples, common.Seed);
        var trainer = new Trainer(unet, optimizer, loader,
            (x0, _) =>
            {
                CatchUp();
                pending = true;
                return diffusion.L_simple(EpsTheta, x0);
            },
            new TrainSettings
            {
                Steps = total, Seed = common.Seed, ClipGradNorm = config.ClipGradNorm, EvalEvery = config.EvalEvery,
                LogEvery = Math.Max(1, Math.Min(50, total / 20)), CheckpointPath = run.File("checkpoint.bin"),
            },
            run.Metrics, lrSchedule, progress)
        {
            Evaluate = step =>
            {
                CatchUp();
                shadow.save(emaPath);
                var clock = System.Diagnostics.Stopwatch.StartNew();
                using var scope = NewDisposeScope();
                Tensor x = SampleMany(diffusion, EpsEma, config.EvalSamples, config.EvalSampleSteps, seed: 1_000_003);
                double fd = judge.Fd(x);
                fdHistory.Add((step, fd, evalFloor));
                return new Dictionary<string, double> { ["eval/fd_lenet"] = fd, ["eval/fd_lenet_real_floor"] = evalFloor, ["eval/sample_seconds"] = clock.Elapsed.TotalSeconds };
            },
        };
        var result = trainer.Run(common.Resume);
        CatchUp();
        shadow.save(emaPath);
        PyTorchExport.Save(shadow, run.File("ema.pt"));

        var final = FinalEvaluation.Run(config, diffusion, EpsEma, judge, common.Seed, progress);
        var summary = new Dictionary<string, object?>
        {
            ["paper"] = "Denoising Diffusion Probabilistic Models (Ho et al. 2020)",
            ["dataset"] = config.Dataset,
            ["fd_lenet"] = final.Fd,
            ["fd_lenet_real_floor"] = final.Floor,
            ["fd_samples"] = config.FinalSamples,
            ["fd_sampler"] = final.SamplerName,
            ["fd_features"] = "LeNet-5 F6 (84-d), " + judge.Source,
            ["class_coverage"] = final.Coverage,
            ["classes_covered"] = final.ClassesCovered,
            ["fd_history"] = fdHistory.Select(h => new Dictionary<string, double> { ["step"] = h.Step, ["fd_lenet"] = h.Fd, ["fd_lenet_real_floor"] = h.Floor }).ToList(),
            ["final_train_loss"] = result.Losses.Count > 0 ? result.Losses.TakeLast(Math.Min(100, result.Losses.Count)).Average() : null,
            ["steps"] = result.Steps,
            ["train_seconds"] = result.TrainSeconds,
            ["images_per_second"] = double.IsFinite(result.ItemsPerSecond) ? result.ItemsPerSecond : null, // none when resumed at the end
            ["sampling_seconds"] = final.SamplingSeconds,
            ["parameters"] = unet.parameters().Sum(p => p.numel()),
            ["classifier_test_accuracy"] = judge.TestAccuracy,
            ["threads"] = threads,
            ["published"] = new Dictionary<string, object> { ["metric"] = Published.Cifar10Fid.Metric, ["value"] = Published.Cifar10Fid.Value, ["source"] = Published.Cifar10Fid.Source },
        };
        run.WriteJson("summary.json", summary);
        Report.Write(run, config, summary, final, test.ClassNames);
        progress.Line($"fd_lenet {final.Fd:F2} (real-vs-real floor {final.Floor:F2}) with {config.FinalSamples} samples, {final.SamplerName}; " +
                      $"{final.ClassesCovered}/10 classes covered; training {result.TrainSeconds:F0} s");
        progress.Line($"README results row: {ResultsRow(summary)}");
        return run;
    }

    /// <summary>The README results-table row of a run: | dataset | fd_lenet | floor | classes | steps | train s |.</summary>
    public static string ResultsRow(IReadOnlyDictionary<string, object?> s) => string.Create(System.Globalization.CultureInfo.InvariantCulture,
        $"| {s["dataset"]} | {(double)s["fd_lenet"]!:F2} | {(double)s["fd_lenet_real_floor"]!:F2} | {s["classes_covered"]}/10 | {s["steps"]} | {(double)s["train_seconds"]!:F0} |");

    /// <summary>
    /// <paramref name="n"/> samples in batches of at most 256: DDIM with <paramref name="steps"/> steps, or
    /// Algorithm 2 when steps = T. Batch b uses seed + b, so the result depends only on (n, steps, seed).
    /// </summary>
    /// <returns>(n, 1, 28, 28) in about [−1, 1].</returns>
    public static Tensor SampleMany(GaussianDiffusion diffusion, Func<Tensor, Tensor, Tensor> epsTheta, int n, int steps, int seed)
    {
        var parts = new List<Tensor>();
        for (int b = 0, done = 0; done < n; b++)
        {
            int size = Math.Min(256, n - done);
            var shape = new long[] { size, 1, 28, 28 };
            parts.Add(steps == diffusion.T ? diffusion.Sample(epsTheta, shape, seed + b).X0 : diffusion.SampleDdim(epsTheta, shape, steps, seed + b));
            done += size;
        }
        return cat(parts, 0);
    }

    static (ImageDataset Train, ImageDataset Test) LoadData(DdpmConfig config, string? dataDir)
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
