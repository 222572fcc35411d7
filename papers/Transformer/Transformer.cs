// The Transformer, from
//   A. Vaswani, N. Shazeer, N. Parmar, J. Uszkoreit, L. Jones, A. N. Gomez, Ł. Kaiser, I. Polosukhin.
//   "Attention Is All You Need". NeurIPS 2017 (arXiv:1706.03762). Section 3 (model), 5 (training).
//
// Read top-down, as the paper's Figure 1:
//
//   Transformer           encoder–decoder (§3.1); logits = Decoder(Encoder(src), tgt) · Eᵀ
//   ├─ Embeddings         token embedding × √d_model (§3.4) + sinusoidal positional encoding (§3.5), dropout (§5.4)
//   ├─ Encoder            N layers of [self-attention, feed-forward], each wrapped as LayerNorm(x + Dropout(Sublayer(x))) (§3.1)
//   └─ Decoder            N layers of [masked self-attention, encoder–decoder attention, feed-forward] (§3.1, §3.2.3)
//
//   MultiHeadAttention    MultiHead(Q, K, V) = Concat(head_1, …, head_h) W^O,
//                         head_i = Attention(Q W_i^Q, K W_i^K, V W_i^V), d_k = d_v = d_model / h (§3.2.2)
//   Attention (Eq. 1)     Attention(Q, K, V) = softmax(Q Kᵀ / √d_k) V, with masked positions set to −∞ (§3.2.1, §3.2.3)
//   PositionwiseFFN (Eq. 2) FFN(x) = max(0, x W_1 + b_1) W_2 + b_2, inner size d_ff (§3.3)
//   PositionalEncoding    PE(pos, 2i) = sin(pos / 10000^(2i/d_model)), PE(pos, 2i+1) = cos(…) (§3.5)
//
// Embedding sharing (§3.4). The paper shares one matrix between the two embedding layers and the pre-softmax
// projection, which needs a joint source–target vocabulary (its byte-pair vocabulary). Here the German and
// English word vocabularies are separate, so the decoder's input embedding and its output projection are
// tied (the part of §3.4 that does not need a joint vocabulary; Press & Wolf 2017, whom §3.4 cites) and the
// encoder has its own embedding.
//
// Residual + layer norm: post-LN, LayerNorm(x + Sublayer(x)), exactly as §3.1 writes it (the default).
// ModelConfig.PreLayerNorm switches to x + Sublayer(LayerNorm(x)) with a final LayerNorm, the variant most
// later implementations use because it trains without a warm-up; it is not what the paper did.
//
// Training pieces in this file: label smoothing ε_ls = 0.1 (§5.4) and the learning-rate schedule of Eq. 3.
//
// ModelConfig.GradientCheckpointing (off by default) computes the same function with less memory: T. Chen,
// B. Xu, C. Zhang, C. Guestrin, "Training Deep Nets with Sublinear Memory Cost", 2016, §4.1 Algorithm 1 and
// §4.3 Eq. 1 — each stack runs in √N segments recomputed in the backward pass (PaperLab.Training.GradientCheckpoint).

using PaperLab.Data;
using PaperLab.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace PaperLab.Papers.Transformer;

