using System.Text.Json.Serialization;
using TorchSharp;
using static TorchSharp.torch;

namespace PaperLab.Diagnostics;

/// <summary>What a layer's output is, which decides what "unhealthy" means for it.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<ActivationKind>))]
public enum ActivationKind
{
    /// <summary>Any other output (linear, convolution, normalisation): mean and spread only.</summary>
    Linear,
    /// <summary>A logistic sigmoid: saturated near 0 and 1.</summary>
    Sigmoid,
    /// <summary>tanh: saturated near ±1.</summary>
    Tanh,
    /// <summary>A ReLU: dead when 0 for every example.</summary>
    Relu,
}

/// <summary>One layer's output at one sampled step.</summary>
/// <param name="Step">Training step (0-based).</param>
/// <param name="Layer">Module name as in named_modules ("fc1", "h.0.mlp.gelu"), or the name given to <see cref="TrainingDiagnostics.Observe"/>.</param>
/// <param name="Kind">Sigmoid, tanh, ReLU or other.</param>
/// <param name="Mean">Mean over every value of the output; null when some value is NaN or ∞.</param>
/// <param name="Std">Standard deviation over every value; null when some value is NaN or ∞.</param>
/// <param name="Saturated">Sigmoid/tanh: fraction of values with |tanh| &gt; 0.97 (sigmoid: |2σ − 1| &gt; 0.97, within 0.015 of 0 or 1); else null.</param>
/// <param name="DeadUnits">ReLU: fraction of units that are 0 on every example of the batch (units: dimension 1, or the last of a (B, T, C) output); else null.</param>
/// <param name="Finite">No NaN or ∞ in the output.</param>
public sealed record ActivationSample(
    [property: JsonPropertyName("step")] long Step,
    [property: JsonPropertyName("layer")] string Layer,
    [property: JsonPropertyName("kind")] ActivationKind Kind,
    [property: JsonPropertyName("mean")] double? Mean,
    [property: JsonPropertyName("std")] double? Std,
    [property: JsonPropertyName("saturated")] double? Saturated,
    [property: JsonPropertyName("dead_units")] double? DeadUnits,
    [property: JsonPropertyName("finite")] bool Finite);

/// <summary>One parameter tensor at one sampled step: sizes of the weight, its gradient and the optimizer's update.</summary>
/// <param name="Step">Training step (0-based).</param>
/// <param name="Parameter">Name as in named_parameters ("fc1.weight").</param>
/// <param name="Dims">Number of dimensions (2 and more: a weight matrix or kernel; 1: a bias or a gain).</param>
/// <param name="WeightNorm">‖w‖ (Frobenius) before the step; null if not finite.</param>
/// <param name="GradNorm">‖∂L/∂w‖ as the optimizer saw it (after any clipping); null if there was no gradient or it was not finite.</param>
/// <param name="UpdateNorm">‖w_after − w_before‖ of this step; null if not finite.</param>
/// <param name="Finite">Weight and gradient free of NaN and ∞.</param>
public sealed record ParameterSample(
    [property: JsonPropertyName("step")] long Step,
    [property: JsonPropertyName("parameter")] string Parameter,
    [property: JsonPropertyName("dims")] int Dims,
    [property: JsonPropertyName("weight_norm")] double? WeightNorm,
    [property: JsonPropertyName("grad_norm")] double? GradNorm,
    [property: JsonPropertyName("update_norm")] double? UpdateNorm,
    [property: JsonPropertyName("finite")] bool Finite)
{
    /// <summary>log10(‖Δw‖/‖w‖): about −3 is healthy (Karpathy); null if undefined, −∞ excluded (no update gives null too, see <see cref="NoUpdate"/>).</summary>
    [JsonPropertyName("update_ratio_log10")]
    public double? UpdateRatioLog10 => UpdateNorm is > 0 && WeightNorm is > 0 ? Math.Log10(UpdateNorm.Value / WeightNorm.Value) : null;

    /// <summary>The step left the weights exactly unchanged.</summary>
    [JsonPropertyName("no_update")]
    public bool NoUpdate => UpdateNorm == 0;

    /// <summary>‖g‖/‖w‖, comparable across layers of different sizes; null if undefined.</summary>
    [JsonPropertyName("grad_to_weight")]
    public double? GradToWeight => GradNorm is { } g && WeightNorm is > 0 ? g / WeightNorm.Value : null;
}

