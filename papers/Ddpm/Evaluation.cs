// How the samples are judged. There is no Inception network here, so the Fréchet distance is taken on
// the 84-d F6 features of our LeNet-5 (papers/LeNet5) trained on the same dataset: the FID recipe of
// Heusel et al. 2017 with another feature network. Its numbers are comparable between runs of this
// project on the same dataset and sample count, not with any published FID.

using PaperLab.Data;
using PaperLab.Training;
using TorchSharp;
using static TorchSharp.torch;
using LeNet = PaperLab.Papers.LeNet5.LeNet5;

namespace PaperLab.Papers.Ddpm;

/// <summary>
/// LeNet-5 as a judge of 28×28 images: its F6 features for the Fréchet distance, its predictions for the
/// class coverage. Holds the statistics of the real test set.
/// </summary>
public sealed class FeatureJudge
{
    readonly LeNet _net;
    readonly (double Mean, double Std) _norm;
    readonly ImageDataset _train;
    readonly GaussianStatistics _testStats;

    /// <summary>Where the weights come from (trained here, or the file they were loaded from).</summary>
    public string Source { get; }
    /// <summary>Accuracy of the classifier on the (used part of the) test set.</summary>
    public double TestAccuracy { get; }

    FeatureJudge(LeNet net, (double, double) norm, ImageDataset train, ImageDataset test, string source)
    {
        _net = net;
        _norm = norm;
        _train = train;
        Source = source;
        _net.eval();
        using var scope = NewDisposeScope();
        Tensor x = ToUnit(test);
        var (features, predicted) = Judge(x);
        _testStats = FrechetDistance.Statistics(features);
        long correct = predicted.eq(tensor(test.Labels).to(int64)).sum().item<long>();
        TestAccuracy = (double)correct / test.Count;
    }

    /// <summary>
    /// Loads LeNet-5 weights from the --classifier file (a papers/LeNet5 run's model.pt), or trains one here
    /// for <see cref="DdpmOptions.ClassifierEpochs"/> epochs (Adam 2e-3, batch 64, seed of the run + 1).
    /// </summary>
    /// <exception cref="RunFailureException">The --classifier file is missing, damaged, or not LeNet-5 weights.</exception>
    public static FeatureJudge Create(DdpmOptions o, int seed, ImageDataset train, ImageDataset test, TrainingProgress progress)
    {
        var norm = PaperLab.Papers.LeNet5.Experiment.Normalisation(o.Dataset);
        torch.manual_seed(seed + 1);
        var net = new LeNet(10);
        if (o.Classifier is string path)
        {
            PyTorchExport.Load(net, path, $"--classifier: LeNet-5 weights (the model.pt of a papers/LeNet5 run on {o.Dataset}); leave the option out to train one here");
            return new FeatureJudge(net, norm, train, test, $"loaded from {path}");
        }
        progress.Line($"training the LeNet-5 feature network ({o.ClassifierEpochs} epochs on {train.Count:N0} images)…");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        using var data = new ImageTensorDataset(train.Pixels, train.Labels, 28, 28, norm.Mean, norm.Std);
        var loader = new BatchLoader(data, 64, Sampling.Shuffle, seed + 1);
        var optimizer = optim.Adam(net.parameters(), lr: 2e-3);
        for (long step = 0; step < (long)o.ClassifierEpochs * loader.BatchesPerEpoch; step++)
        {
            using var scope = NewDisposeScope();
            var (x, y) = loader.Batch(step);
            optimizer.zero_grad();
            nn.functional.cross_entropy(net.forward(x), y).backward();
            optimizer.step();
        }
        return new FeatureJudge(net, norm, train, test,
            $"trained in-process: {o.ClassifierEpochs} epoch(s) on {train.Count:N0} training images, {clock.Elapsed.TotalSeconds:F0} s");
    }

    /// <summary>F6 features and predicted classes of images in [0, 1] (N, 1, 28, 28), in batches of 500.</summary>
    public (Tensor Features, Tensor Predicted) Judge(Tensor unitImages)
    {
        using var _ = no_grad();
        var features = new List<Tensor>();
        var predicted = new List<Tensor>();
        for (long i = 0; i < unitImages.shape[0]; i += 500)
        {
            Tensor x = (unitImages.narrow(0, i, Math.Min(500, unitImages.shape[0] - i)) - _norm.Mean) / _norm.Std;
            Tensor f = _net.Features(x);
            features.Add(f);
            predicted.Add(_net.forward(x).argmax(1));
        }
        return (cat(features, 0), cat(predicted, 0));
    }

    /// <summary>Fréchet distance between the LeNet-5 features of <paramref name="samples"/> ((N, 1, 28, 28) in [−1, 1], clipped) and of the test set.</summary>
    public double Fd(Tensor samples)
    {
        using var scope = NewDisposeScope();
        var (features, _) = Judge(((samples.clamp(-1, 1) + 1) / 2));
        return FrechetDistance.Distance(FrechetDistance.Statistics(features), _testStats);
    }

    /// <summary>Predicted class of each sample ((N, 1, 28, 28) in [−1, 1]).</summary>
    public int[] Classify(Tensor samples)
    {
        using var scope = NewDisposeScope();
        var (_, predicted) = Judge((samples.clamp(-1, 1) + 1) / 2);
        return predicted.data<long>().ToArray().Select(v => (int)v).ToArray();
    }

