using System.Text.Json.Serialization;

namespace PaperLab.Diagnostics;

/// <summary>How much a finding matters.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<Severity>))]
public enum Severity
{
    /// <summary>Worth knowing; training may still be fine.</summary>
    Info,
    /// <summary>Training is probably slowed or hurt.</summary>
    Warning,
    /// <summary>Training is broken (NaN, divergence, a layer that cannot learn).</summary>
    Error,
}

/// <summary>
/// One plain-language finding of the diagnostics: what looks wrong, where, and the usual remedy. Serialised
/// into summary.json under <c>diagnostics</c>.
/// </summary>
/// <param name="Severity">How much it matters.</param>
/// <param name="Check">The rule that fired, a stable id: see <see cref="Checks"/>.</param>
/// <param name="Layer">The layer or parameter ("fc1", "fc1.weight"), or "loss" / "model" for whole-model findings.</param>
/// <param name="What">What was measured, with the numbers.</param>
/// <param name="Remedy">What usually fixes it (Tobin's troubleshooting guide, Karpathy's makemore part 3).</param>
/// <param name="FirstStep">First sampled step where the condition held.</param>
/// <param name="LastStep">Last sampled step where it held.</param>
/// <param name="Value">The value judged (its unit is given in <paramref name="What"/>).</param>
public sealed record Finding(
    [property: JsonPropertyName("severity")] Severity Severity,
    [property: JsonPropertyName("check")] string Check,
    [property: JsonPropertyName("layer")] string Layer,
    [property: JsonPropertyName("what")] string What,
    [property: JsonPropertyName("remedy")] string Remedy,
    [property: JsonPropertyName("first_step")] long FirstStep,
    [property: JsonPropertyName("last_step")] long LastStep,
    [property: JsonPropertyName("value")] double Value)
{
    /// <summary>"warning fc1: … → remedy", for the terminal.</summary>
    public override string ToString() => $"{Severity.ToString().ToLowerInvariant()} [{Check}] {Layer}: {What} → {Remedy}";
}

/// <summary>The ids of the rules and their remedies, in one place so that reports and notebooks can quote them.</summary>
/// <remarks>
/// Sources: J. Tobin, "Troubleshooting Deep Neural Networks" (Full Stack Deep Learning, 2019) — its
/// "overfit a single batch" table and its list of numerical-instability causes; A. Karpathy, "Building makemore
/// Part 3: Activations &amp; Gradients, BatchNorm" (2022) — saturated tanh units, dead ReLUs, the gradient-to-data
/// and update-to-data ratios (log10 about −3 when the learning rate is right), initialisation gains.
/// </remarks>
public static class Checks
{
    /// <summary>NaN or ±∞ in the loss, an activation, a gradient or a weight.</summary>
    public const string NonFinite = "non_finite";
    /// <summary>The loss grew far above its first value.</summary>
    public const string LossDiverging = "loss_diverging";
    /// <summary>A gradient norm grew by orders of magnitude during training.</summary>
    public const string ExplodingGradients = "exploding_gradients";
    /// <summary>One weight matrix gets a gradient (relative to its size) orders of magnitude below another's.</summary>
    public const string VanishingGradients = "vanishing_gradients";
    /// <summary>Updates are a large fraction of the weights each step.</summary>
    public const string UpdateRatioHigh = "update_ratio_high";
    /// <summary>Updates are a negligible fraction of the weights, or zero.</summary>
    public const string UpdateRatioLow = "update_ratio_low";
    /// <summary>Many sigmoid/tanh outputs sit on the flat ends of the curve.</summary>
    public const string Saturated = "saturated";
    /// <summary>Many ReLU units output 0 for every example of the batch.</summary>
    public const string DeadUnits = "dead_units";
    /// <summary>Layers were hooked but none reported an output: the model runs them with forward(), which skips hooks.</summary>
    public const string ActivationsUnseen = "activations_unseen";

