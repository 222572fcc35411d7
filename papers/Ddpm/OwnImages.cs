// DDPM on your own images (--dataset folder:DIR): the same training step of Algorithm 1 with the EMA, on
// C×N×N images scaled to [−1, 1], read by PaperLab.Data.Sources.ImageFolder (class subfolders or not: a
// DDPM ignores labels). There is no feature network for arbitrary images, so instead of the Fréchet
// distance the run measures L_simple (Eq. 14) of the EMA weights on held-out images, with t and ε drawn
// from a fixed seed, next to the loss of predicting ε = 0 on the same draws: E‖ε‖²/D = 1, the trivial
// baseline. The samples are in report.html and samples.png: look at them.

using PaperLab.Data;
using PaperLab.Data.Sources;
using PaperLab.Reporting;
using PaperLab.Runs;
using PaperLab.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace PaperLab.Papers.Ddpm;

/// <summary>The DDPM experiment on a folder of your own images.</summary>
public static class OwnImages
{
    /// <summary>Trains on <paramref name="source"/>'s images and writes the run folder (config.json, data report, metrics.csv,
    /// checkpoint.bin, ema.pt, samples.png, summary.json, report.html).</summary>
    /// <exception cref="DataSourceException">The folder cannot be used (the message names it and the fix).</exception>
    /// <exception cref="UsageException">No held-out images (--valid-pct too small for the folder).</exception>
    public static DdpmSummary Run(DdpmOptions o, RunContext ctx, DatasetArgument source)
    {
        var wall = System.Diagnostics.Stopwatch.StartNew();
        var folder = ImageFolder.Load(source.Path, new ImageFolderOptions
        {
            Height = o.ImageSize, Width = o.ImageSize, Channels = o.ImageChannels, ValidPercent = o.ValidPct, Strict = o.Strict,
            MinClasses = 1, Threads = ctx.Threads,
        }, o.Dataset);
        ctx.Progress.Line(folder.Report.ToText());   // before training, and before any run folder exists
        var train = PaperLab.Papers.LeNet5.LeNet5Data.Limit(folder.Train, o.TrainLimit);
        var valid = PaperLab.Papers.LeNet5.LeNet5Data.Limit(folder.Valid, o.TestLimit);
        if (valid.Count == 0)
            throw new UsageException($"--dataset {o.Dataset}: no held-out images to measure the loss on (--valid-pct {o.ValidPct:0.##} of {folder.Train.Count} images); give a larger --valid-pct");
        var run = ctx.Start(o, new { source = folder.Source, images = folder.Options });
        run.DataReport = folder.Report.ToText();
        run.DataSamplesPng = folder.Report.SamplesPng;
        folder.Report.WriteTo(run.Path);

        int c = o.ImageChannels, n = o.ImageSize;
        double[] half = Enumerable.Repeat(0.5, c).ToArray();
        using var trainSet = new ImageSetTensors(train, half, half);   // x_0 in [−1, 1]: (p/255 − 0.5)/0.5, as §4
        using var validSet = new ImageSetTensors(valid, half, half);

        torch.manual_seed(ctx.Common.Seed);
        var unet = new UNet(o.UNet, c, n);
        var shadow = new UNet(o.UNet, c, n);
        var ema = new ExponentialMovingAverage(unet, shadow, o.EmaDecay);
        ctx.Progress.Line($"U-Net ε_θ: {ParameterCounts.Total(unet):N0} parameters, images {c}×{n}×{n}");
        using var diffusion = new GaussianDiffusion(NoiseSchedule.Named(o.Schedule, o.T));

        var loader = new BatchLoader(trainSet, Math.Min(o.BatchSize, train.Count), Sampling.Shuffle, ctx.Common.Seed, dropLast: true);
        var validLoader = new BatchLoader(validSet, 256, Sampling.Sequential);
        long total = o.Steps ?? (o.Epochs is int e ? e * loader.BatchesPerEpoch : 2500);
        Tensor EpsEma(Tensor xt, Tensor t) => shadow.forward(xt, t);
        var result = Experiment.Train(o, ctx, unet, ema, diffusion, loader, total,
                                      _ => new Dictionary<string, double> { ["valid/loss"] = HeldOutLoss(diffusion, EpsEma, validLoader) });
        PyTorchExport.Save(shadow, run.File("ema.pt"));

        double validLoss = HeldOutLoss(diffusion, EpsEma, validLoader);
        double zeroLoss = HeldOutLoss(diffusion, (xt, _) => zeros_like(xt), validLoader);
        ctx.Progress.Line($"L_simple on {valid.Count} held-out images: {validLoss:F4} (EMA weights); predicting ε = 0: {zeroLoss:F4}");

        var clock = System.Diagnostics.Stopwatch.StartNew();
        int count = Math.Min(64, o.FinalSamples);
        string sampler = o.SampleSteps == o.T ? $"Algorithm 2 (ancestral, {o.T} steps)" : $"DDIM η = 0, {o.SampleSteps} steps";
        ctx.Progress.Line($"drawing {count} samples ({sampler})…");
        byte[] grid;
        using (var scope = NewDisposeScope())
            grid = Grid(Experiment.SampleMany(diffusion, EpsEma, count, o.SampleSteps, seed: 2_000_003 + ctx.Common.Seed, c, n), train.Name);
        double samplingSeconds = clock.Elapsed.TotalSeconds;
        AtomicFile.WriteAllBytes(run.File("samples.png"), grid);

        var summary = new DdpmSummary
        {
            Paper = "Denoising Diffusion Probabilistic Models (Ho et al. 2020)",
            Dataset = o.Dataset,
            Published = new("valid_loss", zeroLoss, "no published figure for your own images; shown instead: L_simple of predicting ε = 0 on the same held-out draws, the trivial baseline to beat", Comparable: false),
            FdLenet = double.NaN, FdLenetRealFloor = double.NaN, FdSamples = 0,
            FdSampler = "not measured: no feature network for your own images", FdFeatures = "none",
            ClassCoverage = new(), ClassesCovered = 0, FdHistory = new(),
            ValidLoss = validLoss, ZeroNoiseLoss = zeroLoss,
            FinalTrainLoss = result.Losses.Count > 0 ? result.Losses.TakeLast(Math.Min(100, result.Losses.Count)).Average() : null,
            Steps = result.Steps,
            TrainSeconds = result.TrainSeconds,
            WallSeconds = wall.Elapsed.TotalSeconds,
            ImagesPerSecond = double.IsFinite(result.ItemsPerSecond) ? result.ItemsPerSecond : null,
            SamplingSeconds = samplingSeconds,
            Parameters = ParameterCounts.Total(unet),
            ClassifierTestAccuracy = double.NaN,
            Threads = ctx.Threads,
        };
        run.WriteSummary(summary);

        var page = new HtmlPage($"DDPM on {train.Name} (your images)");
        page.Paragraph("Ho, Jain, Abbeel (2020), Denoising Diffusion Probabilistic Models: ε-prediction with L_simple, " +
                       $"{o.Schedule} β schedule, T = {o.T}, U-Net for {c}×{n}×{n} images, EMA weights for sampling. No Fréchet distance: " +
                       "there is no feature network for your images; the held-out L_simple against predicting ε = 0 says whether it learned, the samples say what.");
        page.Table(new[] { "measure", "value" }, new[]
        {
            new[] { $"L_simple on {valid.Count} held-out images (EMA weights, fixed t and ε)", validLoss.ToString("F4", System.Globalization.CultureInfo.InvariantCulture) },
            new[] { "the same for predicting ε = 0 (the trivial baseline)", zeroLoss.ToString("F4", System.Globalization.CultureInfo.InvariantCulture) },
            new[] { "training steps / seconds", $"{summary.Steps} / {summary.TrainSeconds:F0}" },
            new[] { "U-Net parameters", $"{summary.Parameters:N0}" },
        });
        var (lossSteps, trainLosses) = run.Metrics.Series("train", "loss");
        var (validSteps, validLosses) = run.Metrics.Series("valid", "loss");
        page.Chart(Charts.Line("L_simple (Eq. 14)", "optimizer step", "loss",
            new[] { new Series("train, running mean", lossSteps, trainLosses), new Series("held-out, EMA weights", validSteps, validLosses) }, logY: true));
        page.Heading($"Samples ({sampler})");
        page.Html($"<p><img alt=\"samples\" style=\"image-rendering: pixelated; max-width: 100%\" src=\"data:image/png;base64,{Convert.ToBase64String(grid)}\"></p>");
        page.Save(run);
        return summary;
    }