    /// <summary>
    /// The floor of the Fréchet distance at <paramref name="n"/> samples: <paramref name="n"/> real training
    /// images (drawn without replacement with <paramref name="seed"/>) against the held-out test set. A perfect
    /// generator lands here, not at 0, because of the finite sample.
    /// </summary>
    public double RealFloor(int n, int seed)
    {
        n = Math.Min(n, _train.Count);
        var rng = new Random(seed);
        int[] idx = Enumerable.Range(0, _train.Count).OrderBy(_ => rng.Next()).Take(n).ToArray();
        using var scope = NewDisposeScope();
        var (features, _) = Judge(ToUnit(_train.Subset(idx)));
        return FrechetDistance.Distance(FrechetDistance.Statistics(features), _testStats);
    }

    static Tensor ToUnit(ImageDataset d) => (tensor(d.Pixels).to(float32) / 255.0).reshape(d.Count, 1, d.Height, d.Width);
}

/// <summary>The end-of-run measurements.</summary>
/// <param name="Fd">Fréchet distance of the final samples (LeNet-5 features, vs the test set).</param>
/// <param name="Floor">Real-vs-real floor at the same sample count.</param>
/// <param name="SamplerName">How the final samples were drawn.</param>
/// <param name="Coverage">Fraction of the final samples the classifier puts in each class (by class name).</param>
/// <param name="ClassesCovered">Classes holding at least 2% of the samples (uniform: 10%).</param>
/// <param name="Samples">The first 64 final samples as [0, 1] images.</param>
/// <param name="SampleClasses">Their predicted classes.</param>
/// <param name="Ancestral">Images drawn with Algorithm 2, [0, 1].</param>
/// <param name="AncestralClasses">Their predicted classes.</param>
/// <param name="Trajectory">Snapshots (t, images) of the first ancestral samples, from x_T to x_0.</param>
/// <param name="SamplingSeconds">Wall seconds of the final sampling.</param>
public sealed record FinalResult(double Fd, double Floor, string SamplerName, Dictionary<string, double> Coverage, int ClassesCovered,
                                 List<float[]> Samples, int[] SampleClasses, List<float[]> Ancestral, int[] AncestralClasses,
                                 List<(int T, List<float[]> Images)> Trajectory, double SamplingSeconds);

/// <summary>Samples from the averaged model at the end of training and measures them.</summary>
public static class FinalEvaluation
{
    /// <summary>Steps t at which the trajectory is recorded (x_0 is added at the end).</summary>
    public static int[] TrajectorySteps(int T) => new[] { 1.0, 0.8, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05 }.Select(f => Math.Max(1, (int)Math.Round(f * T))).Distinct().ToArray();

    /// <summary>Final samples, Fréchet distance, class coverage, ancestral grid and trajectories.</summary>
    public static FinalResult Run(DdpmOptions config, GaussianDiffusion diffusion, Func<Tensor, Tensor, Tensor> epsEma,
                                  FeatureJudge judge, int seed, TrainingProgress progress)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        using var scope = NewDisposeScope();
        string sampler = config.SampleSteps == config.T ? $"Algorithm 2 (ancestral, {config.T} steps)" : $"DDIM η = 0, {config.SampleSteps} steps";
        progress.Line($"drawing {config.FinalSamples} samples ({sampler}) for the Fréchet distance…");
        Tensor x = Experiment.SampleMany(diffusion, epsEma, config.FinalSamples, config.SampleSteps, seed: 2_000_003 + seed);
        double fd = judge.Fd(x);
        double floor = judge.RealFloor(config.FinalSamples, seed);
        int[] classes = judge.Classify(x);
        var names = config.Dataset == "mnist" ? MnistFamily.DigitClassNames : MnistFamily.FashionClassNames;
        var coverage = names.Select((n, k) => (n, classes.Count(c => c == k) / (double)classes.Length)).ToDictionary(p => p.n, p => p.Item2);
        int covered = coverage.Values.Count(v => v >= 0.02);

        progress.Line($"drawing {config.AncestralSamples} samples with Algorithm 2 ({config.T} steps)…");
        int[] keep = TrajectorySteps(config.T);
        var (x0, trajectory) = diffusion.Sample(epsEma, new long[] { config.AncestralSamples, 1, 28, 28 }, seed: 3_000_003 + seed, keepAt: keep.ToHashSet());
        int nTraj = Math.Min(6, config.AncestralSamples);
        var snapshots = trajectory.Select(s => (s.T, ImageTensors.ToUnitRange(s.Xt.narrow(0, 0, nTraj)))).ToList();
        snapshots.Add((0, ImageTensors.ToUnitRange(x0.narrow(0, 0, nTraj))));

        int firstN = (int)Math.Min(64, x.shape[0]);
        return new FinalResult(fd, floor, sampler, coverage, covered,
            ImageTensors.ToUnitRange(x.narrow(0, 0, firstN)), classes.Take(firstN).ToArray(),
            ImageTensors.ToUnitRange(x0), judge.Classify(x0), snapshots, clock.Elapsed.TotalSeconds);
    }
}
