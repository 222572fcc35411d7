// What a Batch Normalization run shows its reader: Fig. 1 (a) test accuracy and (b, c) the percentiles of a
// last-layer sigmoid's input for both networks, the §3.3 high-learning-rate pair, and the shared diagnostics
// of the networks side by side — saturation and update ratios per layer — which show why the plain one lags.

using System.Globalization;
using PaperLab.Diagnostics;
using PaperLab.Reporting;
using PaperLab.Runs;

namespace PaperLab.Papers.BatchNorm;

/// <summary>Writes report.html of a run and its final lines in the terminal.</summary>
public static class Report
{
    static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>The network names in words.</summary>
    public static string Title(string network) => network switch
    {
        "plain" => "without BN",
        "bn" => "with BN",
        "plain_high_lr" => "without BN, high lr",
        "bn_high_lr" => "with BN, high lr",
        _ => network,
    };

    static string Pct(double? v) => v is double d ? d.ToString("P2", Inv) : "—";
    static string Num(double? v, string format = "G4") => v is double d ? d.ToString(format, Inv) : "—";

    /// <summary>The result in a few lines: accuracy at fixed steps, the sigmoid input's drift, §3.3.</summary>
    public static IEnumerable<string> Lines(BatchNormSummary s)
    {
        yield return "test accuracy (Fig. 1a)     without BN   with BN";
        foreach (var a in s.AccuracyAtSteps)
            yield return string.Create(Inv, $"  after {a.Step,7:N0} steps     {Pct(a.Plain),8}   {Pct(a.Bn),8}");
        foreach (var d in s.SigmoidInput.Where(d => !d.Network.EndsWith("high_lr")))
            yield return string.Create(Inv, $"sigmoid input {Title(d.Network)} (Fig. 1{(d.Network == "bn" ? "c" : "b")}): p15/p50/p85 {F(d.First)} → {F(d.Last)}; the median moved over {d.MedianRange:F2}");
        if (s.HighLearningRate is { } h)
            yield return string.Create(Inv, $"§3.3, lr {h.Lr:g3} for {h.Steps:N0} steps: without BN {Pct(h.PlainTestAccuracy)} (best {Pct(h.PlainBestTestAccuracy)}), with BN {Pct(h.BnTestAccuracy)} (best {Pct(h.BnBestTestAccuracy)})");
        foreach (var (network, findings) in s.NetworkDiagnostics)
            yield return $"diagnostics, {Title(network)}: " + (findings.Count == 0 ? "nothing looks wrong"
                : string.Join("; ", findings.Select(f => $"{f.Severity.ToString().ToLowerInvariant()} {f.Layer}: {f.What}")));
    }

    static string F(double[] p) => string.Join(" / ", p.Select(v => v.ToString("F2", Inv)));

