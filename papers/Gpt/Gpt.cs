// GPT: a decoder-only Transformer language model, from
//   A. Radford, K. Narasimhan, T. Salimans, I. Sutskever. "Improving Language Understanding by Generative
//     Pre-Training". OpenAI, 2018. Section 3.1 (unsupervised pre-training: a multi-layer Transformer decoder,
//     Eq. 2: h0 = U·We + Wp, h_l = transformer_block(h_{l-1}), P(u) = softmax(h_n·Weᵀ)) and Section 4.1
//     (model specifications: learned position embeddings, GELU, N(0, 0.02) initialisation).
//   A. Radford, J. Wu, R. Child, D. Luan, D. Amodei, I. Sutskever. "Language Models are Unsupervised
//     Multitask Learners". OpenAI, 2019. Section 2.3: layer normalisation moved to the input of each
//     sub-block, a final layer normalisation after the last block, residual-layer weights scaled at
//     initialisation by 1/√N (N = number of residual layers).
//   A. Vaswani et al. "Attention Is All You Need". NeurIPS 2017. Section 3.2.1 (Eq. 1, scaled dot-product
//     attention), Section 3.2.2 (multi-head attention), Section 3.2.3 (masking future positions).
//   O. Press, L. Wolf. "Using the Output Embedding to Improve Language Models". EACL 2017 (weight tying,
//     which GPT's Eq. 2 writes as the transpose of the token embedding We).
//   D. Hendrycks, K. Gimpel. "Gaussian Error Linear Units (GELUs)". 2016.
//
// The layout follows the usual reading order of nanoGPT's model.py (github.com/karpathy/nanoGPT), whose
// Shakespeare-char configurations this project reproduces:
//
//   CausalSelfAttention   x (B,T,C) → q, k, v (B,nh,T,hs) → softmax(q·kᵀ/√hs + causal mask)·v → c_proj
//   Mlp                   C → 4C → GELU → C
//   Block                 x + attn(ln_1(x)), then x + mlp(ln_2(x))        (pre-LN residual, GPT-2 §2.3)
//   Gpt                   wte(idx) + wpe(pos) → dropout → blocks → ln_f → logits = h·wteᵀ
//
// Parameter count (all Linear layers and LayerNorms with biases, lm_head tied to wte, C = n_embd,
// V = vocab_size, T = block_size, L = n_layer):
//   V·C + T·C                      token and position embeddings
//   + L·(12·C² + 13·C)             per block: ln_1 2C, c_attn 3C²+3C, c_proj C²+C, ln_2 2C, c_fc 4C²+4C, c_proj 4C²+C
//   + 2·C                          ln_f
// = 809,856 for the default CPU model (V 65, T 64, L 4, C 128). See Gpt.ExpectedParameters.
//
// Deviation: GPT-2 uses the tanh approximation of GELU; this uses the exact erf form (as nanoGPT does).
//
// Two options of GptConfig change how the same function is computed, not what it is (both off by default, so
// the code above is what runs and what a reader follows):
//   GradientCheckpointing  T. Chen, B. Xu, C. Zhang, C. Guestrin. "Training Deep Nets with Sublinear Memory
//                          Cost". 2016. §4.1 Algorithm 1, §4.3 Eq. 1: the blocks run in √n_layer segments whose
//                          activations are recomputed in the backward pass (PaperLab.Training.GradientCheckpoint).
//   FusedAttention         libtorch's scaled_dot_product_attention in place of Attend (CausalSelfAttention.AttendFused).

using PaperLab.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace PaperLab.Papers.Gpt;