/// <summary>Sizes of a Transformer, named as in the paper (Table 3).</summary>
/// <param name="SourceVocab">Source vocabulary size.</param>
/// <param name="TargetVocab">Target vocabulary size.</param>
/// <param name="N">Layers in the encoder and in the decoder (base model: 6).</param>
/// <param name="DModel">d_model, the width of every sublayer's output (base: 512).</param>
/// <param name="H">h, attention heads (base: 8); d_k = d_v = d_model / h.</param>
/// <param name="DFf">d_ff, inner width of the feed-forward networks (base: 2048).</param>
/// <param name="PDrop">P_drop, dropout rate (base: 0.1).</param>
/// <param name="PreLayerNorm">false: post-LN as in the paper; true: pre-LN (see the file header).</param>
/// <param name="MaxLength">Longest sequence the positional-encoding table covers.</param>
/// <param name="GradientCheckpointing">Train with gradient checkpointing (Chen et al. 2016): the encoder's and the
/// decoder's N layers each run in segments whose activations are recomputed in the backward pass; same
/// gradients, O(√N) activation memory per stack, one more forward pass. See <see cref="PaperLab.Training.GradientCheckpoint"/>.</param>
/// <param name="CheckpointSegments">Segments per stack when checkpointing, 1 … N; 0: the paper's √N (<see cref="Segments"/>).</param>
public sealed record ModelConfig(int SourceVocab, int TargetVocab, int N = 3, int DModel = 256, int H = 8, int DFf = 1024,
                                 double PDrop = 0.1, bool PreLayerNorm = false, int MaxLength = 512,
                                 bool GradientCheckpointing = false, int CheckpointSegments = 0)
{
    /// <summary>d_k = d_v = d_model / h.</summary>
    public int DK => DModel / H;

    /// <summary>Segments per stack used when checkpointing: <see cref="CheckpointSegments"/>, or ⌈√N⌉ when it is 0.</summary>
    public int Segments => CheckpointSegments > 0 ? CheckpointSegments : GradientCheckpoint.DefaultSegments(Math.Max(1, N));
}

/// <summary>Scaled dot-product attention (§3.2.1, Eq. 1).</summary>
public static class Attention
{
    /// <summary>
    /// softmax(Q Kᵀ / √d_k) V. Scores at blocked positions are set to −∞ before the softmax, so they get
    /// weight exactly 0.
    /// </summary>
    /// <param name="q">Queries (…, L_q, d_k).</param>
    /// <param name="k">Keys (…, L_k, d_k).</param>
    /// <param name="v">Values (…, L_k, d_v).</param>
    /// <param name="mask">Bool, broadcastable to (…, L_q, L_k), true where attention is blocked; null: none.</param>
    /// <param name="dropout">Applied to the attention weights (training only); null: none.</param>
    /// <returns>Output (…, L_q, d_v) and the weights (…, L_q, L_k), each row summing to 1.</returns>
    public static (Tensor Output, Tensor Weights) ScaledDotProduct(Tensor q, Tensor k, Tensor v, Tensor? mask = null, Dropout? dropout = null)
    {
        // exercise transformer-attention: Eq. 1 — softmax(QKᵀ/√d_k)V; blocked scores (mask true) set to −∞ before the softmax; dropout on the weights; return (output, weights)
        long dK = q.shape[^1];
        Tensor scores = matmul(q, k.transpose(-2, -1)) / Math.Sqrt(dK);
        if (mask is not null) scores = scores.masked_fill(mask, double.NegativeInfinity);
        Tensor weights = functional.softmax(scores, -1);
        Tensor attended = dropout is null ? weights : dropout.forward(weights);
        return (matmul(attended, v), weights);
        // end exercise
    }
}

/// <summary>
/// Multi-head attention (§3.2.2): h heads of scaled dot-product attention over learned projections of
/// width d_k = d_model / h, concatenated and projected by W^O. The four projections carry biases, as in
/// the reference implementations (tensor2tensor, PyTorch's nn.MultiheadAttention).
/// </summary>
public sealed class MultiHeadAttention : Module<Tensor, Tensor, Tensor, Tensor?, Tensor>
{
    private readonly Linear w_q, w_k, w_v, w_o;
    private readonly Dropout dropout;

    /// <summary>h.</summary>
    public int H { get; }
    /// <summary>d_k = d_model / h.</summary>
    public int DK { get; }
    /// <summary>When true, <see cref="LastWeights"/> keeps the attention weights of the latest forward pass (for plots).</summary>
    public bool RecordWeights { get; set; }
    /// <summary>(B, h, L_q, L_k) weights of the latest forward pass when <see cref="RecordWeights"/> is on; owned by this module.</summary>
    public Tensor? LastWeights { get; private set; }

