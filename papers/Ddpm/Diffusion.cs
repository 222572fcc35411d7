// Denoising diffusion probabilistic models, from
//   J. Ho, A. Jain, P. Abbeel. "Denoising Diffusion Probabilistic Models". NeurIPS 2020 (arXiv:2006.11239).
//
// The forward process q adds Gaussian noise in T small steps (§2, Eq. 2):
//     q(x_t | x_{t-1}) = N(x_t; sqrt(1 − β_t) x_{t-1}, β_t I),          β_1 … β_T linear from 1e-4 to 0.02, T = 1000 (§4)
// With α_t = 1 − β_t and ᾱ_t = Π_{s≤t} α_s, any x_t is reachable from x_0 in one draw (Eq. 4):
//     q(x_t | x_0) = N(x_t; sqrt(ᾱ_t) x_0, (1 − ᾱ_t) I)   ⇒   x_t = sqrt(ᾱ_t) x_0 + sqrt(1 − ᾱ_t) ε,  ε ~ N(0, I)
// The reverse process p_θ(x_{t-1} | x_t) = N(μ_θ(x_t, t), σ_t² I) is parameterised through a network
// ε_θ(x_t, t) that predicts the noise (Eq. 11):
//     μ_θ(x_t, t) = 1/sqrt(α_t) · (x_t − β_t / sqrt(1 − ᾱ_t) · ε_θ(x_t, t))
// and trained on the simplified objective (Eq. 14, Algorithm 1):
//     L_simple(θ) = E_{t ~ U{1..T}, x_0, ε} ‖ε − ε_θ(sqrt(ᾱ_t) x_0 + sqrt(1 − ᾱ_t) ε, t)‖²
// Sampling runs the chain from x_T ~ N(0, I) down to x_0 (Algorithm 2) with σ_t² = β_t (§3.2); like the
// authors' released code, the mean is taken through the x_0 estimate clipped to [−1, 1] (see p_sample).
//
// Also here, not from the paper: DDIM sampling (Song, Meng, Ermon 2021, "Denoising Diffusion Implicit
// Models", Eq. 12 with η = 0), which reuses the same trained ε_θ on a subsequence of the T steps. On a CPU
// it makes the Fréchet distance affordable during training; the final samples are drawn both ways.
//
// Indexing: every schedule tensor is indexed by the paper's t, 0 … T, with t = 0 meaning "no noise"
// (β_0 = 0, α_0 = ᾱ_0 = 1). The network sees t as an integer in 1 … T.

using TorchSharp;
using static TorchSharp.torch;

namespace PaperLab.Papers.Ddpm;

/// <summary>The noise schedule β_1 … β_T and the quantities derived from it (Ho et al. 2020, §2 and §4).</summary>
public sealed class NoiseSchedule
{
    /// <summary>Number of diffusion steps T.</summary>
    public int T { get; }
    /// <summary>β_t for t = 0 … T (float64, length T + 1, β_0 = 0): the variance added at step t.</summary>
    public double[] Beta { get; }
    /// <summary>α_t = 1 − β_t for t = 0 … T.</summary>
    public double[] Alpha { get; }
    /// <summary>ᾱ_t = Π_{s=1..t} α_s for t = 0 … T (ᾱ_0 = 1): the signal fraction left in x_t (Eq. 4).</summary>
    public double[] AlphaBar { get; }

    /// <param name="beta">β_1 … β_T, each in (0, 1).</param>
    /// <exception cref="ArgumentException">An empty schedule or a β outside (0, 1).</exception>
    public NoiseSchedule(double[] beta)
    {
        if (beta.Length == 0) throw new ArgumentException("the schedule needs at least one step", nameof(beta));
        int bad = Array.FindIndex(beta, b => !(b > 0 && b < 1));
        if (bad >= 0) throw new ArgumentException($"β_{bad + 1} = {beta[bad]} is outside (0, 1)", nameof(beta));
        T = beta.Length;
        Beta = new double[T + 1];
        Alpha = new double[T + 1];
        AlphaBar = new double[T + 1];
        Alpha[0] = AlphaBar[0] = 1;
        for (int t = 1; t <= T; t++)
        {
            Beta[t] = beta[t - 1];
            Alpha[t] = 1 - Beta[t];
            AlphaBar[t] = AlphaBar[t - 1] * Alpha[t];
        }
    }