/// <summary>Shape of a GPT model (the names are nanoGPT's GPTConfig).</summary>
/// <param name="VocabSize">V: number of token ids (65 characters for Tiny Shakespeare).</param>
/// <param name="BlockSize">T: the longest context, and the number of learned position embeddings.</param>
/// <param name="NLayer">L: Transformer blocks.</param>
/// <param name="NHead">Attention heads per block; must divide <paramref name="NEmbd"/>.</param>
/// <param name="NEmbd">C (d_model): width of the residual stream.</param>
/// <param name="Dropout">Dropout probability on embeddings, attention weights and residual branches.</param>
/// <param name="GradientCheckpointing">Train with gradient checkpointing (Chen et al. 2016): keep only the input of
/// each segment of blocks and recompute the blocks in the backward pass; O(√n_layer) activation memory for one
/// more forward pass. Same losses and gradients as without. See <see cref="PaperLab.Training.GradientCheckpoint"/>.</param>
/// <param name="CheckpointSegments">Segments of blocks when checkpointing, 1 … n_layer; 0: the paper's √n_layer
/// (<see cref="Segments"/>); n_layer: every block its own segment.</param>
/// <param name="FusedAttention">Compute attention with libtorch's fused scaled_dot_product_attention instead of the
/// from-scratch <see cref="CausalSelfAttention.Attend"/> (nanoGPT's "flash" path): the same function, fewer
/// intermediate tensors; with dropout &gt; 0 it draws different dropout masks.</param>
public sealed record GptConfig(int VocabSize = 65, int BlockSize = 64, int NLayer = 4, int NHead = 4, int NEmbd = 128, double Dropout = 0.0,
                               bool GradientCheckpointing = false, int CheckpointSegments = 0, bool FusedAttention = false)
{
    /// <summary>Segments of blocks used when checkpointing: <see cref="CheckpointSegments"/>, or ⌈√n_layer⌉ when it is 0.</summary>
    public int Segments => CheckpointSegments > 0 ? CheckpointSegments : GradientCheckpoint.DefaultSegments(Math.Max(1, NLayer));

    /// <summary>Checks the shape; throws with the offending field named.</summary>
    /// <exception cref="ArgumentException">A size is not positive, n_embd is not a multiple of n_head, dropout is outside [0, 1), or checkpoint segments are outside 0 … n_layer.</exception>
    public void Validate()
    {
        if (VocabSize < 1 || BlockSize < 1 || NLayer < 1 || NHead < 1 || NEmbd < 1)
            throw new ArgumentException($"every size must be at least 1: {this}");
        if (NEmbd % NHead != 0)
            throw new ArgumentException($"n_embd ({NEmbd}) must be a multiple of n_head ({NHead}): each head gets n_embd / n_head dimensions");
        if (Dropout is < 0 or >= 1) throw new ArgumentException($"dropout must be in [0, 1), got {Dropout}");
        if (CheckpointSegments < 0 || CheckpointSegments > NLayer)
            throw new ArgumentException($"checkpoint segments must be between 1 and n_layer ({NLayer}), or 0 for √n_layer; got {CheckpointSegments}");
    }
}

/// <summary>
/// The keys and values one attention layer has already computed during generation, so that each new
/// token costs one forward step over one position instead of a pass over the whole context.
/// </summary>
public sealed class KeyValueCache : IDisposable
{
    /// <summary>Cached keys (B, nh, T_past, hs); null before the first step.</summary>
    public Tensor? Keys { get; private set; }
    /// <summary>Cached values (B, nh, T_past, hs); null before the first step.</summary>
    public Tensor? Values { get; private set; }
    /// <summary>T_past: positions already in the cache.</summary>
    public long Length => Keys?.shape[2] ?? 0;

    /// <summary>Appends the keys and values of the new positions and returns all of them.</summary>
    /// <param name="k">New keys (B, nh, T_new, hs).</param>
    /// <param name="v">New values (B, nh, T_new, hs).</param>
    /// <returns>(B, nh, T_past + T_new, hs) keys and values; the cache owns them.</returns>
    public (Tensor Keys, Tensor Values) Append(Tensor k, Tensor v)
    {
        var keys = Keys is null ? k.detach().clone() : cat(new[] { Keys, k.detach() }, 2);
        var values = Values is null ? v.detach().clone() : cat(new[] { Values, v.detach() }, 2);
        keys.DetachFromDisposeScope();
        values.DetachFromDisposeScope();
        Keys?.Dispose();
        Values?.Dispose();
        Keys = keys;
        Values = values;
        return (keys, values);
    }

    /// <summary>Releases the cached tensors.</summary>
    public void Dispose()
    {
        Keys?.Dispose();
        Values?.Dispose();
        Keys = Values = null;
    }
}

