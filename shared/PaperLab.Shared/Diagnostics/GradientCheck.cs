using TorchSharp;
using static TorchSharp.torch;

namespace PaperLab.Diagnostics;

/// <summary>One weight (or input element): the gradient autograd computed against central finite differences.</summary>
/// <param name="Tensor">Parameter name as in named_parameters ("fc1.weight"), or the name given to an input.</param>
/// <param name="Index">Flat (row-major) index of the element.</param>
/// <param name="Autograd">∂L/∂w from backward().</param>
/// <param name="Numeric">(L(w + h) − L(w − h)) / 2h.</param>
/// <param name="Ok">|Autograd − Numeric| ≤ absTolerance + relTolerance·|Numeric|.</param>
public sealed record GradientComparison(string Tensor, long Index, double Autograd, double Numeric, bool Ok)
{
    /// <summary>|Autograd − Numeric|.</summary>
    public double AbsError => Math.Abs(Autograd - Numeric);
}

/// <summary>The outcome of <see cref="GradientCheck.Compare"/>: every element compared.</summary>
/// <param name="Comparisons">One row per element checked, in parameter order.</param>
/// <param name="H">The finite-difference step.</param>
/// <param name="AbsTolerance">Absolute part of the tolerance.</param>
/// <param name="RelTolerance">Part of the tolerance relative to |numeric|.</param>
public sealed record GradientCheckResult(IReadOnlyList<GradientComparison> Comparisons, double H, double AbsTolerance, double RelTolerance)
{
    /// <summary>Every element within tolerance (and at least one compared).</summary>
    public bool Passed => Comparisons.Count > 0 && Comparisons.All(c => c.Ok);
    /// <summary>The elements outside tolerance.</summary>
    public IReadOnlyList<GradientComparison> Failures => Comparisons.Where(c => !c.Ok).ToList();
    /// <summary>The largest |autograd − numeric| over all elements.</summary>
    public double MaxAbsError => Comparisons.Count == 0 ? 0 : Comparisons.Max(c => c.AbsError);

    /// <summary>Throws when an element is outside tolerance, naming each (a test fails on the exception).</summary>
    /// <exception cref="GradientCheckException">Some autograd gradient disagrees with finite differences, or nothing was compared.</exception>
    public void ThrowIfFailed()
    {
        if (!Passed) throw new GradientCheckException(this);
    }

    /// <summary>One line per failing element, or a one-line pass summary.</summary>
    public override string ToString() => Passed
        ? $"gradient check passed: {Comparisons.Count} elements, largest |autograd − finite differences| {MaxAbsError:e2}"
        : Comparisons.Count == 0
            ? "gradient check compared nothing: no parameter requires a gradient and no input was given"
            : $"gradient check failed on {Failures.Count} of {Comparisons.Count} elements (tolerance {AbsTolerance:e1} + {RelTolerance:e1}·|numeric|):\n"
              + string.Join("\n", Failures.Select(f => $"  {f.Tensor}[{f.Index}]: autograd {f.Autograd:e6}, finite differences {f.Numeric:e6}"));
}

/// <summary>An autograd gradient disagreed with finite differences; the message lists the elements.</summary>
public sealed class GradientCheckException(GradientCheckResult result) : Exception(result.ToString())
{
    /// <summary>The full comparison.</summary>
    public GradientCheckResult Result { get; } = result;
}