    /// <summary>The paper's schedule (§4): β_t linear from β_1 = 1e-4 to β_T = 0.02, T = 1000.</summary>
    public static NoiseSchedule Linear(int T = 1000, double beta1 = 1e-4, double betaT = 0.02) =>
        new(Enumerable.Range(0, T).Select(i => T == 1 ? beta1 : beta1 + (betaT - beta1) * i / (T - 1)).ToArray());

    /// <summary>
    /// The cosine schedule of Nichol &amp; Dhariwal 2021 (Improved DDPM, Eq. 17): ᾱ_t = f(t)/f(0),
    /// f(t) = cos²((t/T + s)/(1 + s) · π/2), s = 0.008, with β_t = 1 − ᾱ_t/ᾱ_{t−1} clipped to 0.999.
    /// </summary>
    public static NoiseSchedule Cosine(int T = 1000, double s = 0.008)
    {
        double F(double t) => Math.Pow(Math.Cos((t / T + s) / (1 + s) * Math.PI / 2), 2);
        return new(Enumerable.Range(1, T).Select(t => Math.Min(1 - F(t) / F(t - 1), 0.999)).ToArray());
    }

    /// <summary>A schedule by name: "linear" or "cosine".</summary>
    /// <exception cref="ArgumentException">Another name.</exception>
    public static NoiseSchedule Named(string name, int T) => name switch
    {
        "linear" => Linear(T),
        "cosine" => Cosine(T),
        _ => throw new ArgumentException($"unknown schedule '{name}': use linear or cosine", nameof(name)),
    };
}

/// <summary>
/// The diffusion model of Ho et al. 2020: forward noising q, the ε-prediction loss L_simple, and the
/// reverse chain p_θ (Algorithm 2) around a noise-prediction network ε_θ(x_t, t).
/// </summary>
public sealed class GaussianDiffusion : IDisposable
{
    readonly Tensor sqrtAlphaBar, sqrtOneMinusAlphaBar; // (T + 1) float32, indexed by t

    /// <summary>The schedule.</summary>
    public NoiseSchedule Schedule { get; }
    /// <summary>Number of diffusion steps T.</summary>
    public int T => Schedule.T;

    /// <param name="schedule">β_1 … β_T and what follows from it.</param>
    public GaussianDiffusion(NoiseSchedule schedule)
    {
        Schedule = schedule;
        sqrtAlphaBar = tensor(schedule.AlphaBar.Select(Math.Sqrt).ToArray()).to(float32);
        sqrtOneMinusAlphaBar = tensor(schedule.AlphaBar.Select(a => Math.Sqrt(1 - a)).ToArray()).to(float32);
    }

    /// <summary>
    /// A draw from q(x_t | x_0) in closed form (Eq. 4): x_t = sqrt(ᾱ_t) x_0 + sqrt(1 − ᾱ_t) ε.
    /// </summary>
    /// <param name="x0">Clean images (B, C, H, W) float32, scaled to [−1, 1].</param>
    /// <param name="t">(B) int64, each in 0 … T.</param>
    /// <param name="eps">Standard normal noise shaped like x0.</param>
    /// <returns>x_t, shaped like x0.</returns>
    public Tensor q_sample(Tensor x0, Tensor t, Tensor eps)
    {
        // exercise ddpm-q-sample: Eq. 4 — x_t = sqrt(ᾱ_t)·x_0 + sqrt(1 − ᾱ_t)·ε, with sqrtAlphaBar[t] and sqrtOneMinusAlphaBar[t] reshaped to broadcast over (C, H, W)
        using var scope = NewDisposeScope();
        var shape = new long[] { -1 }.Concat(Enumerable.Repeat(1L, (int)x0.dim() - 1)).ToArray();
        Tensor a = sqrtAlphaBar.index_select(0, t).reshape(shape);
        Tensor b = sqrtOneMinusAlphaBar.index_select(0, t).reshape(shape);
        return (a * x0 + b * eps).MoveToOuterDisposeScope();
        // end exercise
    }