/// <summary>
/// Multi-head causal self-attention (Vaswani et al. 2017, §3.2.1–3.2.3): one linear map gives the queries,
/// keys and values of all heads; each head attends with softmax(q·kᵀ/√hs) over the positions up to its own;
/// the heads are concatenated and projected back to C.
/// </summary>
public sealed class CausalSelfAttention : Module<Tensor, Tensor>
{
    private readonly Linear c_attn;   // C → 3C: q, k, v for all heads at once
    private readonly Linear c_proj;   // C → C: output projection (a residual projection: scaled init)
    private readonly Dropout attn_dropout;
    private readonly Dropout resid_dropout;
    private readonly Tensor bias;     // (T, T) lower-triangular mask, true where attending is allowed
    private readonly int n_head, n_embd;
    private readonly double dropout;
    private readonly bool fused;

    /// <param name="config">Model shape.</param>
    public CausalSelfAttention(GptConfig config) : base(nameof(CausalSelfAttention))
    {
        n_head = config.NHead;
        n_embd = config.NEmbd;
        dropout = config.Dropout;
        fused = config.FusedAttention;
        c_attn = Linear(n_embd, 3 * n_embd);
        c_proj = Linear(n_embd, n_embd);
        attn_dropout = Dropout(config.Dropout);
        resid_dropout = Dropout(config.Dropout);
        // a buffer, not a parameter (RegisterComponents registers tensor fields as buffers), named as nanoGPT's
        bias = ones(config.BlockSize, config.BlockSize, dtype: ScalarType.Bool).tril();
        RegisterComponents();
    }

    /// <summary>The output projection, for GPT-2's scaled initialisation.</summary>
    internal Linear OutputProjection => c_proj;

    /// <summary>Self-attention over a whole sequence.</summary>
    /// <param name="x">(B, T, C) float32, T ≤ block_size.</param>
    /// <returns>(B, T, C).</returns>
    public override Tensor forward(Tensor x) => forward(x, null);

