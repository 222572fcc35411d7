// Training an MLP on MNIST entirely with the engine: mini-batches of flattened, normalised images, the loss,
// backward, an optimiser step; test error after every epoch. The step is written out in Step below.
// Reproduced rows (no distortions, test error on the 10,000 test images):
//   784-300-10, squared error, 4.7%          LeCun et al. 1998, §III.C.5 and Fig. 9 ("2-layer NN, 300 HU")
//   784-300-100-10, squared error, 3.05%     same ("3-layer NN, 300+100 HU")
//   784-800-10, cross-entropy, 1.6%          Simard, Steinkraus & Platt 2003, Table 1 ("2 layer MLP, CE, none")
// The papers trained online or nearly so with hand-tuned schedules; this uses mini-batches, momentum and a
// per-epoch decay of the learning rate (the presets' values are starting points for the full runs).

using System.Diagnostics;
using System.Numerics;
using PaperLab.Data;

namespace PaperLab.Papers.Backprop;

/// <summary>MNIST as the engine reads it: each image a row of 784 normalised values, labels as ints.</summary>
/// <typeparam name="T">float or double.</typeparam>
public sealed class MnistArrays<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Mean and standard deviation of MNIST's training pixels scaled to [0, 1], the usual normalisation.</summary>
    public const double PixelMean = 0.1307, PixelStd = 0.3081;

    /// <summary>Values per image (28 · 28).</summary>
    public int Features { get; }
    /// <summary>Training images, (N_train, Features) row-major, (pixel/255 − mean)/std.</summary>
    public T[] TrainImages { get; }
    /// <summary>Training labels 0..9.</summary>
    public int[] TrainLabels { get; }
    /// <summary>Test images, (N_test, Features), normalised as the training images.</summary>
    public T[] TestImages { get; }
    /// <summary>Test labels 0..9.</summary>
    public int[] TestLabels { get; }
    /// <summary>Number of classes.</summary>
    public int Classes { get; }

    MnistArrays(int features, int classes, T[] trainImages, int[] trainLabels, T[] testImages, int[] testLabels)
    {
        (Features, Classes, TrainImages, TrainLabels, TestImages, TestLabels) = (features, classes, trainImages, trainLabels, testImages, testLabels);
    }

    /// <summary>Flattens and normalises the two splits that <see cref="MnistFamily.Load"/> reads.</summary>
    /// <param name="train">Training split.</param>
    /// <param name="test">Test split (same image size).</param>
    /// <param name="trainLimit">Keep only the first N training images (smoke runs, tests); null: all.</param>
    /// <param name="testLimit">Keep only the first N test images; null: all.</param>
    /// <exception cref="ArgumentException">The splits' image sizes or class counts differ.</exception>
    public static MnistArrays<T> From(ImageDataset train, ImageDataset test, int? trainLimit = null, int? testLimit = null)
    {
        if (train.Height != test.Height || train.Width != test.Width || train.ClassNames.Length != test.ClassNames.Length)
            throw new ArgumentException($"train ({train.Height}×{train.Width}, {train.ClassNames.Length} classes) and test ({test.Height}×{test.Width}, {test.ClassNames.Length} classes) differ");
        if (trainLimit is not null) train = train.Take(trainLimit.Value);
        if (testLimit is not null) test = test.Take(testLimit.Value);
        return new(train.Height * train.Width, train.ClassNames.Length,
            Normalise(train.Pixels), Array.ConvertAll(train.Labels, l => (int)l),
            Normalise(test.Pixels), Array.ConvertAll(test.Labels, l => (int)l));
    }

    static T[] Normalise(byte[] pixels) =>
        Array.ConvertAll(pixels, p => T.CreateChecked((p / 255.0 - PixelMean) / PixelStd));
}

/// <summary>Which optimiser a run uses.</summary>
public enum OptimizerKind
{
    /// <summary>SGD with momentum (<see cref="Sgd{T}"/>).</summary>
    Sgd,
    /// <summary>Adam (<see cref="Adam{T}"/>).</summary>
    Adam,
}

/// <summary>A published test error and where it is published.</summary>
/// <param name="TestError">Fraction of the 10,000 test images misclassified (0.047 = 4.7%).</param>
/// <param name="Source">Paper, section and table.</param>
public sealed record PublishedResult(double TestError, string Source);

