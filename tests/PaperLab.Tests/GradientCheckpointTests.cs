using PaperLab.Data;
using PaperLab.Papers.Ddpm;
using PaperLab.Papers.Gpt;
using PaperLab.Papers.Transformer;
using PaperLab.Training;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using static TorchSharp.torch;
using TransformerModel = PaperLab.Papers.Transformer.Transformer;

namespace PaperLab.Tests;

/// <summary>Comparisons of a run with and without gradient checkpointing.</summary>
static class CheckpointComparison
{
    /// <summary>
    /// The loss of <paramref name="loss"/> and every parameter's gradient, with torch's generator seeded to
    /// <paramref name="seed"/> first (so both runs draw the same dropout masks).
    /// </summary>
    public static (double Loss, Dictionary<string, Tensor> Grads) LossAndGradients(nn.Module model, Func<Tensor> loss, int seed = 7)
    {
        manual_seed(seed);
        model.zero_grad();
        using var scope = NewDisposeScope();
        var l = loss();
        l.backward();
        // gradients kept beyond the scope, in float64 whatever the model's type
        var grads = model.named_parameters().ToDictionary(p => p.name, p => p.parameter.grad!.detach().to(float64).clone().DetachFromDisposeScope());
        return (l.to(float64).item<double>(), grads);
    }

    /// <summary>Asserts the two runs' losses and every gradient agree to <paramref name="tolerance"/> (absolute), and that
    /// the gradients are not all zero (a comparison of zeros would prove nothing).</summary>
    public static void AssertSame((double Loss, Dictionary<string, Tensor> Grads) plain, (double Loss, Dictionary<string, Tensor> Grads) checkpointed,
                                  double tolerance = 1e-6)
    {
        Assert.Equal(plain.Loss, checkpointed.Loss, tolerance);
        Assert.Equal(plain.Grads.Keys.Order(), checkpointed.Grads.Keys.Order());
        int nonZero = 0;
        foreach (var (name, g) in plain.Grads)
        {
            double diff = (g - checkpointed.Grads[name]).abs().max().item<double>();
            Assert.True(diff <= tolerance, $"{name}: gradients differ by {diff:e3}");
            if (g.abs().max().item<double>() > 1e-8) nonZero++;
        }
        Assert.True(nonZero >= plain.Grads.Count * 3 / 4, $"only {nonZero} of {plain.Grads.Count} gradients are non-zero");
    }

    /// <summary>Copies <paramref name="from"/>'s parameters and buffers into <paramref name="to"/> (same architecture).</summary>
    public static void CopyWeights(nn.Module from, nn.Module to)
    {
        using var _ = no_grad();
        var target = to.state_dict();
        foreach (var (name, t) in from.state_dict()) target[name].copy_(t);
    }
}

/// <summary>The shared gradient-checkpointing facility (Chen et al. 2016) on a small chain.</summary>
public class GradientCheckpointTests
{
    /// <summary>A chain of n layers x → dropout(tanh(W_i x + b_i + c)), with a context vector c every layer reads.</summary>
    sealed class Chain : nn.Module<Tensor, Tensor>
    {
        private readonly ModuleList<Linear> layers;
        private readonly Dropout dropout;
        public Parameter c;

        public Chain(int n, int width, double p) : base(nameof(Chain))
        {
            layers = new ModuleList<Linear>(Enumerable.Range(0, n).Select(_ => nn.Linear(width, width, dtype: float64)).ToArray());
            dropout = nn.Dropout(p);
            c = nn.Parameter(randn(width, dtype: float64) * 0.1);
            RegisterComponents();
        }

        public int Segments { get; set; }   // 0: no checkpointing

        public Tensor Layer(int i, Tensor x, Tensor context) => dropout.forward(tanh(layers[i].forward(x) + context));

        public override Tensor forward(Tensor x) => Segments == 0
            ? Enumerable.Range(0, layers.Count).Aggregate(x, (h, i) => Layer(i, h, c))
            : GradientCheckpoint.Sequential(layers.Count, Segments, (i, h, ctx) => Layer(i, h, ctx[0]), x, c);
    }

