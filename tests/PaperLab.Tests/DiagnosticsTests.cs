using System.Text.Json;
using PaperLab.Diagnostics;
using PaperLab.Runs;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace PaperLab.Tests;

/// <summary>
/// Runs each test of a class with one libtorch thread and restores the count afterwards. The models of these
/// tests are tiny, and libtorch's OpenMP threads only add synchronisation to them; on a machine shared with other
/// jobs two threads made these tests tens of times slower than one.
/// </summary>
public abstract class OneTorchThread : IDisposable
{
    readonly TorchThreads _threads = new(1);
    public void Dispose() { _threads.Dispose(); GC.SuppressFinalize(this); }
}

/// <summary>Sets libtorch's thread count for a using block and restores the previous count when disposed.</summary>
public sealed class TorchThreads : IDisposable
{
    readonly int _previous = torch.get_num_threads();
    /// <param name="count">Threads for the block, ≥ 1.</param>
    public TorchThreads(int count) => torch.set_num_threads(count);
    public void Dispose() => torch.set_num_threads(_previous);
}

/// <summary>A small learnable problem for the toolkit's tests: 4 Gaussian blobs in 10 dimensions.</summary>
static class Blobs
{
    public static (Tensor X, Tensor Y) Make(int n, int seed)
    {
        var g = new Generator((ulong)seed);
        using var centres = randn(4, 10, generator: new Generator(1234)) * 2;     // the same blobs for every seed
        var y = randint(0, 4, new long[] { n }, generator: g);
        var x = centres.index_select(0, y) + randn(n, 10, generator: g);
        return (x, y);
    }

    /// <summary>10 → 64 → 64 → 4 with the given activation modules, named fc1, act1, fc2, act2, fc3.</summary>
    public static nn.Module<Tensor, Tensor> Mlp(Func<nn.Module<Tensor, Tensor>> activation, int seed = 0)
    {
        torch.manual_seed(seed);
        return nn.Sequential(("fc1", nn.Linear(10, 64)), ("act1", activation()), ("fc2", nn.Linear(64, 64)), ("act2", activation()), ("fc3", nn.Linear(64, 4)));
    }

    /// <summary>Trains on fresh batches of 32 for <paramref name="steps"/> steps with diagnostics on; returns them.</summary>
    public static TrainingDiagnostics Train(nn.Module<Tensor, Tensor> model, optim.Optimizer optimizer, int steps, DiagnosticsOptions options)
    {
        var diagnostics = new TrainingDiagnostics(model, options);
        for (int step = 0; step < steps; step++)
        {
            using var scope = NewDisposeScope();
            var (x, y) = Make(32, seed: 100 + step);
            diagnostics.BeginStep(step);
            optimizer.zero_grad();
            var loss = nn.functional.cross_entropy(model.call(x), y);
            loss.backward();
            optimizer.step();
            diagnostics.EndStep(loss.item<float>());
        }
        return diagnostics;
    }

    public static string Describe(IEnumerable<Finding> findings) => string.Join("\n", findings.Select(f => f.ToString()));
}

public class DiagnosticsTests : OneTorchThread
{
    static readonly DiagnosticsOptions Every10 = new() { Every = 10 };

    [Fact]
    public void A_healthy_network_gets_no_findings()
    {
        foreach (var activation in new Func<nn.Module<Tensor, Tensor>>[] { () => nn.ReLU(), () => nn.Tanh() })
        {
            using var model = Blobs.Mlp(activation);
            using var diagnostics = Blobs.Train(model, optim.Adam(model.parameters(), 1e-3), 200, Every10);
            var findings = diagnostics.Findings();
            Assert.True(findings.Count == 0, Blobs.Describe(findings));
            // and the healthy numbers are what the rules of thumb say: updates about 1e-3..1e-2 of the weights
            var ratios = diagnostics.Report().Parameters.Where(p => p.Dims == 2 && p.Step > 0).Select(p => p.UpdateRatioLog10!.Value).ToList();
            Assert.InRange(ratios.Average(), -3.5, -1.5);
        }
    }

    [Fact]
    public void A_learning_rate_far_too_high_is_flagged()
    {
        using var model = Blobs.Mlp(() => nn.ReLU());
        using var diagnostics = Blobs.Train(model, optim.SGD(model.parameters(), 30.0), 60, Every10);
        var findings = diagnostics.Findings();
        Assert.Contains(findings, f => f.Check == Checks.UpdateRatioHigh && f.Severity == Severity.Error);
        Assert.Contains(findings, f => f.Check is Checks.ExplodingGradients or Checks.LossDiverging or Checks.NonFinite);
        Assert.All(findings.Where(f => f.Check == Checks.UpdateRatioHigh), f => Assert.Contains("learning rate", f.Remedy));
    }