    /// <param name="dModel">d_model.</param>
    /// <param name="h">Number of heads; must divide d_model.</param>
    /// <param name="pDrop">Dropout on the attention weights.</param>
    /// <exception cref="ArgumentException">h does not divide d_model.</exception>
    public MultiHeadAttention(int dModel, int h, double pDrop = 0.0) : base(nameof(MultiHeadAttention))
    {
        if (h < 1 || dModel % h != 0) throw new ArgumentException($"h = {h} heads must divide d_model = {dModel}");
        H = h;
        DK = dModel / h;
        w_q = Linear(dModel, dModel);
        w_k = Linear(dModel, dModel);
        w_v = Linear(dModel, dModel);
        w_o = Linear(dModel, dModel);
        dropout = Dropout(pDrop);
        RegisterComponents();
    }

    /// <summary>MultiHead(Q, K, V).</summary>
    /// <param name="query">(B, L_q, d_model).</param>
    /// <param name="key">(B, L_k, d_model).</param>
    /// <param name="value">(B, L_k, d_model).</param>
    /// <param name="mask">Bool, broadcastable to (B, h, L_q, L_k), true where blocked; null: none.</param>
    /// <returns>(B, L_q, d_model).</returns>
    public override Tensor forward(Tensor query, Tensor key, Tensor value, Tensor? mask)
    {
        // exercise transformer-multi-head: §3.2.2 — project with w_q, w_k, w_v to (B, h, L, d_k), ScaledDotProduct per head, concat to (B, L, h·d_k), then w_o (keep LastWeights when RecordWeights)
        using var scope = NewDisposeScope();
        long b = query.shape[0];
        // (B, L, d_model) → (B, h, L, d_k): the h heads are h slices of one projection.
        Tensor Split(Linear w, Tensor x) => w.forward(x).view(b, -1, H, DK).transpose(1, 2);
        var (heads, weights) = Attention.ScaledDotProduct(Split(w_q, query), Split(w_k, key), Split(w_v, value), mask, dropout);
        if (RecordWeights)
        {
            LastWeights?.Dispose();
            LastWeights = weights.detach().clone().DetachFromDisposeScope();
        }
        Tensor concat = heads.transpose(1, 2).contiguous().view(b, -1, H * DK); // Concat(head_1, …, head_h)
        return w_o.forward(concat).MoveToOuterDisposeScope();
        // end exercise
    }

    /// <summary>The projection weights as PyTorch's nn.MultiheadAttention stores them: in_proj = [W^Q; W^K; W^V] (3·d_model, d_model), out_proj = W^O.</summary>
    public (Tensor InProjWeight, Tensor InProjBias, Tensor OutProjWeight, Tensor OutProjBias) AsPyTorch() =>
        (cat(new[] { w_q.weight!, w_k.weight!, w_v.weight! }, 0), cat(new[] { w_q.bias!, w_k.bias!, w_v.bias! }, 0), w_o.weight!, w_o.bias!);
}

/// <summary>Position-wise feed-forward network (§3.3, Eq. 2): FFN(x) = max(0, x W_1 + b_1) W_2 + b_2.</summary>
public sealed class PositionwiseFeedForward : Module<Tensor, Tensor>
{
    private readonly Linear w_1, w_2;
    private readonly Dropout dropout;

    /// <param name="dModel">d_model (input and output width).</param>
    /// <param name="dFf">d_ff (inner width).</param>
    /// <param name="pDrop">Dropout on the inner activations (as tensor2tensor's relu_dropout).</param>
    public PositionwiseFeedForward(int dModel, int dFf, double pDrop) : base(nameof(PositionwiseFeedForward))
    {
        w_1 = Linear(dModel, dFf);
        w_2 = Linear(dFf, dModel);
        dropout = Dropout(pDrop);
        RegisterComponents();
    }

