using TorchSharp;
using Xunit;
using static TorchSharp.torch;

// torch's RNG, its thread count and Console.Error are process-wide: tests that seed and then build a model
// must not interleave with other tests drawing random numbers, so the suite runs one test at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace PaperLab.Tests;

/// <summary>Autograd against central finite differences, for the from-scratch models' gradient checks.</summary>
static class GradientCheck
{
    /// <summary>
    /// For three weights of every parameter of <paramref name="model"/> (first or <paramref name="firstIndex"/>,
    /// middle, last), asserts |autograd − (L(w+h) − L(w−h)) / 2h| ≤ absTolerance + 1e-4·|numeric|.
    /// Call with the model in float64.
    /// </summary>
    public static void MatchesFiniteDifferences(nn.Module model, Func<Tensor> loss, double h = 1e-6,
                                                double absTolerance = 1e-6, long firstIndex = 0)
    {
        model.zero_grad();
        loss().backward();
        foreach (var (name, p) in model.named_parameters())
        {
            var grad = p.grad!.flatten();
            var flat = p.detach().flatten(); // shares storage with p
            foreach (long i in new[] { firstIndex % p.numel(), p.numel() / 2, p.numel() - 1 })
            {
                double original = flat[i].item<double>();
                double plus, minus;
                using (no_grad())
                {
                    flat[i] = original + h; plus = loss().item<double>();
                    flat[i] = original - h; minus = loss().item<double>();
                    flat[i] = original;
                }
                double numeric = (plus - minus) / (2 * h);
                double analytic = grad[i].item<double>();
                Assert.True(Math.Abs(numeric - analytic) <= absTolerance + 1e-4 * Math.Abs(numeric),
                    $"{name}[{i}]: autograd {analytic:e6}, finite differences {numeric:e6}");
            }
        }
    }
}

/// <summary>Runs a paper's Main in-process and captures what it wrote to stderr.</summary>
static class PaperMain
{
    /// <summary>The exit code of <paramref name="main"/>(<paramref name="args"/>) and its stderr.</summary>
    public static (int Exit, string Stderr) Run(Func<string[], int> main, string[] args)
    {
        var err = new StringWriter();
        var old = Console.Error;
        Console.SetError(err);
        try { return (main(args), err.ToString()); }
        finally { Console.SetError(old); }
    }
}
