using PaperLab.Diagnostics;
using PaperLab.Papers.BatchNorm;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace PaperLab.Tests;

/// <summary>The from-scratch batch normalisation against TorchSharp's BatchNorm1d/2d and finite differences.</summary>
public class BatchNormTests : OneTorchThread
{
    // Our layer and TorchSharp's with the same random γ and β (so that a wrong γ/β use would show).
    static (BatchNorm Ours, nn.Module<Tensor, Tensor> Reference) Pair(long channels, bool twoD, ScalarType dtype = ScalarType.Float32, int seed = 0)
    {
        torch.manual_seed(seed);
        var ours = new BatchNorm(channels);
        nn.Module<Tensor, Tensor> reference = twoD ? nn.BatchNorm2d(channels) : nn.BatchNorm1d(channels);
        ours.to(dtype);
        reference.to(dtype);
        using (no_grad())
        {
            var gamma = randn(channels, dtype: dtype) * 0.5 + 1;
            var beta = randn(channels, dtype: dtype);
            ours.Weight.copy_(gamma);
            ours.Bias.copy_(beta);
            var p = reference.named_parameters().ToDictionary(n => n.name, n => n.parameter);
            p["weight"].copy_(gamma);
            p["bias"].copy_(beta);
        }
        return (ours, reference);
    }

    static double MaxDiff(Tensor a, Tensor b) => (a - b).abs().max().to(float64).item<double>();

    [Theory]
    [InlineData(false, new long[] { 16, 5 })]          // fully connected: (B, C), like BatchNorm1d
    [InlineData(true, new long[] { 4, 3, 5, 6 })]     // convolutional: (B, C, H, W), like BatchNorm2d (§3.2)
    public void Training_forward_and_gradients_equal_torchsharps(bool twoD, long[] shape)
    {
        var (ours, reference) = Pair(shape[1], twoD);
        torch.manual_seed(1);
        var x = (randn(shape) * 3 + 2).requires_grad_();
        var xRef = x.detach().clone().requires_grad_();
        var upstream = randn(shape);                      // a random ∂ℓ/∂y, so every term of the backward matters

        var y = ours.call(x);
        var yRef = reference.call(xRef);
        Assert.True(MaxDiff(y, yRef) < 1e-5, $"forward differs by {MaxDiff(y, yRef)}");

        (y * upstream).sum().backward();
        (yRef * upstream).sum().backward();
        var refParams = reference.named_parameters().ToDictionary(n => n.name, n => n.parameter);
        Assert.True(MaxDiff(x.grad!, xRef.grad!) < 1e-5, $"∂ℓ/∂x differs by {MaxDiff(x.grad!, xRef.grad!)}");
        Assert.True(MaxDiff(ours.Weight.grad!, refParams["weight"].grad!) < 1e-4, "∂ℓ/∂γ differs");
        Assert.True(MaxDiff(ours.Bias.grad!, refParams["bias"].grad!) < 1e-4, "∂ℓ/∂β differs");
        // the input gradient of a batch-normalised layer sums to 0 over each channel (∂ℓ/∂μ_B absorbs any shift)
        long[] dims = shape.Length == 2 ? [0] : [0, 2, 3];
        Assert.True(x.grad!.sum(dims).abs().max().item<float>() < 1e-4);
    }

    [Theory]
    [InlineData(false, new long[] { 8, 4 })]
    [InlineData(true, new long[] { 3, 2, 4, 5 })]
    public void Running_statistics_and_evaluation_outputs_equal_torchsharps_after_several_steps(bool twoD, long[] shape)
    {
        var (ours, reference) = Pair(shape[1], twoD, seed: 2);
        torch.manual_seed(3);
        for (int step = 0; step < 5; step++)
        {
            using var scope = NewDisposeScope();
            var x = randn(shape) * (step + 1) + step;      // statistics that move, so that momentum matters
            ours.call(x);
            reference.call(x);
        }
        var buffers = reference.named_buffers().ToDictionary(b => b.name, b => b.buffer);
        Assert.True(MaxDiff(ours.RunningMean, buffers["running_mean"]) < 1e-5, "running_mean differs");
        Assert.True(MaxDiff(ours.RunningVar, buffers["running_var"]) < 1e-4, "running_var differs (unbiased m/(m−1) factor?)");
        Assert.Equal(5L, ours.NumBatchesTracked);
        Assert.Equal(5L, buffers["num_batches_tracked"].item<long>());

        ours.eval();
        reference.eval();
        using var probe = randn(shape) * 2 + 1;
        Assert.True(MaxDiff(ours.call(probe), reference.call(probe)) < 1e-5, "evaluation outputs differ");
        // evaluation is a fixed per-example map: one example alone gives the same output as inside a batch
        using var alone = ours.call(probe[TensorIndex.Slice(0, 1)]);
        Assert.True(MaxDiff(alone, ours.call(probe)[TensorIndex.Slice(0, 1)]) < 1e-6);
    }

