// Training throughput behind `--bench N`: images per second of the experiment's training step (Algorithm 1
// of Ho et al. 2020 with the recipe's extras) at the configured U-Net size (default: base width 24,
// multipliers 1/2/2, attention at 7×7), after an untimed warm-up, printed as one JSON line; no run folder.
// The batch is a fixed synthetic one of the run's shape, 64 images of 1×28×28 uniform in [−1, 1]: the cost
// of a step does not depend on the pixels, and the PyTorch twin needs no copy of the data pipeline. The step
// is the loop's: the warm-up-cosine learning rate set for the step, torch's RNG seeded from (seed, step),
// zero_grad, L_simple (t ~ U{1..T}, ε ~ N(0, I), ‖ε − ε_θ(x_t, t)‖²), the loss read back, backward,
// gradient clipping at norm 1, Adam, the EMA update of the weights. Its PyTorch twin is
// bench/pytorch_ddpm_bench.py; bench/compare.sh alternates the two.

using PaperLab.Data;
using PaperLab.Runs;
using PaperLab.Training;
using static TorchSharp.torch;

namespace PaperLab.Papers.Ddpm;

/// <summary>Training images per second of the DDPM recipe on a fixed synthetic batch.</summary>
public static class Bench
{
    /// <summary>
    /// Times <paramref name="steps"/> training steps (after <paramref name="warmup"/> untimed ones) of the U-Net
    /// and recipe in <paramref name="o"/> and prints one JSON line: samples_per_second (wall),
    /// samples_per_cpu_second (process CPU time, which other jobs disturb less), threads, batch_size,
    /// parameters, date (UTC), machine.
    /// </summary>
    /// <returns>The printed measurements.</returns>
    public static Dictionary<string, object> Run(DdpmOptions o, int threads, int seed, int steps, int warmup = 5)
    {
        set_num_threads(threads);
        manual_seed(seed);
        var unet = new UNet(o.UNet);
        var shadow = new UNet(o.UNet);
        var ema = new ExponentialMovingAverage(unet, shadow, o.EmaDecay);
        using var diffusion = new GaussianDiffusion(NoiseSchedule.Named(o.Schedule, o.T));
        var optimizer = optim.Adam(unet.parameters(), lr: o.Lr);
        var parameters = unet.parameters().ToArray();
        long total = o.TotalSteps;
        var lr = Schedules.WarmupCosine(o.Lr, Math.Min(o.WarmupSteps, total), total);
        using var x0 = rand(new long[] { o.BatchSize, 1, 28, 28 }, generator: new Generator((ulong)seed + 1)) * 2 - 1;
        unet.train();

        void Step(long s)
        {
            foreach (var group in optimizer.ParamGroups) group.LearningRate = lr(s);
            random.manual_seed(BatchLoader.Mix(seed, s));
            using var scope = NewDisposeScope();
            optimizer.zero_grad();
            var loss = diffusion.L_simple(unet.forward, x0);
            float value = loss.item<float>();
            if (!float.IsFinite(value)) throw new NonFiniteLossException(s, value, null);
            loss.backward();
            nn.utils.clip_grad_norm_(parameters, o.ClipGradNorm);
            optimizer.step();
            ema.Update();
        }

        var timing = BenchClock.Time(Step, steps, warmup);
        var line = BenchClock.Line(threads, steps);
        line["batch_size"] = o.BatchSize;
        line["parameters"] = ParameterCounts.Total(unet);
        BenchClock.AddRates(line, "samples", (double)steps * o.BatchSize, timing);
        return BenchClock.Print(line);
    }
}
