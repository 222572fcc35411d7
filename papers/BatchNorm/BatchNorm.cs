// Batch Normalization, from
//   S. Ioffe, C. Szegedy. "Batch Normalization: Accelerating Deep Network Training by Reducing Internal
//   Covariate Shift". ICML 2015 (arXiv:1502.03167).
//     §3, Algorithm 1   the Batch Normalizing Transform over a mini-batch (training);
//     §3, after Alg. 1  the backward pass: the chain rule through x̂, σ²_B and μ_B;
//     §3.1, Algorithm 2 training a batch-normalized network, then inference with population statistics;
//     §3.2              convolutional layers: one γ, β per feature map, statistics over the batch and all
//                       positions (m = B·H·W).
//
// For one activation x (one feature, or one feature map) over a mini-batch B = {x_1..m}, Algorithm 1 is
//
//   μ_B  = 1/m Σ x_i                        mini-batch mean
//   σ²_B = 1/m Σ (x_i − μ_B)²               mini-batch variance (biased: divided by m)
//   x̂_i  = (x_i − μ_B) / √(σ²_B + ε)        normalise
//   y_i  = γ x̂_i + β                        scale and shift: BN_γ,β(x_i)
//
// and its backward pass (the equations under Algorithm 1, with ℓ the loss):
//
//   ∂ℓ/∂x̂_i  = ∂ℓ/∂y_i · γ
//   ∂ℓ/∂σ²_B = Σ ∂ℓ/∂x̂_i · (x_i − μ_B) · (−1/2)(σ²_B + ε)^(−3/2)
//   ∂ℓ/∂μ_B  = (Σ ∂ℓ/∂x̂_i · −1/√(σ²_B + ε)) + ∂ℓ/∂σ²_B · Σ −2(x_i − μ_B) / m
//   ∂ℓ/∂x_i  = ∂ℓ/∂x̂_i · 1/√(σ²_B + ε) + ∂ℓ/∂σ²_B · 2(x_i − μ_B)/m + ∂ℓ/∂μ_B · 1/m
//   ∂ℓ/∂γ    = Σ ∂ℓ/∂y_i · x̂_i
//   ∂ℓ/∂β    = Σ ∂ℓ/∂y_i
//
// BatchNormFunction below is exactly these: its forward is Algorithm 1 and its backward is the six lines
// above, registered with autograd as a custom Function, so autograd does not differentiate it for us.
//
// Inference (Algorithm 2, lines 8–11): the mean and variance of the whole training population replace the
// mini-batch statistics, so that the output depends on the input only, deterministically:
//
//   E[x]   = E_B[μ_B]                       averaged over many training mini-batches
//   Var[x] = m/(m−1) · E_B[σ²_B]            the unbiased estimate
//   y      = γ/√(Var[x] + ε) · x + (β − γ E[x]/√(Var[x] + ε))      a linear transform
//
// What the paper does and what PyTorch does (and this module, by default, like PyTorch):
//   * The paper estimates E[x], Var[x] once, after training, by averaging over training mini-batches with the
//     frozen network (Alg. 2 line 10); §3.1 adds that moving averages let one track accuracy during training.
//   * PyTorch keeps exponential moving averages updated at every training forward pass:
//       running_mean ← (1 − momentum)·running_mean + momentum·μ_B
//       running_var  ← (1 − momentum)·running_var  + momentum·σ²_B·m/(m−1)
//     with momentum 0.1, starting from 0 and 1. The running variance uses the unbiased batch variance; the
//     normalisation in training uses the biased σ²_B, as in Algorithm 1.
//   * With momentum = null, PyTorch (and this module) keeps the cumulative average over all batches seen
//     instead (momentum_t = 1/t): that is the paper's E_B[μ_B] and m/(m−1)·E_B[σ²_B] exactly.
//     BatchNorm.EstimatePopulationStatistics runs Algorithm 2's lines 8–10 that way on a trained network.
//
// Names are PyTorch's: weight (γ), bias (β), running_mean, running_var, num_batches_tracked, eps, momentum,
// so a state dict loads into torch.nn.BatchNorm1d/2d.

using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace PaperLab.Papers.BatchNorm;

/// <summary>
/// Algorithm 1 of Ioffe &amp; Szegedy 2015 as a custom autograd function: the forward pass normalises with the
/// mini-batch statistics, and the backward pass is the paper's chain rule (§3), written out, not derived by
/// autograd.
/// </summary>
/// <remarks>
/// Call through <c>BatchNormFunction.apply(x, gamma, beta, eps)</c>:
/// x is (B, C) or (B, C, *) — statistics per channel C over the batch and every other dimension (§3.2, m = B·∏*);
/// gamma and beta are (C); eps is a double. Returns three tensors: y (the shape of x), μ_B (C) and σ²_B (C, biased).
/// Only y carries a gradient: the backward ignores any gradient arriving through μ_B and σ²_B, which exist
/// to update the running estimates and should be used detached.
/// </remarks>
public sealed class BatchNormFunction : autograd.MultiTensorFunction<BatchNormFunction>
{
    /// <inheritdoc/>
    public override string Name => "BatchNormFunction";