    /// <summary>Self-attention of the new positions in <paramref name="x"/> over the cached ones and themselves.</summary>
    /// <param name="x">(B, T_new, C): the positions after those in <paramref name="cache"/>.</param>
    /// <param name="cache">Keys and values of earlier positions, extended in place; null: no earlier positions.</param>
    /// <returns>(B, T_new, C).</returns>
    public Tensor forward(Tensor x, KeyValueCache? cache)
    {
        using var scope = NewDisposeScope();
        long B = x.shape[0], T = x.shape[1], C = x.shape[2];
        long hs = C / n_head;
        // (B, T, 3C) → three (B, T, C) → (B, nh, T, hs)
        var qkv = c_attn.forward(x).split(n_embd, dim: 2);
        Tensor q = qkv[0].view(B, T, n_head, hs).transpose(1, 2);
        Tensor k = qkv[1].view(B, T, n_head, hs).transpose(1, 2);
        Tensor v = qkv[2].view(B, T, n_head, hs).transpose(1, 2);
        if (cache != null) (k, v) = cache.Append(k, v);
        Tensor y = fused ? AttendFused(q, k, v) : Attend(q, k, v);     // (B, nh, T, hs)
        y = y.transpose(1, 2).contiguous().view(B, T, C);             // heads side by side
        return resid_dropout.forward(c_proj.forward(y)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Scaled dot-product attention with a causal mask (Vaswani et al. 2017, Eq. 1 and §3.2.3):
    /// softmax(q·kᵀ / √hs, masked so that query i sees keys j ≤ i) · v, with dropout on the weights.
    /// The queries are the last T_q of the T_k positions (T_q = T_k in training, 1 when generating with a cache).
    /// </summary>
    /// <param name="q">Queries (B, nh, T_q, hs).</param>
    /// <param name="k">Keys (B, nh, T_k, hs), T_q ≤ T_k ≤ block_size.</param>
    /// <param name="v">Values (B, nh, T_k, hs).</param>
    /// <returns>(B, nh, T_q, hs).</returns>
    public Tensor Attend(Tensor q, Tensor k, Tensor v)
    {
        long Tq = q.shape[2], Tk = k.shape[2];
        if (Tk > bias.shape[0])
            throw new ArgumentException($"the context holds {Tk} positions but block_size is {bias.shape[0]}; crop the input to the last block_size tokens");
        // exercise gpt-attention: Eq. 1 + §3.2.3 of Vaswani et al. 2017 — softmax(q·kᵀ/√hs) with keys after each query masked to −∞ (rows of bias), dropout, then ·v
        using var scope = NewDisposeScope();
        Tensor att = q.matmul(k.transpose(-2, -1)) * (1.0 / Math.Sqrt(k.shape[3]));  // (B, nh, T_q, T_k)
        Tensor mask = bias[TensorIndex.Slice(Tk - Tq, Tk), TensorIndex.Slice(0, Tk)];  // query i is position Tk−Tq+i
        att = att.masked_fill(mask.logical_not(), double.NegativeInfinity);
        att = functional.softmax(att, dim: -1);
        att = attn_dropout.forward(att);
        return att.matmul(v).MoveToOuterDisposeScope();
        // end exercise
    }

    /// <summary>
    /// The same attention as <see cref="Attend"/>, computed by libtorch's fused
    /// torch.nn.functional.scaled_dot_product_attention (one kernel that never stores the (T_q, T_k) weights
    /// for the whole batch; nanoGPT's "flash" path). Equal to <see cref="Attend"/> in value and gradient
    /// without dropout; with dropout (training only) libtorch draws its own masks, so a run differs from the
    /// from-scratch one in its random numbers, not in its distribution.
    /// </summary>
    /// <param name="q">Queries (B, nh, T_q, hs).</param>
    /// <param name="k">Keys (B, nh, T_k, hs), T_q ≤ T_k ≤ block_size.</param>
    /// <param name="v">Values (B, nh, T_k, hs).</param>
    /// <returns>(B, nh, T_q, hs).</returns>
    public Tensor AttendFused(Tensor q, Tensor k, Tensor v)
    {
        long Tq = q.shape[2], Tk = k.shape[2];
        if (Tk > bias.shape[0])
            throw new ArgumentException($"the context holds {Tk} positions but block_size is {bias.shape[0]}; crop the input to the last block_size tokens");
        double p = training ? dropout : 0.0;
        // is_causal masks query i to keys j ≤ i counting from the first key, which is our mask only when the
        // queries are all the positions (T_q = T_k). With a cache the queries are the last T_q positions:
        // pass the rows of our mask for them (a bool mask is true where attending is allowed, as ours).
        if (Tq == Tk) return functional.scaled_dot_product_attention(q, k, v, p: p, is_casual: true);
        using var mask = bias[TensorIndex.Slice(Tk - Tq, Tk), TensorIndex.Slice(0, Tk)];
        return functional.scaled_dot_product_attention(q, k, v, attn_mask: mask, p: p);
    }
}

/// <summary>The position-wise feed-forward network: C → 4C → GELU → C (GPT §4.1, Vaswani et al. §3.3).</summary>
public sealed class Mlp : Module<Tensor, Tensor>
{
    private readonly Linear c_fc;     // C → 4C
    private readonly GELU gelu;
    private readonly Linear c_proj;   // 4C → C (a residual projection: scaled init)
    private readonly Dropout dropout;

    /// <param name="config">Model shape.</param>
    public Mlp(GptConfig config) : base(nameof(Mlp))
    {
        c_fc = Linear(config.NEmbd, 4 * config.NEmbd);
        gelu = GELU();
        c_proj = Linear(4 * config.NEmbd, config.NEmbd);
        dropout = Dropout(config.Dropout);
        RegisterComponents();
    }

    /// <summary>The output projection, for GPT-2's scaled initialisation.</summary>
    internal Linear OutputProjection => c_proj;

    /// <param name="x">(B, T, C).</param>
    /// <returns>(B, T, C).</returns>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        return dropout.forward(c_proj.forward(gelu.forward(c_fc.forward(x)))).MoveToOuterDisposeScope();
    }
}

/// <summary>One Transformer block with layer normalisation at the input of each sub-block (GPT-2 §2.3):
/// x + attn(ln_1(x)), then x + mlp(ln_2(x)).</summary>
public sealed class Block : Module<Tensor, Tensor>
{
    private readonly LayerNorm ln_1;
    private readonly CausalSelfAttention attn;
    private readonly LayerNorm ln_2;
    private readonly Mlp mlp;

    /// <param name="config">Model shape.</param>
    public Block(GptConfig config) : base(nameof(Block))
    {
        ln_1 = LayerNorm(config.NEmbd);
        attn = new CausalSelfAttention(config);
        ln_2 = LayerNorm(config.NEmbd);
        mlp = new Mlp(config);
        RegisterComponents();
    }