    [Fact]
    public void State_dict_names_are_pytorchs()
    {
        using var ours = new BatchNorm(3);
        using var reference = nn.BatchNorm1d(3);
        Assert.Equal(reference.state_dict().Keys.Order(), ours.state_dict().Keys.Order());
    }

    [Theory]
    [InlineData(new long[] { 6, 3 })]
    [InlineData(new long[] { 2, 2, 3, 2 })]
    public void Backward_of_section_3_matches_finite_differences_in_float64(long[] shape)
    {
        var (ours, _) = Pair(shape[1], shape.Length == 4, ScalarType.Float64, seed: 4);
        torch.manual_seed(5);
        var x = (randn(shape, dtype: float64) * 2 + 1).requires_grad_();
        var upstream = randn(shape, dtype: float64);
        // a loss that weights every output differently, and is not linear in y, so the whole chain rule is exercised
        Tensor Loss() { var y = ours.call(x); return (y * upstream).sum() + (y * y).sum() * 0.1; }
        var result = Diagnostics.GradientCheck.Compare(ours, Loss, allElements: true, absTolerance: 1e-7, inputs: [("x", x)]);
        result.ThrowIfFailed();
        Assert.Equal(shape.Aggregate(1L, (a, b) => a * b) + 2 * shape[1], result.Comparisons.Count);
    }

    [Fact]
    public void Algorithm_1_normalises_each_channel_to_mean_0_and_variance_1_then_scales_and_shifts()
    {
        using var bn = new BatchNorm(3);
        using (no_grad()) { bn.Weight.copy_(tensor(new[] { 1f, 2f, 0.5f })); bn.Bias.copy_(tensor(new[] { 0f, -1f, 3f })); }
        torch.manual_seed(6);
        using var x = randn(200, 3, 4, 4) * 5 + 7;
        using var y = bn.call(x);
        var mean = y.mean(new long[] { 0, 2, 3 }).data<float>().ToArray();
        var std = y.std(new long[] { 0, 2, 3 }, unbiased: false).data<float>().ToArray();
        Assert.Equal(new[] { 0.0, -1.0, 3.0 }, mean.Select(m => Math.Round(m, 4)));       // β
        Assert.Equal(new[] { 1.0, 2.0, 0.5 }, std.Select(s => Math.Round(s, 3)));         // |γ| (ε shrinks it by ~1e-7)
    }

    [Fact]
    public void Population_statistics_are_the_averages_of_algorithm_2()
    {
        // E[x] = E_B[μ_B], Var[x] = m/(m−1)·E_B[σ²_B], over the given training mini-batches, computed by hand here
        torch.manual_seed(7);
        var net = nn.Sequential(nn.Linear(4, 3), new BatchNorm(3));
        var batches = Enumerable.Range(0, 4).Select(i => randn(10, 4) * (i + 1)).ToList();
        var bn = (BatchNorm)net.children().Last();
        bn.call(randn(10, 3) * 9);                        // running estimates from an earlier "training" must be forgotten
        Tensor activations(Tensor x) { using var _ = no_grad(); return ((nn.Module<Tensor, Tensor>)net.children().First()).call(x); }
        var mu = stack(batches.Select(b => activations(b).mean(new long[] { 0 }))).mean(new long[] { 0 });
        var variance = stack(batches.Select(b => activations(b).var(new long[] { 0 }, unbiased: false))).mean(new long[] { 0 }) * (10.0 / 9);

        int n = BatchNorm.EstimatePopulationStatistics(net, batches, x => net.call(x));

        Assert.Equal(4, n);
        Assert.False(net.training);
        Assert.True(MaxDiff(bn.RunningMean, mu) < 1e-5);
        Assert.True(MaxDiff(bn.RunningVar, variance) < 1e-4);
        Assert.Equal(0.1, bn.Momentum);                   // the layer's own momentum is back
        Assert.Throws<ArgumentException>(() => BatchNorm.EstimatePopulationStatistics(nn.Linear(2, 2), batches, x => x));
    }

