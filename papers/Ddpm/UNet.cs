// The noise-prediction network ε_θ(x_t, t) of Ho et al. 2020, Appendix B, sized for a CPU.
//
// The paper's network is a PixelCNN++-style U-Net (Salimans et al. 2017) on Wide ResNet blocks:
//   * the step t enters through the Transformer's sinusoidal position embedding (§B: "Diffusion time t is
//     specified by adding the Transformer sinusoidal position embedding into each residual block"),
//     followed by a two-layer MLP;
//   * each resolution has residual blocks (group normalisation, swish, 3×3 convolution, t added between
//     the two convolutions), the encoder halves the resolution between levels, the decoder mirrors it
//     with skip connections from every encoder block;
//   * self-attention at the 16×16 resolution (for 32×32 CIFAR-10) and in the middle block.
// Here, for 28×28 grayscale images on two CPU cores: levels 28 → 14 → 7 with base width 32 and channel
// multipliers (1, 2, 2) (the paper: 128 and (1, 2, 2, 2)), self-attention at 7×7, one residual block per
// level in the encoder (two in the paper) and two in the decoder, no dropout (the paper: 0.1 on CIFAR-10,
// a regulariser for runs of 800k steps, not needed in a few thousand).
//
// UNetConfig.GradientCheckpointing (off by default) recomputes each residual block's activations in the
// backward pass instead of keeping them: T. Chen, B. Xu, C. Zhang, C. Guestrin, "Training Deep Nets with
// Sublinear Memory Cost", 2016, §4.1 (PaperLab.Training.GradientCheckpoint).

using PaperLab.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace PaperLab.Papers.Ddpm;

/// <summary>Shape of the U-Net; every field lands in config.json.</summary>
/// <param name="BaseChannels">Channels at the first level.</param>
/// <param name="ChannelMultipliers">Channels of level i = BaseChannels · multiplier i; one level per entry, halving the resolution between levels.</param>
/// <param name="ResBlocks">Residual blocks per level in the encoder (the decoder has one more, as in the paper).</param>
/// <param name="AttentionResolutions">Resolutions (side in pixels) whose blocks are followed by self-attention.</param>
/// <param name="Groups">Groups of each GroupNorm (divides every channel count).</param>
/// <param name="Dropout">Dropout inside residual blocks (the paper: 0.1 on CIFAR-10).</param>
/// <param name="GradientCheckpointing">Train with gradient checkpointing (Chen et al. 2016): keep only each residual
/// block's inputs and recompute its activations in the backward pass; same gradients, one more forward pass
/// through the residual blocks. The U-Net is not a chain (the skip connections keep every level's output
/// anyway), so each residual block is its own segment. See <see cref="PaperLab.Training.GradientCheckpoint"/>.</param>
public sealed record UNetConfig(int BaseChannels = 32, int[]? ChannelMultipliers = null, int ResBlocks = 1,
                                int[]? AttentionResolutions = null, int Groups = 8, double Dropout = 0.0,
                                bool GradientCheckpointing = false)
{
    /// <summary>Channel multipliers actually used: (1, 2, 2) unless given.</summary>
    public int[] Multipliers => ChannelMultipliers ?? [1, 2, 2];
    /// <summary>Attention resolutions actually used: 7×7 unless given.</summary>
    public int[] Attention => AttentionResolutions ?? [7];
}

/// <summary>
/// Sinusoidal embedding of the step t (Vaswani et al. 2017, §3.5, as used by Ho et al. §B):
/// e(t)_i = sin(t · 10000^(−i/(d/2−1))) for i &lt; d/2, and the matching cosines after them.
/// </summary>
public static class TimeEmbedding
{
    /// <summary>The embedding of each t.</summary>
    /// <param name="t">(B) int64 steps.</param>
    /// <param name="dim">Embedding width d (even, ≥ 4).</param>
    /// <returns>(B, d) float32.</returns>
    public static Tensor Sinusoidal(Tensor t, int dim)
    {
        if (dim < 4 || dim % 2 != 0) throw new ArgumentException($"the embedding width must be even and at least 4, got {dim}", nameof(dim));
        using var scope = NewDisposeScope();
        int half = dim / 2;
        Tensor freqs = exp(arange(half, dtype: float32) * (-Math.Log(10000.0) / (half - 1)));  // (d/2)
        Tensor angles = t.to(float32).unsqueeze(1) * freqs.unsqueeze(0);                          // (B, d/2)
        return cat(new[] { sin(angles), cos(angles) }, 1).MoveToOuterDisposeScope();
    }
}

