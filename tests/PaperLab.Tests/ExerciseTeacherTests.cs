// Tests that teach an exercise (tools/Exercises): each compares a from-scratch piece with the paper's
// definition computed another way, and says in the paper's terms what differs. They fail on the blank and
// pass on the reference (tools/Exercises verify checks the first in CI; the suite checks the second).

using PaperLab.Papers.Ddpm;
using PaperLab.Papers.Gpt;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;
using LeNet = PaperLab.Papers.LeNet5.LeNet5;

namespace PaperLab.Tests;

public class LeNet5ForwardTests
{
    [Fact]
    public void Features_are_fig_2_layer_by_layer()
    {
        torch.manual_seed(0);
        using var model = new LeNet();
        var layer = model.named_children().ToDictionary(c => c.name, c => (nn.Module<Tensor, Tensor>)c.module);
        using var scope = NewDisposeScope();
        Tensor x = randn(3, 1, 28, 28);
        Tensor f6 = model.Features(x);
        Assert.True(f6.shape.SequenceEqual(new long[] { 3, 84 }), $"Features must return F6's (B, 84) activations; got ({string.Join(", ", f6.shape)})");
        Tensor c1 = nn.functional.relu(layer["conv1"].forward(x));                 // C1 (B, 6, 28, 28)
        Tensor s2 = nn.functional.max_pool2d(c1, 2);                               // S2 (B, 6, 14, 14)
        Tensor c3 = nn.functional.relu(layer["conv2"].forward(s2));                // C3 (B, 16, 10, 10)
        Tensor s4 = nn.functional.max_pool2d(c3, 2);                               // S4 (B, 16, 5, 5)
        Tensor c5 = nn.functional.relu(layer["fc1"].forward(s4.flatten(1)));       // C5 (B, 120)
        Tensor expected = nn.functional.relu(layer["fc2"].forward(c5));            // F6 (B, 84)
        double error = (f6 - expected).abs().max().item<float>();
        Assert.True(error < 1e-5, $"F6 differs from C1 → ReLU → S2 max-pool → C3 → ReLU → S4 max-pool → C5 → ReLU → F6 → ReLU (Fig. 2) by {error:g3}");
        Tensor logits = model.forward(x);
        Assert.True((logits - layer["fc3"].forward(expected)).abs().max().item<float>() < 1e-5, "the logits are the output layer applied to F6");
    }
}

public class GptBlockTests
{
    [Fact]
    public void Block_is_x_plus_attn_of_ln_1_then_x_plus_mlp_of_ln_2()
    {
        torch.manual_seed(0);
        using var block = new Block(new GptConfig(VocabSize: 11, BlockSize: 8, NLayer: 1, NHead: 2, NEmbd: 16));
        block.eval();
        var part = block.named_children().ToDictionary(c => c.name, c => (nn.Module<Tensor, Tensor>)c.module);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        Tensor x = randn(2, 8, 16);
        Tensor y = block.forward(x);
        Assert.True(y.shape.SequenceEqual(x.shape), $"a block maps (B, T, C) to (B, T, C); got ({string.Join(", ", y.shape)})");
        Tensor h = x + part["attn"].forward(part["ln_1"].forward(x));
        Tensor expected = h + part["mlp"].forward(part["ln_2"].forward(h));
        double error = (y - expected).abs().max().item<float>();
        Assert.True(error < 1e-5, $"the block differs from x + attn(ln_1(x)), then x + mlp(ln_2(x)) (GPT-2 §2.3, pre-LN) by {error:g3}");
    }
}