    /// <summary>
    /// L_simple (Eq. 14, Algorithm 1): t ~ Uniform{1 … T}, ε ~ N(0, I), mean squared error between ε and
    /// ε_θ(x_t, t) over every pixel of the batch. Draws from torch's global generator.
    /// </summary>
    /// <param name="eps_theta">The network: (x_t (B, C, H, W), t (B) int64) → predicted ε (B, C, H, W).</param>
    /// <param name="x0">Clean images (B, C, H, W) in [−1, 1].</param>
    /// <returns>Scalar loss; ≈ 1 for a network that predicts 0.</returns>
    public Tensor L_simple(Func<Tensor, Tensor, Tensor> eps_theta, Tensor x0)
    {
        // exercise ddpm-l-simple: Eq. 14, Algorithm 1 — t ~ Uniform{1 … T} (B), ε ~ N(0, I), x_t = q_sample(x_0, t, ε), loss = mean (ε − ε_θ(x_t, t))²
        using var scope = NewDisposeScope();
        Tensor t = randint(1, T + 1, new[] { x0.shape[0] }, dtype: int64);
        Tensor eps = randn_like(x0);
        Tensor xt = q_sample(x0, t, eps);
        return nn.functional.mse_loss(eps_theta(xt, t), eps).MoveToOuterDisposeScope();
        // end exercise
    }