    static Chain NewChain(int segments, double p = 0.3)
    {
        manual_seed(1);
        return new Chain(5, 6, p) { Segments = segments };
    }

    [Fact]
    public void Segments_cut_the_chain_evenly_and_the_default_is_the_square_root()
    {
        Assert.Equal(new[] { (0, 4), (4, 3), (7, 3) }, GradientCheckpoint.Segments(10, 3));
        Assert.Equal(new[] { (0, 1), (1, 1), (2, 1), (3, 1) }, GradientCheckpoint.Segments(4, 4));
        Assert.Equal(new[] { (0, 4) }, GradientCheckpoint.Segments(4, 1));
        // k = ⌈√n⌉ (Chen et al. §4.3): k checkpoints plus the longest segment, k + ⌈n/k⌉, is smallest there
        Assert.Equal(new[] { 1, 2, 2, 3, 3, 4, 6 }, new[] { 1, 2, 4, 6, 9, 16, 32 }.Select(GradientCheckpoint.DefaultSegments));
        for (int n = 1; n <= 64; n++)
        {
            int k = GradientCheckpoint.DefaultSegments(n);
            double Cost(int s) => s + Math.Ceiling((double)n / s);
            Assert.All(Enumerable.Range(1, n), s => Assert.True(Cost(k) <= Cost(s), $"n {n}: k {k} costs {Cost(k)}, k {s} costs {Cost(s)}"));
        }
    }

    [Fact]
    public void Bad_segment_counts_are_rejected_with_the_argument_named()
    {
        Assert.Contains("between 1 and the number of layers (4)", Assert.Throws<ArgumentOutOfRangeException>(() => GradientCheckpoint.Segments(4, 5)).Message);
        Assert.Equal("segments", Assert.Throws<ArgumentOutOfRangeException>(() => GradientCheckpoint.Segments(4, 0)).ParamName);
        Assert.Equal("layers", Assert.Throws<ArgumentOutOfRangeException>(() => GradientCheckpoint.DefaultSegments(0)).ParamName);
        Assert.Contains("n_layer (4)", Assert.Throws<ArgumentException>(() => new Gpt(new GptConfig(NLayer: 4, GradientCheckpointing: true, CheckpointSegments: 5))).Message);
        Assert.Contains("N (2)", Assert.Throws<ArgumentException>(() => new TransformerModel(new ModelConfig(10, 10, N: 2, CheckpointSegments: 3))).Message);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(5)]
    public void A_checkpointed_chain_with_dropout_gives_the_plain_output_and_gradients(int segments)
    {
        using var plain = NewChain(0);
        using var checkpointed = NewChain(segments);
        checkpointed.train();
        plain.train();
        using var x0 = randn(new long[] { 4, 6 }, float64, generator: new Generator(3));
        using var xPlain = x0.clone().requires_grad_();
        using var xCheck = x0.clone().requires_grad_();
        var a = CheckpointComparison.LossAndGradients(plain, () => plain.forward(xPlain).pow(2).sum());
        var b = CheckpointComparison.LossAndGradients(checkpointed, () => checkpointed.forward(xCheck).pow(2).sum());
        CheckpointComparison.AssertSame(a, b, 1e-12);
        Assert.True((xPlain.grad! - xCheck.grad!).abs().max().item<double>() < 1e-12, "the input's gradient");
        // dropout was active: another seed gives other gradients, so equal gradients above mean equal masks
        var c = CheckpointComparison.LossAndGradients(plain, () => plain.forward(x0).pow(2).sum(), seed: 8);
        Assert.True((a.Grads["c"] - c.Grads["c"]).abs().max().item<double>() > 1e-3);
    }

