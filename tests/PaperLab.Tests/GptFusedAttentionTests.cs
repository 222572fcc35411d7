using PaperLab.Papers.Gpt;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace PaperLab.Tests;

/// <summary>The GPT's optional fused attention (libtorch's scaled_dot_product_attention) against the from-scratch one.</summary>
public class GptFusedAttentionTests
{
    static readonly GptConfig Tiny = new(VocabSize: 65, BlockSize: 16, NLayer: 2, NHead: 2, NEmbd: 32, Dropout: 0.0);

    static double MaxDiff(Tensor a, Tensor b) => (a - b).abs().max().to(float64).item<double>();

    [Theory]
    [InlineData(16, 16)]   // training: every position is a query
    [InlineData(5, 12)]    // generation with a cache: the last 5 of 12 positions are queries
    [InlineData(1, 9)]     // one new token
    public void Fused_attention_equals_the_from_scratch_attention_in_value_and_gradient(int tq, int tk)
    {
        using var attention = new CausalSelfAttention(Tiny);
        attention.to(float64);
        var gen = new Generator(4);
        using var q0 = randn(new long[] { 2, 2, tq, 16 }, float64, generator: gen);
        using var k0 = randn(new long[] { 2, 2, tk, 16 }, float64, generator: gen);
        using var v0 = randn(new long[] { 2, 2, tk, 16 }, float64, generator: gen);
        using var upstream = randn(new long[] { 2, 2, tq, 16 }, float64, generator: gen);
        (Tensor Y, Tensor[] Grads) Run(Func<Tensor, Tensor, Tensor, Tensor> attend)
        {
            var (q, k, v) = (q0.clone().requires_grad_(), k0.clone().requires_grad_(), v0.clone().requires_grad_());
            var y = attend(q, k, v);
            (y * upstream).sum().backward();
            return (y.detach(), new[] { q.grad!, k.grad!, v.grad! });
        }
        using var scope = NewDisposeScope();
        var scratch = Run(attention.Attend);
        var fused = Run(attention.AttendFused);
        Assert.True(MaxDiff(scratch.Y, fused.Y) < 1e-12, $"values differ by {MaxDiff(scratch.Y, fused.Y):e3}");
        for (int i = 0; i < 3; i++)
            Assert.True(MaxDiff(scratch.Grads[i], fused.Grads[i]) < 1e-12, $"gradient {"qkv"[i]} differs by {MaxDiff(scratch.Grads[i], fused.Grads[i]):e3}");
        // the mask is in force: without it query 0 (when it is position 0) would see later keys
        if (tq == tk)
        {
            var unmasked = nn.functional.scaled_dot_product_attention(q0, k0, v0);
            Assert.True(MaxDiff(unmasked, fused.Y) > 1e-2);
        }
    }

    [Fact]
    public void A_gpt_with_fused_attention_gives_the_same_logits_and_gradients()
    {
        torch.manual_seed(0);
        using var scratch = new Gpt(Tiny);
        torch.manual_seed(0);
        using var fused = new Gpt(Tiny with { FusedAttention = true });
        scratch.to(float64);
        fused.to(float64);
        var gen = new Generator(6);
        using var idx = randint(0, 65, new long[] { 3, 16 }, generator: gen);
        using var targets = randint(0, 65, new long[] { 3, 16 }, generator: gen);
        using (var scope = NewDisposeScope())
            Assert.True(MaxDiff(scratch.forward(idx), fused.forward(idx)) < 1e-10);
        var a = CheckpointComparison.LossAndGradients(scratch, () => scratch.Loss(idx, targets));
        var b = CheckpointComparison.LossAndGradients(fused, () => fused.Loss(idx, targets));
        CheckpointComparison.AssertSame(a, b, 1e-10);
    }

    [Fact]
    public void Fused_attention_with_a_cache_gives_the_logits_of_the_full_forward()
    {
        torch.manual_seed(1);
        using var model = new Gpt(Tiny with { FusedAttention = true });
        model.eval();
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var idx = randint(0, 65, new long[] { 2, 12 }, generator: new Generator(2));
        var full = model.forward(idx);
        var caches = Enumerable.Range(0, Tiny.NLayer).Select(_ => new KeyValueCache()).ToArray();
        var first = model.forward(idx[TensorIndex.Colon, TensorIndex.Slice(0, 7)], caches);      // prefill 7 positions
        var rest = model.forward(idx[TensorIndex.Colon, TensorIndex.Slice(7, 12)], caches);      // then 5 at once
        Assert.True(MaxDiff(cat(new[] { first, rest }, 1), full) < 1e-5);
        foreach (var c in caches) c.Dispose();
    }
}