/// <summary>Group normalisation (Wu &amp; He 2018) with its affine parameters set to the identity.</summary>
public static class Norm
{
    /// <summary>
    /// nn.GroupNorm(groups, channels) with weight = 1 and bias = 0 written explicitly: in TorchSharp 0.107
    /// the module's affine parameters can come out uninitialised (values up to 1e36 were seen here).
    /// </summary>
    /// <exception cref="ArgumentException">groups does not divide channels.</exception>
    public static GroupNorm Group(int groups, int channels)
    {
        if (channels % groups != 0) throw new ArgumentException($"{groups} groups do not divide {channels} channels");
        var norm = GroupNorm(groups, channels);
        using (no_grad())
        {
            norm.weight!.fill_(1.0);
            norm.bias!.zero_();
        }
        return norm;
    }
}

/// <summary>
/// Zero initialisation of the last layer of every residual branch and of the output, as in the authors'
/// released code (<c>default_init(0.)</c> in diffusion_tf/models/unet.py): each block starts as the
/// identity and ε_θ starts at 0, so L_simple starts at E‖ε‖²/d = 1.
/// </summary>
public static class ZeroInit
{
    /// <summary>Sets the weight and bias of <paramref name="conv"/> to 0.</summary>
    public static void Apply(Conv2d conv)
    {
        using var _ = no_grad();
        conv.weight!.zero_();
        conv.bias?.zero_();
    }
}

/// <summary>Residual block: GroupNorm → swish → 3×3 conv, + projected time embedding, GroupNorm → swish → dropout → 3×3 conv, plus the (1×1-projected) input.</summary>
public sealed class ResBlock : Module<Tensor, Tensor, Tensor>
{
    private readonly GroupNorm norm1, norm2;
    private readonly Conv2d conv1, conv2;
    private readonly Linear temb_proj;
    private readonly Dropout dropout;
    private readonly Module<Tensor, Tensor>? skip;

    /// <param name="inChannels">Input channels.</param>
    /// <param name="outChannels">Output channels.</param>
    /// <param name="tembDim">Width of the time embedding.</param>
    /// <param name="groups">GroupNorm groups.</param>
    /// <param name="dropoutRate">Dropout before the second convolution.</param>
    public ResBlock(int inChannels, int outChannels, int tembDim, int groups, double dropoutRate) : base(nameof(ResBlock))
    {
        norm1 = Norm.Group(groups, inChannels);
        conv1 = Conv2d(inChannels, outChannels, 3, padding: 1);
        temb_proj = Linear(tembDim, outChannels);
        norm2 = Norm.Group(groups, outChannels);
        dropout = Dropout(dropoutRate);
        conv2 = Conv2d(outChannels, outChannels, 3, padding: 1);
        if (inChannels != outChannels) skip = Conv2d(inChannels, outChannels, 1);
        ZeroInit.Apply(conv2);
        RegisterComponents();
    }

    /// <param name="x">(B, C_in, H, W).</param>
    /// <param name="temb">(B, tembDim), already through the embedding MLP.</param>
    /// <returns>(B, C_out, H, W).</returns>
    public override Tensor forward(Tensor x, Tensor temb)
    {
        using var scope = NewDisposeScope();
        Tensor h = conv1.forward(functional.silu(norm1.forward(x)));
        h = h + temb_proj.forward(functional.silu(temb)).unsqueeze(-1).unsqueeze(-1);
        h = conv2.forward(dropout.forward(functional.silu(norm2.forward(h))));
        return (h + (skip?.forward(x) ?? x)).MoveToOuterDisposeScope();
    }
}