    /// <summary>The remedy quoted for each check.</summary>
    public static string Remedy(string check) => check switch
    {
        NonFinite => "numerical instability (Tobin): lower the learning rate, clip the gradient norm, use the library's fused "
                     + "log_softmax/cross_entropy instead of log(softmax(x)), and check the inputs for NaN or ∞",
        LossDiverging => "the error explodes (Tobin): the learning rate is too high or a sign is flipped in the loss; lower the "
                         + "learning rate (the LR range test, --find-lr, finds a safe one) or add gradient clipping",
        ExplodingGradients => "lower the learning rate, clip the gradient norm, and normalise activations (batch or layer "
                              + "normalisation); check that the initial weights are scaled by 1/√fan_in",
        VanishingGradients => "the signal shrinks on its way back: initialise with the nonlinearity's gain/√fan_in (Kaiming; "
                              + "tanh gain 5/3), add batch normalisation or residual connections, prefer ReLU-family activations "
                              + "to saturating ones",
        UpdateRatioHigh => "updates are too large for the weights: lower the learning rate (log10 update/weight ≈ −3 is "
                           + "healthy, Karpathy), or warm it up",
        UpdateRatioLow => "the layer barely learns: raise the learning rate; if the update is exactly 0, the optimizer does not "
                          + "hold this parameter, the learning rate is 0, or no gradient reaches it",
        Saturated => "the pre-activations are too large, so the units sit where the gradient is ~0: scale the initial weights "
                     + "down (gain/√fan_in), normalise the inputs, or add batch normalisation before the nonlinearity",
        DeadUnits => "these ReLUs never fire, so they never learn: a large negative bias or a too-high learning rate pushed them "
                     + "off; start biases at 0, lower the learning rate, use Kaiming initialisation, or LeakyReLU/GELU",
        ActivationsUnseen => "TorchSharp runs forward hooks only through module.call(x): call the layers with call() instead of "
                             + "forward(), or report outputs with TrainingDiagnostics.Observe (needed for functional activations too)",
        _ => throw new ArgumentException($"unknown check '{check}'", nameof(check)),
    };
}

/// <summary>
/// Where the diagnostics draw the line. The defaults are the usual rules of thumb; each can be changed.
/// </summary>
public sealed record DiagnosticsThresholds
{
    /// <summary>Fraction of sigmoid/tanh outputs saturated (|tanh| &gt; 0.97, or a sigmoid within 0.015 of 0 or 1)
    /// above which a warning is given (default 0.25; Karpathy keeps it to a few percent).</summary>
    public double SaturatedWarning { get; init; } = 0.25;
    /// <summary>… and above which it is an error (default 0.6).</summary>
    public double SaturatedError { get; init; } = 0.6;
    /// <summary>Fraction of ReLU units dead on the whole batch above which a warning is given (default 0.2).</summary>
    public double DeadWarning { get; init; } = 0.2;
    /// <summary>… and above which it is an error (default 0.6).</summary>
    public double DeadError { get; init; } = 0.6;
    /// <summary>Median log10(‖Δw‖/‖w‖) of a weight matrix above which updates are too large (default −1.5: 3% a step).</summary>
    public double UpdateRatioHigh { get; init; } = -1.5;
    /// <summary>… above which it is an error (default −0.5: 30% a step).</summary>
    public double UpdateRatioHighError { get; init; } = -0.5;
    /// <summary>Median log10(‖Δw‖/‖w‖) below which the layer barely learns (default −5).</summary>
    public double UpdateRatioLow { get; init; } = -5.0;
    /// <summary>A gradient norm this many times its first sampled value is exploding (default 100).</summary>
    public double ExplodingFactor { get; init; } = 100.0;
    /// <summary>Smallest ‖g‖/‖w‖ of the weight matrices below this fraction of the largest is vanishing (default 1e-3).</summary>
    public double VanishingFactor { get; init; } = 1e-3;
    /// <summary>A loss this many times its first sampled value is diverging (default 3).</summary>
    public double LossDivergingFactor { get; init; } = 3.0;
}