    [Fact]
    public void The_segment_runs_without_a_graph_then_again_with_one_in_the_backward_pass()
    {
        using var w = randn(3, 3, float64).requires_grad_();
        using var x = randn(2, 3, float64).requires_grad_();
        var gradModes = new List<bool>();
        Tensor Segment(IReadOnlyList<Tensor> inputs)
        {
            gradModes.Add(is_grad_enabled());
            return tanh(inputs[0].matmul(w)).matmul(w);
        }
        using (var scope = NewDisposeScope())
        {
            var y = GradientCheckpoint.Checkpoint(Segment, x);
            Assert.Equal(new[] { false }, gradModes);   // forward: nothing inside the segment was recorded
            Assert.True(y.requires_grad);                // but the output is attached to the graph
            y.sum().backward();
            Assert.Equal(new[] { false, true }, gradModes);  // backward: recomputed with recording on
        }
        using (var scope = NewDisposeScope())
        {
            var expected = autograd.grad(new[] { tanh(x.matmul(w)).matmul(w).sum() }, new[] { x, w });
            Assert.True((x.grad! - expected[0]).abs().max().item<double>() < 1e-12);
            Assert.True((w.grad! - expected[1]).abs().max().item<double>() < 1e-12);
        }
        gradModes.Clear();
        using (no_grad())
        {
            using var y = GradientCheckpoint.Checkpoint(Segment, x);
            Assert.False(y.requires_grad);
            Assert.Equal(new[] { false }, gradModes);   // evaluation: runs once, plainly
        }
    }

    [Fact]
    public void The_backward_pass_leaves_the_generator_where_a_plain_run_leaves_it()
    {
        double NextDraw(int segments)
        {
            using var chain = NewChain(segments);
            manual_seed(11);
            using (var scope = NewDisposeScope())
                chain.forward(ones(4, 6, float64)).sum().backward();
            return rand(1, float64).item<double>();
        }
        Assert.Equal(NextDraw(0), NextDraw(2));
    }

    [Fact]
    public void Each_segment_frees_its_recomputed_activations_before_the_next_is_recomputed()
    {
        manual_seed(2);
        var layers = Enumerable.Range(0, 6).Select(_ => nn.Linear(8, 8, dtype: float64)).ToArray();
        var liveAtRecompute = new List<long>();
        Tensor Layer(int i, Tensor h, IReadOnlyList<Tensor> _)
        {
            if (is_grad_enabled()) liveAtRecompute.Add(DisposeScopeManager.Statistics.ThreadTotalLiveCount);
            return tanh(layers[i].forward(h));
        }
        using var x = randn(4, 8, float64).requires_grad_();
        using (var scope = NewDisposeScope())
            GradientCheckpoint.Sequential(6, 6, Layer, x).sum().backward();
        Assert.Equal(6, liveAtRecompute.Count);   // one recompute per segment, the last segment first
        // Tensors alive when each recompute starts fall from one segment to the next: a finished segment leaves
        // behind neither its recomputed activations nor its checkpoint (only the gradient it handed on, until the
        // next segment's backward). Keeping the recomputed activations would add several per segment.
        for (int i = 1; i < 6; i++)
            Assert.True(liveAtRecompute[i] < liveAtRecompute[i - 1], $"live tensors at the recomputes: {string.Join(", ", liveAtRecompute)}");
        foreach (var l in layers) l.Dispose();
    }

    [Fact]
    public void A_checkpointed_step_leaves_no_tensor_alive_after_its_scope()
    {
        using var chain = NewChain(2);
        using var x = randn(4, 6, float64);
        long LiveAfterStep()
        {
            using (var scope = NewDisposeScope())
                chain.forward(x).sum().backward();
            return DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        }
        LiveAfterStep();  // the first step creates the parameters' .grad
        long before = LiveAfterStep();
        for (int i = 0; i < 3; i++) Assert.Equal(before, LiveAfterStep());
    }
}

/// <summary>Gradient checkpointing in the three models: the same gradients and losses as without.</summary>
public class GradientCheckpointModelTests
{
    static Gpt NewGpt(GptConfig config)
    {
        manual_seed(0);
        var model = new Gpt(config);
        return model;
    }

