// The pieces of training an MLP on MNIST entirely with the engine: the images as plain arrays, mini-batches
// drawn from (seed, step) alone, one optimiser step, and the test error. Experiment.cs puts them together
// in its training loop; the rows it reproduces are cited there.

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

/// <summary>
/// The training set in shuffled mini-batches, addressed by the global step: the batch of step s depends only
/// on (seed, s), so a run resumed at any step sees the batches an uninterrupted run would. Each epoch is a
/// fresh Fisher–Yates permutation drawn from (seed, epoch); the last batch of an epoch holds the remainder.
/// </summary>
/// <typeparam name="T">float or double.</typeparam>
public sealed class ShuffledBatches<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    readonly T[] images;
    readonly int[] labels;
    readonly int features, seed;
    int[]? order;
    long orderEpoch = -1;

    /// <summary>Images per batch (the last batch of an epoch may hold fewer).</summary>
    public int BatchSize { get; }
    /// <summary>Batches per pass over the data: ⌈N / BatchSize⌉.</summary>
    public int BatchesPerEpoch { get; }

    /// <param name="images">(N, features) row-major.</param>
    /// <param name="labels">N class indices.</param>
    /// <param name="features">Values per image.</param>
    /// <param name="batchSize">Images per batch, at least 1.</param>
    /// <param name="seed">Seed of the shuffles.</param>
    /// <exception cref="ArgumentException">No images, a batch size below 1, or images and labels of different counts.</exception>
    public ShuffledBatches(T[] images, int[] labels, int features, int batchSize, int seed)
    {
        if (labels.Length == 0) throw new ArgumentException("no training images", nameof(labels));
        if (batchSize < 1) throw new ArgumentException($"batch size must be at least 1, got {batchSize}", nameof(batchSize));
        if (images.Length != labels.Length * features)
            throw new ArgumentException($"{images.Length} values are not {labels.Length} images of {features}", nameof(images));
        (this.images, this.labels, this.features, this.seed, BatchSize) = (images, labels, features, seed, batchSize);
        BatchesPerEpoch = (labels.Length + batchSize - 1) / batchSize;
    }

    /// <summary>The batch of global step <paramref name="step"/> (0-based).</summary>
    /// <returns>(n, features) inputs (a fresh array) and their n labels; n = BatchSize except at the end of an epoch.</returns>
    public (T[] X, int[] Labels) Batch(long step)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(step);
        long epoch = step / BatchesPerEpoch;
        if (epoch != orderEpoch)
        {
            order = Enumerable.Range(0, labels.Length).ToArray();
            new Random(unchecked((int)(seed * 1_000_003L + epoch))).Shuffle(order);
            orderEpoch = epoch;
        }
        int start = (int)(step % BatchesPerEpoch) * BatchSize, n = Math.Min(BatchSize, labels.Length - start);
        var x = new T[n * features];
        var y = new int[n];
        for (int i = 0; i < n; i++)
        {
            int index = order![start + i];
            Array.Copy(images, index * features, x, i * features, features);
            y[i] = labels[index];
        }
        return (x, y);
    }
}

/// <summary>What a network does on a set of images.</summary>
/// <param name="Error">Fraction misclassified (arg-max of the outputs away from the label).</param>
/// <param name="Loss">Mean training criterion (the model's loss) over the images.</param>
/// <param name="Predicted">The predicted class of each image, in order.</param>
public sealed record EvalResult(double Error, double Loss, int[] Predicted);

/// <summary>Training and evaluation on MNIST with the engine only.</summary>
public static class MlpTraining
{
    /// <summary>An optimiser of <paramref name="kind"/> over <paramref name="model"/>'s parameters.</summary>
    /// <param name="model">The network.</param>
    /// <param name="kind">SGD with momentum or Adam (β = 0.9, 0.999; ε = 1e-8).</param>
    /// <param name="learningRate">The initial learning rate (a schedule changes it later).</param>
    /// <param name="momentum">SGD's μ; ignored by Adam.</param>
    public static Optimizer<T> CreateOptimizer<T>(Mlp<T> model, OptimizerKind kind, double learningRate, double momentum)
        where T : unmanaged, IFloatingPointIeee754<T> => kind == OptimizerKind.Sgd
        ? new Sgd<T>(model.Parameters(), learningRate, momentum)
        : new Adam<T>(model.Parameters(), learningRate);

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

    /// <summary>Error, mean loss and predictions of the model on <paramref name="labels"/>.Length images, without recording a graph.</summary>
    /// <param name="model">The network.</param>
    /// <param name="images">(N, features) row-major.</param>
    /// <param name="labels">N class indices.</param>
    /// <param name="limit">Use only the first N images; null: all.</param>
    /// <param name="batchSize">Images per forward pass.</param>
    public static EvalResult Evaluate<T>(Mlp<T> model, T[] images, int[] labels, int? limit = null, int batchSize = 1000)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        using var _ = Autograd.NoGrad();
        int count = Math.Min(limit ?? labels.Length, labels.Length), features = model.Config.Widths[0], errors = 0;
        var predicted = new int[count];
        double lossSum = 0;
        for (int start = 0; start < count; start += batchSize)
        {
            int n = Math.Min(batchSize, count - start);
            var x = Variable<T>.Constant(images[(start * features)..((start + n) * features)], n, features);
            var (loss, logits) = model.Loss(x, labels[start..(start + n)]);
            lossSum += double.CreateChecked(loss.Item()) * n;
            int c = logits.Shape[1];
            for (int i = 0; i < n; i++)
            {
                predicted[start + i] = System.Numerics.Tensors.TensorPrimitives.IndexOfMax(logits.Data.AsSpan(i * c, c));
                if (predicted[start + i] != labels[start + i]) errors++;
            }
        }
        return new((double)errors / count, lossSum / count, predicted);
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