    /// <summary>Algorithm 1. vars: x (B, C, *), gamma (C), beta (C), eps (double).</summary>
    public override List<Tensor> forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var x = (Tensor)vars[0];
        var gamma = (Tensor)vars[1];
        var beta = (Tensor)vars[2];
        double eps = (double)vars[3];
        var (y, mu, variance, xhat) = Transform(x, gamma, beta, eps);

        ctx.save_for_backward([x, gamma, mu, variance, xhat]);
        ctx.save_data("eps", eps);
        // μ_B and σ²_B are outputs only for the running estimates: no gradient is taken through them, so none is
        // made up for them either. (TorchSharp 0.107 would fill them with zeros shaped from copies it registers in
        // the caller's dispose scope, which a layer's own scope has freed by the time backward runs.)
        ctx.set_materialize_grads(false);
        return [y, mu, variance];
    }

    /// <summary>
    /// Algorithm 1 of Ioffe &amp; Szegedy 2015, the batch-normalising transform, on a mini-batch: per channel, the
    /// mean μ_B and variance σ²_B (divided by m) over every dimension but the channel, x̂ = (x − μ_B)/√(σ²_B + ε),
    /// y = γ x̂ + β.
    /// </summary>
    /// <param name="x">(B, C) or (B, C, H, W) float.</param>
    /// <param name="gamma">γ (C).</param>
    /// <param name="beta">β (C).</param>
    /// <param name="eps">ε, added to the variance.</param>
    /// <returns>y (shape of x), μ_B (C), σ²_B (C), x̂ (shape of x).</returns>
    public static (Tensor Y, Tensor Mu, Tensor Variance, Tensor XHat) Transform(Tensor x, Tensor gamma, Tensor beta, double eps)
    {
        // exercise batchnorm-transform: Algorithm 1 of Ioffe & Szegedy 2015 — per channel over every other dimension: μ_B, σ²_B (÷ m), x̂ = (x − μ_B)/√(σ²_B + ε), y = γ x̂ + β; return (y, μ_B, σ²_B, x̂)
        long[] dims = StatisticsDims(x);           // every dimension except the channel one
        long[] shape = BroadcastShape(x);          // (1, C, 1, …): the per-channel values against x

        Tensor mu = x.mean(dims);                                           // μ_B  (C)
        Tensor xc = x - mu.view(shape);                                     // x_i − μ_B
        Tensor variance = (xc * xc).mean(dims);                             // σ²_B (C), divided by m
        Tensor xhat = xc * (variance + eps).rsqrt().view(shape);            // x̂_i
        Tensor y = gamma.view(shape) * xhat + beta.view(shape);             // y_i = γ x̂_i + β
        return (y, mu, variance, xhat);
        // end exercise
    }

    /// <summary>The backward pass of §3: gradients of x, γ and β from ∂ℓ/∂y (grad_outputs[0]).</summary>
    public override List<Tensor> backward(autograd.AutogradContext ctx, List<Tensor> grad_outputs)
    {
        using var scope = NewDisposeScope();
        var saved = ctx.get_saved_variables();
        Tensor x = saved[0], gamma = saved[1], mu = saved[2], variance = saved[3], xhat = saved[4];
        double eps = (double)ctx.get_data("eps");
        Tensor dy = grad_outputs[0];                                        // ∂ℓ/∂y_i
        if (dy.IsInvalid) return [null!, null!, null!, null!];              // y did not reach the loss
        long[] dims = StatisticsDims(x);
        long[] shape = BroadcastShape(x);
        double m = x.numel() / x.shape[1];                                  // values per channel: B (·H·W)

        Tensor xc = x - mu.view(shape);                                     // x_i − μ_B
        Tensor varEps = (variance + eps).view(shape);                       // σ²_B + ε, broadcastable

        Tensor dxhat = dy * gamma.view(shape);                                            // ∂ℓ/∂x̂_i
        Tensor dvar = (dxhat * xc * -0.5 * varEps.pow(-1.5)).sum(dims);                   // ∂ℓ/∂σ²_B
        Tensor dmu = (dxhat * -varEps.rsqrt()).sum(dims)
                     + dvar * (-2.0 * xc).sum(dims) / m;                                  // ∂ℓ/∂μ_B (2nd term ≈ 0: Σ(x_i − μ_B) = 0)
        Tensor dx = dxhat * varEps.rsqrt()
                    + dvar.view(shape) * 2.0 * xc / m
                    + dmu.view(shape) / m;                                                // ∂ℓ/∂x_i
        Tensor dgamma = (dy * xhat).sum(dims);                                            // ∂ℓ/∂γ
        Tensor dbeta = dy.sum(dims);                                                      // ∂ℓ/∂β

        // one gradient per input of forward: x, gamma, beta, and none for eps
        return [dx.MoveToOuterDisposeScope(), dgamma.MoveToOuterDisposeScope(), dbeta.MoveToOuterDisposeScope(), null!];
    }

    /// <summary>The dimensions statistics are taken over: all but 1 (the channel). (B, C) → [0]; (B, C, H, W) → [0, 2, 3].</summary>
    internal static long[] StatisticsDims(Tensor x) => Enumerable.Range(0, (int)x.dim()).Where(d => d != 1).Select(d => (long)d).ToArray();

    /// <summary>(1, C, 1, …) with x's rank: reshapes a per-channel (C) tensor to broadcast against x.</summary>
    internal static long[] BroadcastShape(Tensor x) => Enumerable.Range(0, (int)x.dim()).Select(d => d == 1 ? x.shape[1] : 1L).ToArray();
}