/// <summary>Single-head self-attention over the H·W positions, with a residual connection (as in Ho et al. §B).</summary>
public sealed class AttnBlock : Module<Tensor, Tensor>
{
    private readonly GroupNorm norm;
    private readonly Conv2d qkv, proj_out;

    /// <param name="channels">C.</param>
    /// <param name="groups">GroupNorm groups.</param>
    public AttnBlock(int channels, int groups) : base(nameof(AttnBlock))
    {
        norm = Norm.Group(groups, channels);
        qkv = Conv2d(channels, 3 * channels, 1);
        proj_out = Conv2d(channels, channels, 1);
        ZeroInit.Apply(proj_out);
        RegisterComponents();
    }

    /// <param name="x">(B, C, H, W).</param>
    /// <returns>(B, C, H, W): x + attention output.</returns>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3];
        Tensor[] parts = qkv.forward(norm.forward(x)).reshape(b, 3, c, h * w).unbind(1);  // 3 × (B, C, HW)
        Tensor q = parts[0].transpose(1, 2), k = parts[1], v = parts[2].transpose(1, 2);
        Tensor weights = functional.softmax(q.bmm(k) / Math.Sqrt(c), -1);                   // (B, HW, HW)
        Tensor o = weights.bmm(v).transpose(1, 2).reshape(b, c, h, w);
        return (x + proj_out.forward(o)).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// The U-Net ε_θ(x_t, t): (B, 1, 28, 28) noisy images and (B) steps → (B, 1, 28, 28) predicted noise.
/// See the file header for how it follows and departs from Ho et al. 2020, Appendix B.
/// </summary>
public sealed class UNet : Module<Tensor, Tensor, Tensor>
{
    private readonly int baseChannels;
    private readonly Linear temb_dense0, temb_dense1;
    private readonly Conv2d conv_in, conv_out;
    private readonly ModuleList<Module> down, up;
    private readonly ResBlock mid_block1, mid_block2;
    private readonly AttnBlock mid_attn;
    private readonly GroupNorm norm_out;
    // per encoder / decoder entry: what it is (res, attention, resampling), so forward can route the skips
    private readonly List<string> downKinds = new(), upKinds = new();

    /// <summary>The configuration it was built with.</summary>
    public UNetConfig Config { get; }

    /// <param name="config">Widths, depths, attention resolutions.</param>
    /// <param name="imageChannels">Channels of the images (1 for grayscale).</param>
    /// <param name="imageSize">Side of the square images (28); must halve cleanly at every level.</param>
    public UNet(UNetConfig config, int imageChannels = 1, int imageSize = 28) : base(nameof(UNet))
    {
        Config = config;
        baseChannels = config.BaseChannels;
        int ch = config.BaseChannels, tembDim = 4 * ch, g = config.Groups;
        int[] mult = config.Multipliers;
        temb_dense0 = Linear(ch, tembDim);
        temb_dense1 = Linear(tembDim, tembDim);
        conv_in = Conv2d(imageChannels, ch, 3, padding: 1);

        // encoder: [res (+attn)] × ResBlocks per level, downsample between levels
        down = new ModuleList<Module>();
        var skipChannels = new List<int> { ch };
        int current = ch, size = imageSize;
        for (int level = 0; level < mult.Length; level++)
        {
            int outCh = ch * mult[level];
            for (int i = 0; i < config.ResBlocks; i++)
            {
                Add(down, downKinds, new ResBlock(current, outCh, tembDim, g, config.Dropout), "res");
                current = outCh;
                if (config.Attention.Contains(size)) Add(down, downKinds, new AttnBlock(current, g), "attn");
                skipChannels.Add(current);
            }
            if (level < mult.Length - 1)
            {
                if (size % 2 != 0) throw new ArgumentException($"resolution {size} at level {level} does not halve: use fewer levels or another image size");
                Add(down, downKinds, Conv2d(current, current, 3, stride: 2, padding: 1), "down");
                size /= 2;
                skipChannels.Add(current);
            }
        }

        mid_block1 = new ResBlock(current, current, tembDim, g, config.Dropout);
        mid_attn = new AttnBlock(current, g);
        mid_block2 = new ResBlock(current, current, tembDim, g, config.Dropout);

        // decoder: (ResBlocks + 1) res blocks per level, each eating one skip, upsample between levels
        up = new ModuleList<Module>();
        for (int level = mult.Length - 1; level >= 0; level--)
        {
            int outCh = ch * mult[level];
            for (int i = 0; i < config.ResBlocks + 1; i++)
            {
                int skip = skipChannels[^1];
                skipChannels.RemoveAt(skipChannels.Count - 1);
                Add(up, upKinds, new ResBlock(current + skip, outCh, tembDim, g, config.Dropout), "res");
                current = outCh;
                if (config.Attention.Contains(size)) Add(up, upKinds, new AttnBlock(current, g), "attn");
            }
            if (level > 0)
            {
                Add(up, upKinds, Conv2d(current, current, 3, padding: 1), "up");
                size *= 2;
            }
        }
        norm_out = Norm.Group(g, current);
        conv_out = Conv2d(current, imageChannels, 3, padding: 1);
        ZeroInit.Apply(conv_out);
        RegisterComponents();
    }

