namespace PaperLab.Data;

/// <summary>
/// A labelled set of single-channel 8-bit images held in memory, as an IDX pair gives it.
/// Pixel values are 0..255 (MNIST: 0 = background, 255 = full ink).
/// </summary>
public sealed record ImageDataset
{
    /// <summary>Creates the dataset after checking that the arrays agree.</summary>
    /// <param name="name">Catalog name (e.g. <c>mnist</c>).</param>
    /// <param name="split">Which split the images come from.</param>
    /// <param name="pixels">N*H*W bytes, row-major, image after image.</param>
    /// <param name="labels">N class indices, each below <c>classNames.Length</c>.</param>
    /// <param name="height">Image height H in pixels.</param>
    /// <param name="width">Image width W in pixels.</param>
    /// <param name="classNames">Name of each class index.</param>
    /// <exception cref="ArgumentException">Lengths disagree or a label is out of range.</exception>
    public ImageDataset(string name, Split split, byte[] pixels, byte[] labels, int height, int width, string[] classNames)
    {
        ArgumentNullException.ThrowIfNull(pixels);
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentNullException.ThrowIfNull(classNames);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        if ((long)labels.Length * height * width != pixels.Length)
            throw new ArgumentException(
                $"{name} {split}: {pixels.Length} pixel bytes, expected {labels.Length} labels x {height} x {width} = {(long)labels.Length * height * width}",
                nameof(pixels));
        int bad = Array.FindIndex(labels, l => l >= classNames.Length);
        if (bad >= 0)
            throw new ArgumentException(
                $"{name} {split}: label {labels[bad]} at index {bad} is outside 0..{classNames.Length - 1}", nameof(labels));
        Name = name;
        Split = split;
        Pixels = pixels;
        Labels = labels;
        Height = height;
        Width = width;
        ClassNames = classNames;
    }

    /// <summary>Catalog name (e.g. <c>mnist</c>, <c>fashion-mnist</c>).</summary>
    public string Name { get; }

    /// <summary>Which split the images come from.</summary>
    public Split Split { get; }

    /// <summary>N*H*W bytes, row-major: image <c>i</c> is <c>Pixels[i*H*W .. (i+1)*H*W)</c>.</summary>
    public byte[] Pixels { get; }

    /// <summary>N class indices, in <c>0 .. ClassNames.Length-1</c>.</summary>
    public byte[] Labels { get; }

    /// <summary>Image height H in pixels.</summary>
    public int Height { get; }

    /// <summary>Image width W in pixels.</summary>
    public int Width { get; }

    /// <summary>Name of each class index (MNIST: "0".."9").</summary>
    public string[] ClassNames { get; }

    /// <summary>Number of images N.</summary>
    public int Count => Labels.Length;

    /// <summary>The H*W pixels of image <paramref name="index"/>.</summary>
    public ReadOnlySpan<byte> Image(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Count);
        int size = Height * Width;
        return Pixels.AsSpan(index * size, size);
    }

    /// <summary>The first <paramref name="count"/> images (all of them if there are fewer), copied.</summary>
    public ImageDataset Take(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        count = Math.Min(count, Count);
        int size = Height * Width;
        return new ImageDataset(Name, Split, Pixels[..(count * size)], Labels[..count], Height, Width, ClassNames);
    }

    /// <summary>The images at <paramref name="indices"/>, in that order (repeats allowed), copied.</summary>
    /// <exception cref="ArgumentOutOfRangeException">An index is outside <c>0 .. Count-1</c>.</exception>
    public ImageDataset Subset(IReadOnlyList<int> indices)
    {
        ArgumentNullException.ThrowIfNull(indices);
        int size = Height * Width;
        var pixels = new byte[indices.Count * size];
        var labels = new byte[indices.Count];
        for (int k = 0; k < indices.Count; k++)
        {
            int i = indices[k];
            if ((uint)i >= (uint)Count)
                throw new ArgumentOutOfRangeException(nameof(indices), $"index {i} at position {k} is outside 0..{Count - 1}");
            Pixels.AsSpan(i * size, size).CopyTo(pixels.AsSpan(k * size));
            labels[k] = Labels[i];
        }
        return new ImageDataset(Name, Split, pixels, labels, Height, Width, ClassNames);
    }
}
