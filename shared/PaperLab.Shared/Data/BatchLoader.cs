using TorchSharp;
using static TorchSharp.torch;

namespace PaperLab.Data;

/// <summary>
/// A dataset that can gather any set of its examples into one (input, target) pair of tensors.
/// Images, token windows and sentence pairs all fit this shape.
/// </summary>
public interface ITensorDataset
{
    /// <summary>Number of examples.</summary>
    long Count { get; }

    /// <summary>
    /// The examples at <paramref name="indices"/> (each in [0, Count)) stacked along a new first dimension.
    /// The caller owns the returned tensors (create them inside its dispose scope).
    /// </summary>
    (Tensor Input, Tensor Target) Gather(long[] indices);
}

/// <summary>How a <see cref="BatchLoader"/> picks the examples of each batch.</summary>
public enum Sampling
{
    /// <summary>In order, every example once per epoch (evaluation).</summary>
    Sequential,
    /// <summary>A fresh permutation each epoch: every example once per epoch (SGD training).</summary>
    Shuffle,
    /// <summary>Independent uniform draws for every batch (nanoGPT's random windows).</summary>
    WithReplacement,
}

/// <summary>
/// Cuts a dataset into batches. The batch of global step <c>s</c> depends only on (seed, s), so a run
/// resumed at step s sees exactly the batches an uninterrupted run would.
/// </summary>
/// <remarks>
/// The permutation of epoch e is <see cref="Permutation"/>(n, seed, e).
/// </remarks>
public sealed class BatchLoader
{
    readonly ITensorDataset _data;
    readonly Sampling _sampling;
    readonly int _seed;
    int _cachedEpoch = -1;
    long[]? _cachedOrder;

    /// <summary>Examples per batch.</summary>
    public int BatchSize { get; }
    /// <summary>Whether the last, smaller batch of an epoch is dropped.</summary>
    public bool DropLast { get; }
    /// <summary>The dataset batched.</summary>
    public ITensorDataset Dataset => _data;

    /// <param name="data">The dataset.</param>
    /// <param name="batchSize">Examples per batch (≥ 1).</param>
    /// <param name="sampling">Order of the examples.</param>
    /// <param name="seed">Seed of the shuffling; ignored for <see cref="Sampling.Sequential"/>.</param>
    /// <param name="dropLast">Drop an incomplete last batch (keeps every batch the same shape).</param>
    /// <exception cref="ArgumentException">batchSize &lt; 1, or an empty dataset, or dropLast with fewer examples than one batch.</exception>
    public BatchLoader(ITensorDataset data, int batchSize, Sampling sampling = Sampling.Shuffle, int seed = 0, bool dropLast = false)
    {
        if (batchSize < 1) throw new ArgumentException($"batch size must be at least 1, got {batchSize}", nameof(batchSize));
        if (data.Count == 0) throw new ArgumentException("the dataset is empty", nameof(data));
        if (dropLast && data.Count < batchSize)
            throw new ArgumentException($"drop-last with {data.Count} examples and batch size {batchSize} leaves no batch", nameof(batchSize));
        _data = data;
        BatchSize = batchSize;
        _sampling = sampling;
        _seed = seed;
        DropLast = dropLast;
    }

    /// <summary>Batches in one epoch (for <see cref="Sampling.WithReplacement"/>: Count / BatchSize, at least 1).</summary>
    public int BatchesPerEpoch => _sampling == Sampling.WithReplacement
        ? (int)Math.Max(1, _data.Count / BatchSize)
        : (int)(DropLast ? _data.Count / BatchSize : (_data.Count + BatchSize - 1) / BatchSize);

    /// <summary>The dataset indices of the batch at global step <paramref name="step"/> (0-based; epochs follow one another).</summary>
    public long[] Indices(long step)
    {
        if (step < 0) throw new ArgumentOutOfRangeException(nameof(step));
        if (_sampling == Sampling.WithReplacement)
        {
            var rng = new Random(Mix(_seed, step));
            var draw = new long[BatchSize];
            for (int i = 0; i < draw.Length; i++) draw[i] = rng.NextInt64(_data.Count);
            return draw;
        }
        int epoch = (int)(step / BatchesPerEpoch);
        long first = step % BatchesPerEpoch * BatchSize;
        long n = Math.Min(BatchSize, _data.Count - first);
        long[] order = Order(epoch);
        return order.AsSpan((int)first, (int)n).ToArray();
    }