    /// <summary>The block's attention layer.</summary>
    public CausalSelfAttention Attention => attn;
    internal Mlp FeedForward => mlp;

    /// <param name="x">(B, T, C).</param>
    /// <returns>(B, T, C).</returns>
    public override Tensor forward(Tensor x) => forward(x, null);

    /// <param name="x">(B, T_new, C): positions after those in <paramref name="cache"/>.</param>
    /// <param name="cache">This block's key/value cache, or null.</param>
    /// <returns>(B, T_new, C).</returns>
    public Tensor forward(Tensor x, KeyValueCache? cache)
    {
        // exercise gpt-block: GPT-2 §2.3 pre-LN residual block — x + attn(ln_1(x), cache), then x + mlp(ln_2(x))
        using var scope = NewDisposeScope();
        x = x + attn.forward(ln_1.forward(x), cache);
        x = x + mlp.forward(ln_2.forward(x));
        return x.MoveToOuterDisposeScope();
        // end exercise
    }
}

/// <summary>
/// The GPT language model (Radford et al. 2018 Eq. 2, with GPT-2's pre-LN blocks): token ids → next-token
/// logits. Field names are nanoGPT's state-dict keys (wte, wpe, h.0…, ln_f), minus its "transformer." prefix.
/// </summary>
public sealed class Gpt : Module<Tensor, Tensor>
{
    private readonly Embedding wte;              // token embedding We (V, C); also the output layer (tied)
    private readonly Embedding wpe;              // learned position embedding Wp (T, C)
    private readonly Dropout drop;
    private readonly ModuleList<Block> h;
    private readonly LayerNorm ln_f;

    /// <summary>The model's shape.</summary>
    public GptConfig Config { get; }

    /// <summary>Builds the model with GPT-2's initialisation (see <see cref="Initialise"/>). Seed torch first for a reproducible draw.</summary>
    /// <param name="config">Model shape.</param>
    /// <exception cref="ArgumentException">The configuration is invalid (see <see cref="GptConfig.Validate"/>).</exception>
    public Gpt(GptConfig config) : base(nameof(Gpt))
    {
        config.Validate();
        Config = config;
        wte = Embedding(config.VocabSize, config.NEmbd);
        wpe = Embedding(config.BlockSize, config.NEmbd);
        drop = Dropout(config.Dropout);
        h = new ModuleList<Block>(Enumerable.Range(0, config.NLayer).Select(_ => new Block(config)).ToArray());
        ln_f = LayerNorm(config.NEmbd);
        RegisterComponents();
        Initialise();
    }

    /// <summary>The Transformer blocks, first to last.</summary>
    public IReadOnlyList<Block> Blocks => h.ToList();

    /// <summary>
    /// GPT's initialisation (2018 §4.1: N(0, 0.02)) with GPT-2's residual scaling (2019 §2.3): every Linear
    /// weight and both embeddings ~ N(0, 0.02), biases 0, LayerNorm gain 1 and bias 0; the two projections
    /// that write into the residual stream in each block (attention c_proj, MLP c_proj) ~ N(0, 0.02/√(2·n_layer)),
    /// since 2·n_layer sub-blocks add to the stream.
    /// </summary>
    public void Initialise()
    {
        using var _ = no_grad();
        foreach (var module in modules())
        {
            switch (module)
            {
                case Linear linear:
                    init.normal_(linear.weight, 0.0, 0.02);
                    if (linear.bias is not null) init.zeros_(linear.bias);
                    break;
                case Embedding embedding:
                    init.normal_(embedding.weight, 0.0, 0.02);
                    break;
            }
        }
        double residualStd = 0.02 / Math.Sqrt(2.0 * Config.NLayer);
        foreach (var block in h)
        {
            init.normal_(block.Attention.OutputProjection.weight, 0.0, residualStd);
            init.normal_(block.FeedForward.OutputProjection.weight, 0.0, residualStd);
        }
    }

    /// <summary>Next-token logits at every position.</summary>
    /// <param name="idx">Token ids (B, T) int64, T ≤ block_size.</param>
    /// <returns>logits (B, T, V) float32: row t scores the token at position t+1.</returns>
    /// <exception cref="ArgumentException">idx is not 2-D or longer than block_size.</exception>
    public override Tensor forward(Tensor idx) => forward(idx, null);