    [Fact]
    public void A_bad_initialisation_saturates_the_sigmoids_and_the_usual_one_does_not()
    {
        using var model = Blobs.Mlp(() => nn.Sigmoid());
        using (no_grad())
            foreach (var (name, p) in model.named_parameters().Where(p => p.name.EndsWith("weight")))
                nn.init.normal_(p, 0, 3.0);               // 3 instead of about 1/√fan_in
        using var diagnostics = Blobs.Train(model, optim.SGD(model.parameters(), 0.1), 30, Every10);
        var saturated = diagnostics.Findings().Where(f => f.Check == Checks.Saturated).ToList();
        Assert.Equal(new[] { "act1", "act2" }, saturated.Select(f => f.Layer).Order());
        Assert.All(saturated, f => Assert.True(f.Value > 0.5, f.ToString()));

        using var healthy = Blobs.Mlp(() => nn.Sigmoid());
        using var quiet = Blobs.Train(healthy, optim.SGD(healthy.parameters(), 0.1), 30, Every10);
        Assert.DoesNotContain(quiet.Findings(), f => f.Check == Checks.Saturated);
    }

    [Fact]
    public void Dead_relus_after_a_huge_negative_bias_are_flagged()
    {
        using var model = Blobs.Mlp(() => nn.ReLU());
        using (no_grad()) model.named_parameters().Single(p => p.name == "fc1.bias").parameter.fill_(-100);
        using var diagnostics = Blobs.Train(model, optim.Adam(model.parameters(), 1e-3), 30, Every10);
        var findings = diagnostics.Findings();
        var dead = Assert.Single(findings, f => f.Check == Checks.DeadUnits && f.Layer == "act1");
        Assert.Equal(Severity.Error, dead.Severity);
        Assert.Equal(1.0, dead.Value);
        // nothing flows back into fc1 through dead units, and fc2 sees only zeros: neither learns
        Assert.Contains(findings, f => f.Check == Checks.VanishingGradients && f.Layer == "fc1.weight");
        Assert.Contains(findings, f => f.Check == Checks.UpdateRatioLow && f.Layer == "fc1.weight" && f.What.Contains("never changed"));
    }

    [Fact]
    public void Samples_are_taken_every_N_steps_and_the_update_is_what_SGD_applied()
    {
        using var model = Blobs.Mlp(() => nn.Tanh());
        var options = new DiagnosticsOptions { Every = 5, HistogramSteps = [7] };
        using var diagnostics = Blobs.Train(model, optim.SGD(model.parameters(), 0.05), 12, options);
        var report = diagnostics.Report();
        Assert.Equal(new long[] { 0, 5, 7, 10 }, report.Activations.Select(a => a.Step).Distinct());
        Assert.Equal(new[] { "fc1", "act1", "fc2", "act2", "fc3" }, report.Activations.Where(a => a.Step == 0).Select(a => a.Layer));
        Assert.All(report.Activations.Where(a => a.Layer.StartsWith("act")), a => Assert.Equal(ActivationKind.Tanh, a.Kind));
        Assert.All(report.Activations.Where(a => a.Kind == ActivationKind.Tanh), a => Assert.NotNull(a.Saturated));
        Assert.All(report.Activations.Where(a => a.Kind == ActivationKind.Linear), a => Assert.Null(a.Saturated));
        // plain SGD moves w by lr·g: ‖Δw‖ = 0.05·‖g‖
        Assert.All(report.Parameters, p => Assert.Equal(0.05 * p.GradNorm!.Value, p.UpdateNorm!.Value, 1e-5));
        // histograms at step 7 only: 5 layers' outputs and 6 parameters' gradients, each counting every value
        Assert.Equal(11, report.Histograms.Count);
        Assert.All(report.Histograms, h => Assert.Equal(7, h.Step));
        Assert.Equal(32 * 64, report.Histograms.Single(h => h.Name == "act1").Counts.Sum());
        Assert.Equal(64 * 10, report.Histograms.Single(h => h.Name == "fc1.weight").Counts.Sum());
    }

