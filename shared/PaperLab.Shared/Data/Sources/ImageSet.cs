using static TorchSharp.torch;

namespace PaperLab.Data.Sources;

/// <summary>
/// A labelled set of 8-bit images with C channels held in memory, decoded once from a folder of one's own:
/// <see cref="ImageDataset"/> with channels, and with the file and content hash of every image.
/// </summary>
public sealed class ImageSet
{
    /// <summary>Creates the set after checking that the arrays agree.</summary>
    /// <param name="name">Name for messages and reports (the folder's name).</param>
    /// <param name="split">Which split.</param>
    /// <param name="pixels">N·C·H·W bytes: image after image, channel-first, row-major; 0 = black.</param>
    /// <param name="labels">N class indices, each below <c>classNames.Length</c>.</param>
    /// <param name="channels">C: 1 (grey) or 3 (RGB).</param>
    /// <param name="height">H in pixels.</param>
    /// <param name="width">W in pixels.</param>
    /// <param name="classNames">Name of each class index (the class folders' names).</param>
    /// <param name="files">N paths relative to the source folder, '/'-separated.</param>
    /// <param name="hashes">N sha256 hex digests of the files' bytes.</param>
    /// <exception cref="ArgumentException">Lengths disagree, a label is out of range, or channels is not 1 or 3.</exception>
    public ImageSet(string name, Split split, byte[] pixels, int[] labels, int channels, int height, int width,
                    string[] classNames, string[] files, string[] hashes)
    {
        ArgumentNullException.ThrowIfNull(pixels);
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentNullException.ThrowIfNull(classNames);
        ArgumentNullException.ThrowIfNull(files);
        ArgumentNullException.ThrowIfNull(hashes);
        if (channels is not (1 or 3)) throw new ArgumentException($"{name} {split}: channels must be 1 or 3, got {channels}", nameof(channels));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        if ((long)labels.Length * channels * height * width != pixels.LongLength)
            throw new ArgumentException($"{name} {split}: {pixels.Length} pixel bytes, expected {labels.Length}×{channels}×{height}×{width}", nameof(pixels));
        if (files.Length != labels.Length || hashes.Length != labels.Length)
            throw new ArgumentException($"{name} {split}: {labels.Length} labels but {files.Length} files and {hashes.Length} hashes", nameof(files));
        int bad = Array.FindIndex(labels, l => l < 0 || l >= classNames.Length);
        if (bad >= 0)
            throw new ArgumentException($"{name} {split}: label {labels[bad]} at index {bad} is outside 0..{classNames.Length - 1}", nameof(labels));
        (Name, Split, Pixels, Labels, Channels, Height, Width, ClassNames, Files, Hashes) =
            (name, split, pixels, labels, channels, height, width, classNames, files, hashes);
    }

    /// <summary>Name for messages and reports.</summary>
    public string Name { get; }
    /// <summary>Which split.</summary>
    public Split Split { get; }
    /// <summary>N·C·H·W bytes: image <c>i</c> is <c>Pixels[i·C·H·W .. (i+1)·C·H·W)</c>, channel-first.</summary>
    public byte[] Pixels { get; }
    /// <summary>N class indices.</summary>
    public int[] Labels { get; }
    /// <summary>C: 1 (grey) or 3 (RGB).</summary>
    public int Channels { get; }
    /// <summary>H in pixels.</summary>
    public int Height { get; }
    /// <summary>W in pixels.</summary>
    public int Width { get; }
    /// <summary>Name of each class index.</summary>
    public string[] ClassNames { get; }
    /// <summary>The file of each image, relative to the source folder, '/'-separated (for reports and "top losses").</summary>
    public string[] Files { get; }
    /// <summary>Sha256 (hex) of each image file's bytes.</summary>
    public string[] Hashes { get; }
    /// <summary>Number of images N.</summary>
    public int Count => Labels.Length;
    /// <summary>Bytes per image, C·H·W.</summary>
    public int ImageBytes => Channels * Height * Width;

