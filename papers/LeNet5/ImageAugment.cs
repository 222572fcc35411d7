using static TorchSharp.torch;

namespace PaperLab.Papers.LeNet5;

/// <summary>
/// Label-preserving distortions of an image batch, drawn from torch's global RNG (which the shared
/// Trainer seeds per step, so augmented runs stay deterministic).
/// </summary>
public static class ImageAugment
{
    /// <summary>
    /// Shifts each image by an independent random offset in [−maxShift, maxShift] pixels on both axes,
    /// filling with <paramref name="fill"/>, and, if <paramref name="horizontalFlip"/>, mirrors each image
    /// left–right with probability ½.
    /// </summary>
    /// <param name="x">Images (B, C, H, W) float32.</param>
    /// <param name="maxShift">Largest shift in pixels (0: no shift).</param>
    /// <param name="horizontalFlip">Mirror half of the images (right for clothing, wrong for digits).</param>
    /// <param name="fill">Value of the pixels shifted in: the normalised value of a black pixel.</param>
    /// <returns>A new tensor of the same shape.</returns>
    /// <exception cref="ArgumentException">x is not 4-dimensional, or maxShift is negative.</exception>
    public static Tensor ShiftAndFlip(Tensor x, int maxShift, bool horizontalFlip, double fill = 0.0)
    {
        if (x.dim() != 4) throw new ArgumentException($"expected images (B, C, H, W), got {x.dim()} dimensions");
        if (maxShift < 0) throw new ArgumentException("maxShift must be ≥ 0", nameof(maxShift));
        using var scope = NewDisposeScope();
        long b = x.shape[0], h = x.shape[2], w = x.shape[3];
        Tensor result = x;
        if (maxShift > 0)
        {
            var padded = nn.functional.pad(x, new long[] { maxShift, maxShift, maxShift, maxShift }, value: fill);
            var offsets = randint(0, 2 * maxShift + 1, new long[] { b, 2 }).data<long>().ToArray();
            var crops = new Tensor[b];
            for (int i = 0; i < b; i++)
                crops[i] = padded[i].narrow(1, offsets[2 * i], h).narrow(2, offsets[2 * i + 1], w);
            result = stack(crops);
        }
        if (horizontalFlip)
        {
            var flip = (rand(b) < 0.5).view(b, 1, 1, 1);
            result = where(flip, result.flip(3), result);
        }
        return result.MoveToOuterDisposeScope();
    }
}