    /// <summary>Next-token logits of the new positions, attending also to the positions held in <paramref name="caches"/>.</summary>
    /// <param name="idx">Token ids (B, T_new) int64 of the positions after the cached ones.</param>
    /// <param name="caches">One cache per block (extended in place), or null for no earlier positions.</param>
    /// <returns>logits (B, T_new, V).</returns>
    public Tensor forward(Tensor idx, IReadOnlyList<KeyValueCache>? caches)
    {
        if (idx.dim() != 2) throw new ArgumentException($"GPT expects token ids of shape (B, T), got ({string.Join(", ", idx.shape)})");
        long past = caches?[0].Length ?? 0;
        long T = idx.shape[1];
        if (past + T > Config.BlockSize)
            throw new ArgumentException($"sequence of {past + T} tokens is longer than block_size {Config.BlockSize}");
        using var scope = NewDisposeScope();
        Tensor pos = arange(past, past + T, dtype: int64, device: idx.device);   // (T)
        Tensor x = drop.forward(wte.forward(idx) + wpe.forward(pos));          // (B, T, C)
        if (Config.GradientCheckpointing && caches is null)
            // Chen et al. 2016, Algorithm 1: keep only each segment's input; the backward pass recomputes its blocks
            x = GradientCheckpoint.Sequential(h.Count, Config.Segments, (l, input, _) => h[l].forward(input), x);
        else
            for (int l = 0; l < h.Count; l++) x = h[l].forward(x, caches?[l]);
        x = ln_f.forward(x);
        Tensor logits = functional.linear(x, wte.weight!);                     // lm_head tied to wte: h·Weᵀ
        return logits.MoveToOuterDisposeScope();
    }