public class DdpmExerciseTests
{
    [Fact]
    public void L_simple_is_the_mse_between_the_noise_and_its_prediction_at_a_uniform_step()
    {
        using var d = new GaussianDiffusion(NoiseSchedule.Linear(T: 100));
        torch.manual_seed(1);
        using var scope = NewDisposeScope();
        Tensor x0 = rand(4000, 1, 2, 2) * 2 - 1;
        var steps = new List<long>();
        // an oracle that reads ε back out of x_t = sqrt(ᾱ_t) x_0 + sqrt(1 − ᾱ_t) ε: its loss must be 0
        Tensor Oracle(Tensor xt, Tensor t)
        {
            steps.AddRange(t.data<long>().ToArray());
            var ab = t.data<long>().ToArray().Select(s => d.Schedule.AlphaBar[s]).ToArray();
            Tensor a = tensor(ab.Select(v => (float)Math.Sqrt(v)).ToArray()).reshape(-1, 1, 1, 1);
            Tensor b = tensor(ab.Select(v => (float)Math.Sqrt(1 - v)).ToArray()).reshape(-1, 1, 1, 1);
            return (xt - a * x0) / b;
        }
        double oracle = d.L_simple(Oracle, x0).item<float>();
        Assert.True(oracle < 1e-6, $"with ε_θ returning the true ε, L_simple = E‖ε − ε_θ(x_t, t)‖² should be 0, got {oracle:g3}: is x_t = q_sample(x_0, t, ε) with the same ε?");
        Assert.Equal(x0.shape[0], steps.Count);
        Assert.True(steps.All(s => s >= 1 && s <= 100), $"t must be drawn from 1 … T (Algorithm 1); drew {steps.Min()} … {steps.Max()}");
        Assert.True(steps.Count(s => s == 1) > 0 && steps.Count(s => s == 100) > 0, "t must reach both 1 and T");
        double zero = d.L_simple((xt, t) => zeros_like(xt), x0).item<float>();
        Assert.True(Math.Abs(zero - 1) < 0.05, $"with ε_θ = 0, L_simple is the mean of ε² ≈ 1 (ε ~ N(0, I)); got {zero:g4}");
    }

    [Fact]
    public void P_sample_is_the_mean_plus_sigma_t_z_of_algorithm_2()
    {
        var schedule = NoiseSchedule.Linear(T: 50);
        using var d = new GaussianDiffusion(schedule);
        torch.manual_seed(2);
        using var scope = NewDisposeScope();
        Tensor xt = randn(3, 1, 4, 4);
        static Tensor Eps(Tensor x, Tensor t) => 0.3 * x + 0.01 * t.reshape(-1, 1, 1, 1).to(float32);
        foreach (int t in new[] { 30, 1 })
        {
            using var g1 = new Generator(7);
            using var g2 = new Generator(7);
            Tensor ours = d.p_sample(Eps, xt, t, g1, clipDenoised: false);
            Tensor z = randn(xt.shape, generator: g2);
            Tensor mean = d.PosteriorMean(xt, t, Eps(xt, full(3, (long)t, dtype: int64)));   // Eq. 11
            Tensor expected = t > 1 ? mean + Math.Sqrt(schedule.Beta[t]) * z : mean;
            double error = (ours - expected).abs().max().item<float>();
            Assert.True(error < 1e-5, $"t = {t}: x_(t−1) differs from μ_θ(x_t, t) (Eq. 11) + σ_t z with σ_t² = β_t{(t == 1 ? " and z = 0 at t = 1" : ", z ~ N(0, I) from the generator")} by {error:g3}");
            // the default clips x̂_0 = (x_t − sqrt(1 − ᾱ_t) ε_θ)/sqrt(ᾱ_t) to [−1, 1] and takes the mean by Eq. 7
            using var g3 = new Generator(7);
            Tensor clipped = d.p_sample(Eps, xt, t, g3);
            double ab = schedule.AlphaBar[t];
            Tensor x0 = ((xt - Math.Sqrt(1 - ab) * Eps(xt, full(3, (long)t, dtype: int64))) / Math.Sqrt(ab)).clamp(-1, 1);
            Tensor expectedClipped = d.PosteriorMeanFromX0(xt, t, x0) + (t > 1 ? Math.Sqrt(schedule.Beta[t]) * z : zeros_like(z));
            double clipError = (clipped - expectedClipped).abs().max().item<float>();
            Assert.True(clipError < 1e-5, $"t = {t}, clipDenoised: x_(t−1) differs from μ̃_t(x_t, clip(x̂_0)) (Eq. 7) + σ_t z by {clipError:g3}");
        }
    }
}