/// <summary>Hyperparameters of one MNIST run.</summary>
/// <param name="Model">Network shape, activation, loss, initialisation.</param>
/// <param name="Epochs">Passes over the training set.</param>
/// <param name="BatchSize">Images per optimiser step.</param>
/// <param name="Optimizer">SGD with momentum or Adam.</param>
/// <param name="LearningRate">Step size at epoch 1.</param>
/// <param name="Momentum">SGD's μ (ignored by Adam).</param>
/// <param name="LrDecay">The learning rate is multiplied by this after every epoch (1: constant).</param>
/// <param name="Threads">Most threads of the engine's matmul.</param>
/// <param name="Published">The row this configuration reproduces; null for variants that have none.</param>
public sealed record TrainConfig(MlpConfig Model, int Epochs, int BatchSize, OptimizerKind Optimizer, double LearningRate,
                                 double Momentum = 0.9, double LrDecay = 1.0, int Threads = 1, PublishedResult? Published = null)
{
    /// <summary>784-300-10, LeCun's scaled tanh, squared error on one-hot targets, LeCun 1998 initialisation, SGD with momentum.</summary>
    public static TrainConfig Hidden300 { get; } = new(
        new MlpConfig([784, 300, 10], Activation.ScaledTanh, LossKind.SquaredError, InitKind.LeCun1998),
        Epochs: 30, BatchSize: 32, OptimizerKind.Sgd, LearningRate: 0.02, Momentum: 0.9, LrDecay: 0.92,
        Published: new(0.047, "LeCun et al. 1998, §III.C.5 and Fig. 9: 2-layer NN, 300 hidden units, no distortions"));

    /// <summary>784-300-100-10, as <see cref="Hidden300"/> otherwise.</summary>
    public static TrainConfig Hidden300x100 { get; } = Hidden300 with
    {
        Model = Hidden300.Model with { Widths = [784, 300, 100, 10] },
        Published = new(0.0305, "LeCun et al. 1998, §III.C.5 and Fig. 9: 3-layer NN, 300+100 hidden units, no distortions"),
    };

    /// <summary>784-800-10 with cross-entropy (Simard et al. 2003), scaled tanh, LeCun 1998 initialisation, SGD with momentum.</summary>
    public static TrainConfig Hidden800 { get; } = new(
        new MlpConfig([784, 800, 10], Activation.ScaledTanh, LossKind.CrossEntropy, InitKind.LeCun1998),
        Epochs: 30, BatchSize: 32, OptimizerKind.Sgd, LearningRate: 0.02, Momentum: 0.9, LrDecay: 0.92,
        Published: new(0.016, "Simard, Steinkraus & Platt 2003, Table 1: 2-layer MLP, 800 hidden units, cross-entropy, no distortions"));

    /// <summary>The presets by name: 300, 300+100, 800.</summary>
    public static IReadOnlyDictionary<string, TrainConfig> Presets { get; } = new Dictionary<string, TrainConfig>
    {
        ["300"] = Hidden300,
        ["300+100"] = Hidden300x100,
        ["800"] = Hidden800,
    };

    /// <summary>The same widths the modern way: ReLU, He initialisation, cross-entropy, Adam (lr 1e-3, decay 0.9 per epoch).</summary>
    public TrainConfig Modern() => this with
    {
        Model = Model with { Activation = Activation.Relu, Loss = LossKind.CrossEntropy, Init = InitKind.He },
        Optimizer = OptimizerKind.Adam, LearningRate = 1e-3, LrDecay = 0.9, BatchSize = 64,
    };

    /// <summary>Checks the values.</summary>
    /// <exception cref="ArgumentException">A count is below 1, the learning rate or decay is not positive, momentum outside [0, 1).</exception>
    public void Validate()
    {
        Model.Validate();
        if (Epochs < 1) throw new ArgumentException($"epochs must be at least 1, got {Epochs}");
        if (BatchSize < 1) throw new ArgumentException($"batch size must be at least 1, got {BatchSize}");
        if (!(LearningRate > 0)) throw new ArgumentException($"learning rate must be positive, got {LearningRate}");
        if (!(LrDecay > 0)) throw new ArgumentException($"lr decay must be positive, got {LrDecay}");
        if (Momentum is < 0 or >= 1) throw new ArgumentException($"momentum must be in [0, 1), got {Momentum}");
        if (Threads < 1) throw new ArgumentException($"threads must be at least 1, got {Threads}");
    }
}