    /// <summary>The batch at global step <paramref name="step"/>. Call inside a dispose scope.</summary>
    public (Tensor Input, Tensor Target) Batch(long step) => _data.Gather(Indices(step));

    /// <summary>The batches of one epoch in order (for evaluation loops).</summary>
    public IEnumerable<(Tensor Input, Tensor Target)> Epoch(int epoch = 0)
    {
        long start = (long)epoch * BatchesPerEpoch;
        for (long s = start; s < start + BatchesPerEpoch; s++) yield return Batch(s);
    }

    long[] Order(int epoch)
    {
        if (_cachedEpoch == epoch && _cachedOrder != null) return _cachedOrder;
        _cachedOrder = _sampling == Sampling.Shuffle ? Permutation(_data.Count, _seed, epoch) : Identity(_data.Count);
        _cachedEpoch = epoch;
        return _cachedOrder;
    }

    static long[] Identity(long n)
    {
        var order = new long[n];
        for (long i = 0; i < n; i++) order[i] = i;
        return order;
    }

    /// <summary>
    /// The order of epoch <paramref name="epoch"/>: a Fisher–Yates permutation of 0…n−1 driven by
    /// <c>System.Random(Mix(seed, epoch))</c>, the same in every process and on every platform.
    /// </summary>
    public static long[] Permutation(long n, int seed, long epoch)
    {
        var order = Identity(n);
        var rng = new Random(Mix(seed, epoch));
        for (long i = order.LongLength - 1; i > 0; i--)
        {
            long j = rng.NextInt64(i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }
        return order;
    }

    /// <summary>A 31-bit seed from (seed, counter), stable across processes (unlike HashCode.Combine).</summary>
    public static int Mix(int seed, long counter)
    {
        ulong z = (ulong)(uint)seed * 0x9E3779B97F4A7C15UL + (ulong)counter + 0x632BE59BD9B4E019UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        z ^= z >> 31;
        return (int)(z & 0x7FFFFFFF);
    }
}

/// <summary>
/// Grayscale images and integer labels held as two tensors: input (N, 1, H, W) float32 normalised as
/// (pixel/255 − mean) / std, target (N) int64.
/// </summary>
public sealed class ImageTensorDataset : ITensorDataset, IDisposable
{
    readonly Tensor _images, _labels;

    /// <summary>Number of images.</summary>
    public long Count { get; }
    /// <summary>Image height in pixels.</summary>
    public int Height { get; }
    /// <summary>Image width in pixels.</summary>
    public int Width { get; }

    /// <param name="pixels">N·H·W bytes, row-major, 0 = black.</param>
    /// <param name="labels">N class indices.</param>
    /// <param name="height">H.</param>
    /// <param name="width">W.</param>
    /// <param name="mean">Mean subtracted after scaling to [0, 1] (MNIST: 0.1307).</param>
    /// <param name="std">Standard deviation divided by (MNIST: 0.3081).</param>
    /// <exception cref="ArgumentException">pixels.Length ≠ labels.Length·H·W.</exception>
    public ImageTensorDataset(byte[] pixels, byte[] labels, int height, int width, double mean = 0.0, double std = 1.0)
    {
        if (pixels.LongLength != (long)labels.Length * height * width)
            throw new ArgumentException($"{pixels.Length} pixel bytes do not make {labels.Length} images of {height}×{width}");
        Count = labels.Length;
        Height = height;
        Width = width;
        using var scope = NewDisposeScope();
        _images = ((tensor(pixels).to(float32) / 255.0 - mean) / std).reshape(Count, 1, height, width).MoveToOuterDisposeScope();
        _labels = tensor(labels).to(int64).MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public (Tensor Input, Tensor Target) Gather(long[] indices)
    {
        using var idx = tensor(indices);
        return (_images.index_select(0, idx), _labels.index_select(0, idx));
    }

    /// <summary>Releases the two tensors.</summary>
    public void Dispose()
    {
        _images.Dispose();
        _labels.Dispose();
    }
}