/// <summary>A histogram of a layer's output or a parameter's gradient at one step: equal bins from Min to Max.</summary>
/// <param name="Step">Training step.</param>
/// <param name="Name">Layer or parameter name.</param>
/// <param name="Of">"activation" or "gradient".</param>
/// <param name="Min">Lower edge of the first bin (the smallest finite value).</param>
/// <param name="Max">Upper edge of the last bin (the largest finite value).</param>
/// <param name="Counts">Values per bin (non-finite values left out).</param>
public sealed record ValueHistogram(
    [property: JsonPropertyName("step")] long Step,
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("of")] string Of,
    [property: JsonPropertyName("min")] double Min,
    [property: JsonPropertyName("max")] double Max,
    [property: JsonPropertyName("counts")] long[] Counts);

/// <summary>The loss given to <see cref="TrainingDiagnostics.EndStep"/> at a sampled step.</summary>
public sealed record LossSample([property: JsonPropertyName("step")] long Step, [property: JsonPropertyName("loss")] double Loss);

/// <summary>Everything the diagnostics recorded, JSON-serialisable (all numbers finite or null).</summary>
/// <param name="Every">Sampling period in steps.</param>
/// <param name="Findings">What looks wrong (summary.json's <c>diagnostics</c>).</param>
/// <param name="Activations">Per layer and sampled step.</param>
/// <param name="Parameters">Per parameter and sampled step.</param>
/// <param name="Losses">Loss at each sampled step.</param>
/// <param name="Histograms">At the histogram steps.</param>
public sealed record DiagnosticsReport(
    [property: JsonPropertyName("every")] int Every,
    [property: JsonPropertyName("findings")] IReadOnlyList<Finding> Findings,
    [property: JsonPropertyName("activations")] IReadOnlyList<ActivationSample> Activations,
    [property: JsonPropertyName("parameters")] IReadOnlyList<ParameterSample> Parameters,
    [property: JsonPropertyName("losses")] IReadOnlyList<LossSample> Losses,
    [property: JsonPropertyName("histograms")] IReadOnlyList<ValueHistogram> Histograms);

/// <summary>How often and what the diagnostics sample.</summary>
public sealed record DiagnosticsOptions
{
    /// <summary>Sample every N steps (steps 0, N, 2N, …); at least 1. Default 100.</summary>
    public int Every { get; init; } = 100;
    /// <summary>Steps at which histograms are also taken (they are sampled even off the period). Default: step 0 only.</summary>
    public IReadOnlyCollection<long> HistogramSteps { get; init; } = [0];
    /// <summary>Bins per histogram. Default 40.</summary>
    public int HistogramBins { get; init; } = 40;
    /// <summary>Where findings begin.</summary>
    public DiagnosticsThresholds Thresholds { get; init; } = new();

    /// <summary>Options for a run of <paramref name="totalSteps"/>: sample every <paramref name="every"/> steps and take
    /// histograms at four moments (start, one third, two thirds, last sampled step).</summary>
    /// <exception cref="ArgumentException">totalSteps or every below 1.</exception>
    public static DiagnosticsOptions ForRun(long totalSteps, int every = 100)
    {
        if (totalSteps < 1 || every < 1) throw new ArgumentException($"totalSteps ({totalSteps}) and every ({every}) must be at least 1");
        long last = (totalSteps - 1) / every * every;
        long Snap(long s) => s / every * every;
        return new DiagnosticsOptions { Every = every, HistogramSteps = new[] { 0, Snap(totalSteps / 3), Snap(2 * totalSteps / 3), last }.Distinct().ToArray() };
    }
}