    /// <param name="x">(…, d_model).</param>
    /// <returns>(…, d_model).</returns>
    public override Tensor forward(Tensor x) => w_2.forward(dropout.forward(functional.relu(w_1.forward(x))));
}

/// <summary>Sinusoidal positional encoding (§3.5).</summary>
public static class PositionalEncoding
{
    /// <summary>
    /// The (maxLength, d_model) table PE(pos, 2i) = sin(pos / 10000^(2i/d_model)),
    /// PE(pos, 2i+1) = cos(pos / 10000^(2i/d_model)).
    /// </summary>
    /// <exception cref="ArgumentException">d_model is odd or not positive.</exception>
    public static Tensor Table(int maxLength, int dModel, ScalarType dtype = ScalarType.Float32)
    {
        if (dModel <= 0 || dModel % 2 != 0) throw new ArgumentException($"d_model must be even and positive, got {dModel}");
        // exercise transformer-positional-encoding: §3.5 — PE(pos, 2i) = sin(pos / 10000^(2i/d_model)), PE(pos, 2i+1) = cos(same), as a (maxLength, d_model) table
        using var scope = NewDisposeScope();
        Tensor pos = arange(maxLength, ScalarType.Float64).unsqueeze(1);             // (L, 1)
        Tensor twoI = arange(0, dModel, 2, ScalarType.Float64);                        // 2i = 0, 2, 4, …
        Tensor angle = pos / pow(10000.0, twoI / dModel);                              // (L, d_model/2)
        Tensor pe = zeros(maxLength, dModel, ScalarType.Float64);
        pe[TensorIndex.Colon, TensorIndex.Slice(0, null, 2)] = sin(angle);
        pe[TensorIndex.Colon, TensorIndex.Slice(1, null, 2)] = cos(angle);
        return pe.to(dtype).MoveToOuterDisposeScope();
        // end exercise
    }
}

/// <summary>Token embedding × √d_model plus positional encoding, then dropout (§3.4, §3.5, §5.4).</summary>
public sealed class Embeddings : Module<Tensor, Tensor>
{
    private readonly Embedding lut;
    private readonly Dropout dropout;
    private readonly Tensor pe;
    private readonly double scale;

    /// <summary>The (V, d_model) embedding matrix (tied to the output projection in the decoder).</summary>
    public Parameter Weight => lut.weight!;

    /// <param name="vocab">V.</param>
    /// <param name="dModel">d_model.</param>
    /// <param name="maxLength">Longest sequence.</param>
    /// <param name="pDrop">Dropout on the sum.</param>
    public Embeddings(int vocab, int dModel, int maxLength, double pDrop) : base(nameof(Embeddings))
    {
        lut = Embedding(vocab, dModel, padding_idx: Vocabulary.PadId);
        // N(0, d_model^-1/2): after the × √d_model of §3.4 the embeddings have unit variance, the scale of the
        // positional encodings; the same matrix, as output projection, then gives logits of unit scale.
        using (no_grad())
        {
            init.normal_(lut.weight!, 0, Math.Pow(dModel, -0.5));
            lut.weight![Vocabulary.PadId].zero_();
        }
        dropout = Dropout(pDrop);
        pe = PositionalEncoding.Table(maxLength, dModel);
        register_buffer("pe", pe, persistent: false);
        scale = Math.Sqrt(dModel);
        RegisterComponents();
    }

    /// <param name="ids">(B, L) int64 token ids, L ≤ maxLength.</param>
    /// <returns>(B, L, d_model).</returns>
    /// <exception cref="ArgumentException">L exceeds the positional-encoding table.</exception>
    public override Tensor forward(Tensor ids)
    {
        long l = ids.shape[1];
        if (l > pe.shape[0]) throw new ArgumentException($"sequence of {l} tokens is longer than the positional-encoding table ({pe.shape[0]})");
        return dropout.forward(lut.forward(ids) * scale + pe.narrow(0, 0, l));
    }
}