    [Fact]
    public void Bad_inputs_get_errors_that_name_the_fix()
    {
        using var bn = new BatchNorm(4);
        var wrongChannels = Assert.Throws<ArgumentException>(() => bn.call(randn(8, 5)));
        Assert.Contains("(B, 4)", wrongChannels.Message);
        var single = Assert.Throws<ArgumentException>(() => bn.call(randn(1, 4)));
        Assert.Contains("batch of 2 or more", single.Message);
        bn.eval();
        Assert.Equal(new long[] { 1, 4 }, bn.call(randn(1, 4)).shape);   // fine at inference
        Assert.Throws<ArgumentException>(() => new BatchNorm(4, momentum: 1.5));
    }
}

/// <summary>The §4.1 network and its training function, on real MNIST.</summary>
[Collection("mnist")]
public class BatchNormMnistTests(MnistFixture mnist) : OneTorchThread
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Parameter_count_matches_the_derivation(bool batchNorm)
    {
        using var model = new MnistMlp(batchNorm, 0.1);
        Assert.Equal(MnistMlp.ExpectedParameters(batchNorm), model.parameters().Sum(p => p.numel()));
        Assert.Equal(batchNorm ? 100_010L : 99_710L, MnistMlp.ExpectedParameters(batchNorm));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Overfits_one_batch_of_real_digits(bool batchNorm)
    {
        using var data = Fig1Training.Tensors(mnist.Train.Take(60));
        var (x, y) = data.Gather(Enumerable.Range(0, 60).Select(i => (long)i).ToArray());
        torch.manual_seed(0);
        using var model = new MnistMlp(batchNorm, 0.1);
        var optimizer = optim.Adam(model.parameters(), 1e-2);
        var result = OverfitOneBatch.Run(() =>
        {
            using var scope = NewDisposeScope();
            optimizer.zero_grad();
            var loss = nn.functional.cross_entropy(model.call(x), y);
            loss.backward();
            optimizer.step();
            return loss.item<float>();
        }, new OverfitOptions(MaxSteps: 400));
        result.ThrowIfFailed();
        Assert.InRange(result.InitialLoss, Math.Log(10) - 0.5, Math.Log(10) + 0.5);   // small initial logits: near ln 10
    }

    [Fact]
    public void Short_runs_learn_record_ordered_percentiles_and_repeat_exactly()
    {
        using var train = Fig1Training.Tensors(mnist.Train.Take(6000));
        using var test = Fig1Training.Tensors(mnist.Test.Take(1000));
        Fig1Run Run(bool bn)
        {
            var config = Fig1Config.Smoke(bn);
            using var model = Fig1Training.NewModel(config);
            return Fig1Training.Train(model, config, train, test);
        }
        var plain = Run(false);
        var normalised = Run(true);
        var again = Run(true);
        foreach (var run in new[] { plain, normalised })
        {
            Assert.Equal(new long[] { 0, 100, 200, 300 }, run.Curve.Select(p => p.Step));
            Assert.All(run.Curve, p => Assert.True(p.P15 <= p.P50 && p.P50 <= p.P85, $"percentiles out of order at step {p.Step}"));
            Assert.Null(run.DivergedAtStep);
            Assert.Equal(300, run.Losses.Count);
        }
        // Fig. 1(a) in miniature: after 300 steps the BN network is far ahead of the plain one, which has barely started
        Assert.True(normalised.FinalTestAccuracy > 0.8, $"BN after 300 steps: {normalised.FinalTestAccuracy}");
        Assert.True(normalised.FinalTestAccuracy > plain.FinalTestAccuracy + 0.3, $"BN {normalised.FinalTestAccuracy} against plain {plain.FinalTestAccuracy}");
        Assert.Equal(normalised.Losses, again.Losses);                      // same seed, same losses
        Assert.Equal(normalised.Curve, again.Curve);
    }

    [Fact]
    public void Diagnostics_see_every_layer_of_the_network_through_call()
    {
        using var model = new MnistMlp(true, 0.1);
        using var diagnostics = new TrainingDiagnostics(model);
        Assert.Equal(new[] { "fc1", "fc2", "fc3", "fc4", "bn1", "bn2", "bn3", "sig1", "sig2", "sig3" }.Order(), diagnostics.Layers.Select(l => l.Layer).Order());
        Assert.Equal(ActivationKind.Sigmoid, diagnostics.Layers.Single(l => l.Layer == "sig3").Kind);
    }
}