/// <summary>
/// The troubleshooting instruments of a training run, for any TorchSharp module and any step function
/// (Karpathy's makemore part 3, Tobin's troubleshooting guide): every N steps, each layer's output (mean,
/// spread, saturated or dead fraction), each parameter's weight norm, gradient norm and update-to-weight
/// ratio; histograms at a few steps; and plain-language <see cref="Findings"/> with remedies.
/// </summary>
/// <remarks>
/// <para>Use around the optimizer step, in the step's dispose scope:</para>
/// <code>
/// diagnostics.BeginStep(step);          // arms the hooks and keeps a copy of the weights, on sampled steps
/// optimizer.zero_grad();
/// var loss = lossOf(model.call(x), y);  // hooked layers record their outputs here
/// loss.backward();
/// optimizer.step();
/// diagnostics.EndStep(loss.item&lt;float&gt;());   // reads gradients and updates; before the next zero_grad
/// </code>
/// <para><b>Hooks need <c>call</c>.</b> Activations are captured by forward hooks on every leaf
/// <c>Module&lt;Tensor, Tensor&gt;</c> (TorchSharp 0.107's <c>register_forward_hook</c>). TorchSharp runs hooks
/// only when a module is invoked with <c>module.call(x)</c> (PyTorch's <c>module(x)</c>) — <c>forward(x)</c> skips
/// them — and <c>Sequential</c> uses <c>call</c>. A model that runs its layers with <c>forward</c>, or applies its
/// nonlinearity functionally (<c>functional.relu(...)</c>), can report those outputs with <see cref="Observe"/>.
/// Only the first output of a layer per step is recorded.</para>
/// <para>Cost: off the sampled steps, one flag test per layer call; on them, a copy of the weights and a few
/// reductions per layer and parameter.</para>
/// </remarks>
public sealed class TrainingDiagnostics : IDisposable
{
    readonly DiagnosticsOptions _options;
    readonly List<(string Name, TorchSharp.Modules.Parameter P)> _parameters;
    readonly List<Action> _removeHooks = [];
    readonly HashSet<string> _seenThisStep = [];
    readonly List<ActivationSample> _activations = [];
    readonly List<ParameterSample> _parameterSamples = [];
    readonly List<LossSample> _losses = [];
    readonly List<ValueHistogram> _histograms = [];
    readonly HashSet<long> _histogramSteps;
    Tensor[]? _before;
    long _step = -1;
    bool _sampling, _histogramNow, _anyActivationSeen;
    long? _firstSampleWithoutActivations;
    (long Step, double Loss)? _firstNonFiniteLoss;

    /// <summary>The hooked layers and what kind of output each has, in registration order.</summary>
    public IReadOnlyList<(string Layer, ActivationKind Kind)> Layers { get; }

    /// <param name="model">The model trained; its leaf modules are hooked, its parameters that require gradients are followed.</param>
    /// <param name="options">Sampling period, histogram steps, thresholds; null: the defaults.</param>
    /// <exception cref="ArgumentException">options.Every or options.HistogramBins below 1.</exception>
    public TrainingDiagnostics(nn.Module model, DiagnosticsOptions? options = null)
    {
        _options = options ?? new DiagnosticsOptions();
        if (_options.Every < 1) throw new ArgumentException($"diagnostics must sample at least every step (Every ≥ 1), got {_options.Every}", nameof(options));
        if (_options.HistogramBins < 1) throw new ArgumentException($"HistogramBins must be at least 1, got {_options.HistogramBins}", nameof(options));
        _histogramSteps = [.. _options.HistogramSteps];
        _parameters = model.named_parameters().Where(p => p.parameter.requires_grad).ToList();

        var layers = new List<(string, ActivationKind)>();
        var leaves = model.named_modules().Where(m => !m.module.children().Any()).ToList();
        if (!model.children().Any()) leaves.Add(("model", model));
        foreach (var (name, module) in leaves)
        {
            if (module is not nn.Module<Tensor, Tensor> hookable) continue;
            var kind = KindOf(module);
            var remover = hookable.register_forward_hook((m, input, output) =>
            {
                Observe(name, output, kind);
                return null!;      // null: the output is not replaced
            });
            _removeHooks.Add(remover.remove);
            layers.Add((name, kind));
        }
        Layers = layers;
    }