/// <summary>
/// One residual connection around a sublayer: post-LN LayerNorm(x + Dropout(Sublayer(x))) (§3.1, §5.4), or
/// pre-LN x + Dropout(Sublayer(LayerNorm(x))).
/// </summary>
public sealed class Residual : Module<Tensor, Func<Tensor, Tensor>, Tensor>
{
    private readonly LayerNorm norm;
    private readonly Dropout dropout;
    private readonly bool preLn;

    /// <param name="dModel">d_model.</param>
    /// <param name="pDrop">Residual dropout.</param>
    /// <param name="preLayerNorm">Pre-LN instead of the paper's post-LN.</param>
    public Residual(int dModel, double pDrop, bool preLayerNorm) : base(nameof(Residual))
    {
        norm = LayerNorm(dModel);
        dropout = Dropout(pDrop);
        preLn = preLayerNorm;
        RegisterComponents();
    }

    /// <param name="x">(B, L, d_model).</param>
    /// <param name="sublayer">The sublayer, applied to x (post-LN) or LayerNorm(x) (pre-LN).</param>
    public override Tensor forward(Tensor x, Func<Tensor, Tensor> sublayer) =>
        preLn ? x + dropout.forward(sublayer(norm.forward(x))) : norm.forward(x + dropout.forward(sublayer(x)));
}

/// <summary>Encoder layer (§3.1): multi-head self-attention, then the feed-forward network, each in a <see cref="Residual"/>.</summary>
public sealed class EncoderLayer : Module<Tensor, Tensor, Tensor>
{
    private readonly MultiHeadAttention self_attn;
    private readonly PositionwiseFeedForward feed_forward;
    private readonly Residual residual_1, residual_2;

    /// <summary>The self-attention sublayer (for attention maps).</summary>
    public MultiHeadAttention SelfAttention => self_attn;

    /// <param name="c">Sizes.</param>
    public EncoderLayer(ModelConfig c) : base(nameof(EncoderLayer))
    {
        self_attn = new MultiHeadAttention(c.DModel, c.H, c.PDrop);
        feed_forward = new PositionwiseFeedForward(c.DModel, c.DFf, c.PDrop);
        residual_1 = new Residual(c.DModel, c.PDrop, c.PreLayerNorm);
        residual_2 = new Residual(c.DModel, c.PDrop, c.PreLayerNorm);
        RegisterComponents();
    }

    /// <param name="x">(B, S, d_model).</param>
    /// <param name="srcMask">(B, 1, 1, S) bool, true at source padding.</param>
    public override Tensor forward(Tensor x, Tensor srcMask)
    {
        x = residual_1.forward(x, y => self_attn.forward(y, y, y, srcMask));
        return residual_2.forward(x, feed_forward.forward);
    }
}

/// <summary>
/// Decoder layer (§3.1): masked multi-head self-attention, multi-head attention over the encoder output
/// ("encoder–decoder attention", §3.2.3), then the feed-forward network, each in a <see cref="Residual"/>.
/// </summary>
public sealed class DecoderLayer : Module<Tensor, Tensor, Tensor, Tensor, Tensor>
{
    private readonly MultiHeadAttention self_attn, src_attn;
    private readonly PositionwiseFeedForward feed_forward;
    private readonly Residual residual_1, residual_2, residual_3;

    /// <summary>The masked self-attention sublayer.</summary>
    public MultiHeadAttention SelfAttention => self_attn;
    /// <summary>The encoder–decoder (cross) attention sublayer.</summary>
    public MultiHeadAttention CrossAttention => src_attn;

    /// <param name="c">Sizes.</param>
    public DecoderLayer(ModelConfig c) : base(nameof(DecoderLayer))
    {
        self_attn = new MultiHeadAttention(c.DModel, c.H, c.PDrop);
        src_attn = new MultiHeadAttention(c.DModel, c.H, c.PDrop);
        feed_forward = new PositionwiseFeedForward(c.DModel, c.DFf, c.PDrop);
        residual_1 = new Residual(c.DModel, c.PDrop, c.PreLayerNorm);
        residual_2 = new Residual(c.DModel, c.PDrop, c.PreLayerNorm);
        residual_3 = new Residual(c.DModel, c.PDrop, c.PreLayerNorm);
        RegisterComponents();
    }