    /// <summary>Builds report.html in <paramref name="run"/> from its metrics and the networks' diagnostics.</summary>
    /// <param name="run">The run folder (metrics read from memory).</param>
    /// <param name="o">The run's options.</param>
    /// <param name="s">The summary.</param>
    /// <param name="diagnostics">Each network's diagnostics, by name.</param>
    public static void Write(RunFolder run, BatchNormOptions o, BatchNormSummary s, IReadOnlyDictionary<string, DiagnosticsReport> diagnostics)
    {
        var m = run.Metrics;
        var page = new HtmlPage("Batch Normalization: Fig. 1 and §3.3 on MNIST");
        page.Paragraph("S. Ioffe, C. Szegedy (2015), Batch Normalization: Accelerating Deep Network Training by Reducing Internal Covariate Shift, §4.1. " +
                       $"MNIST, 3 fully connected hidden layers of 100 sigmoid units, batches of {o.BatchSize}, plain SGD at {o.Lr.ToString("g3", Inv)}, " +
                       $"weights N(0, {o.InitStd.ToString("g3", Inv)}²), the same initial weights and batches for both networks. Paper: " + Experiment.PublishedResult);

        page.Heading("Fig. 1(a): test accuracy");
        page.Table(new[] { "steps", "without BN", "with BN" },
            s.AccuracyAtSteps.Select(a => new[] { a.Step.ToString("N0", Inv), Pct(a.Plain), Pct(a.Bn) }).ToArray());
        page.Table(new[] { "first step at test accuracy", "without BN", "with BN" },
            s.StepsToAccuracy.Select(a => new[] { Pct(a.Accuracy), a.Plain?.ToString("N0", Inv) ?? "not reached", a.Bn?.ToString("N0", Inv) ?? "not reached" }).ToArray());
        Line(page, "Fig. 1(a): test accuracy", "training step", "test accuracy",
            Fig1Networks(s).Select(n => Named(Title(n), m.Series("test", $"{n}/accuracy"))).ToList());

        page.Heading("Fig. 1(b, c): the input of one last-layer sigmoid");
        page.Paragraph($"The {{15, 50, 85}}th percentiles over the test images of the input of sigmoid {o.ProbeUnit} of the third hidden layer, in evaluation mode " +
                       "(BN with its running estimates). Without BN its distribution moves as the layers below it learn; with BN it stays put.");
        foreach (var n in Fig1Networks(s))
            Percentiles(page, $"Fig. 1({(n == "bn" ? "c" : "b")}): {Title(n)}", m, n);
        page.Table(new[] { "network", "p15 / p50 / p85 at the first evaluation", "at the last", "range of the median over the run" },
            s.SigmoidInput.Select(d => new[] { Title(d.Network), F(d.First), F(d.Last), d.MedianRange.ToString("F2", Inv) }).ToArray());

        if (s.HighLearningRate is { } h)
        {
            page.Heading($"§3.3: learning rate {h.Lr.ToString("g3", Inv)} ({(h.Lr / o.Lr).ToString("g3", Inv)}× higher)");
            page.Paragraph(FormattableString.Invariant($"The same two networks trained at {h.Lr:g3} for {h.Steps:N0} steps. Without BN: test accuracy {Pct(h.PlainTestAccuracy)} at the end ") +
                           $"(best {Pct(h.PlainBestTestAccuracy)}); with BN: {Pct(h.BnTestAccuracy)} (best {Pct(h.BnBestTestAccuracy)}). " +
                           "BN makes a layer's output invariant to the scale of its weights (§3.3), so large updates do not push the sigmoids into saturation.");
            Line(page, $"Test accuracy at lr {h.Lr.ToString("g3", Inv)}", "training step", "test accuracy",
                new[] { "plain_high_lr", "bn_high_lr" }.Select(n => Named(Title(n), m.Series("test", $"{n}/accuracy"))).ToList());
            Percentiles(page, $"Sigmoid input, without BN, lr {h.Lr.ToString("g3", Inv)}", m, "plain_high_lr");
            Percentiles(page, $"Sigmoid input, with BN, lr {h.Lr.ToString("g3", Inv)}", m, "bn_high_lr");
        }

        page.Heading("Diagnostics of the networks side by side");
        page.Paragraph("The shared toolkit (PaperLab.Diagnostics.TrainingDiagnostics) on each network: per layer, the fraction of saturated sigmoid outputs " +
                       "(within 0.015 of 0 or 1), and per weight matrix the update-to-weight ratio log10 ‖Δw‖/‖w‖ (about −3 is healthy). " +
                       "They cover the steps trained by this process (after a resume, from the resume on).");
        page.Table(new[] { "network", "severity", "layer", "what", "remedy", "steps" },
            diagnostics.SelectMany(d => d.Value.Findings.Count == 0
                ? new[] { new[] { Title(d.Key), "—", "—", "nothing looked wrong", "", "" } }
                : d.Value.Findings.Select(f => new[] { Title(d.Key), f.Severity.ToString(), f.Layer, f.What, f.Remedy, $"{f.FirstStep}–{f.LastStep}" })).ToArray());
        foreach (var (a, b) in Pairs(diagnostics))
        {
            Line(page, $"Saturated sigmoid outputs: {Title(a)} and {Title(b)}", "training step", "fraction saturated",
                new[] { a, b }.SelectMany(n => diagnostics[n].Activations.Where(x => x.Kind == ActivationKind.Sigmoid && x.Saturated is not null).GroupBy(x => x.Layer)
                    .Select(g => new Series($"{Title(n)}: {g.Key}", g.Select(x => (double)x.Step).ToArray(), g.Select(x => x.Saturated!.Value).ToArray()))).ToList());
            Line(page, $"Update-to-weight ratio per weight matrix: {Title(a)} and {Title(b)}", "training step", "log10 ‖Δw‖/‖w‖",
                new[] { a, b }.SelectMany(n => diagnostics[n].Parameters.Where(p => p.Dims >= 2 && p.UpdateRatioLog10 is not null).GroupBy(p => p.Parameter)
                    .Select(g => new Series($"{Title(n)}: {g.Key}", g.Select(p => (double)p.Step).ToArray(), g.Select(p => p.UpdateRatioLog10!.Value).ToArray()))).ToList());
            var last = new[] { a, b }.ToDictionary(n => n, n => diagnostics[n].Activations.GroupBy(x => x.Layer).ToDictionary(g => g.Key, g => g.Last()));
            var layers = last[a].Keys.Union(last[b].Keys).Where(l => l.StartsWith("sig") || l.StartsWith("bn") || l.StartsWith("fc")).Order().ToList();
            page.Table(new[] { "layer (last sample)", $"{Title(a)}: mean / std / saturated", $"{Title(b)}: mean / std / saturated" },
                layers.Select(l => new[] { l, Cell(last[a], l), Cell(last[b], l) }).ToArray());
        }

        page.Heading("Training loss");
        Line(page, "Cross-entropy of the step's mini-batch (every 100 steps)", "training step", "loss (nats)",
            diagnostics.Keys.Select(n => Named(Title(n), m.Series("train", $"{n}/loss"))).Where(x => x.Y.All(v => v > 0 && double.IsFinite(v))).ToList(), logY: true);
        page.Save(run);
    }

