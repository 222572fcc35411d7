using System.Text.Json.Serialization;
using TorchSharp;
using static TorchSharp.torch;

namespace PaperLab.Diagnostics;

/// <summary>The sweep of the learning-rate range test.</summary>
/// <param name="StartLr">First learning rate (fast.ai: 1e-7).</param>
/// <param name="EndLr">Last learning rate if the loss never diverges (fast.ai: 10).</param>
/// <param name="Steps">Training steps in the sweep, one learning rate each (fast.ai: 100).</param>
/// <param name="Smoothing">β of the exponential moving average of the loss, debiased (fast.ai: 0.98).</param>
/// <param name="DivergeFactor">Stop when the smoothed loss exceeds this many times its minimum so far (fast.ai: 4).</param>
public sealed record LrFinderOptions(double StartLr = 1e-7, double EndLr = 10, int Steps = 100, double Smoothing = 0.98, double DivergeFactor = 4)
{
    /// <summary>Checks the sweep.</summary>
    /// <exception cref="ArgumentException">A learning rate is not positive, EndLr ≤ StartLr, Steps &lt; 5, Smoothing outside [0, 1), DivergeFactor ≤ 1.</exception>
    public void Validate()
    {
        if (!(StartLr > 0) || !(EndLr > StartLr)) throw new ArgumentException($"the sweep needs 0 < StartLr < EndLr, got {StartLr} → {EndLr}");
        if (Steps < 5) throw new ArgumentException($"the sweep needs at least 5 steps, got {Steps}");
        if (!(Smoothing >= 0 && Smoothing < 1)) throw new ArgumentException($"Smoothing must be in [0, 1), got {Smoothing}");
        if (!(DivergeFactor > 1)) throw new ArgumentException($"DivergeFactor must be above 1, got {DivergeFactor}");
    }

    /// <summary>The learning rate of sweep step i: StartLr·(EndLr/StartLr)^(i/(Steps − 1)), exponential.</summary>
    public double LearningRate(int i) => StartLr * Math.Pow(EndLr / StartLr, (double)i / (Steps - 1));
}

/// <summary>The curve of a learning-rate range test and the value it suggests (summary.json: <c>suggested_lr</c>).</summary>
/// <param name="LearningRates">Learning rate of each step taken.</param>
/// <param name="Losses">The loss each step returned (at that learning rate).</param>
/// <param name="SmoothedLosses">Debiased exponential moving average of the losses.</param>
/// <param name="SuggestedLr">The suggestion: <see cref="MinimumLr"/>/10 (the rule in <see cref="Rule"/>).</param>
/// <param name="MinimumLr">Learning rate at the minimum of the smoothed loss.</param>
/// <param name="SteepestLr">Learning rate where the smoothed loss falls fastest per decade, before the minimum (fast.ai's lr_steep); for comparison.</param>
/// <param name="Rule">How <see cref="SuggestedLr"/> was chosen.</param>
/// <param name="StoppedEarly">The loss diverged (or became NaN) before EndLr.</param>
/// <param name="Note">A caution when the curve gives little to go on (the loss never fell), else null.</param>
public sealed record LrFinderResult(
    [property: JsonPropertyName("learning_rates")] double[] LearningRates,
    [property: JsonPropertyName("losses")] double[] Losses,
    [property: JsonPropertyName("smoothed_losses")] double[] SmoothedLosses,
    [property: JsonPropertyName("suggested_lr")] double SuggestedLr,
    [property: JsonPropertyName("minimum_lr")] double MinimumLr,
    [property: JsonPropertyName("steepest_lr")] double SteepestLr,
    [property: JsonPropertyName("rule")] string Rule,
    [property: JsonPropertyName("stopped_early")] bool StoppedEarly,
    [property: JsonPropertyName("note")] string? Note);