    static void Add(ModuleList<Module> list, List<string> kinds, Module m, string kind)
    {
        list.Add(m);
        kinds.Add(kind);
    }

    /// <summary>Predicted noise ε_θ(x_t, t).</summary>
    /// <param name="x">x_t (B, C, H, W) float32.</param>
    /// <param name="t">(B) int64 steps, 1 … T.</param>
    /// <returns>(B, C, H, W) float32.</returns>
    /// <exception cref="ArgumentException">t is not one step per image.</exception>
    public override Tensor forward(Tensor x, Tensor t)
    {
        if (t.dim() != 1 || t.shape[0] != x.shape[0])
            throw new ArgumentException($"t must hold one step per image: got shape ({string.Join(", ", t.shape)}) for {x.shape[0]} images");
        using var scope = NewDisposeScope();
        Tensor temb = TimeEmbedding.Sinusoidal(t, baseChannels);
        temb = temb_dense1.forward(functional.silu(temb_dense0.forward(temb)));   // (B, 4·ch)

        // Chen et al. 2016 §4.1: with checkpointing on, a residual block keeps only its inputs; its norms, swishes
        // and convolutions are recomputed when the backward pass reaches it
        Tensor Res(Module block, Tensor input) => Config.GradientCheckpointing
            ? GradientCheckpoint.Checkpoint(xs => ((ResBlock)block).forward(xs[0], xs[1]), input, temb)
            : ((ResBlock)block).forward(input, temb);

        Tensor h = conv_in.forward(x);
        var skips = new Stack<Tensor>();
        skips.Push(h);
        for (int i = 0; i < down.Count; i++)
        {
            switch (downKinds[i])
            {
                case "res": h = Res(down[i], h); if (i + 1 >= down.Count || downKinds[i + 1] != "attn") skips.Push(h); break;
                case "attn": h = ((AttnBlock)down[i]).forward(h); skips.Push(h); break;
                default: h = ((Conv2d)down[i]).forward(h); skips.Push(h); break;
            }
        }
        h = Res(mid_block2, mid_attn.forward(Res(mid_block1, h)));
        for (int i = 0; i < up.Count; i++)
        {
            switch (upKinds[i])
            {
                case "res": h = Res(up[i], cat(new[] { h, skips.Pop() }, 1)); break;
                case "attn": h = ((AttnBlock)up[i]).forward(h); break;
                default:
                    h = functional.interpolate(h, scale_factor: new[] { 2.0, 2.0 }, mode: InterpolationMode.Nearest);
                    h = ((Conv2d)up[i]).forward(h);
                    break;
            }
        }
        return conv_out.forward(functional.silu(norm_out.forward(h))).MoveToOuterDisposeScope();
    }
}
