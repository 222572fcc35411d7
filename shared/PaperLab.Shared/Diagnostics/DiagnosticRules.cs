using System.Globalization;

namespace PaperLab.Diagnostics;

/// <summary>
/// The rules that turn samples into findings. A pure function of the samples, so that each rule can be
/// tested on made-up numbers and a report can be re-judged with other thresholds.
/// </summary>
/// <remarks>
/// What each rule reads:
/// <list type="bullet">
/// <item>non_finite: any NaN/∞ in the loss, a layer's output, a weight or a gradient (the first occurrence of each kind).</item>
/// <item>loss_diverging: the latest sampled loss against the first.</item>
/// <item>exploding_gradients: each parameter's largest gradient norm against its first.</item>
/// <item>vanishing_gradients: at the latest sample, ‖g‖/‖w‖ of the weight matrices, smallest against largest.</item>
/// <item>update_ratio_high / _low: each weight matrix's median log10(‖Δw‖/‖w‖) over the samples (weight matrices
/// only, as Karpathy plots them: a bias or a gain starting at 0 or 1 has no meaningful ratio).</item>
/// <item>saturated / dead_units: each layer's latest sample.</item>
/// </list>
/// </remarks>
public static class DiagnosticRules
{
    /// <summary>The findings the samples support, errors first, then by first step.</summary>
    /// <param name="activations">Layer outputs at the sampled steps.</param>
    /// <param name="parameters">Parameters at the sampled steps.</param>
    /// <param name="losses">Finite losses at the sampled steps.</param>
    /// <param name="firstNonFiniteLoss">The first step whose loss was NaN or ∞, if any.</param>
    /// <param name="t">Thresholds.</param>
    public static IReadOnlyList<Finding> Evaluate(IReadOnlyList<ActivationSample> activations, IReadOnlyList<ParameterSample> parameters,
                                                  IReadOnlyList<LossSample> losses, (long Step, double Loss)? firstNonFiniteLoss,
                                                  DiagnosticsThresholds t)
    {
        var found = new List<Finding>();
        void Add(Severity s, string check, string layer, string what, long first, long last, double value) =>
            found.Add(new Finding(s, check, layer, what, Checks.Remedy(check), first, last, value));

        // non_finite
        if (firstNonFiniteLoss is { } nl)
            Add(Severity.Error, Checks.NonFinite, "loss", $"the loss was {F(nl.Loss)} at step {nl.Step}", nl.Step, nl.Step, 0);
        var badActivations = activations.Where(a => !a.Finite).ToList();
        if (badActivations.Count > 0)
        {
            var first = badActivations[0];
            int layers = badActivations.Select(a => a.Layer).Distinct().Count();
            Add(Severity.Error, Checks.NonFinite, first.Layer,
                $"NaN or ∞ in the output of {first.Layer} at step {first.Step}" + (layers > 1 ? $" (and in {layers - 1} more layers later)" : ""),
                first.Step, badActivations[^1].Step, 0);
        }
        var badParameters = parameters.Where(p => !p.Finite).ToList();
        if (badParameters.Count > 0)
        {
            var first = badParameters[0];
            int names = badParameters.Select(p => p.Parameter).Distinct().Count();
            Add(Severity.Error, Checks.NonFinite, first.Parameter,
                $"NaN or ∞ in the weights or gradient of {first.Parameter} at step {first.Step}" + (names > 1 ? $" (and {names - 1} more parameters)" : ""),
                first.Step, badParameters[^1].Step, 0);
        }

        // loss_diverging
        if (losses.Count >= 2 && losses[0].Loss > 0)
        {
            var last = losses[^1];
            double factor = last.Loss / losses[0].Loss;
            if (factor > t.LossDivergingFactor)
                Add(Severity.Error, Checks.LossDiverging, "loss",
                    $"the loss rose from {F(losses[0].Loss)} at step {losses[0].Step} to {F(last.Loss)} at step {last.Step} (×{F(factor)})",
                    losses.First(l => l.Loss > t.LossDivergingFactor * losses[0].Loss).Step, last.Step, factor);
        }

        foreach (var group in parameters.GroupBy(p => p.Parameter))
        {
            var samples = group.ToList();
            string name = group.Key;

            // exploding_gradients
            var grads = samples.Where(s => s.GradNorm is not null).ToList();
            if (grads.Count >= 2 && grads[0].GradNorm > 0)
            {
                var worst = grads.Skip(1).MaxBy(s => s.GradNorm!.Value)!;
                double factor = worst.GradNorm!.Value / grads[0].GradNorm!.Value;
                if (factor > t.ExplodingFactor)
                    Add(Severity.Error, Checks.ExplodingGradients, name,
                        $"the gradient norm grew from {F(grads[0].GradNorm!.Value)} at step {grads[0].Step} to {F(worst.GradNorm!.Value)} at step {worst.Step} (×{F(factor)})",
                        grads.First(s => s.GradNorm > t.ExplodingFactor * grads[0].GradNorm).Step, worst.Step, factor);
            }

            // update_ratio_high / update_ratio_low, weight matrices only
            if (samples[0].Dims < 2) continue;
            var ratios = samples.Where(s => s.WeightNorm is > 0 && s.UpdateNorm is not null)
                                .Select(s => (s.Step, Log: s.UpdateRatioLog10 ?? double.NegativeInfinity)).ToList();
            if (ratios.Count == 0) continue;
            double median = Median(ratios.Select(r => r.Log));
            long firstStep = ratios[0].Step, lastStep = ratios[^1].Step;
            if (double.IsNegativeInfinity(median) && ratios.All(r => double.IsNegativeInfinity(r.Log)))
                Add(Severity.Error, Checks.UpdateRatioLow, name, $"the weights never changed in {ratios.Count} sampled steps", firstStep, lastStep, -99);   // log10 0 = −∞, which JSON cannot hold
            else if (median < t.UpdateRatioLow)
                Add(Severity.Warning, Checks.UpdateRatioLow, name,
                    $"median log10(update/weight) {F(median)} over {ratios.Count} sampled steps (healthy ≈ −3)", firstStep, lastStep, Clamp(median));
            else if (median > t.UpdateRatioHigh)
                Add(median > t.UpdateRatioHighError ? Severity.Error : Severity.Warning, Checks.UpdateRatioHigh, name,
                    $"median log10(update/weight) {F(median)} over {ratios.Count} sampled steps: each step changes the weights by {Percent(Math.Pow(10, median))} (healthy ≈ −3, 0.1%)",
                    firstStep, lastStep, median);
        }

        // vanishing_gradients: at the latest sampled step, among the weight matrices
        if (parameters.Count > 0)
        {
            long latest = parameters[^1].Step;
            var matrices = parameters.Where(p => p.Step == latest && p.Dims >= 2 && p.GradToWeight is not null).ToList();
            if (matrices.Count >= 2)
            {
                var smallest = matrices.MinBy(p => p.GradToWeight!.Value)!;
                var largest = matrices.MaxBy(p => p.GradToWeight!.Value)!;
                if (largest.GradToWeight > 0 && smallest.GradToWeight < t.VanishingFactor * largest.GradToWeight)
                {
                    double factor = smallest.GradToWeight!.Value / largest.GradToWeight!.Value;
                    Add(Severity.Warning, Checks.VanishingGradients, smallest.Parameter,
                        factor == 0
                            ? $"no gradient reaches {smallest.Parameter} at step {latest} (‖g‖ = 0)"
                            : $"‖g‖/‖w‖ of {smallest.Parameter} is {F(smallest.GradToWeight!.Value)}, {F(1 / factor)}× smaller than {largest.Parameter}'s {F(largest.GradToWeight!.Value)} at step {latest}",
                        latest, latest, factor);
                }
            }
        }

        // saturated / dead_units: each layer's latest sample
        foreach (var group in activations.Where(a => a.Finite).GroupBy(a => a.Layer))
        {
            var latest = group.Last();
            if (latest.Saturated is { } s && s > t.SaturatedWarning)
            {
                long first = group.First(a => a.Saturated > t.SaturatedWarning).Step;
                Add(s > t.SaturatedError ? Severity.Error : Severity.Warning, Checks.Saturated, group.Key,
                    $"{Percent(s)} of the {latest.Kind.ToString().ToLowerInvariant()} outputs are saturated at step {latest.Step} (since step {first})",
                    first, latest.Step, s);
            }
            if (latest.DeadUnits is { } d && d > t.DeadWarning)
            {
                long first = group.First(a => a.DeadUnits > t.DeadWarning).Step;
                Add(d > t.DeadError ? Severity.Error : Severity.Warning, Checks.DeadUnits, group.Key,
                    $"{Percent(d)} of the ReLU units output 0 for every example of the batch at step {latest.Step} (since step {first})",
                    first, latest.Step, d);
            }
        }

        return found.OrderByDescending(f => f.Severity).ThenBy(f => f.FirstStep).ToList();
    }

    static double Median(IEnumerable<double> values)
    {
        var v = values.OrderBy(x => x).ToArray();
        return v.Length % 2 == 1 ? v[v.Length / 2] : (v[v.Length / 2 - 1] + v[v.Length / 2]) / 2;
    }

    // JSON cannot hold ±∞: −∞ (no update on most steps) is reported as −99.
    static double Clamp(double v) => double.IsNegativeInfinity(v) ? -99 : v;

    // 3 significant figures or so: 1,212 / 4.39 / 0.005 / 4.39e-6
    static string F(double v)
    {
        if (!double.IsFinite(v)) return v.ToString(CultureInfo.InvariantCulture);
        double a = Math.Abs(v);
        string format = a == 0 ? "0" : a >= 1e6 || a < 1e-3 ? "0.00e0" : a >= 100 ? "#,0" : a >= 1 ? "0.##" : "0.###";
        return v.ToString(format, CultureInfo.InvariantCulture);
    }

    static string Percent(double fraction) => (100 * fraction).ToString("0.#", CultureInfo.InvariantCulture) + "%";
}