/// <summary>What one epoch gave.</summary>
/// <param name="Epoch">1-based.</param>
/// <param name="TrainLoss">Mean training loss over the epoch's steps (weights changing during the epoch).</param>
/// <param name="TrainError">Fraction of training images misclassified during the epoch's steps.</param>
/// <param name="TestError">Fraction of test images misclassified after the epoch.</param>
/// <param name="LearningRate">Learning rate used in this epoch.</param>
/// <param name="Seconds">Wall time of the epoch's training steps (excluding the test pass).</param>
/// <param name="SamplesPerSecond">Training images per second in this epoch.</param>
public sealed record EpochReport(int Epoch, double TrainLoss, double TrainError, double TestError, double LearningRate,
                                 double Seconds, double SamplesPerSecond);

/// <summary>The outcome of <see cref="MlpTraining.Train{T}"/>.</summary>
/// <param name="Model">The trained network.</param>
/// <param name="Epochs">One report per epoch, in order.</param>
/// <typeparam name="T">float or double.</typeparam>
public sealed record TrainResult<T>(Mlp<T> Model, IReadOnlyList<EpochReport> Epochs) where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Test error after the last epoch.</summary>
    public double TestError => Epochs[^1].TestError;
}

/// <summary>Training and evaluation on MNIST with the engine only.</summary>
public static class MlpTraining
{
    /// <summary>
    /// Trains a fresh <see cref="Mlp{T}"/> (initialised from <paramref name="seed"/>) for <c>config.Epochs</c>
    /// epochs, shuffling each epoch with a generator seeded by (seed, epoch), and reports test error after every epoch. Same seed ⇒ the same
    /// losses and weights, whatever the thread count (the matmul sums in a fixed order).
    /// Sets <see cref="Gemm.Threads"/> to <c>config.Threads</c> for the duration.
    /// </summary>
    /// <param name="data">MNIST arrays.</param>
    /// <param name="config">Hyperparameters.</param>
    /// <param name="seed">Seed of initialisation and shuffling.</param>
    /// <param name="onEpoch">Called after each epoch (progress, metrics, checkpoints); may be null.</param>
    /// <exception cref="ArgumentException">The configuration is invalid or does not fit the data.</exception>
    /// <exception cref="InvalidOperationException">The loss became NaN or infinite (the message says where and what to lower).</exception>
    public static TrainResult<T> Train<T>(MnistArrays<T> data, TrainConfig config, int seed, Action<EpochReport>? onEpoch = null)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        config.Validate();
        if (config.Model.Widths[0] != data.Features || config.Model.Widths[^1] != data.Classes)
            throw new ArgumentException($"the model's widths {string.Join("-", config.Model.Widths)} must start with {data.Features} inputs and end with {data.Classes} classes");
        int previousThreads = Gemm.Threads;
        Gemm.Threads = config.Threads;
        try
        {
            var model = new Mlp<T>(config.Model, seed);
            Optimizer<T> optimizer = config.Optimizer == OptimizerKind.Sgd
                ? new Sgd<T>(model.Parameters(), config.LearningRate, config.Momentum)
                : new Adam<T>(model.Parameters(), config.LearningRate);
            var reports = new List<EpochReport>();
            for (int epoch = 1; epoch <= config.Epochs; epoch++)
            {
                optimizer.LearningRate = config.LearningRate * Math.Pow(config.LrDecay, epoch - 1);
                var clock = Stopwatch.StartNew();
                double lossSum = 0;
                int steps = 0, errors = 0, seen = 0;
                // each epoch's order depends on (seed, epoch) only, so a run resumed at an epoch boundary
                // from the weights and optimiser state sees the same batches as an uninterrupted one
                var shuffle = new Random(unchecked(seed * 1_000_003 + epoch));
                foreach (var (x, labels) in Batches(data.TrainImages, data.TrainLabels, data.Features, config.BatchSize, shuffle))
                {
                    var (loss, wrong) = Step(model, optimizer, x, labels);
                    if (!double.IsFinite(loss))
                        throw new InvalidOperationException($"the training loss became {loss} at epoch {epoch}, step {steps + 1}: lower the learning rate (now {optimizer.LearningRate})");
                    lossSum += loss;
                    errors += wrong;
                    seen += labels.Length;
                    steps++;
                }
                double seconds = clock.Elapsed.TotalSeconds;
                var report = new EpochReport(epoch, lossSum / steps, (double)errors / seen,
                    Evaluate(model, data.TestImages, data.TestLabels), optimizer.LearningRate, seconds, seen / seconds);
                reports.Add(report);
                onEpoch?.Invoke(report);
            }
            return new(model, reports);
        }
        finally
        {
            Gemm.Threads = previousThreads;
        }
    }

    /// <summary>
    /// One optimiser step on one mini-batch: zero the gradients, forward and loss, backward (Eqs. 4–7),
    /// update (Eq. 9 or Adam).
    /// </summary>
    /// <param name="model">The network.</param>
    /// <param name="optimizer">An optimiser over <paramref name="model"/>'s parameters.</param>
    /// <param name="x">(N, features) row-major inputs.</param>
    /// <param name="labels">N class indices.</param>
    /// <returns>The batch's loss before the update and how many of its images were misclassified.</returns>
    public static (double Loss, int Errors) Step<T>(Mlp<T> model, Optimizer<T> optimizer, T[] x, int[] labels)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        optimizer.ZeroGrad();
        var (loss, logits) = model.Loss(Variable<T>.Constant(x, labels.Length, model.Config.Widths[0]), labels);
        loss.Backward();
        optimizer.Step();
        return (double.CreateChecked(loss.Item()), CountErrors(logits.Data, labels));
    }

    /// <summary>
    /// The training set in mini-batches of <paramref name="batchSize"/> (the last one smaller), in an order
    /// drawn afresh from <paramref name="random"/> at each call (a Fisher–Yates shuffle).
    /// </summary>
    /// <returns>Per batch: (N, features) inputs (a fresh array) and N labels.</returns>
    public static IEnumerable<(T[] X, int[] Labels)> Batches<T>(T[] images, int[] labels, int features, int batchSize, Random random)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var order = Enumerable.Range(0, labels.Length).ToArray();
        random.Shuffle(order);
        for (int start = 0; start < order.Length; start += batchSize)
        {
            int n = Math.Min(batchSize, order.Length - start);
            var x = new T[n * features];
            var y = new int[n];
            for (int i = 0; i < n; i++)
            {
                int index = order[start + i];
                Array.Copy(images, index * features, x, i * features, features);
                y[i] = labels[index];
            }
            yield return (x, y);
        }
    }

    /// <summary>Fraction of <paramref name="labels"/> the model gets wrong (arg-max of the outputs), without recording a graph.</summary>
    /// <param name="model">The network.</param>
    /// <param name="images">(N, features) row-major.</param>
    /// <param name="labels">N class indices.</param>
    /// <param name="batchSize">Images per forward pass.</param>
    public static double Evaluate<T>(Mlp<T> model, T[] images, int[] labels, int batchSize = 1000)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        using var _ = Autograd.NoGrad();
        int features = model.Config.Widths[0], errors = 0;
        for (int start = 0; start < labels.Length; start += batchSize)
        {
            int n = Math.Min(batchSize, labels.Length - start);
            var x = Variable<T>.Constant(images[(start * features)..((start + n) * features)], n, features);
            errors += CountErrors(model.Forward(x).Data, labels.AsSpan(start, n));
        }
        return (double)errors / labels.Length;
    }

    /// <summary>How many rows of (N, C) <paramref name="outputs"/> have their largest value away from the label.</summary>
    public static int CountErrors<T>(T[] outputs, ReadOnlySpan<int> labels) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int c = outputs.Length / labels.Length, errors = 0;
        for (int i = 0; i < labels.Length; i++)
            if (System.Numerics.Tensors.TensorPrimitives.IndexOfMax(outputs.AsSpan(i * c, c)) != labels[i]) errors++;
        return errors;
    }
}