    /// <summary>What the hooks assume a module's output is, from its type.</summary>
    public static ActivationKind KindOf(nn.Module module) => module switch
    {
        TorchSharp.Modules.Sigmoid => ActivationKind.Sigmoid,
        TorchSharp.Modules.Tanh => ActivationKind.Tanh,
        TorchSharp.Modules.ReLU or TorchSharp.Modules.ReLU6 => ActivationKind.Relu,
        _ => ActivationKind.Linear,
    };

    /// <summary>Sampling period in steps.</summary>
    public int Every => _options.Every;

    /// <summary>Whether the current step (between <see cref="BeginStep"/> and <see cref="EndStep"/>) is sampled.</summary>
    public bool IsSampling => _sampling;

    /// <summary>
    /// Call before the step's forward pass. On a sampled step (a multiple of Every, or a histogram step) it arms
    /// the hooks and copies the weights, so that <see cref="EndStep"/> can measure the update.
    /// </summary>
    /// <param name="step">The global step, 0-based.</param>
    public void BeginStep(long step)
    {
        FreeSnapshot();
        _step = step;
        _seenThisStep.Clear();
        _histogramNow = _histogramSteps.Contains(step);
        _sampling = step % _options.Every == 0 || _histogramNow;
        if (!_sampling) return;
        using var _ = no_grad();
        _before = _parameters.Select(p => { var c = p.P.detach().clone(); c.DetachFromDisposeScope(); return c; }).ToArray();
    }

    /// <summary>
    /// Records one layer's output, on sampled steps only (the hooks call this; call it yourself for outputs no
    /// hooked module produces, e.g. <c>functional.relu</c>). Only the first output per layer per step counts.
    /// </summary>
    /// <param name="layer">Name to report it under.</param>
    /// <param name="output">The output tensor, any shape with the batch first; not modified.</param>
    /// <param name="kind">What kind of values it holds.</param>
    public void Observe(string layer, Tensor output, ActivationKind kind)
    {
        if (!_sampling || !_seenThisStep.Add(layer)) return;
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var a = output.detach().to(float32);
        bool finite = isfinite(a).all().item<bool>();
        double? mean = null, std = null, saturated = null, dead = null;
        if (finite && a.numel() > 0)
        {
            var stats = new List<Tensor> { a.mean(), a.numel() > 1 ? a.std() : zeros(1).squeeze() };
            if (kind == ActivationKind.Sigmoid) stats.Add(((a - 0.5).abs() > 0.485).to(float32).mean());
            if (kind == ActivationKind.Tanh) stats.Add((a.abs() > 0.97).to(float32).mean());
            if (kind == ActivationKind.Relu) stats.Add(1.0 - (UnitsFirst(a) > 0).any(1).to(float32).mean());
            var v = stack(stats).to(float64).data<double>().ToArray();
            mean = v[0];
            std = v[1];
            if (kind is ActivationKind.Sigmoid or ActivationKind.Tanh) saturated = v[2];
            if (kind == ActivationKind.Relu) dead = v[2];
        }
        _activations.Add(new ActivationSample(_step, layer, kind, mean, std, saturated, dead, finite));
        if (_histogramNow) AddHistogram(layer, "activation", a);
    }