    [Fact]
    public void Functional_activations_are_reported_through_Observe_and_hooks_do_not_fire_through_forward()
    {
        torch.manual_seed(0);
        using var fc = nn.Linear(10, 8);
        using var diagnostics = new TrainingDiagnostics(fc, Every10);
        using var x = randn(16, 10);
        diagnostics.BeginStep(0);
        using (no_grad())
        {
            fc.forward(x);                                             // forward() skips hooks (TorchSharp)
            diagnostics.Observe("relu", nn.functional.relu(fc.forward(x) - 100), ActivationKind.Relu);
        }
        diagnostics.EndStep();
        var sample = Assert.Single(diagnostics.Report().Activations);
        Assert.Equal("relu", sample.Layer);
        Assert.Equal(1.0, sample.DeadUnits);
        Assert.DoesNotContain(diagnostics.Findings(), f => f.Check == Checks.ActivationsUnseen);

        // a model whose layers only ever run through forward(): the diagnostics say why they see no activations
        using var blind = new TrainingDiagnostics(fc, Every10);
        blind.BeginStep(0);
        using (no_grad()) fc.forward(x);
        blind.EndStep();
        var unseen = Assert.Single(blind.Findings(), f => f.Check == Checks.ActivationsUnseen);
        Assert.Equal(Severity.Info, unseen.Severity);
        Assert.Contains("call()", unseen.Remedy);
    }

    [Fact]
    public void Findings_and_reports_serialise_to_json_even_after_nans()
    {
        using var model = Blobs.Mlp(() => nn.ReLU());
        using var diagnostics = Blobs.Train(model, optim.SGD(model.parameters(), 1e4), 20, new DiagnosticsOptions { Every = 1 });
        var findings = diagnostics.Findings();
        Assert.Contains(findings, f => f.Check == Checks.NonFinite && f.Severity == Severity.Error);
        Assert.Equal(Severity.Error, findings[0].Severity);             // worst first
        string json = JsonSerializer.Serialize(new { diagnostics = findings }, RunFolder.Json);
        using var doc = JsonDocument.Parse(json);
        var first = doc.RootElement.GetProperty("diagnostics")[0];
        Assert.Equal("Error", first.GetProperty("severity").GetString());
        foreach (var key in new[] { "check", "layer", "what", "remedy", "first_step" }) Assert.True(first.TryGetProperty(key, out _), key);
        JsonSerializer.Serialize(diagnostics.Report(), RunFolder.Json);   // no NaN or ∞ reaches the serializer
    }

    [Fact]
    public void Update_ratio_rules_on_made_up_samples()
    {
        ParameterSample S(long step, double update) => new(step, "w", 2, 1.0, 1.0, update, true);
        var t = new DiagnosticsThresholds();
        IReadOnlyList<Finding> Judge(params double[] updates) =>
            DiagnosticRules.Evaluate([], updates.Select((u, i) => S(i, u)).ToList(), [], null, t);

        Assert.Empty(Judge(1e-3, 2e-3, 5e-4));                                  // log10 ≈ −3: healthy
        var high = Assert.Single(Judge(0.5, 0.4, 0.6));
        Assert.Equal((Checks.UpdateRatioHigh, Severity.Error), (high.Check, high.Severity));
        Assert.Equal(Severity.Warning, Assert.Single(Judge(0.05, 0.05, 0.05)).Severity);   // −1.3: warning
        Assert.Equal(Checks.UpdateRatioLow, Assert.Single(Judge(1e-7, 1e-6, 1e-7)).Check);
        var frozen = Assert.Single(Judge(0, 0, 0));
        Assert.Contains("never changed", frozen.What);
    }
}

public class LearningRateFinderTests : OneTorchThread
{
    [Fact]
    public void The_sweep_is_exponential_smoothed_and_stops_at_divergence()
    {
        // a made-up loss: flat, then falling between 1e-4 and 1e-2, then blowing up past 0.1
        double Loss(double lr) => lr < 0.1 ? 2 - 1.5 / (1 + Math.Exp(-3 * (Math.Log10(lr) + 3))) : 0.5 * Math.Pow(lr / 0.1, 4);
        var r = LearningRateFinder.Run(Loss);
        Assert.Equal(1e-7, r.LearningRates[0], 12);
        for (int i = 1; i < r.LearningRates.Length; i++)
            Assert.Equal(Math.Pow(1e8, 1.0 / 99), r.LearningRates[i] / r.LearningRates[i - 1], 9);
        Assert.True(r.StoppedEarly);
        Assert.True(r.LearningRates[^1] < 10);
        Assert.True(r.SmoothedLosses[^1] > 4 * r.SmoothedLosses.Min());
        // debiased: a constant loss smooths to itself from the first step
        Assert.Equal(2 - 1.5 / (1 + Math.Exp(-3 * (-7 + 3))), r.SmoothedLosses[0], 12);
        Assert.Equal(r.MinimumLr / 10, r.SuggestedLr);
        Assert.InRange(r.MinimumLr, 1e-2, 0.2);
        Assert.InRange(r.SteepestLr, 1e-4, 1e-2);                               // the falling part
        Assert.Equal(LearningRateFinder.MinimumOverTen, r.Rule);
        Assert.Null(r.Note);
    }

