using TorchSharp;
using static TorchSharp.torch;

namespace PaperLab.Papers.Ddpm;

/// <summary>Mean and covariance of a set of feature vectors (float64).</summary>
/// <param name="Mean">(D) mean μ.</param>
/// <param name="Covariance">(D, D) unbiased covariance Σ (divides by N − 1).</param>
/// <param name="Count">N, the number of vectors.</param>
public sealed record GaussianStatistics(double[] Mean, double[,] Covariance, int Count);

/// <summary>
/// The Fréchet (2-Wasserstein) distance between two Gaussians fitted to feature vectors, the quantity
/// behind FID (Heusel et al. 2017, "GANs Trained by a Two Time-Scale Update Rule…", Eq. 6):
/// d² = ‖μ₁ − μ₂‖² + tr(Σ₁ + Σ₂ − 2 (Σ₁^½ Σ₂ Σ₁^½)^½).
/// FID is this on Inception-v3 pool features of 299×299 images; with other features it is another number.
/// </summary>
/// <remarks>
/// The matrix square roots use only eigendecompositions of symmetric positive semi-definite matrices
/// (torch.linalg.eigh): Σ₁^½ = V diag(√λ) Vᵀ, and the trace of (Σ₁^½ Σ₂ Σ₁^½)^½ is Σ√λᵢ of that
/// symmetric PSD matrix. tr((Σ₁Σ₂)^½) is the same number (Σ₁Σ₂ is similar to Σ₁^½Σ₂Σ₁^½), so this equals
/// the usual scipy.linalg.sqrtm formula without its complex round-off. Eigenvalues below 0 (round-off) count as 0.
/// </remarks>
public static class FrechetDistance
{
    /// <summary>Mean and unbiased covariance of the rows of <paramref name="features"/>.</summary>
    /// <param name="features">(N, D), N ≥ 2, any float dtype; computed in float64.</param>
    /// <exception cref="ArgumentException">Not 2-D, or fewer than 2 rows.</exception>
    public static GaussianStatistics Statistics(Tensor features)
    {
        if (features.dim() != 2 || features.shape[0] < 2)
            throw new ArgumentException($"features must be (N, D) with N ≥ 2, got ({string.Join(", ", features.shape)})", nameof(features));
        using var scope = NewDisposeScope();
        Tensor f = features.to(float64);
        Tensor mu = f.mean(new long[] { 0 });
        Tensor centred = f - mu;
        Tensor cov = centred.t().mm(centred) / (f.shape[0] - 1);
        return new GaussianStatistics(mu.data<double>().ToArray(), ToMatrix(cov), (int)f.shape[0]);
    }

    /// <summary>d² between two fitted Gaussians (see the class summary). Non-negative up to round-off.</summary>
    /// <exception cref="ArgumentException">Different dimensions.</exception>
    public static double Distance(GaussianStatistics a, GaussianStatistics b)
    {
        if (a.Mean.Length != b.Mean.Length)
            throw new ArgumentException($"feature dimensions differ: {a.Mean.Length} and {b.Mean.Length}");
        using var scope = NewDisposeScope();
        int d = a.Mean.Length;
        Tensor mu1 = tensor(a.Mean), mu2 = tensor(b.Mean);
        Tensor s1 = FromMatrix(a.Covariance), s2 = FromMatrix(b.Covariance);
        Tensor root1 = SqrtPsd(s1);
        Tensor m = root1.mm(s2).mm(root1);
        m = (m + m.t()) / 2; // symmetric up to round-off; make it exactly so for eigh
        double traceRoot = linalg.eigvalsh(m).clamp_min(0).sqrt().sum().item<double>();
        double meanTerm = (mu1 - mu2).square().sum().item<double>();
        return meanTerm + s1.trace().item<double>() + s2.trace().item<double>() - 2 * traceRoot;
    }

    /// <summary>d² between the Gaussians fitted to two feature sets (N₁, D) and (N₂, D).</summary>
    public static double Distance(Tensor featuresA, Tensor featuresB) => Distance(Statistics(featuresA), Statistics(featuresB));

    /// <summary>
    /// The symmetric square root of a symmetric positive semi-definite matrix: V diag(√max(λ, 0)) Vᵀ from
    /// torch.linalg.eigh.
    /// </summary>
    /// <param name="s">(D, D) symmetric PSD, float64.</param>
    public static Tensor SqrtPsd(Tensor s)
    {
        using var scope = NewDisposeScope();
        var (lambda, v) = linalg.eigh(s);
        return v.mm(diag(lambda.clamp_min(0).sqrt())).mm(v.t()).MoveToOuterDisposeScope();
    }

    static double[,] ToMatrix(Tensor m)
    {
        int r = (int)m.shape[0], c = (int)m.shape[1];
        double[] flat = m.contiguous().data<double>().ToArray();
        var result = new double[r, c];
        Buffer.BlockCopy(flat, 0, result, 0, flat.Length * sizeof(double));
        return result;
    }

    static Tensor FromMatrix(double[,] m)
    {
        var flat = new double[m.Length];
        Buffer.BlockCopy(m, 0, flat, 0, flat.Length * sizeof(double));
        return tensor(flat).reshape(m.GetLength(0), m.GetLength(1));
    }
}