    /// <summary>The C·H·W bytes of image <paramref name="index"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">index outside 0..N−1.</exception>
    public ReadOnlySpan<byte> Image(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Count);
        return Pixels.AsSpan(index * ImageBytes, ImageBytes);
    }

    /// <summary>Images per class index (length = number of classes).</summary>
    public int[] CountsPerClass()
    {
        var counts = new int[ClassNames.Length];
        foreach (int l in Labels) counts[l]++;
        return counts;
    }

    /// <summary>
    /// The same images as the single-channel <see cref="ImageDataset"/> the MNIST-family papers take today.
    /// </summary>
    /// <exception cref="InvalidOperationException">The set has 3 channels, or more than 256 classes (labels are bytes there).</exception>
    public ImageDataset ToImageDataset()
    {
        if (Channels != 1)
            throw new InvalidOperationException($"{Name} {Split}: ImageDataset holds grey images; these have {Channels} channels (load with Channels = 1)");
        if (ClassNames.Length > 256)
            throw new InvalidOperationException($"{Name} {Split}: ImageDataset's byte labels hold at most 256 classes, this set has {ClassNames.Length}");
        return new ImageDataset(Name, Split, Pixels, Labels.Select(l => (byte)l).ToArray(), Height, Width, ClassNames);
    }

    /// <summary>An empty set with the same shape and classes (a split the folder does not have).</summary>
    public ImageSet Empty(Split split) => new(Name, split, [], [], Channels, Height, Width, ClassNames, [], []);
}

/// <summary>
/// An <see cref="ImageSet"/> as two tensors: input (N, C, H, W) float32, each channel normalised as
/// (pixel/255 − mean[c]) / std[c]; target (N) int64. The C-channel counterpart of <see cref="ImageTensorDataset"/>.
/// </summary>
public sealed class ImageSetTensors : ITensorDataset, IDisposable
{
    readonly Tensor _images, _labels;

    /// <summary>Number of images.</summary>
    public long Count { get; }

    /// <param name="set">The images.</param>
    /// <param name="mean">Per-channel mean of pixel/255 (length C), or null for 0.</param>
    /// <param name="std">Per-channel standard deviation (length C), or null for 1.</param>
    /// <exception cref="ArgumentException">mean or std has not C entries, or a std is not positive.</exception>
    public ImageSetTensors(ImageSet set, double[]? mean = null, double[]? std = null)
    {
        ArgumentNullException.ThrowIfNull(set);
        int c = set.Channels;
        mean ??= new double[c];
        std ??= Enumerable.Repeat(1.0, c).ToArray();
        if (mean.Length != c || std.Length != c) throw new ArgumentException($"mean and std need {c} entries, one per channel");
        if (std.Any(s => !(s > 0))) throw new ArgumentException("every std must be positive", nameof(std));
        Count = set.Count;
        using var scope = NewDisposeScope();
        var m = tensor(mean.Select(v => (float)v).ToArray()).reshape(1, c, 1, 1);
        var s = tensor(std.Select(v => (float)v).ToArray()).reshape(1, c, 1, 1);
        _images = ((tensor(set.Pixels).to(float32) / 255.0).reshape(set.Count, c, set.Height, set.Width).sub(m).div(s)).MoveToOuterDisposeScope();
        _labels = tensor(set.Labels).to(int64).MoveToOuterDisposeScope();
    }

    /// <summary>Per-channel mean and standard deviation of pixel/255 over <paramref name="set"/> (use the training set's).</summary>
    /// <returns>Two arrays of C values; std is the population standard deviation.</returns>
    public static (double[] Mean, double[] Std) ChannelStatistics(ImageSet set)
    {
        int c = set.Channels, plane = set.Height * set.Width;
        var sum = new double[c];
        var sumSq = new double[c];
        for (int i = 0; i < set.Count; i++)
            for (int ch = 0; ch < c; ch++)
            {
                var p = set.Pixels.AsSpan(i * set.ImageBytes + ch * plane, plane);
                long s1 = 0, s2 = 0;
                foreach (byte b in p) { s1 += b; s2 += b * b; }
                sum[ch] += s1;
                sumSq[ch] += s2;
            }
        double n = (double)set.Count * plane;
        var mean = new double[c];
        var std = new double[c];
        for (int ch = 0; ch < c; ch++)
        {
            mean[ch] = sum[ch] / n / 255.0;
            std[ch] = Math.Sqrt(Math.Max(0, sumSq[ch] / n / (255.0 * 255.0) - mean[ch] * mean[ch]));
        }
        return (mean, std);
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