/// <summary>
/// The learning-rate range test (L. N. Smith, "Cyclical Learning Rates for Training Neural Networks",
/// WACV 2017, §3.3; fast.ai's <c>lr_find</c>): train for a few steps while the learning rate grows
/// exponentially from tiny to huge, watch the loss, and pick a value where it still falls fast.
/// </summary>
/// <remarks>
/// <para>Smith's §3.3 runs the network "for several epochs while letting the learning rate increase linearly
/// between low and high LR values" and reads off where accuracy starts to rise and where it turns ragged;
/// fast.ai's version, used here, sweeps exponentially over about 100 mini-batches, smooths the loss with a
/// debiased moving average (β = 0.98) and stops once the smoothed loss exceeds 4× its minimum.</para>
/// <para>The suggestion is the learning rate at the minimum of the smoothed loss divided by 10 ("one order of
/// magnitude before the minimum", fast.ai's <c>lr_min</c>): at the minimum the loss is already about to blow up,
/// and the steepest point (also reported) is noisier. Like fast.ai, both are looked for without the first tenth of
/// the sweep (where the moving average has seen few losses) and the last 5 steps. The sweep trains the model:
/// reload the initial weights before a real run (fast.ai does; the <c>--find-lr</c> flag ends the run instead).</para>
/// </remarks>
public static class LearningRateFinder
{
    /// <summary>The rule behind <see cref="LrFinderResult.SuggestedLr"/>.</summary>
    public const string MinimumOverTen = "minimum of the smoothed loss / 10";

    /// <summary>Runs the sweep: step i calls <paramref name="step"/>(lr_i), which must train one step at that
    /// learning rate (on the next mini-batch) and return its loss.</summary>
    /// <param name="step">lr → loss of one training step at lr.</param>
    /// <param name="options">The sweep; null: fast.ai's defaults (1e-7 → 10, 100 steps).</param>
    /// <exception cref="ArgumentException">Bad options.</exception>
    /// <exception cref="InvalidOperationException">The very first loss is not finite (nothing to measure against).</exception>
    public static LrFinderResult Run(Func<double, double> step, LrFinderOptions? options = null)
    {
        var sweep = new LrSweep(options);
        while (sweep.Next() is double lr) sweep.Add(step(lr));
        return sweep.Result();
    }

    /// <summary>The result of a finished sweep (see <see cref="LrSweep"/>).</summary>
    internal static LrFinderResult Result(LrFinderOptions o, List<double> lrs, List<double> losses, List<double> smoothed, bool stopped)
    {
        if (lrs.Count == 0) throw new InvalidOperationException("the sweep took no step");
        var (minimum, steepest) = Suggest(lrs, smoothed);
        var (from, to) = Window(lrs.Count);
        double start = smoothed[from], lowest = smoothed.Skip(from).Take(to - from).Min();
        string? note = lowest > 0.9 * start
            ? $"the smoothed loss never fell 10% below its value at learning rate {lrs[from]:g3} ({start:g4} → lowest {lowest:g4}): "
              + "the sweep found no range where this model learns quickly; try more steps (a slower model needs more than "
              + $"{o.Steps} batches to show a fall) or look for a bug with the overfit-one-batch check"
            : null;
        return new LrFinderResult([.. lrs], [.. losses], [.. smoothed], minimum / 10, minimum, steepest, MinimumOverTen, stopped, note);
    }

    // the points a suggestion may come from: without the first tenth and the last 5, as fast.ai (when enough remain)
    internal static (int From, int To) Window(int n)
    {
        int from = n / 10, to = n - 5;
        return to - from >= 3 ? (from, to) : (0, n);
    }

    /// <summary>Runs the sweep on a TorchSharp optimizer: sets every parameter group's learning rate, then calls
    /// <paramref name="step"/>, which trains one step (zero_grad, loss, backward, optimizer.step) and returns its loss.</summary>
    /// <param name="optimizer">The optimizer whose learning rate is swept.</param>
    /// <param name="step">One training step on the next mini-batch; returns the loss.</param>
    /// <param name="options">The sweep; null: fast.ai's defaults.</param>
    public static LrFinderResult Run(optim.Optimizer optimizer, Func<double> step, LrFinderOptions? options = null) =>
        Run(lr =>
        {
            foreach (var group in optimizer.ParamGroups) group.LearningRate = lr;
            return step();
        }, options);