    /// <summary>Mean next-token cross-entropy (nats per token) of <paramref name="idx"/> against <paramref name="targets"/>.</summary>
    /// <param name="idx">(B, T) token ids.</param>
    /// <param name="targets">(B, T) the token following each position.</param>
    /// <returns>Scalar loss.</returns>
    public Tensor Loss(Tensor idx, Tensor targets)
    {
        using var scope = NewDisposeScope();
        var logits = forward(idx);
        return functional.cross_entropy(logits.view(-1, logits.shape[2]), targets.view(-1)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Extends each row of <paramref name="idx"/> by <paramref name="maxNewTokens"/> sampled tokens.
    /// Each step samples from softmax(logits / temperature), restricted to the <paramref name="topK"/> most
    /// likely tokens when given. The context is cropped to the last block_size tokens (learned positions
    /// exist only for block_size places).
    /// </summary>
    /// <param name="idx">(B, T0) prompt token ids, T0 ≥ 1.</param>
    /// <param name="maxNewTokens">Tokens to add.</param>
    /// <param name="temperature">&gt; 0; below 1 sharpens, above 1 flattens.</param>
    /// <param name="topK">Keep only the k most likely tokens; null keeps all.</param>
    /// <param name="generator">Random source of the draws (seed it for reproducible text).</param>
    /// <param name="useCache">
    /// True: keep every block's keys and values, so each new token is one forward step over one position
    /// (N tokens cost O(N) position-steps instead of O(N·T)). When the cache fills the window, it restarts
    /// from the last block_size/2 tokens (one prefill every block_size/2 tokens, still O(1) amortised per
    /// token). False: recompute the whole (cropped) context at every step, as nanoGPT does. Both give the
    /// same tokens as long as prompt + new tokens ≤ block_size.
    /// </param>
    /// <returns>(B, T0 + maxNewTokens) int64.</returns>
    public Tensor Generate(Tensor idx, int maxNewTokens, double temperature = 1.0, int? topK = null,
                           Generator? generator = null, bool useCache = true)
    {
        if (temperature <= 0) throw new ArgumentException($"temperature must be greater than 0, got {temperature}", nameof(temperature));
        if (topK is < 1) throw new ArgumentException($"top-k must be at least 1, got {topK}", nameof(topK));
        if (maxNewTokens < 0) throw new ArgumentException($"cannot generate {maxNewTokens} tokens", nameof(maxNewTokens));
        if (idx.dim() != 2 || idx.shape[1] < 1) throw new ArgumentException($"the prompt must be (B, T0) token ids with T0 ≥ 1, got ({string.Join(", ", idx.shape)})", nameof(idx));
        using var noGrad = no_grad();
        bool wasTraining = training;
        eval();
        var caches = useCache ? Enumerable.Range(0, Config.NLayer).Select(_ => new KeyValueCache()).ToArray() : null;
        try
        {
            using var scope = NewDisposeScope();
            Tensor output = idx.clone();   // owned by this scope, so it can be moved out even when no token is added
            Tensor? pending = null;      // tokens not yet fed through the cached model
            for (int i = 0; i < maxNewTokens; i++)
            {
                Tensor logits;
                if (caches == null)
                {
                    long len = output.shape[1];
                    Tensor context = len <= Config.BlockSize ? output : output[TensorIndex.Colon, TensorIndex.Slice(len - Config.BlockSize, len)];
                    logits = forward(context);
                }
                else
                {
                    if (pending is null || caches[0].Length + pending.shape[1] > Config.BlockSize)
                    {
                        // (re)start the cache: prefill with the most recent tokens that fit
                        foreach (var c in caches) c.Dispose();
                        long len = output.shape[1];
                        long keep = pending is null ? Math.Min(len, Config.BlockSize) : Math.Max(1, Config.BlockSize / 2);
                        pending = output[TensorIndex.Colon, TensorIndex.Slice(len - keep, len)];
                    }
                    logits = forward(pending, caches);
                }
                Tensor next = Sample(logits[TensorIndex.Colon, -1, TensorIndex.Colon], temperature, topK, generator);  // (B, 1)
                output = cat(new[] { output, next }, 1);
                pending = next;
            }
            return output.MoveToOuterDisposeScope();
        }
        finally
        {
            if (caches != null) foreach (var c in caches) c.Dispose();
            train(wasTraining);
        }
    }

    /// <summary>One token per row from softmax(logits / temperature), optionally among the top k only.</summary>
    /// <param name="logits">(B, V) scores of the next token.</param>
    /// <returns>(B, 1) int64 token ids.</returns>
    public static Tensor Sample(Tensor logits, double temperature, int? topK, Generator? generator)
    {
        using var scope = NewDisposeScope();
        logits = logits / temperature;
        if (topK is int k && k < logits.shape[^1])
        {
            Tensor kth = logits.topk(k, dim: -1).values[TensorIndex.Colon, TensorIndex.Slice(-1, null)];  // (B, 1)
            logits = logits.masked_fill(logits < kth, double.NegativeInfinity);
        }
        Tensor probs = functional.softmax(logits, dim: -1);
        return multinomial(probs, 1, generator: generator).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The parameter count derived from the shape (not from the tensors; see the file header):
    /// V·C + T·C + L·(12·C² + 13·C) + 2·C. 809,856 for V 65, T 64, L 4, C 128.
    /// </summary>
    public static long ExpectedParameters(GptConfig c)
    {
        // exercise gpt-parameters: file header — V·C + T·C (embeddings) + L·(12·C² + 13·C) (blocks, with biases) + 2·C (ln_f); lm_head is tied to wte
        long C = c.NEmbd, V = c.VocabSize, T = c.BlockSize, L = c.NLayer;
        long embeddings = V * C + T * C;
        long block = 2 * C                 // ln_1: gain and bias
                   + C * 3 * C + 3 * C     // c_attn
                   + C * C + C             // attention c_proj
                   + 2 * C                 // ln_2
                   + C * 4 * C + 4 * C     // c_fc
                   + 4 * C * C + C;        // MLP c_proj        → 12C² + 13C
        long lnF = 2 * C;
        return embeddings + L * block + lnF;  // lm_head: tied to wte, no parameters of its own
        // end exercise
    }

    /// <summary>
    /// AdamW parameter groups as the GPT recipe has them: weight decay on the weight matrices of the
    /// Linear layers only; none on biases, LayerNorm parameters, or the (tied) embeddings.
    /// </summary>
    /// <returns>(decayed, not decayed) parameters; together each parameter exactly once.</returns>
    public (IList<Parameter> Decay, IList<Parameter> NoDecay) WeightDecayGroups()
    {
        var decay = new List<Parameter>();
        var noDecay = new List<Parameter>();
        foreach (var (name, p) in named_parameters())
        {
            bool embedding = name.StartsWith("wte.") || name.StartsWith("wpe.");
            (p.dim() >= 2 && !embedding ? decay : noDecay).Add(p);
        }
        return (decay, noDecay);
    }
}
