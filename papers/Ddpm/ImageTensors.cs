using TorchSharp;
using static TorchSharp.torch;

namespace PaperLab.Papers.Ddpm;

/// <summary>Image tensors as the float arrays <see cref="Charts.ImageGrid"/> draws.</summary>
public static class ImageTensors
{
    /// <summary>
    /// Each image of a (N, 1, H, W) or (N, H, W) tensor as H·W values in [0, 1], mapping
    /// [<paramref name="low"/>, <paramref name="high"/>] linearly onto [0, 1] and clipping outside it.
    /// </summary>
    /// <param name="images">Grayscale images, any float dtype.</param>
    /// <param name="low">Value drawn black (e.g. −1 for images scaled to [−1, 1]).</param>
    /// <param name="high">Value drawn white.</param>
    /// <exception cref="ArgumentException">Not (N, 1, H, W) or (N, H, W), or high ≤ low.</exception>
    public static List<float[]> ToUnitRange(Tensor images, double low = -1, double high = 1)
    {
        if (!(high > low)) throw new ArgumentException($"high ({high}) must exceed low ({low})");
        if (!(images.dim() == 3 || (images.dim() == 4 && images.shape[1] == 1)))
            throw new ArgumentException($"expected (N, 1, H, W) or (N, H, W) grayscale images, got ({string.Join(", ", images.shape)})", nameof(images));
        using var scope = NewDisposeScope();
        long n = images.shape[0];
        float[] flat = ((images.to(float32) - low) / (high - low)).clamp(0, 1).reshape(n, -1).contiguous().data<float>().ToArray();
        int d = (int)(flat.Length / Math.Max(n, 1));
        return Enumerable.Range(0, (int)n).Select(i => flat.AsSpan(i * d, d).ToArray()).ToList();
    }

    /// <summary>
    /// Interleaves K snapshots of the same N images into row-major grid order: row i holds image i at
    /// snapshot 1 … K (e.g. a denoising trajectory x_T … x_0, one sample per row).
    /// </summary>
    /// <param name="snapshots">K lists of N images each.</param>
    /// <returns>N·K images; draw with columns = K.</returns>
    /// <exception cref="ArgumentException">Snapshots of different lengths.</exception>
    public static List<float[]> Trajectories(IReadOnlyList<IReadOnlyList<float[]>> snapshots)
    {
        if (snapshots.Count == 0) return new();
        int n = snapshots[0].Count;
        if (snapshots.Any(s => s.Count != n)) throw new ArgumentException("every snapshot must hold the same number of images", nameof(snapshots));
        var grid = new List<float[]>(n * snapshots.Count);
        for (int i = 0; i < n; i++)
            foreach (var s in snapshots) grid.Add(s[i]);
        return grid;
    }
}