    [Theory]
    [InlineData(0)]   // √4 = 2 segments of two blocks
    [InlineData(3)]   // uneven: 2 + 1 + 1
    [InlineData(4)]   // every block its own segment
    public void Gpt_gradients_with_checkpointing_equal_the_plain_ones_with_dropout(int segments)
    {
        var config = new GptConfig(VocabSize: 65, BlockSize: 16, NLayer: 4, NHead: 2, NEmbd: 32, Dropout: 0.2);
        using var plain = NewGpt(config);
        using var checkpointed = NewGpt(config with { GradientCheckpointing = true, CheckpointSegments = segments });
        plain.to(float64);
        checkpointed.to(float64);
        CheckpointComparison.CopyWeights(plain, checkpointed);
        var gen = new Generator(5);
        using var idx = randint(0, 65, new long[] { 3, 16 }, generator: gen);
        using var targets = randint(0, 65, new long[] { 3, 16 }, generator: gen);
        var a = CheckpointComparison.LossAndGradients(plain, () => plain.Loss(idx, targets));
        var b = CheckpointComparison.LossAndGradients(checkpointed, () => checkpointed.Loss(idx, targets));
        CheckpointComparison.AssertSame(a, b);
    }

    [Fact]
    public void Tiny_gpt_trains_to_the_same_losses_over_fifty_steps_with_and_without_checkpointing()
    {
        var config = new GptConfig(VocabSize: 16, BlockSize: 12, NLayer: 4, NHead: 2, NEmbd: 32, Dropout: 0.1);
        float[] Train(GptConfig c)
        {
            using var model = NewGpt(c);   // seeds torch: same weights, then the same dropout masks step by step
            using var optimizer = optim.AdamW(model.parameters(), lr: 3e-3);
            var data = new Generator(42);
            var losses = new float[50];
            for (int step = 0; step < losses.Length; step++)
            {
                using var scope = NewDisposeScope();
                var x = randint(0, 16, new long[] { 8, 12 }, generator: data);
                var y = (x * 3 + 1) % 16;   // a rule to learn, so the losses move
                optimizer.zero_grad();
                var loss = model.Loss(x, y);
                loss.backward();
                nn.utils.clip_grad_norm_(model.parameters(), 1.0);
                optimizer.step();
                losses[step] = loss.item<float>();
            }
            return losses;
        }
        float[] plain = Train(config);
        float[] checkpointed = Train(config with { GradientCheckpointing = true });
        for (int i = 0; i < plain.Length; i++) Assert.True(Math.Abs(plain[i] - checkpointed[i]) <= 1e-6, $"step {i}: {plain[i]} vs {checkpointed[i]}");
        Assert.True(plain[^1] < plain[0] - 0.5, $"the model did not train: {plain[0]} → {plain[^1]}");
    }

    [Theory]
    [InlineData(0)]   // √3 → 2 segments per stack
    [InlineData(3)]   // every layer its own segment
    public void Transformer_gradients_with_checkpointing_equal_the_plain_ones_with_dropout(int segments)
    {
        var config = new ModelConfig(SourceVocab: 11, TargetVocab: 13, N: 3, DModel: 16, H: 2, DFf: 32, PDrop: 0.2, MaxLength: 16);
        TransformerModel New(ModelConfig c) { manual_seed(0); return new TransformerModel(c); }
        using var plain = New(config);
        using var checkpointed = New(config with { GradientCheckpointing = true, CheckpointSegments = segments });
        plain.to(float64);
        checkpointed.to(float64);
        CheckpointComparison.CopyWeights(plain, checkpointed);
        var gen = new Generator(5);
        using var src = randint(4, 11, new long[] { 3, 7 }, generator: gen);
        using var tgt = randint(4, 13, new long[] { 3, 6 }, generator: gen);
        using (no_grad())
        {
            src[0, TensorIndex.Slice(5, null)] = Vocabulary.PadId;   // padding, so the masks matter
            tgt[1, TensorIndex.Slice(4, null)] = Vocabulary.PadId;
        }
        using var tgtIn = tgt[TensorIndex.Colon, TensorIndex.Slice(0, 5)];
        using var tgtOut = tgt[TensorIndex.Colon, TensorIndex.Slice(1, null)];
        Tensor Loss(TransformerModel m) => TrainingRecipe.LabelSmoothedLoss(m.forward(src, tgtIn), tgtOut);
        var a = CheckpointComparison.LossAndGradients(plain, () => Loss(plain));
        var b = CheckpointComparison.LossAndGradients(checkpointed, () => Loss(checkpointed));
        CheckpointComparison.AssertSame(a, b);
        // the encoder's gradient arrives through the decoder segments' memory input
        Assert.True(b.Grads.Keys.Where(k => k.StartsWith("encoder.")).All(k => b.Grads[k].abs().max().item<double>() > 0));
    }

