// Gradient checkpointing, from
//   T. Chen, B. Xu, C. Zhang, C. Guestrin. "Training Deep Nets with Sublinear Memory Cost". arXiv:1604.06174, 2016.
//   §4.1 (Algorithm 1: backpropagation with data dropping in a linear chain network): run the forward pass,
//        keep only the outputs of chosen "checkpoint" nodes, drop everything else; in the backward pass,
//        recompute each dropped segment from the checkpoint before it, then backpropagate through it.
//   §4.3 (Eq. 1): with n layers cut into k segments, training memory is
//        cost-total = max_i cost-of-segment(i) + O(k) = O(n/k) + O(k),
//        smallest at k = √n, which gives O(2√n) memory for the price of one more forward pass.
//   §4.4 (recursion, O(log n) memory) is not implemented here.
//
// How it maps onto TorchSharp. The paper works on MXNet's computation graph. Here the graph nodes we can
// drop are whole layers (a GPT block, an encoder layer, a residual block), and a segment is a run of
// consecutive layers. A custom autograd function (torch.autograd.Function, as PyTorch's own
// torch.utils.checkpoint is built) stands for the whole segment in the graph:
//   forward   runs the segment with gradient recording off, so none of its activations are kept; saves
//             only the segment's inputs (the checkpoint) and the random generator's state;
//   backward  puts the generator back to that state, runs the segment again with recording on (the
//             recompute, §4.1), backpropagates the incoming gradient through this fresh little graph
//             (which accumulates into the parameters' .grad), hands the inputs' gradients on, and releases
//             the checkpoint and the recomputed activations before the next segment is recomputed.
//
// Why the generator's state: dropout inside a segment draws its mask from torch's default generator. The
// recompute must draw the same mask, or the gradients belong to a different network than the forward pass
// computed (PyTorch's checkpoint does this with preserve_rng_state). Afterwards the generator is put back
// where it was, so the rest of training sees the random numbers a run without checkpointing sees:
// same seed ⇒ same losses, with or without checkpointing.

using TorchSharp;
using static TorchSharp.torch;

namespace PaperLab.Training;

/// <summary>
/// Gradient checkpointing (Chen et al. 2016): trade one extra forward pass for O(√n) activation memory.
/// See the file header for the algorithm and how it maps onto TorchSharp.
/// </summary>
public static class GradientCheckpoint
{
    /// <summary>
    /// The paper's choice k = √n segments for n layers (Chen et al. 2016, §4.3, Eq. 1: memory O(k) + O(n/k)
    /// is smallest at k = √n), rounded up: 2 for 2 to 4 layers, 3 for 5 to 9, 4 for 16, 6 for 32.
    /// </summary>
    /// <remarks>
    /// Counting a layer's activations and its output alike (the paper's unit) and with whole segments, the memory
    /// is k + ⌈n/k⌉ units, which k = ⌈√n⌉ makes smallest
    /// (where k = ⌊√n⌋ ties, the larger k keeps the shorter segments, better whenever a layer keeps more than
    /// its output, which it always does). When a layer's activations a are many times its output b, as in a
    /// Transformer block, k·b + ⌈n/k⌉·a is smallest near k = √(n·a/b) instead (papers/Gpt/CHECKPOINTING.md).
    /// </remarks>
    /// <param name="layers">n, the number of layers in the chain (≥ 1).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="layers"/> is less than 1.</exception>
    public static int DefaultSegments(int layers)
    {
        if (layers < 1) throw new ArgumentOutOfRangeException(nameof(layers), layers, "a chain needs at least one layer to checkpoint");
        return (int)Math.Ceiling(Math.Sqrt(layers));
    }

    /// <summary>
    /// Cuts n layers into k consecutive segments whose lengths differ by at most one (the longer ones first):
    /// 10 layers in 3 segments → (0, 4), (4, 3), (7, 3).
    /// </summary>
    /// <param name="layers">n ≥ 1.</param>
    /// <param name="segments">k, 1 ≤ k ≤ n.</param>
    /// <returns>(first layer, number of layers) of each segment, in order.</returns>
    /// <exception cref="ArgumentOutOfRangeException">n &lt; 1, or k is not in [1, n].</exception>
    public static IReadOnlyList<(int Start, int Count)> Segments(int layers, int segments)
    {
        if (layers < 1) throw new ArgumentOutOfRangeException(nameof(layers), layers, "a chain needs at least one layer to checkpoint");
        if (segments < 1 || segments > layers)
            throw new ArgumentOutOfRangeException(nameof(segments), segments, $"the number of checkpoint segments must be between 1 and the number of layers ({layers})");
        var result = new List<(int, int)>(segments);
        int start = 0;
        for (int s = 0; s < segments; s++)
        {
            int count = layers / segments + (s < layers % segments ? 1 : 0);
            result.Add((start, count));
            start += count;
        }
        return result;
    }