    /// <summary>
    /// The mean of p_θ(x_{t−1} | x_t) (Eq. 11): μ_θ = 1/sqrt(α_t) · (x_t − β_t/sqrt(1 − ᾱ_t) · ε_θ).
    /// </summary>
    /// <param name="xt">x_t (B, C, H, W).</param>
    /// <param name="t">The step, 1 … T (the same for the whole batch).</param>
    /// <param name="eps">ε_θ(x_t, t), shaped like xt.</param>
    public Tensor PosteriorMean(Tensor xt, int t, Tensor eps)
    {
        double alpha = Schedule.Alpha[t], beta = Schedule.Beta[t], alphaBar = Schedule.AlphaBar[t];
        using var scope = NewDisposeScope();
        return ((xt - eps * (beta / Math.Sqrt(1 - alphaBar))) / Math.Sqrt(alpha)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The mean of the forward posterior q(x_{t−1} | x_t, x_0) (Eq. 7):
    /// μ̃_t = sqrt(ᾱ_{t−1}) β_t/(1 − ᾱ_t) · x_0 + sqrt(α_t)(1 − ᾱ_{t−1})/(1 − ᾱ_t) · x_t.
    /// </summary>
    /// <param name="xt">x_t.</param>
    /// <param name="t">The step, 1 … T.</param>
    /// <param name="x0">x_0 (or an estimate of it), shaped like xt.</param>
    public Tensor PosteriorMeanFromX0(Tensor xt, int t, Tensor x0)
    {
        double ab = Schedule.AlphaBar[t], abPrev = Schedule.AlphaBar[t - 1];
        double c0 = Math.Sqrt(abPrev) * Schedule.Beta[t] / (1 - ab);
        double ct = Math.Sqrt(Schedule.Alpha[t]) * (1 - abPrev) / (1 - ab);
        using var scope = NewDisposeScope();
        return (c0 * x0 + ct * xt).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// One step of Algorithm 2: x_{t−1} = μ_θ(x_t, t) + σ_t z with σ_t² = β_t, z ~ N(0, I) (z = 0 at t = 1).
    /// </summary>
    /// <remarks>
    /// With <paramref name="clipDenoised"/> (the default), μ_θ is computed as the authors' released code does
    /// (<c>clip_denoised=True</c>): x̂_0 = (x_t − sqrt(1 − ᾱ_t) ε_θ)/sqrt(ᾱ_t) is clipped to the data range
    /// [−1, 1] and put into Eq. 7. Without clipping this is exactly Eq. 11; with it, an imperfect ε_θ cannot
    /// push the chain outside the data range (each step divides by sqrt(α_t), 157× over the whole chain).
    /// </remarks>
    /// <param name="eps_theta">The noise-prediction network.</param>
    /// <param name="xt">x_t (B, C, H, W).</param>
    /// <param name="t">The step, 1 … T.</param>
    /// <param name="generator">Source of z.</param>
    /// <param name="clipDenoised">Clip x̂_0 to [−1, 1] before taking the mean.</param>
    public Tensor p_sample(Func<Tensor, Tensor, Tensor> eps_theta, Tensor xt, int t, Generator generator, bool clipDenoised = true)
    {
        if (t < 1 || t > T) throw new ArgumentOutOfRangeException(nameof(t), $"t = {t} is outside 1 … {T}");
        // exercise ddpm-sampling-step: Algorithm 2, line 4 — x_{t−1} = μ_θ(x_t, t) + σ_t·z, σ_t² = β_t, z = randn(generator), no noise at t = 1; μ_θ by Eq. 11 (or Eq. 7 on the clipped x̂_0)
        using var scope = NewDisposeScope();
        Tensor tt = full(xt.shape[0], (long)t, dtype: int64);
        Tensor eps = eps_theta(xt, tt);
        Tensor mean;
        if (clipDenoised)
        {
            double ab = Schedule.AlphaBar[t];
            Tensor x0 = ((xt - Math.Sqrt(1 - ab) * eps) / Math.Sqrt(ab)).clamp(-1, 1);
            mean = PosteriorMeanFromX0(xt, t, x0);
        }
        else mean = PosteriorMean(xt, t, eps);
        if (t == 1) return mean.MoveToOuterDisposeScope();
        Tensor z = randn(xt.shape, generator: generator);
        return (mean + Math.Sqrt(Schedule.Beta[t]) * z).MoveToOuterDisposeScope();
        // end exercise
    }

    /// <summary>
    /// Ancestral sampling, Algorithm 2: x_T ~ N(0, I), then p_sample for t = T … 1. Runs under no_grad.
    /// </summary>
    /// <param name="eps_theta">The noise-prediction network (in eval mode).</param>
    /// <param name="shape">(B, C, H, W) of the batch to draw.</param>
    /// <param name="seed">Seed of x_T and of every z: the same seed gives the same images.</param>
    /// <param name="keepAt">Steps t at which to record x_t (for trajectories); x_0 is always the result.</param>
    /// <param name="clipDenoised">Clip the x_0 estimate at every step (see <see cref="p_sample"/>).</param>
    /// <returns>x_0 (≈ [−1, 1]) and the recorded (t, x_t) in the order visited.</returns>
    public (Tensor X0, List<(int T, Tensor Xt)> Trajectory) Sample(Func<Tensor, Tensor, Tensor> eps_theta, long[] shape, int seed,
                                                                   IReadOnlySet<int>? keepAt = null, bool clipDenoised = true)
    {
        using var _ = no_grad();
        using var generator = new Generator((ulong)seed);
        var trajectory = new List<(int, Tensor)>();
        Tensor x = randn(shape, generator: generator);
        for (int t = T; t >= 1; t--)
        {
            if (keepAt?.Contains(t) == true) trajectory.Add((t, x.clone()));
            Tensor next = p_sample(eps_theta, x, t, generator, clipDenoised);
            x.Dispose();
            x = next;
        }
        return (x, trajectory);
    }

    /// <summary>
    /// Deterministic DDIM sampling (Song et al. 2021, Eq. 12 with η = 0) on <paramref name="steps"/> evenly
    /// spaced t from T down to 0: x̂_0 = (x_t − sqrt(1 − ᾱ_t) ε_θ)/sqrt(ᾱ_t), clipped to [−1, 1], then
    /// x_s = sqrt(ᾱ_s) x̂_0 + sqrt(1 − ᾱ_s) ε_θ. Not the paper's sampler; same network. Runs under no_grad.
    /// </summary>
    /// <param name="eps_theta">The noise-prediction network (in eval mode).</param>
    /// <param name="shape">(B, C, H, W).</param>
    /// <param name="steps">Network evaluations, 1 … T.</param>
    /// <param name="seed">Seed of x_T.</param>
    public Tensor SampleDdim(Func<Tensor, Tensor, Tensor> eps_theta, long[] shape, int steps, int seed)
    {
        if (steps < 1 || steps > T) throw new ArgumentOutOfRangeException(nameof(steps), $"steps = {steps} is outside 1 … {T}");
        using var _ = no_grad();
        using var generator = new Generator((ulong)seed);
        // t_i = round(T · i / steps), i = steps … 0: starts at T, ends at 0
        int[] ts = Enumerable.Range(0, steps + 1).Select(i => (int)Math.Round((double)T * i / steps)).Reverse().ToArray();
        Tensor x = randn(shape, generator: generator);
        for (int i = 0; i < steps; i++)
        {
            int t = ts[i], s = ts[i + 1];
            using var scope = NewDisposeScope();
            Tensor eps = eps_theta(x, full(shape[0], (long)t, dtype: int64));
            double ab = Schedule.AlphaBar[t], abNext = Schedule.AlphaBar[s];
            Tensor x0 = ((x - Math.Sqrt(1 - ab) * eps) / Math.Sqrt(ab)).clamp(-1, 1);
            Tensor next = Math.Sqrt(abNext) * x0 + Math.Sqrt(1 - abNext) * eps;
            next.MoveToOuterDisposeScope();
            x.Dispose();
            x = next;
        }
        return x;
    }

    /// <summary>Releases the schedule tensors.</summary>
    public void Dispose()
    {
        sqrtAlphaBar.Dispose();
        sqrtOneMinusAlphaBar.Dispose();
    }
}