/// <summary>
/// A batch-normalisation layer (Ioffe &amp; Szegedy 2015): in training, Algorithm 1 with the mini-batch's
/// statistics (through <see cref="BatchNormFunction"/>) and an update of the running estimates; in
/// evaluation, Algorithm 2's linear transform with the running (population) estimates. One module serves
/// fully connected (B, C) inputs, like torch.nn.BatchNorm1d, and convolutional (B, C, H, W) inputs, like
/// BatchNorm2d (§3.2: one γ, β per feature map, statistics over B·H·W values).
/// </summary>
public sealed class BatchNorm : Module<Tensor, Tensor>
{
    private readonly Parameter weight;        // γ (C), initialised to 1
    private readonly Parameter bias;          // β (C), initialised to 0
    private readonly Tensor running_mean;     // E[x] estimate (C), starts at 0
    private readonly Tensor running_var;      // Var[x] estimate (C), unbiased, starts at 1
    private readonly Tensor num_batches_tracked;   // training forward passes seen (int64 scalar)

    /// <summary>C: the features (or feature maps) normalised.</summary>
    public long NumFeatures { get; }
    /// <summary>ε added to the variance for numerical stability (Algorithm 1), PyTorch's default 1e-5.</summary>
    public double Eps { get; }
    /// <summary>
    /// Weight of the newest batch in the running estimates (PyTorch's default 0.1); null: the cumulative
    /// average over all training batches seen, the paper's E_B[·] of Algorithm 2.
    /// </summary>
    public double? Momentum { get; set; }

    /// <summary>γ (C).</summary>
    public Parameter Weight => weight;
    /// <summary>β (C).</summary>
    public Parameter Bias => bias;
    /// <summary>The running estimate of E[x] (C) used in evaluation.</summary>
    public Tensor RunningMean => running_mean;
    /// <summary>The running estimate of Var[x] (C), unbiased, used in evaluation.</summary>
    public Tensor RunningVar => running_var;
    /// <summary>Training batches folded into the running estimates.</summary>
    public long NumBatchesTracked => num_batches_tracked.item<long>();

    /// <param name="numFeatures">C, the size of dimension 1 of the input.</param>
    /// <param name="eps">ε, &gt; 0.</param>
    /// <param name="momentum">In (0, 1], or null for the cumulative average.</param>
    /// <exception cref="ArgumentException">numFeatures &lt; 1, eps ≤ 0 or momentum outside (0, 1].</exception>
    public BatchNorm(long numFeatures, double eps = 1e-5, double? momentum = 0.1) : base(nameof(BatchNorm))
    {
        if (numFeatures < 1) throw new ArgumentException($"numFeatures must be at least 1, got {numFeatures}", nameof(numFeatures));
        if (!(eps > 0)) throw new ArgumentException($"eps must be positive, got {eps}", nameof(eps));
        if (momentum is { } mo && !(mo > 0 && mo <= 1))
            throw new ArgumentException($"momentum must be in (0, 1] (or null for a cumulative average), got {mo}", nameof(momentum));
        NumFeatures = numFeatures;
        Eps = eps;
        Momentum = momentum;
        weight = Parameter(ones(numFeatures));
        bias = Parameter(zeros(numFeatures));
        running_mean = zeros(numFeatures);
        running_var = ones(numFeatures);
        num_batches_tracked = tensor(0L);
        RegisterComponents();
    }

