// Training of the §4.1 MNIST network, recording what Fig. 1 of Ioffe & Szegedy 2015 plots:
//   (a) test accuracy against training steps, with and without batch normalisation;
//   (b) the {15, 50, 85}th percentiles of the input of one sigmoid of the last hidden layer over training.
// The same function runs the §3.3 experiment ("Batch Normalization enables higher learning rates"): a learning
// rate many times larger, at which the plain network stalls or diverges and the normalised one trains.
//
// The paper trains 50,000 steps of 60 examples and gives neither the optimizer nor its learning rate for this
// experiment; this uses plain SGD (no momentum), and the learning rates and initial scale of Fig1Config.

using PaperLab.Data;
using PaperLab.Diagnostics;
using TorchSharp;
using static TorchSharp.torch;

namespace PaperLab.Papers.BatchNorm;

/// <summary>One run of the Fig. 1 experiment.</summary>
/// <param name="BatchNorm">With batch normalisation before each hidden sigmoid.</param>
/// <param name="Steps">Training steps (mini-batches); the paper: 50,000.</param>
/// <param name="BatchSize">Examples per mini-batch; the paper: 60.</param>
/// <param name="LearningRate">SGD step size.</param>
/// <param name="InitStd">Standard deviation of the Gaussian initial weights ("small random Gaussian values").</param>
/// <param name="EvalEvery">Steps between evaluations on the test set (accuracy and the percentiles).</param>
/// <param name="ProbeUnit">Which of the 100 last-hidden-layer sigmoids Fig. 1(b) follows.</param>
/// <param name="Seed">Seed of the initial weights and of the shuffling.</param>
/// <remarks>
/// The defaults were chosen by short runs (2,000 steps, one thread): SGD at 0.1 from N(0, 0.1²) weights is where
/// the plain network starts slowly (test accuracy 0.53 after 1,000 steps, against 0.92 with BN) and its sigmoid
/// inputs drift, which is the contrast of Fig. 1. N(0, 0.1²) is "small": the first layer's inputs, 784 pixels in
/// [0, 1], then give pre-activations of standard deviation about 0.9, so no sigmoid starts saturated.
/// </remarks>
public sealed record Fig1Config(bool BatchNorm, long Steps = 50_000, int BatchSize = 60, double LearningRate = 0.1,
                                double InitStd = 0.1, long EvalEvery = 500, int ProbeUnit = 0, int Seed = 0)
{
    /// <summary>§4.1 as in the paper: 50,000 steps of 60 examples.</summary>
    public static Fig1Config Paper(bool batchNorm) => new(batchNorm);

    /// <summary>
    /// §3.3: a learning rate 100× larger (10 instead of 0.1), 10,000 steps. In short runs the plain network's
    /// sigmoids saturated within a few hundred steps and it stayed at chance, while the BN network trained
    /// (0.94 after 2,000 steps); at 30× (3.0) both still trained.
    /// </summary>
    public static Fig1Config HighLearningRate(bool batchNorm) => new(batchNorm, Steps: 10_000, LearningRate: 10.0);

    /// <summary>A few hundred steps, for tests and CI.</summary>
    public static Fig1Config Smoke(bool batchNorm) => new(batchNorm, Steps: 300, EvalEvery: 100);

    /// <summary>Checks the numbers.</summary>
    /// <exception cref="ArgumentException">A count below 1, a non-positive learning rate or scale, or a probe unit outside 0..99.</exception>
    public void Validate()
    {
        if (Steps < 1 || BatchSize < 2 || EvalEvery < 1)
            throw new ArgumentException($"steps ({Steps}) and eval-every ({EvalEvery}) must be at least 1 and the batch size ({BatchSize}) at least 2 (batch statistics)");
        if (!(LearningRate > 0) || !(InitStd > 0)) throw new ArgumentException($"learning rate ({LearningRate}) and init std ({InitStd}) must be positive");
        if (ProbeUnit is < 0 or >= MnistMlp.Hidden) throw new ArgumentException($"the probe unit must be in 0..{MnistMlp.Hidden - 1}, got {ProbeUnit}");
    }
}

/// <summary>One evaluation on the test set: a point of Fig. 1(a) and one of Fig. 1(b).</summary>
/// <param name="Step">Training steps done.</param>
/// <param name="TestAccuracy">Fraction of the test images classified right.</param>
/// <param name="P15">15th percentile of the probed sigmoid's input over the test images.</param>
/// <param name="P50">Median.</param>
/// <param name="P85">85th percentile.</param>
public sealed record Fig1Point(long Step, double TestAccuracy, double P15, double P50, double P85);