    /// <summary>
    /// Runs a chain of n layers, x_{i+1} = layer(i, x_i, context), cut into <paramref name="segments"/>
    /// checkpointed segments (<see cref="Segments"/>): only each segment's input is kept for the backward
    /// pass, and each segment is recomputed when the backward pass reaches it (Algorithm 1 of Chen et al. 2016).
    /// </summary>
    /// <param name="layers">n ≥ 1.</param>
    /// <param name="segments">k, 1 ≤ k ≤ n; <see cref="DefaultSegments"/> gives the paper's √n.</param>
    /// <param name="layer">Applies layer i to the state x (same shape in and out as the chain needs) with the
    /// context tensors; it must read tensors that need a gradient only through its arguments (see <see cref="Checkpoint"/>).</param>
    /// <param name="x">The chain's input x_0.</param>
    /// <param name="context">Tensors every layer reads (an encoder's output, masks, a time embedding); each
    /// segment gets them as inputs, so gradients reach those that need one.</param>
    /// <returns>x_n.</returns>
    /// <exception cref="ArgumentOutOfRangeException">n &lt; 1, or k is not in [1, n].</exception>
    public static Tensor Sequential(int layers, int segments, Func<int, Tensor, IReadOnlyList<Tensor>, Tensor> layer,
                                    Tensor x, params Tensor[] context)
    {
        foreach (var (start, count) in Segments(layers, segments))
        {
            x = Checkpoint(inputs =>
            {
                // inputs = [x, context…]: in the recompute these are fresh leaves, not the tensors captured here
                var ctx = inputs.Skip(1).ToArray();
                using var scope = NewDisposeScope();
                Tensor h = inputs[0];
                for (int i = start; i < start + count; i++) h = layer(i, h, ctx);
                return h.MoveToOuterDisposeScope();
            }, [x, .. context]);
        }
        return x;
    }

    /// <summary>
    /// <paramref name="segment"/>(<paramref name="inputs"/>), computed now without keeping the activations
    /// inside the segment; the backward pass recomputes them (with the same dropout masks) and
    /// backpropagates through the recomputation. The result and all gradients equal those of calling
    /// <paramref name="segment"/> directly.
    /// </summary>
    /// <remarks>
    /// <para>Every tensor the segment reads that needs a gradient, other than the parameters of its
    /// modules, must be among <paramref name="inputs"/>; a captured one (say, an encoder output in a
    /// closure) would be backpropagated into from inside the recompute, once per segment.</para>
    /// <para>The parameters' gradients are accumulated into their <c>.grad</c> during the recompute (PyTorch's
    /// reentrant checkpoint does the same), so train with <c>loss.backward()</c>, not
    /// <c>torch.autograd.grad</c>.</para>
    /// <para>When gradient recording is off (<c>no_grad</c>, evaluation), or no input needs a gradient, the
    /// segment simply runs: there is no backward pass to save memory for, and running it through the
    /// checkpoint would cut its parameters off from the gradient.</para>
    /// <para>One backward pass per forward pass: each checkpoint is released as soon as the backward pass has
    /// recomputed its segment. A second backward pass through the same graph (retain_graph) ends the process
    /// with a message saying so, since an exception cannot travel back through libtorch's backward engine.</para>
    /// </remarks>
    /// <param name="segment">A deterministic function of its inputs, apart from torch's default generator
    /// (dropout); it returns one tensor.</param>
    /// <param name="inputs">The segment's inputs: any shapes and types (bool masks, int64 ids included).</param>
    /// <returns>The segment's output.</returns>
    public static Tensor Checkpoint(Func<IReadOnlyList<Tensor>, Tensor> segment, params Tensor[] inputs)
    {
        if (!is_grad_enabled() || !inputs.Any(t => t.requires_grad)) return segment(inputs);
        return CheckpointFunction.apply([segment, .. inputs]);
    }

    /// <summary>The autograd function that stands for one segment (see the file header).</summary>
    private sealed class CheckpointFunction : autograd.SingleTensorFunction<CheckpointFunction>
    {
        public override string Name => nameof(CheckpointFunction);