    /// <summary>
    /// Call after optimizer.step() and before the next zero_grad(). On a sampled step it records each
    /// parameter's weight norm, gradient norm and update; on every step it watches the loss for NaN.
    /// </summary>
    /// <param name="loss">This step's loss (null: not watched).</param>
    public void EndStep(double? loss = null)
    {
        if (loss is { } l && !double.IsFinite(l) && _firstNonFiniteLoss is null) _firstNonFiniteLoss = (_step, l);
        if (!_sampling) return;
        _sampling = false;
        if (_seenThisStep.Count > 0) _anyActivationSeen = true;
        else if (Layers.Count > 0) _firstSampleWithoutActivations ??= _step;
        if (loss is { } l2 && double.IsFinite(l2)) _losses.Add(new LossSample(_step, l2));
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        for (int i = 0; i < _parameters.Count; i++)
        {
            var (name, p) = _parameters[i];
            var w = p.detach();
            var g = p.grad;
            var before = _before![i];
            // one read per parameter: ‖w_before‖, ‖g‖, ‖Δw‖, finite(w), finite(g)
            var v = stack([
                before.norm().to(float64),
                g is null ? tensor(0.0, float64) : g.norm().to(float64),
                (w - before).norm().to(float64),
                isfinite(w).all().to(float64),
                g is null ? tensor(1.0, float64) : isfinite(g).all().to(float64),
            ]).data<double>().ToArray();
            bool finite = v[3] == 1 && v[4] == 1;
            _parameterSamples.Add(new ParameterSample(_step, name, (int)p.dim(), Finite(v[0]), g is null ? null : Finite(v[1]), Finite(v[2]), finite));
            if (_histogramNow && g is not null) AddHistogram(name, "gradient", g);
        }
        FreeSnapshot();
    }

    /// <summary>What looks wrong so far, worst first: evaluated from the samples each time it is called.</summary>
    public IReadOnlyList<Finding> Findings()
    {
        var findings = DiagnosticRules.Evaluate(_activations, _parameterSamples, _losses, _firstNonFiniteLoss, _options.Thresholds).ToList();
        if (!_anyActivationSeen && _firstSampleWithoutActivations is { } step)
            findings.Add(new Finding(Severity.Info, Checks.ActivationsUnseen, "model",
                $"{(Layers.Count == 1 ? "1 layer is" : $"{Layers.Count} layers are")} hooked but none reported an output (first sampled step {step}): only weights, gradients and updates were measured",
                Checks.Remedy(Checks.ActivationsUnseen), step, step, 0));
        return findings;
    }

    /// <summary>Everything recorded, with the findings.</summary>
    public DiagnosticsReport Report() => new(_options.Every, Findings(), _activations.ToList(), _parameterSamples.ToList(), _losses.ToList(), _histograms.ToList());

    /// <summary>Removes the hooks and frees the weight copy.</summary>
    public void Dispose()
    {
        foreach (var remove in _removeHooks) remove();
        _removeHooks.Clear();
        FreeSnapshot();
    }

    void FreeSnapshot()
    {
        if (_before is null) return;
        foreach (var t in _before) t.Dispose();
        _before = null;
    }

    // (units, everything else): units are dimension 1, or the last dimension of a (B, T, C) output.
    static Tensor UnitsFirst(Tensor a) => a.dim() switch
    {
        0 or 1 => a.reshape(1, -1),
        3 => a.movedim(new long[] { 2 }, new long[] { 0 }).reshape(a.shape[2], -1),
        _ => a.movedim(new long[] { 1 }, new long[] { 0 }).reshape(a.shape[1], -1),
    };

    void AddHistogram(string name, string of, Tensor values)
    {
        using var scope = NewDisposeScope();
        var v = values.detach().to(float64).flatten();
        v = v.masked_select(isfinite(v));
        int bins = _options.HistogramBins;
        if (v.numel() == 0) { _histograms.Add(new ValueHistogram(_step, name, of, 0, 0, new long[bins])); return; }
        double lo = v.min().item<double>(), hi = v.max().item<double>();
        var index = hi > lo ? ((v - lo) / (hi - lo) * bins).floor().clamp(0, bins - 1).to(int64) : zeros_like(v, int64);
        var counts = index.bincount(null, bins).data<long>().ToArray();
        _histograms.Add(new ValueHistogram(_step, name, of, lo, hi, counts));
    }

    static double? Finite(double v) => double.IsFinite(v) ? v : null;
}
