using System.Globalization;
using PaperLab.Runs;

namespace PaperLab.Reporting;

/// <summary>
/// The parts of report.html that every paper's run shares: the data report at the top (your own data), and
/// at the bottom what the toolkit measured (--diagnose, --profile, --find-lr, --overfit-batch).
/// <see cref="HtmlPage.Save(RunFolder)"/> adds them; a paper writes only its own sections.
/// </summary>
public static class RunSections
{
    static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>The blocks for the top of the page.</summary>
    public static IEnumerable<string> Top(RunFolder run)
    {
        if (run.DataReport is null && run.DataSamplesPng is null) yield break;
        yield return "<h2>Data</h2>";
        if (run.DataSamplesPng is { } png)
            yield return $"<p><img alt=\"samples per class\" style=\"image-rendering: pixelated; max-width: 100%\" src=\"data:image/png;base64,{Convert.ToBase64String(png)}\"></p>";
        if (run.DataReport is { } text) yield return $"<pre>{HtmlPage.Encode(text)}</pre>";
    }

    /// <summary>The blocks for the bottom of the page (charts through <paramref name="page"/>).</summary>
    public static void Bottom(RunFolder run, HtmlPage page)
    {
        if (run.LrFinder is { } lr)
        {
            page.Heading("Learning-rate range test");
            page.Paragraph($"Suggested learning rate {lr.SuggestedLr.ToString("g3", Inv)} ({lr.Rule}); steepest fall at {lr.SteepestLr.ToString("g3", Inv)}. " +
                           "L. N. Smith, Cyclical Learning Rates for Training Neural Networks (WACV 2017), §3.3; fast.ai's lr_find." +
                           (lr.Note is { } note ? " Note: " + note : ""));
            var x = lr.LearningRates.Select(Math.Log10).ToArray();
            page.Chart(Charts.Line("Loss against the learning rate", "log10 learning rate", "loss",
                new[] { new Series("loss of the step", x, lr.Losses), new Series("smoothed", x, lr.SmoothedLosses),
                        new Series("suggested", new[] { Math.Log10(lr.SuggestedLr), Math.Log10(lr.SuggestedLr) }, new[] { lr.SmoothedLosses.Min(), lr.SmoothedLosses.Max() }) }));
        }
        if (run.Overfit is { } o)
        {
            page.Heading("Overfitting one batch");
            page.Paragraph(o.Reached ? $"The loss of one fixed batch reached the target after {o.Steps} updates."
                                     : $"The loss of one fixed batch did not reach the target in {o.Steps} updates. {o.Diagnosis}");
            var finite = o.Losses.Select((l, i) => (i, l)).Where(p => double.IsFinite(p.l) && p.l > 0).ToArray();
            page.Chart(Charts.Line("Loss of the one batch", "update", "loss", new[] { new Series("loss", finite.Select(p => (double)p.i).ToArray(), finite.Select(p => p.l).ToArray()) }, logY: true));
        }
        if (run.Diagnostics is { } d)
        {
            page.Heading("Diagnostics");
            page.Paragraph($"Activations, gradients and updates per layer, sampled every {d.Every} steps. A healthy update is about 1/1000 of " +
                           "its weight (log10 ratio ≈ −3, Karpathy's makemore part 3); remedies after J. Tobin, Troubleshooting Deep Neural Networks.");
            page.Table(new[] { "severity", "layer", "what", "remedy", "steps" },
                d.Findings.Count == 0 ? new[] { new[] { "—", "—", "nothing looked wrong", "", "" } }
                    : d.Findings.Select(f => new[] { f.Severity.ToString(), f.Layer, f.What, f.Remedy, $"{f.FirstStep}–{f.LastStep}" }).ToArray());
            var ratios = d.Parameters.Where(p => p.Dims >= 2 && p.UpdateRatioLog10 is not null).GroupBy(p => p.Parameter)
                .Select(g => new Series(g.Key, g.Select(p => (double)p.Step).ToArray(), g.Select(p => p.UpdateRatioLog10!.Value).ToArray())).ToList();
            if (ratios.Count > 0) page.Chart(Charts.Line("Update-to-weight ratio per weight matrix", "step", "log10 ‖Δw‖/‖w‖", ratios));
            var activations = d.Activations.GroupBy(a => a.Layer).Select(g => g.Last()).ToList();
            if (activations.Count > 0)
                page.Table(new[] { "layer (last sample)", "kind", "mean", "std", "saturated", "dead units" },
                    activations.Select(a => new[] { a.Layer, a.Kind.ToString(), F(a.Mean), F(a.Std), P(a.Saturated), P(a.DeadUnits) }).ToArray());
        }
        if (run.Profile is { } p)
        {
            page.Heading("Where the time went (--profile)");
            page.Table(new[] { "part", "ms per step", "share" },
                p.Sections.Select(s => new[] { s.Name, s.MillisecondsPerStep.ToString("F3", Inv), s.Fraction.ToString("P1", Inv) }).ToArray());
            page.Paragraph(string.Create(Inv, $"{p.Steps:N0} steps in {p.Seconds:F1} s; .NET allocated {p.ManagedBytesPerStep / 1024:F1} KiB per step " +
                                              $"({p.Gen0Collections} gen-0 and {p.Gen2Collections} full collections)."));
        }
    }

    static string F(double? v) => v is double d ? d.ToString("G4", Inv) : "—";
    static string P(double? v) => v is double d ? d.ToString("P1", Inv) : "—";
}