        // Gradients this thread's last backward calls handed to libtorch. libtorch copies them as soon as the call
        // returns, so the next call can free them; freeing them at the step's end instead would keep one
        // input-sized tensor per segment alive through the whole backward pass.
        [ThreadStatic] static List<Tensor>? handedOn;

        /// <param name="ctx">Where the checkpoint is kept for <see cref="backward"/>.</param>
        /// <param name="vars">[segment, input tensors…]; TorchSharp runs this with gradient recording off.</param>
        public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
        {
            var segment = (Func<IReadOnlyList<Tensor>, Tensor>)vars[0];
            var inputs = vars.Skip(1).Cast<Tensor>().ToArray();
            ctx.save_data("segment", segment);
            ctx.save_data("requires_grad", inputs.Select(t => t.requires_grad).ToArray());
            ctx.save_data("rng_state", GeneratorState());
            // The checkpoint: the segment's inputs, and nothing computed inside it. Kept as aliases that belong to
            // no dispose scope, and released by backward as soon as the recompute has used them, so the backward
            // pass frees the checkpoints one by one as it goes. (TorchSharp's save_for_backward would hold them
            // until the whole graph is released at the end of the step: its autograd nodes do not release saved
            // tensors after running, as PyTorch's do.) A forward pass that is never backpropagated leaves them to
            // the garbage collector: evaluate under no_grad, where no checkpoint is made.
            ctx.save_data("inputs", inputs.Select(t => t.detach().DetachFromDisposeScope()).ToArray());
            using var scope = NewDisposeScope();             // everything the segment allocates dies here…
            return segment(inputs).MoveToOuterDisposeScope(); // …except its output
        }

        /// <summary>Recomputes the segment and backpropagates <paramref name="grad_output"/> through it.</summary>
        /// <returns>[no gradient for the segment function, then one per input: its gradient, or null].</returns>
        /// <exception cref="InvalidOperationException">A second backward pass through the same forward pass (retain_graph).</exception>
        public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor grad_output)
        {
            if (handedOn is not null) foreach (var t in handedOn) t.Dispose();   // already copied by libtorch
            handedOn = new List<Tensor>();
            var segment = (Func<IReadOnlyList<Tensor>, Tensor>)ctx.get_data("segment");
            var requiresGrad = (bool[])ctx.get_data("requires_grad");
            var forwardRngState = (byte[])ctx.get_data("rng_state");
            var checkpoint = (Tensor[])ctx.get_data("inputs");
            if (checkpoint.Any(t => t.IsInvalid))
                throw new InvalidOperationException("a checkpointed segment is backpropagated once: its inputs are released after the first backward pass (retain_graph is not supported with gradient checkpointing)");
            var gradients = new List<Tensor> { null! };      // the segment function itself has no gradient
            using (var scope = NewDisposeScope())            // the recomputed activations die here, segment by segment
            {
                // Fresh leaves holding the checkpoint's values: the recompute's graph starts at them, so the
                // backward below stops there and leaves their gradients in .grad for us to pass on.
                Tensor[] inputs = checkpoint.Select((t, i) => t.detach().requires_grad_(requiresGrad[i])).ToArray();
                byte[] outerRngState = GeneratorState();
                Tensor output;
                try
                {
                    SetGeneratorState(forwardRngState);      // the same dropout masks as the forward pass drew
                    using (enable_grad()) output = segment(inputs);
                }
                finally
                {
                    SetGeneratorState(outerRngState);        // and the rest of training sees the numbers it would have seen
                }
                autograd.backward([output], [grad_output]);  // parameters' .grad accumulate here
                for (int i = 0; i < inputs.Length; i++)
                {
                    Tensor? g = requiresGrad[i] ? inputs[i].grad : null;
                    // out of this scope into the caller's (the step's), which frees it should no later call do so
                    if (g is not null) handedOn.Add(g.MoveToOuterDisposeScope());
                    gradients.Add(g!);
                }
            }
            foreach (var t in checkpoint) t.Dispose();       // this segment's checkpoint is no longer needed
            grad_output.Dispose();   // a handle TorchSharp made for this call; the engine holds its own reference
            return gradients;
        }

        static byte[] GeneratorState()
        {
            using var state = get_rng_state();
            return state.data<byte>().ToArray();
        }

        static void SetGeneratorState(byte[] state)
        {
            using var t = tensor(state);
            set_rng_state(t);
        }
    }
}