    /// <summary>The learning rate at the minimum of the smoothed curve, and the one where it falls fastest
    /// (most negative d loss / d log10 lr, by central differences, before the minimum), both looked for without the
    /// first tenth of the points and the last 5.</summary>
    /// <param name="learningRates">Increasing learning rates.</param>
    /// <param name="smoothed">Smoothed losses, one per learning rate.</param>
    /// <exception cref="ArgumentException">Empty or mismatched lists.</exception>
    public static (double MinimumLr, double SteepestLr) Suggest(IReadOnlyList<double> learningRates, IReadOnlyList<double> smoothed)
    {
        if (learningRates.Count == 0 || learningRates.Count != smoothed.Count)
            throw new ArgumentException($"need as many smoothed losses as learning rates, at least one (got {learningRates.Count} and {smoothed.Count})");
        var (from, to) = Window(smoothed.Count);
        int min = from;
        for (int i = from + 1; i < to; i++) if (smoothed[i] < smoothed[min]) min = i;
        int steep = min;
        double steepest = double.PositiveInfinity;
        for (int i = Math.Max(1, from); i < min; i++)
        {
            double slope = (smoothed[i + 1] - smoothed[i - 1]) / (Math.Log10(learningRates[i + 1]) - Math.Log10(learningRates[i - 1]));
            if (slope < steepest) { steepest = slope; steep = i; }
        }
        return (learningRates[min], learningRates[steep]);
    }
}

/// <summary>
/// The range test one step at a time, for a driver that owns the loop (the shared TrainingLoop's
/// <c>--find-lr</c>): <see cref="Next"/> gives the learning rate of the next step (null when the sweep is
/// over), <see cref="Add"/> takes that step's loss, <see cref="Result"/> reads the curve off.
/// </summary>
public sealed class LrSweep
{
    readonly LrFinderOptions _o;
    readonly List<double> _lrs = new(), _losses = new(), _smoothed = new();
    double _average, _best = double.PositiveInfinity;
    bool _stopped, _done;

    /// <param name="options">The sweep; null: fast.ai's defaults (1e-7 → 10, 100 steps).</param>
    /// <exception cref="ArgumentException">Bad options.</exception>
    public LrSweep(LrFinderOptions? options = null)
    {
        _o = options ?? new LrFinderOptions();
        _o.Validate();
    }

    /// <summary>Steps taken so far.</summary>
    public int Count => _lrs.Count;

    /// <summary>The learning rate of the next step, or null when the sweep has ended (all steps taken, or diverged).</summary>
    public double? Next() => _done || _lrs.Count >= _o.Steps ? null : _o.LearningRate(_lrs.Count);

    /// <summary>The loss of the step taken at <see cref="Next"/>'s learning rate.</summary>
    /// <exception cref="InvalidOperationException">The very first loss is not finite.</exception>
    public void Add(double loss)
    {
        int i = _lrs.Count;
        double lr = _o.LearningRate(i);
        if (!double.IsFinite(loss))
        {
            if (i == 0) throw new InvalidOperationException($"the first loss of the sweep (learning rate {lr:g3}) is {loss}: the model or the loss is broken before any learning-rate effect");
            _stopped = _done = true;
            return;
        }
        _average = _o.Smoothing * _average + (1 - _o.Smoothing) * loss;
        double debiased = _average / (1 - Math.Pow(_o.Smoothing, i + 1));
        _lrs.Add(lr);
        _losses.Add(loss);
        _smoothed.Add(debiased);
        _best = Math.Min(_best, debiased);
        if (i > 0 && debiased > _o.DivergeFactor * _best) _stopped = _done = true;
    }

    /// <summary>The curve and the suggestion.</summary>
    /// <exception cref="InvalidOperationException">No step was taken.</exception>
    public LrFinderResult Result() => LearningRateFinder.Result(_o, _lrs, _losses, _smoothed, _stopped);
}
