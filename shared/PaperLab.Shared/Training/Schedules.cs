namespace PaperLab.Training;

/// <summary>
/// Learning-rate schedules as plain functions of the 0-based step, for <see cref="TrainingLoop.Add(string, TorchSharp.torch.optim.Optimizer, Func{long, double}?)"/>.
/// The loop sets the rate from the step directly, so a resumed run is at the right rate without replaying the schedule.
/// </summary>
public static class Schedules
{
    /// <summary>The same rate at every step.</summary>
    public static Func<long, double> Constant(double lr) => _ => lr;

    /// <summary>
    /// A half cosine from <paramref name="peak"/> at step 0 to <paramref name="min"/> at <paramref name="total"/>
    /// (Loshchilov &amp; Hutter 2017, SGDR, one cycle without restarts): peak·… at s, min after total.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">total &lt; 1.</exception>
    public static Func<long, double> Cosine(double peak, long total, double min = 0)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(total, 1);
        return s => min + (peak - min) * 0.5 * (1 + Math.Cos(Math.PI * Math.Min(s, total) / total));
    }

    /// <summary>
    /// Linear warm-up then a half cosine (nanoGPT's get_lr): (s + 1)/(warmup + 1)·peak for s &lt; warmup, then
    /// from peak down to <paramref name="min"/> at <paramref name="decayEnd"/>, <paramref name="min"/> after.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">warmup &lt; 0 or decayEnd &lt; warmup.</exception>
    public static Func<long, double> WarmupCosine(double peak, long warmup, long decayEnd, double min = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(warmup);
        ArgumentOutOfRangeException.ThrowIfLessThan(decayEnd, warmup);
        return s =>
        {
            if (s < warmup) return peak * (s + 1) / (warmup + 1);
            if (s >= decayEnd) return min;
            double progress = (double)(s - warmup) / Math.Max(1, decayEnd - warmup);
            return min + 0.5 * (1 + Math.Cos(Math.PI * progress)) * (peak - min);
        };
    }

    /// <summary>
    /// The Transformer's rate (Vaswani et al. 2017, §5.3, Eq. 3), times <paramref name="factor"/>:
    /// lrate = factor · d_model^−0.5 · min(n^−0.5, n · warmup_steps^−1.5), with n = s + 1 the 1-based step
    /// number: a linear rise for warmup_steps steps, then decay with the inverse square root of the step.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">dModel or warmup &lt; 1.</exception>
    public static Func<long, double> Noam(int dModel, int warmup, double factor = 1.0)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(dModel, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(warmup, 1);
        return s =>
        {
            // exercise transformer-noam: Eq. 3 of Vaswani et al. 2017 — factor · d_model^−0.5 · min(n^−0.5, n · warmup^−1.5) with n = s + 1
            double n = s + 1;
            return factor * Math.Pow(dModel, -0.5) * Math.Min(Math.Pow(n, -0.5), n * Math.Pow(warmup, -1.5));
            // end exercise
        };
    }
}