    /// <param name="x">(B, T, d_model) decoder states.</param>
    /// <param name="memory">(B, S, d_model) encoder output.</param>
    /// <param name="srcMask">(B, 1, 1, S) bool, true at source padding.</param>
    /// <param name="tgtMask">(B, 1, T, T) bool, true at future positions and target padding.</param>
    public override Tensor forward(Tensor x, Tensor memory, Tensor srcMask, Tensor tgtMask)
    {
        x = residual_1.forward(x, y => self_attn.forward(y, y, y, tgtMask));
        x = residual_2.forward(x, y => src_attn.forward(y, memory, memory, srcMask));
        return residual_3.forward(x, feed_forward.forward);
    }
}

/// <summary>
/// The Transformer (§3): encoder and decoder stacks of N layers, the decoder's output projected onto the
/// target vocabulary by the transposed target embedding matrix (tied, §3.4).
/// </summary>
public sealed class Transformer : Module<Tensor, Tensor, Tensor>
{
    private readonly Embeddings src_embed, tgt_embed;
    private readonly ModuleList<EncoderLayer> encoder;
    private readonly ModuleList<DecoderLayer> decoder;
    // Pre-LN only: the final normalisation of each stack (post-LN ends every layer with one already).
    private readonly LayerNorm? encoder_norm, decoder_norm;

    /// <summary>The sizes.</summary>
    public ModelConfig Config { get; }
    /// <summary>The encoder layers.</summary>
    public IReadOnlyList<EncoderLayer> EncoderLayers => encoder.ToList();
    /// <summary>The decoder layers.</summary>
    public IReadOnlyList<DecoderLayer> DecoderLayers => decoder.ToList();

    /// <param name="config">Sizes.</param>
    /// <exception cref="ArgumentException">CheckpointSegments is outside 0 … N.</exception>
    public Transformer(ModelConfig config) : base(nameof(Transformer))
    {
        if (config.CheckpointSegments < 0 || config.CheckpointSegments > config.N)
            throw new ArgumentException($"checkpoint segments must be between 1 and N ({config.N}), or 0 for √N; got {config.CheckpointSegments}");
        Config = config;
        src_embed = new Embeddings(config.SourceVocab, config.DModel, config.MaxLength, config.PDrop);
        tgt_embed = new Embeddings(config.TargetVocab, config.DModel, config.MaxLength, config.PDrop);
        encoder = new ModuleList<EncoderLayer>(Enumerable.Range(0, config.N).Select(_ => new EncoderLayer(config)).ToArray());
        decoder = new ModuleList<DecoderLayer>(Enumerable.Range(0, config.N).Select(_ => new DecoderLayer(config)).ToArray());
        if (config.PreLayerNorm)
        {
            encoder_norm = LayerNorm(config.DModel);
            decoder_norm = LayerNorm(config.DModel);
        }
        // Glorot/Xavier uniform for every projection matrix (as tensor2tensor and the Annotated Transformer).
        foreach (var (name, p) in named_parameters())
            if (p.dim() == 2 && !name.Contains("embed")) init.xavier_uniform_(p);
        RegisterComponents();
    }

    /// <summary>Next-token logits for every target position (teacher forcing).</summary>
    /// <param name="src">(B, S) int64 source ids, padded with <see cref="Vocabulary.PadId"/>.</param>
    /// <param name="tgtIn">(B, T) int64 decoder input: BOS y_1 … y_{T−1}.</param>
    /// <returns>(B, T, V_target) logits; position t predicts y_{t+1}.</returns>
    public override Tensor forward(Tensor src, Tensor tgtIn)
    {
        using var scope = NewDisposeScope();
        Tensor srcMask = SequenceMasks.Padding(src, Vocabulary.PadId);
        Tensor memory = Encode(src, srcMask);
        return Decode(memory, srcMask, tgtIn).MoveToOuterDisposeScope();
    }