    [Fact]
    public void A_curve_that_never_falls_gets_a_note_instead_of_a_confident_suggestion()
    {
        // noise around a flat loss, rising at the end: the minimum is wherever the noise puts it
        var noise = new Random(3);
        var r = LearningRateFinder.Run(lr => (lr < 1 ? 2.3 : 2.3 + lr) + 0.01 * noise.NextDouble());
        Assert.NotNull(r.Note);
        Assert.Contains("never fell 10%", r.Note);
    }

    [Fact]
    public void A_nan_stops_the_sweep_and_a_broken_first_step_is_an_error()
    {
        var r = LearningRateFinder.Run(lr => lr > 1e-3 ? double.NaN : 1.0);
        Assert.True(r.StoppedEarly);
        Assert.All(r.LearningRates, lr => Assert.True(lr <= 1e-3));
        Assert.Throws<InvalidOperationException>(() => LearningRateFinder.Run(_ => double.NaN));
        Assert.Throws<ArgumentException>(() => LearningRateFinder.Run(_ => 1, new LrFinderOptions(StartLr: 1, EndLr: 0.1)));
    }

    // the loss after 150 SGD steps at a fixed learning rate, from the same initial weights
    static double TrainedLoss(double lr)
    {
        using var model = Blobs.Mlp(() => nn.ReLU(), seed: 3);
        var optimizer = optim.SGD(model.parameters(), lr);
        double loss = double.NaN;
        for (int step = 0; step < 150; step++)
        {
            using var scope = NewDisposeScope();
            var (x, y) = Blobs.Make(32, seed: step);
            optimizer.zero_grad();
            var l = nn.functional.cross_entropy(model.call(x), y);
            l.backward();
            optimizer.step();
            loss = l.item<float>();
        }
        return loss;
    }

    [Fact]
    public void On_a_small_problem_the_suggestion_lies_where_training_works()
    {
        using var model = Blobs.Mlp(() => nn.ReLU(), seed: 3);
        var optimizer = optim.SGD(model.parameters(), 1.0);
        int step = 0;
        var result = LearningRateFinder.Run(optimizer, () =>
        {
            using var scope = NewDisposeScope();
            var (x, y) = Blobs.Make(32, seed: 1000 + step++);
            optimizer.zero_grad();
            var loss = nn.functional.cross_entropy(model.call(x), y);
            loss.backward();
            optimizer.step();
            return loss.item<float>();
        });
        Assert.True(result.StoppedEarly, "SGD on this problem diverges long before lr = 10");
        // "works": 150 steps bring the loss from ln 4 ≈ 1.39 under 0.1
        double suggested = TrainedLoss(result.SuggestedLr);
        Assert.True(suggested < 0.1, $"at the suggested lr {result.SuggestedLr:g3} the loss is {suggested:g3}");
        Assert.False(TrainedLoss(result.SuggestedLr / 1000) < 0.1, "the problem is not trivial: a learning rate 1000× smaller does not train in 150 steps");
    }
}

public class OverfitOneBatchTests : OneTorchThread
{
    static Func<double> Step(nn.Module<Tensor, Tensor> model, optim.Optimizer optimizer, Tensor x, Tensor y) => () =>
    {
        using var scope = NewDisposeScope();
        optimizer.zero_grad();
        var loss = nn.functional.cross_entropy(model.call(x), y);
        loss.backward();
        optimizer.step();
        return loss.item<float>();
    };

    [Fact]
    public void A_tiny_mlp_memorises_one_batch_of_random_labels()
    {
        using var model = Blobs.Mlp(() => nn.ReLU());
        torch.manual_seed(1);
        using var x = randn(16, 10);
        using var y = randint(0, 4, new long[] { 16 });                  // random labels: only memorising fits them
        var result = OverfitOneBatch.Run(Step(model, optim.Adam(model.parameters(), 1e-2), x, y));
        Assert.True(result.Reached, result.Diagnosis);
        Assert.InRange(result.Steps, 10, 500);
        Assert.True(result.FinalLoss <= 0.01);
        Assert.Equal(result.Steps + 1, result.Losses.Length);
        Assert.Null(result.Diagnosis);
        result.ThrowIfFailed();
    }

