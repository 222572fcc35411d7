using System.Text.Json;
using PaperLab.Cli;
using PaperLab.Diagnostics;
using PaperLab.Runs;
using PaperLab.Training;
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
        using var data = Experiment.Tensors(mnist.Train.Take(60));
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

    static BatchNormOptions Smoke => BatchNormOptions.Defaults(new(), new RunOptions { Smoke = true });

    [Fact]
    public void Smoke_run_reproduces_fig_1a_in_miniature_and_writes_the_run_folder()
    {
        // 300 steps of 60 images: the BN network is far ahead of the plain one, which has barely left chance
        using var dir = new TempDir();
        var s = PaperRun.Run(Experiment.Run, Smoke, PaperRun.Context(Experiment.Paper, dir.File("run"), mnist.Dir));
        Assert.Equal(300, s.Steps);
        Assert.Equal(new long[] { 100, 200, 300 }, s.AccuracyAtSteps.Select(a => a.Step));
        Assert.True(s.BnTestAccuracy > 0.8, $"BN after 300 steps: {s.BnTestAccuracy}");
        Assert.True(s.BnTestAccuracy > s.PlainTestAccuracy + 0.3, $"BN {s.BnTestAccuracy} against plain {s.PlainTestAccuracy}");
        Assert.All(s.AccuracyAtSteps, a => Assert.True(a.Bn > a.Plain, $"at step {a.Step}: BN {a.Bn}, plain {a.Plain}"));
        // §3.3 in miniature: at lr 10 the plain network stays at chance while the BN one learns
        Assert.NotNull(s.HighLearningRate);
        Assert.True(s.HighLearningRate!.PlainBestTestAccuracy < 0.2, $"plain at lr 10: {s.HighLearningRate.PlainBestTestAccuracy}");
        Assert.True(s.HighLearningRate.BnTestAccuracy > 0.4, $"BN at lr 10: {s.HighLearningRate.BnTestAccuracy}");
        // Fig. 1(b, c): percentiles in order at every evaluation; BN's sigmoid input centred, the plain one's not yet moved
        var metrics = MetricsLog.Read(dir.File("run", "metrics.csv"));
        foreach (var network in new[] { "plain", "bn", "plain_high_lr", "bn_high_lr" })
        {
            double[] P(string q) => metrics.Where(r => r.Split == "probe" && r.Name == $"{network}/{q}").Select(r => r.Value).ToArray();
            var (p15, p50, p85) = (P("p15"), P("p50"), P("p85"));
            Assert.Equal(network.EndsWith("high_lr") ? 2 : 6, p50.Length);
            for (int i = 0; i < p50.Length; i++) Assert.True(p15[i] <= p50[i] && p50[i] <= p85[i], $"{network}: percentiles out of order at evaluation {i}");
        }
        Assert.InRange(s.SigmoidInput.Single(d => d.Network == "bn").Last[1], -0.5, 0.5);
        Assert.Equal(4, s.NetworkDiagnostics.Count);
        Assert.Contains(s.NetworkDiagnostics["plain_high_lr"], f => f.Layer == "fc4.weight");   // updates far larger than 1/1000 of the weights
        using var json = JsonDocument.Parse(File.ReadAllText(dir.File("run", "summary.json")));
        Assert.Equal("bn_test_accuracy", json.RootElement.GetProperty("published").GetProperty("metric").GetString());
        Assert.Equal(s.BnTestAccuracy, json.RootElement.GetProperty("bn_test_accuracy").GetDouble());
        Assert.Equal(3, json.RootElement.GetProperty("accuracy_at_steps").GetArrayLength());
        foreach (var f in new[] { "config.json", "metrics.csv", "checkpoint.bin", "model_plain.pt", "model_bn.pt", "diagnostics_networks.json", "report.html" })
            Assert.True(File.Exists(dir.File("run", f)), $"{f} missing from the run folder");
        Assert.Contains("Fig. 1(c)", File.ReadAllText(dir.File("run", "report.html")));
    }

    [Fact]
    public void Same_seed_gives_the_same_run_and_the_weights_load_with_pytorchs_names()
    {
        using var dir = new TempDir();
        var o = Smoke with { Steps = 20, HighLrSteps = 0, EvalEvery = 10 };
        BatchNormSummary Run(string name) => PaperRun.Run(Experiment.Run, o, PaperRun.Context(Experiment.Paper, dir.File(name), mnist.Dir));
        var a = Run("a");
        var b = Run("b");
        Assert.Equal(a.AccuracyAtSteps, b.AccuracyAtSteps);
        static string[] Losses(string csv) => MetricsLog.Read(csv).Where(r => r.Split == "train").Select(r => $"{r.Step},{r.Name},{r.Value:R}").ToArray();
        Assert.Equal(Losses(dir.File("a", "metrics.csv")), Losses(dir.File("b", "metrics.csv")));
        // model_*.pt load strictly into fresh networks: every state-dict name (BN's running_mean, …) is where PyTorch expects it
        using var plain = new MnistMlp(false, 0.1);
        using var bn = new MnistMlp(true, 0.1);
        PyTorchExport.Load(plain, dir.File("a", "model_plain.pt"));
        PyTorchExport.Load(bn, dir.File("a", "model_bn.pt"));
        Assert.Contains("bn3.running_var", bn.state_dict().Keys);
        Assert.Equal(2, plain.state_dict().Keys.Count(k => k.StartsWith("fc1")));       // fc1.weight, fc1.bias
        Assert.Single(bn.state_dict().Keys, k => k.StartsWith("fc1"));                  // BN's β replaces the bias (§3.2)
    }

    [Fact]
    public void Resuming_gives_exactly_the_uninterrupted_run_of_all_four_networks() =>
        PaperRun.ResumesBitIdentically(Experiment.Paper, Experiment.Run, Smoke with { Steps = 30, HighLrSteps = 20, EvalEvery = 10 }, stopAfter: 10, data: mnist.Dir);

    [Fact]
    public void One_network_alone_trains_without_the_other()
    {
        using var dir = new TempDir();
        var s = PaperRun.Run(Experiment.Run, Smoke with { Networks = "bn", Steps = 50, HighLrSteps = 0, EvalEvery = 50 },
                             PaperRun.Context(Experiment.Paper, dir.File("run"), mnist.Dir));
        Assert.Null(s.PlainTestAccuracy);
        Assert.True(s.BnTestAccuracy > 0.5, $"BN after 50 steps: {s.BnTestAccuracy}");
        Assert.Null(s.HighLearningRate);
        Assert.Equal(new[] { "bn" }, s.NetworkDiagnostics.Keys);
    }

    [Theory]
    [InlineData("--high-lr-steps 400 must be at most --steps 300", "--smoke", "--high-lr-steps", "400")]
    [InlineData("--networks: expected one of both, plain, bn, got 'resnet'", "--networks", "resnet")]
    [InlineData("--batch-size: expected an integer in [2, 60000], got '1'", "--batch-size", "1")]
    [InlineData("--probe-unit: expected an integer in [0, 99], got '100'", "--probe-unit", "100")]
    public void Bad_flags_exit_2_naming_the_option(string message, params string[] args)
    {
        var (exit, stderr) = PaperMain.Run(Experiment.Main, args);
        Assert.Equal(2, exit);
        Assert.Contains(message, stderr);
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