/// <summary>A finished (or diverged) run.</summary>
/// <param name="Config">What was run.</param>
/// <param name="Curve">Evaluations at step 0, every EvalEvery steps and at the end.</param>
/// <param name="Losses">Training loss of every step.</param>
/// <param name="DivergedAtStep">First step whose loss was NaN or ∞ (training stopped there), or null.</param>
/// <param name="TrainSeconds">Wall time of the loop, evaluations included.</param>
public sealed record Fig1Run(Fig1Config Config, IReadOnlyList<Fig1Point> Curve, IReadOnlyList<float> Losses, long? DivergedAtStep, double TrainSeconds)
{
    /// <summary>Test accuracy of the last evaluation.</summary>
    public double FinalTestAccuracy => Curve[^1].TestAccuracy;

    /// <summary>Steps until the test accuracy first reached <paramref name="accuracy"/>, or null if it never did.</summary>
    public long? StepsToReach(double accuracy) => Curve.FirstOrDefault(p => p.TestAccuracy >= accuracy)?.Step;
}

/// <summary>The training loop of Fig. 1 and §3.3, and its evaluation.</summary>
public static class Fig1Training
{
    /// <summary>MNIST pixels scaled to [0, 1] (no mean subtraction): the paper's network reads (near-)binary images.</summary>
    public static ImageTensorDataset Tensors(ImageDataset images) => new(images.Pixels, images.Labels, images.Height, images.Width, mean: 0.0, std: 1.0);

    /// <summary>A fresh network for <paramref name="config"/>, its weights drawn from torch's generator seeded with config.Seed.</summary>
    public static MnistMlp NewModel(Fig1Config config)
    {
        torch.manual_seed(config.Seed);
        return new MnistMlp(config.BatchNorm, config.InitStd);
    }

    /// <summary>
    /// Trains <paramref name="model"/> with SGD on mini-batches of <paramref name="train"/> for config.Steps steps,
    /// evaluating on <paramref name="test"/> at step 0 and every config.EvalEvery steps. Stops early at a NaN/∞ loss.
    /// </summary>
    /// <param name="model">From <see cref="NewModel"/>.</param>
    /// <param name="config">The run.</param>
    /// <param name="train">Training images (from <see cref="Tensors"/>).</param>
    /// <param name="test">Test images.</param>
    /// <param name="diagnostics">Optional instruments on the model; BeginStep/EndStep are called around each step.</param>
    /// <param name="onEvaluation">Called with each evaluation (progress lines).</param>
    /// <returns>The curve, the losses and where it diverged, if it did.</returns>
    public static Fig1Run Train(MnistMlp model, Fig1Config config, ImageTensorDataset train, ImageTensorDataset test,
                                TrainingDiagnostics? diagnostics = null, Action<Fig1Point>? onEvaluation = null)
    {
        config.Validate();
        var loader = new BatchLoader(train, config.BatchSize, Sampling.Shuffle, config.Seed, dropLast: true);
        var optimizer = optim.SGD(model.parameters(), config.LearningRate);
        var curve = new List<Fig1Point>();
        var losses = new List<float>();
        long? diverged = null;
        var clock = System.Diagnostics.Stopwatch.StartNew();

        void Evaluate(long step)
        {
            var point = Fig1Training.Evaluate(model, test, config.ProbeUnit, step);
            curve.Add(point);
            onEvaluation?.Invoke(point);
        }

        Evaluate(0);
        for (long step = 0; step < config.Steps; step++)
        {
            using var scope = NewDisposeScope();
            var (x, y) = loader.Batch(step);
            model.train();
            diagnostics?.BeginStep(step);
            optimizer.zero_grad();
            var loss = nn.functional.cross_entropy(model.call(x), y);
            loss.backward();
            optimizer.step();
            float value = loss.item<float>();
            diagnostics?.EndStep(value);
            losses.Add(value);
            if (!float.IsFinite(value)) { diverged = step; break; }
            if ((step + 1) % config.EvalEvery == 0 || step + 1 == config.Steps) Evaluate(step + 1);
        }
        return new Fig1Run(config, curve, losses, diverged, clock.Elapsed.TotalSeconds);
    }

    /// <summary>
    /// Test accuracy, and the 15th/50th/85th percentiles over the test images of the input of sigmoid
    /// <paramref name="probeUnit"/> of the last hidden layer, in evaluation mode (BN with its running estimates,
    /// as at inference).
    /// </summary>
    /// <param name="model">The network.</param>
    /// <param name="test">Test images.</param>
    /// <param name="probeUnit">0..99.</param>
    /// <param name="step">The step to label the point with.</param>
    public static Fig1Point Evaluate(MnistMlp model, ImageTensorDataset test, int probeUnit, long step)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        bool wasTraining = model.training;
        model.eval();
        var (x, y) = test.Gather(Enumerable.Range(0, (int)test.Count).Select(i => (long)i).ToArray());
        var (logits, z3) = model.ForwardWithProbe(x);
        double accuracy = logits.argmax(1).eq(y).to(float64).mean().item<double>();
        var q = z3[TensorIndex.Colon, probeUnit].to(float64).quantile(tensor(new[] { 0.15, 0.50, 0.85 }, float64)).data<double>().ToArray();
        model.train(wasTraining);
        return new Fig1Point(step, accuracy, q[0], q[1], q[2]);
    }
}