    /// <summary>Normalises each channel: batch statistics in training mode, running estimates in evaluation mode.</summary>
    /// <param name="x">(B, C) or (B, C, *) floating point.</param>
    /// <returns>y, the shape of x.</returns>
    /// <exception cref="ArgumentException">x has fewer than 2 dimensions or its dimension 1 is not C; or, in
    /// training, only one value per channel (the variance of one value is 0 and its unbiased estimate undefined).</exception>
    public override Tensor forward(Tensor x)
    {
        if (x.dim() < 2 || x.shape[1] != NumFeatures)
            throw new ArgumentException($"BatchNorm({NumFeatures}) expects (B, {NumFeatures}) or (B, {NumFeatures}, …), got ({string.Join(", ", x.shape)})");
        return training ? TrainingForward(x) : InferenceForward(x);
    }

    // Algorithm 1 with the batch's statistics, then the running estimates take in μ_B and σ²_B.
    private Tensor TrainingForward(Tensor x)
    {
        long m = x.numel() / NumFeatures;
        if (m < 2)
            throw new ArgumentException($"BatchNorm in training needs more than one value per channel, got input ({string.Join(", ", x.shape)}); use a batch of 2 or more, or call eval()");
        using var scope = NewDisposeScope();
        var outputs = BatchNormFunction.apply(x, weight, bias, Eps);
        Tensor y = outputs[0], mu = outputs[1], variance = outputs[2];
        using (no_grad())
        {
            num_batches_tracked.add_(1);
            double factor = Momentum ?? 1.0 / num_batches_tracked.item<long>();
            running_mean.mul_(1 - factor).add_(mu.detach(), alpha: factor);
            running_var.mul_(1 - factor).add_(variance.detach() * ((double)m / (m - 1)), alpha: factor);   // unbiased
        }
        return y.MoveToOuterDisposeScope();
    }

    // Algorithm 2, line 11: y = γ/√(Var[x] + ε) · x + (β − γ E[x]/√(Var[x] + ε)), a fixed linear map per channel.
    private Tensor InferenceForward(Tensor x)
    {
        using var scope = NewDisposeScope();
        long[] shape = BatchNormFunction.BroadcastShape(x);
        Tensor scale = weight / (running_var + Eps).sqrt();             // γ/√(Var[x] + ε)
        Tensor shift = bias - scale * running_mean;                     // β − γ E[x]/√(Var[x] + ε)
        return (scale.view(shape) * x + shift.view(shape)).MoveToOuterDisposeScope();
    }

    /// <summary>Forgets the running estimates: mean 0, variance 1, no batches tracked (PyTorch's reset_running_stats).</summary>
    public void ResetRunningStats()
    {
        using var _ = no_grad();
        running_mean.zero_();
        running_var.fill_(1);
        num_batches_tracked.zero_();
    }

    /// <summary>
    /// Algorithm 2, lines 8–10: recomputes every BatchNorm layer's E[x] and Var[x] of <paramref name="network"/>
    /// as the plain average over the given training mini-batches — E_B[μ_B] and m/(m−1)·E_B[σ²_B] — with the
    /// network's parameters frozen (no gradients, no updates). Leaves the network in evaluation mode, ready for
    /// inference, and each layer's momentum as it was.
    /// </summary>
    /// <param name="network">A network containing <see cref="BatchNorm"/> layers.</param>
    /// <param name="batches">Training inputs, each a mini-batch of the size used in training (the paper's m).</param>
    /// <param name="forward">How to run the network on one batch (e.g. <c>x =&gt; model.call(x)</c>); the output is discarded.</param>
    /// <returns>The number of mini-batches averaged.</returns>
    /// <exception cref="ArgumentException">The network has no BatchNorm layer, or no batch was given.</exception>
    public static int EstimatePopulationStatistics(Module network, IEnumerable<Tensor> batches, Func<Tensor, Tensor> forward)
    {
        var layers = network.modules().OfType<BatchNorm>().ToList();
        if (layers.Count == 0) throw new ArgumentException("the network has no BatchNorm layer", nameof(network));
        var momenta = layers.Select(l => l.Momentum).ToList();
        foreach (var l in layers) { l.ResetRunningStats(); l.Momentum = null; }
        network.train();
        int n = 0;
        try
        {
            using var _ = no_grad();
            foreach (var batch in batches)
            {
                using var scope = NewDisposeScope();
                forward(batch);
                n++;
            }
        }
        finally
        {
            for (int i = 0; i < layers.Count; i++) layers[i].Momentum = momenta[i];
            network.eval();
        }
        if (n == 0) throw new ArgumentException("no mini-batch was given to average over", nameof(batches));
        return n;
    }
}