    static IEnumerable<string> Fig1Networks(BatchNormSummary s) =>
        new[] { ("plain", s.PlainTestAccuracy), ("bn", s.BnTestAccuracy) }.Where(p => p.Item2 is not null).Select(p => p.Item1);

    static IEnumerable<(string, string)> Pairs(IReadOnlyDictionary<string, DiagnosticsReport> d)
    {
        if (d.ContainsKey("plain") && d.ContainsKey("bn")) yield return ("plain", "bn");
        if (d.ContainsKey("plain_high_lr") && d.ContainsKey("bn_high_lr")) yield return ("plain_high_lr", "bn_high_lr");
    }

    static string Cell(Dictionary<string, ActivationSample> samples, string layer) =>
        samples.TryGetValue(layer, out var x) ? $"{Num(x.Mean, "F3")} / {Num(x.Std, "F3")} / {(x.Saturated is double f ? f.ToString("P1", Inv) : "—")}" : "—";

    static Series Named(string name, (double[] Steps, double[] Values) s) => new(name, s.Steps, s.Values);

    static void Percentiles(HtmlPage page, string title, MetricsLog m, string network) =>
        Line(page, title, "training step", "sigmoid input",
            new[] { "p15", "p50", "p85" }.Select(p => Named($"{p[1..]}th percentile", m.Series("probe", $"{network}/{p}"))).ToList());

    // A line chart of the series that have points (none after a resume that sampled nothing): no chart at all when none has.
    static void Line(HtmlPage page, string title, string xTitle, string yTitle, IReadOnlyList<Series> series, bool logY = false)
    {
        var drawn = series.Where(x => x.X.Length > 0).ToList();
        if (drawn.Count > 0) page.Chart(Charts.Line(title, xTitle, yTitle, drawn, logY));
    }
}
