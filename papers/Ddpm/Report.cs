// What a DDPM run shows its reader: report.html with the loss, the Fréchet distance over training, the
// samples (DDIM and Algorithm 2), denoising trajectories and the class coverage.

using System.Globalization;
using PaperLab.Reporting;
using PaperLab.Runs;

namespace PaperLab.Papers.Ddpm;

/// <summary>Writes report.html of a DDPM run.</summary>
public static class Report
{
    /// <summary>Builds report.html in <paramref name="run"/> from its metrics, summary and final samples.</summary>
    public static void Write(RunFolder run, DdpmOptions config, DdpmSummary summary, FinalResult final, string[] classNames)
    {
        static string F(double v) => v.ToString("F2", CultureInfo.InvariantCulture);
        var page = new HtmlPage($"DDPM on {config.Dataset}");
        page.Paragraph("Ho, Jain, Abbeel (2020), Denoising Diffusion Probabilistic Models: ε-prediction with L_simple, linear β schedule, " +
                       $"T = {config.T}, U-Net with sinusoidal time embedding, GroupNorm residual blocks and 7×7 self-attention, EMA weights for sampling. " +
                       "The Fréchet distance uses LeNet-5 F6 features (84-d) of a classifier trained on the same dataset: it is not the Inception FID, " +
                       "and the paper's CIFAR-10 FID of 3.17 is not comparable with it.");
        page.Table(new[] { "measure", "value" }, new[]
        {
            new[] { $"Fréchet distance, LeNet-5 features ({config.FinalSamples} samples, {final.SamplerName})", F(final.Fd) },
            new[] { $"floor: {config.FinalSamples} real training images vs test set", F(final.Floor) },
            new[] { "classes holding ≥ 2% of the samples", $"{final.ClassesCovered}/10" },
            new[] { "training steps / seconds", $"{summary.Steps} / {summary.TrainSeconds:F0}" },
            new[] { "U-Net parameters", $"{summary.Parameters:N0}" },
            new[] { "feature network", $"{summary.FdFeatures}, test accuracy {summary.ClassifierTestAccuracy * 100:F1}%" },
        });

        var (lossSteps, loss) = run.Metrics.Series("train", "loss");
        page.Chart(Charts.Line("L_simple (Eq. 14), running mean", "optimizer step", "loss", new[] { new Series("train", lossSteps, loss) }, logY: true));
        var (fdSteps, fd) = run.Metrics.Series("eval", "fd_lenet");
        var (_, floor) = run.Metrics.Series("eval", "fd_lenet_real_floor");
        page.Chart(Charts.Line($"Fréchet distance during training ({config.EvalSamples} DDIM-{config.EvalSampleSteps} samples, EMA weights)",
            "optimizer step", "Fréchet distance (LeNet-5 features)",
            new[] { new Series("samples", fdSteps, fd), new Series("real-vs-real floor", fdSteps, floor) }, logY: true));

        page.Table(new[] { "class", "fraction of samples" },
            final.Coverage.Select(kv => new[] { kv.Key, (kv.Value * 100).ToString("F1", CultureInfo.InvariantCulture) + "%" }).ToArray());
        page.Chart(Charts.ImageGrid($"Algorithm 2 samples ({config.T} steps), with LeNet-5's class",
            final.Ancestral, 28, 28, final.AncestralClasses.Select(c => classNames[c]).ToList(), columns: 9));
        page.Chart(Charts.ImageGrid($"Final samples, {final.SamplerName}, with LeNet-5's class",
            final.Samples, 28, 28, final.SampleClasses.Select(c => classNames[c]).ToList(), columns: 8));
        var grid = ImageTensors.Trajectories(final.Trajectory.Select(s => (IReadOnlyList<float[]>)s.Images).ToList());
        var captions = Enumerable.Range(0, grid.Count).Select(i => $"t={final.Trajectory[i % final.Trajectory.Count].T}").ToList();
        page.Chart(Charts.ImageGrid("Denoising trajectories (Algorithm 2): one sample per row, x_T → x_0",
            grid, 28, 28, captions, columns: final.Trajectory.Count));
        page.Save(run);
        // the same grids as PNG files, viewable without a browser
        PngGrid.Save(run.File("samples_ancestral.png"), final.Ancestral, 28, 28, columns: 9);
        PngGrid.Save(run.File("samples_ddim.png"), final.Samples, 28, 28, columns: 8);
        PngGrid.Save(run.File("trajectories.png"), grid, 28, 28, columns: final.Trajectory.Count);
    }
}
