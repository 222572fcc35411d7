using System.Text.Json.Serialization;

namespace PaperLab.Diagnostics;

/// <summary>The budget and the goal of the overfit-one-batch check.</summary>
/// <param name="MaxSteps">Updates allowed before giving up (default 500).</param>
/// <param name="TargetLoss">"Near zero": the loss at or below this counts as fitted (default 0.01; for a cross-entropy
/// that is about 99% probability on every right answer). A loss with a floor above 0 (a noise-prediction loss, a
/// KL term) needs its own target.</param>
public sealed record OverfitOptions(int MaxSteps = 500, double TargetLoss = 0.01);

/// <summary>The outcome of the overfit-one-batch check (summary.json: <c>overfit_steps</c>).</summary>
/// <param name="Reached">The loss reached the target.</param>
/// <param name="Steps">Updates after which the batch's loss was first at or below the target; when not reached, the updates made.</param>
/// <param name="InitialLoss">Loss before any update.</param>
/// <param name="FinalLoss">Last loss measured.</param>
/// <param name="Losses">Every loss measured (the loss of call i is before update i).</param>
/// <param name="Diagnosis">When not reached: what the curve suggests and what to try (Tobin's table); null when reached.</param>
/// <remarks>A loss that became NaN or ∞ is kept, and written to JSON as the strings "NaN", "Infinity".</remarks>
public sealed record OverfitResult(
    [property: JsonPropertyName("reached")] bool Reached,
    [property: JsonPropertyName("overfit_steps")] int Steps,
    [property: JsonPropertyName("initial_loss"), JsonNumberHandling(JsonNumberHandling.AllowNamedFloatingPointLiterals)] double InitialLoss,
    [property: JsonPropertyName("final_loss"), JsonNumberHandling(JsonNumberHandling.AllowNamedFloatingPointLiterals)] double FinalLoss,
    [property: JsonPropertyName("losses"), JsonNumberHandling(JsonNumberHandling.AllowNamedFloatingPointLiterals)] double[] Losses,
    [property: JsonPropertyName("diagnosis")] string? Diagnosis)
{
    /// <summary>Throws with the diagnosis when the target was not reached.</summary>
    /// <exception cref="OverfitFailedException">The model could not fit the batch within the budget.</exception>
    public void ThrowIfFailed()
    {
        if (!Reached) throw new OverfitFailedException(this);
    }
}

/// <summary>The model could not drive the loss of one fixed batch near zero; the message says how the loss behaved and what to try.</summary>
public sealed class OverfitFailedException(OverfitResult result)
    : Exception($"could not overfit one batch: the loss went from {result.InitialLoss:g4} to {result.FinalLoss:g4} in {result.Steps} steps "
                + $"(target ≤ the given target loss). {result.Diagnosis}")
{
    /// <summary>The full result.</summary>
    public OverfitResult Result { get; } = result;
}

/// <summary>
/// The first check of Tobin's "Troubleshooting Deep Neural Networks": train on one fixed batch until the loss is
/// near zero. A model that can learn anything can memorise a handful of examples; when it cannot, there is a bug
/// (in the loss, the data pipeline, the optimizer set-up) or the learning rate is wrong, and the shape of the
/// loss curve says which.
/// </summary>
public static class OverfitOneBatch
{
    /// <summary>
    /// Calls <paramref name="step"/> until the loss it returns is at or below the target, or the budget is spent.
    /// </summary>
    /// <param name="step">One update on the same fixed batch (zero_grad, loss, backward, optimizer.step), returning the
    /// loss computed before the update. Turn dropout and data augmentation off: the batch must stay the same.</param>
    /// <param name="options">Budget and target; null: 500 steps, loss ≤ 0.01.</param>
    /// <returns>The result; <see cref="OverfitResult.ThrowIfFailed"/> turns a failure into an exception.</returns>
    /// <exception cref="ArgumentException">MaxSteps &lt; 1 or a negative target.</exception>
    public static OverfitResult Run(Func<double> step, OverfitOptions? options = null)
    {
        var o = options ?? new OverfitOptions();
        if (o.MaxSteps < 1) throw new ArgumentException($"MaxSteps must be at least 1, got {o.MaxSteps}", nameof(options));
        if (!(o.TargetLoss >= 0)) throw new ArgumentException($"TargetLoss must be ≥ 0, got {o.TargetLoss}", nameof(options));
        var losses = new List<double>();
        for (int i = 0; i <= o.MaxSteps; i++)
        {
            double loss = step();
            losses.Add(loss);
            if (loss <= o.TargetLoss) return new OverfitResult(true, i, losses[0], loss, [.. losses], null);
            if (!double.IsFinite(loss)) break;
        }
        var curve = losses.ToArray();
        return new OverfitResult(false, curve.Length - 1, curve[0], curve[^1], curve, Diagnose(curve, o.TargetLoss));
    }

    /// <summary>
    /// What a loss curve that never reached the target suggests (Tobin's "overfit a single batch" table: the
    /// error goes up, explodes, oscillates or plateaus), plus the case of a loss that never moves at all.
    /// </summary>
    /// <param name="losses">The losses measured, first to last (at least one).</param>
    /// <param name="target">The target that was not reached.</param>
    public static string Diagnose(IReadOnlyList<double> losses, double target)
    {
        double first = losses[0], last = losses[^1];
        var finite = losses.Where(double.IsFinite).ToList();
        if (!double.IsFinite(last))
            return $"The loss became {last} after {losses.Count - 1} updates: the error explodes — a numerical issue (log of 0, division by a "
                   + "tiny number; use the library's fused cross_entropy/log_softmax) or a learning rate far too high.";
        double spread = finite.Max() - finite.Min();
        if (spread <= 1e-7 * Math.Max(1, Math.Abs(first)))
            return "The loss did not move at all: the learning rate is 0, the optimizer was not given the model's parameters, "
                   + "requires_grad is off, or the output is detached from the parameters (a .detach(), a no_grad block, an integer cast).";
        if (last > first)
            return "The error goes up: a flipped sign in the loss or the gradient (maximising instead of minimising), or a learning rate too high.";
        double min = finite.Min();
        int tail = Math.Max(2, losses.Count / 4);
        var end = losses.Skip(losses.Count - tail).ToList();
        double endMean = end.Average();
        double endSpread = end.Max() - end.Min();
        if (endSpread > 0.5 * endMean && last > 2 * min)
            return "The error oscillates: lower the learning rate, and check the batch for wrongly labelled examples or inputs that "
                   + "do not match their targets (a shuffle applied to one and not the other).";
        return $"The error plateaus at {last:g4} (target {target:g4}): raise the learning rate, remove regularisation (dropout, weight "
               + "decay, augmentation), check the loss function and the data pipeline, or give the model more capacity — "
               + "or allow more steps.";
    }
}