/// <summary>
/// Autograd against central finite differences, for any module and any scalar loss: the check every
/// from-scratch layer's tests run (micrograd's habit, in float64 on a tiny input).
/// </summary>
/// <remarks>
/// Central differences have error O(h²) from the Taylor series and O(ε/h) from rounding (ε ≈ 1e-16 in
/// float64), so h = 1e-6 leaves about 1e-9 of each; in float32 (ε ≈ 1e-7) the rounding alone would be about
/// 0.1, which is why float32 is refused. The loss must be deterministic (no dropout, no sampling) and is
/// evaluated 2 times per element checked plus one backward pass; modules in training mode that update state
/// in forward (BatchNorm's running statistics) are fine, since that state does not enter the training-mode loss.
/// </remarks>
public static class GradientCheck
{
    /// <summary>
    /// Compares, for a few elements of every parameter that requires a gradient (first or
    /// <paramref name="firstIndex"/>, middle, last — or all of them with <paramref name="allElements"/>) and of each
    /// extra <paramref name="inputs"/> tensor, autograd's ∂L/∂w with (L(w + h) − L(w − h)) / 2h.
    /// </summary>
    /// <param name="model">The module, in float64 (<c>model.to(float64)</c>).</param>
    /// <param name="loss">Computes the scalar loss from the current weights (called 1 + 2·elements times).</param>
    /// <param name="h">Finite-difference step.</param>
    /// <param name="absTolerance">Absolute tolerance.</param>
    /// <param name="relTolerance">Tolerance relative to |numeric|.</param>
    /// <param name="firstIndex">The first element checked of each tensor (modulo its size); middle and last follow.</param>
    /// <param name="allElements">Check every element (for tiny tensors) instead of three.</param>
    /// <param name="inputs">Leaf tensors the loss reads, with requires_grad set, to check ∂L/∂input too (e.g. a layer's x).</param>
    /// <returns>Every comparison; call <see cref="GradientCheckResult.ThrowIfFailed"/> in a test.</returns>
    /// <exception cref="ArgumentException">A checked tensor is not float64, an input does not require a gradient,
    /// or the loss is not a scalar.</exception>
    public static GradientCheckResult Compare(nn.Module model, Func<Tensor> loss, double h = 1e-6, double absTolerance = 1e-6,
                                              double relTolerance = 1e-4, long firstIndex = 0, bool allElements = false,
                                              IEnumerable<(string Name, Tensor Tensor)>? inputs = null)
    {
        var checkedTensors = model.named_parameters().Where(p => p.parameter.requires_grad)
                                  .Select(p => (p.name, (Tensor)p.parameter)).ToList();
        foreach (var (name, t) in inputs ?? [])
        {
            if (!t.requires_grad)
                throw new ArgumentException($"input '{name}' does not require a gradient: create it with requires_grad: true (or call requires_grad_())", nameof(inputs));
            checkedTensors.Add((name, t));
        }
        foreach (var (name, t) in checkedTensors)
            if (t.dtype != ScalarType.Float64)
                throw new ArgumentException($"gradient checks need float64, but '{name}' is {t.dtype}: call model.to(float64) and make the inputs float64 (float32 rounding swamps the finite difference)");

        // autograd's gradients, once
        model.zero_grad();
        var analytic = new Dictionary<string, double[]>();
        using (var scope = NewDisposeScope())
        {
            foreach (var (_, t) in checkedTensors)
                if (t.grad is { } g0) g0.zero_();
            var l = loss();
            if (l.numel() != 1) throw new ArgumentException($"the loss must be a scalar, got shape ({string.Join(", ", l.shape)})", nameof(loss));
            l.backward();
            foreach (var (name, t) in checkedTensors)
                analytic[name] = t.grad is { } g ? g.to(float64).contiguous().data<double>().ToArray() : new double[t.numel()];   // no gradient: 0
        }

        var rows = new List<GradientComparison>();
        foreach (var (name, t) in checkedTensors)
        {
            long n = t.numel();
            IEnumerable<long> indices = allElements
                ? Enumerable.Range(0, (int)n).Select(i => (long)i)
                : new[] { firstIndex % n, n / 2, n - 1 }.Distinct();
            using var w = t.dim() == 0 ? t.detach().unsqueeze(0) : t.detach();   // shares storage with t, whatever its layout
            foreach (long i in indices)
            {
                var at = Unravel(i, w.shape);
                double original, plus, minus;
                using (no_grad())
                using (var scope = NewDisposeScope())
                {
                    original = w[at].item<double>();
                    w[at] = tensor(original + h, float64); plus = loss().item<double>();
                    w[at] = tensor(original - h, float64); minus = loss().item<double>();
                    w[at] = tensor(original, float64);
                }
                double numeric = (plus - minus) / (2 * h);
                double a = analytic[name][i];
                rows.Add(new GradientComparison(name, i, a, numeric, Math.Abs(a - numeric) <= absTolerance + relTolerance * Math.Abs(numeric)));
            }
        }
        model.zero_grad();
        return new GradientCheckResult(rows, h, absTolerance, relTolerance);
    }

    /// <summary>
    /// The tests' form: throws <see cref="GradientCheckException"/> unless, for three elements of every
    /// parameter, |autograd − finite differences| ≤ absTolerance + 1e-4·|numeric|. Same arguments as the
    /// per-test copy it replaces.
    /// </summary>
    /// <exception cref="GradientCheckException">An element disagrees.</exception>
    public static void MatchesFiniteDifferences(nn.Module model, Func<Tensor> loss, double h = 1e-6,
                                                double absTolerance = 1e-6, long firstIndex = 0) =>
        Compare(model, loss, h, absTolerance, 1e-4, firstIndex).ThrowIfFailed();

    // Flat row-major index → one index per dimension.
    private static TensorIndex[] Unravel(long flat, long[] shape)
    {
        var at = new TensorIndex[shape.Length];
        for (int d = shape.Length - 1; d >= 0; d--)
        {
            at[d] = TensorIndex.Single(flat % shape[d]);
            flat /= shape[d];
        }
        return at;
    }
}