    /// <summary>The encoder: (B, S) ids → (B, S, d_model) memory.</summary>
    /// <param name="src">(B, S) int64 source ids.</param>
    /// <param name="srcMask">(B, 1, 1, S) bool from <see cref="SequenceMasks.Padding"/>.</param>
    public Tensor Encode(Tensor src, Tensor srcMask)
    {
        Tensor x = src_embed.forward(src);
        if (Config.GradientCheckpointing)
            // Chen et al. 2016, Algorithm 1: keep each segment's input only; recompute its layers in the backward pass
            x = GradientCheckpoint.Sequential(encoder.Count, Config.Segments, (l, h, c) => encoder[l].forward(h, c[0]), x, srcMask);
        else
            foreach (var layer in encoder) x = layer.forward(x, srcMask);
        return encoder_norm is null ? x : encoder_norm.forward(x);
    }

    /// <summary>The decoder and the tied output projection: logits (B, T, V_target) for decoder input (B, T).</summary>
    /// <param name="memory">(B, S, d_model) from <see cref="Encode"/>.</param>
    /// <param name="srcMask">(B, 1, 1, S) bool.</param>
    /// <param name="tgtIn">(B, T) int64 decoder input starting with BOS.</param>
    /// <param name="lastOnly">Project only the last position: (B, 1, V_target) logits, all decoding needs.</param>
    public Tensor Decode(Tensor memory, Tensor srcMask, Tensor tgtIn, bool lastOnly = false)
    {
        Tensor tgtMask = SequenceMasks.CausalAndPadding(tgtIn, Vocabulary.PadId);
        Tensor x = tgt_embed.forward(tgtIn);
        if (Config.GradientCheckpointing)
            // memory goes in as a segment input (not captured), so each segment passes its gradient back to the encoder
            x = GradientCheckpoint.Sequential(decoder.Count, Config.Segments, (l, h, c) => decoder[l].forward(h, c[0], c[1], c[2]),
                                              x, memory, srcMask, tgtMask);
        else
            foreach (var layer in decoder) x = layer.forward(x, memory, srcMask, tgtMask);
        if (decoder_norm is not null) x = decoder_norm.forward(x);
        if (lastOnly) x = x.narrow(1, x.shape[1] - 1, 1);
        return functional.linear(x, tgt_embed.Weight); // x Eᵀ: the output projection shares the target embedding (§3.4)
    }

    /// <summary>Turns on or off the recording of attention weights in every attention sublayer.</summary>
    public void RecordAttention(bool on)
    {
        foreach (var l in encoder) l.SelfAttention.RecordWeights = on;
        foreach (var l in decoder) { l.SelfAttention.RecordWeights = on; l.CrossAttention.RecordWeights = on; }
    }
}

/// <summary>Training objective and schedule of §5.3–5.4.</summary>
public static class TrainingRecipe
{
    /// <summary>
    /// Label-smoothed cross-entropy (§5.4, ε_ls = 0.1; Szegedy et al. 2016), averaged over non-padding
    /// target tokens: the target distribution puts 1 − ε on the reference token and ε spread uniformly
    /// over the vocabulary (PyTorch's <c>label_smoothing</c>, which includes the reference token and the
    /// padding id in the uniform part).
    /// </summary>
    /// <param name="logits">(B, T, V) decoder output.</param>
    /// <param name="target">(B, T) int64 reference ids; padding positions are ignored.</param>
    /// <param name="epsilon">ε_ls.</param>
    public static Tensor LabelSmoothedLoss(Tensor logits, Tensor target, double epsilon = 0.1) =>
        functional.cross_entropy(logits.reshape(-1, logits.shape[^1]), target.reshape(-1),
                                 ignore_index: Vocabulary.PadId, label_smoothing: epsilon);
}