    [Fact]
    public void UNet_gradients_with_checkpointing_equal_the_plain_ones_with_dropout()
    {
        var config = new UNetConfig(BaseChannels: 8, ChannelMultipliers: [1, 2], ResBlocks: 1, AttentionResolutions: [4], Groups: 4, Dropout: 0.2);
        UNet New(UNetConfig c) { manual_seed(0); return new UNet(c, imageChannels: 1, imageSize: 8); }
        using var plain = New(config);
        using var checkpointed = New(config with { GradientCheckpointing = true });
        // float32 (the time embedding is float32 by construction); the recompute repeats the same float32
        // operations in the same order, so the gradients agree far below 1e-6
        // the zero-initialised output layers would make every gradient before them zero: draw all weights
        using (no_grad())
        {
            var gen = new Generator(9);
            foreach (var p in plain.parameters()) p.copy_(randn(p.shape, generator: gen) * 0.3);
        }
        CheckpointComparison.CopyWeights(plain, checkpointed);
        var data = new Generator(5);
        using var x = randn(new long[] { 2, 1, 8, 8 }, generator: data);
        using var t = randint(1, 1000, new long[] { 2 }, generator: data);
        using var noise = randn(new long[] { 2, 1, 8, 8 }, generator: data);
        var a = CheckpointComparison.LossAndGradients(plain, () => (plain.forward(x, t) - noise).pow(2).mean());
        var b = CheckpointComparison.LossAndGradients(checkpointed, () => (checkpointed.forward(x, t) - noise).pow(2).mean());
        CheckpointComparison.AssertSame(a, b);
    }
}

/// <summary>The memory bench behind --bench-memory (papers/Gpt/bench): its modes and its errors, not its numbers.</summary>
public class GradientCheckpointBenchTests
{
    [Fact]
    public void Bench_modes_map_to_segment_counts_and_bad_arguments_exit_2()
    {
        Assert.Equal(0, MemoryBench.Measure(4, "none", batchSize: 2, blockSize: 8, nEmbd: 16, nHead: 2).Segments);
        Assert.Equal(2, MemoryBench.Measure(4, "sqrt", batchSize: 2, blockSize: 8, nEmbd: 16, nHead: 2).Segments);
        var every = MemoryBench.Measure(4, "every", batchSize: 2, blockSize: 8, nEmbd: 16, nHead: 2);
        Assert.Equal(4, every.Segments);
        // writing 5 to /proc/self/clear_refs resets VmHWM on Linux ≥ 4.0, where /proc lets a process write it;
        // sandboxes (gVisor, some containers) refuse the write, and the result must then say so
        Assert.Equal(MemoryBench.ResetPeak(), every.PeakResetWorked);
        Assert.True(every.ResidentBeforeMiB > 0 && every.StepPeakMiB >= 0);
        Assert.Equal(2.0 * 8 * 16 * 4 / (1024 * 1024), every.BoundaryMiB, 12);
        foreach (var args in new[] { new[] { "--checkpoint", "sqrt" }, ["--layers", "4", "--checkpoint", "5"], ["--layers", "x"], ["--layers", "4", "--bogus", "1"], ["--layers"] })
            Assert.Equal(2, PaperMain.Run(MemoryBench.Run, args).Exit);
    }
}