    /// <summary>Mean L_simple over the held-out images with t and ε drawn from a fixed seed (the same draws every time), under no_grad.</summary>
    static double HeldOutLoss(GaussianDiffusion diffusion, Func<Tensor, Tensor, Tensor> epsTheta, BatchLoader valid)
    {
        using var _ = no_grad();
        torch.random.manual_seed(7_000_003);   // the loop reseeds before every step, so training's draws are untouched
        double sum = 0;
        long n = 0;
        for (long b = 0; b < valid.BatchesPerEpoch; b++)
        {
            using var scope = NewDisposeScope();
            var (x0, _) = valid.Batch(b);
            sum += diffusion.L_simple(epsTheta, x0).item<float>() * x0.shape[0];
            n += x0.shape[0];
        }
        return sum / n;
    }

    /// <summary>Samples (n, C, N, N) in [−1, 1] as a PNG, 8 to a row (grey or RGB).</summary>
    static byte[] Grid(Tensor samples, string name)
    {
        int n = (int)samples.shape[0], c = (int)samples.shape[1], h = (int)samples.shape[2], w = (int)samples.shape[3];
        byte[] pixels = ((samples.clamp(-1, 1) + 1) * 127.5).round().to(uint8).contiguous().data<byte>().ToArray();
        int rows = (n + 7) / 8;
        var set = new ImageSet(name, Split.Train, pixels, Enumerable.Range(0, n).Select(i => i / 8).ToArray(), c, h, w,
                               Enumerable.Range(0, rows).Select(r => $"row {r + 1}").ToArray(),
                               Enumerable.Range(0, n).Select(i => $"sample {i}").ToArray(), Enumerable.Repeat("", n).ToArray());
        return ImageFolderReport.SampleGrid(set, rows, 8);
    }
}