    [Fact]
    public void A_model_that_cannot_learn_fails_clearly()
    {
        using var model = Blobs.Mlp(() => nn.ReLU());
        torch.manual_seed(1);
        using var x = randn(16, 10);
        using var y = randint(0, 4, new long[] { 16 });
        var result = OverfitOneBatch.Run(Step(model, optim.SGD(model.parameters(), 0.0), x, y), new OverfitOptions(MaxSteps: 50));
        Assert.False(result.Reached);
        Assert.Equal(50, result.Steps);
        var e = Assert.Throws<OverfitFailedException>(result.ThrowIfFailed);
        Assert.Contains("did not move", e.Message);
        Assert.Contains("learning rate is 0", e.Message);
    }

    [Fact]
    public void A_diverging_run_fails_with_the_explosion_named_and_still_serialises()
    {
        int calls = 0;
        var result = OverfitOneBatch.Run(() => ++calls < 5 ? 2.0 / calls : double.NaN);
        Assert.False(result.Reached);
        Assert.Equal(5, calls);                                          // stops at the NaN, not at the budget
        Assert.Contains("explodes", result.Diagnosis);
        using var doc = JsonDocument.Parse(JsonSerializer.Serialize(result, RunFolder.Json));
        Assert.Equal("NaN", doc.RootElement.GetProperty("final_loss").GetString());
        Assert.Equal(4, doc.RootElement.GetProperty("overfit_steps").GetInt32());
    }

    [Fact]
    public void The_diagnosis_reads_the_shape_of_the_curve()
    {
        Assert.Contains("goes up", OverfitOneBatch.Diagnose([1.0, 1.2, 1.5, 2.0], 0.01));
        Assert.Contains("explodes", OverfitOneBatch.Diagnose([1.0, 5.0, double.PositiveInfinity], 0.01));
        Assert.Contains("plateaus", OverfitOneBatch.Diagnose([2.0, 1.0, 0.8, 0.7, 0.7, 0.7, 0.7, 0.7], 0.01));
        Assert.Contains("oscillates", OverfitOneBatch.Diagnose([2.0, 0.1, 1.5, 0.2, 1.4, 0.1, 1.6, 0.3, 1.5], 0.01));
    }
}

public class SharedGradientCheckTests
{
    // y = x², with a backward that says 3x: the kind of bug a gradient check exists to catch
    sealed class WrongSquare : autograd.SingleTensorFunction<WrongSquare>
    {
        public override string Name => nameof(WrongSquare);
        public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
        {
            var x = (Tensor)vars[0];
            ctx.save_for_backward([x]);
            return x * x;
        }
        public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor grad_output) =>
            [grad_output * 3 * ctx.get_saved_variables()[0]];
    }

    sealed class Model(bool wrong) : nn.Module<Tensor, Tensor>("Model")
    {
        readonly TorchSharp.Modules.Linear fc = nn.Linear(3, 2);
        public Model Build() { RegisterComponents(); return this; }
        public override Tensor forward(Tensor x) { var h = fc.call(x); return wrong ? WrongSquare.apply(h) : h * h; }
    }

    [Fact]
    public void Passes_on_correct_gradients_including_the_inputs_and_catches_a_wrong_backward()
    {
        torch.manual_seed(0);
        using var good = new Model(false).Build();
        good.to(float64);
        var x = randn(4, 3, dtype: float64).requires_grad_();
        var ok = Diagnostics.GradientCheck.Compare(good, () => good.call(x).tanh().sum(), inputs: [("x", x)]);
        Assert.True(ok.Passed, ok.ToString());
        Assert.Equal(3 + 2 + 3, ok.Comparisons.Count);                 // three elements of fc.weight and of x, both of fc.bias
        Diagnostics.GradientCheck.MatchesFiniteDifferences(good, () => good.call(x).tanh().sum());

        using var bad = new Model(true).Build();
        bad.to(float64);
        var result = Diagnostics.GradientCheck.Compare(bad, () => bad.call(x).tanh().sum(), allElements: true);
        Assert.False(result.Passed);
        Assert.Equal(8, result.Comparisons.Count);                     // every element of the 2×3 weight and the 2 biases
        var e = Assert.Throws<GradientCheckException>(result.ThrowIfFailed);
        Assert.Contains("fc.weight[", e.Message);
    }

    [Fact]
    public void Float32_is_refused_with_the_fix()
    {
        using var model = nn.Linear(3, 2);
        using var x = randn(2, 3);
        var e = Assert.Throws<ArgumentException>(() => Diagnostics.GradientCheck.Compare(model, () => model.call(x).sum()));
        Assert.Contains("model.to(float64)", e.Message);
    }
}
