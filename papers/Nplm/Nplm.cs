// A neural probabilistic language model, from
//   Y. Bengio, R. Ducharme, P. Vincent, C. Jauvin. "A Neural Probabilistic Language Model".
//   Journal of Machine Learning Research 3 (2003) 1137–1155.
//   §2 (the model, Figure 1, Eq. 1 and the parameter count), §4 (experiments), Table 1 (Brown corpus).
//
// The model predicts the next word w_t from the n−1 words before it, in two parts (§2):
//
//   C   a |V|×m matrix: row i is the learned feature vector C(i) of word i, shared by every context position
//   g   a network from the n−1 feature vectors to a distribution over the next word:
//
//         x = (C(w_{t−n+1}), …, C(w_{t−1}))                 concatenated, (n−1)·m values
//         y = b + W·x + U·tanh(d + H·x)                     Eq. 1: |V| unnormalised log-probabilities
//         P̂(w_t = i | context) = e^{y_i} / Σ_j e^{y_j}     the softmax
//
//   with b (|V|) the output biases, d (h) the hidden biases, H (h × (n−1)m) the hidden weights, U (|V| × h)
//   the hidden-to-output weights and W (|V| × (n−1)m) the optional direct connections from the features to
//   the output ("W is optionally zero"). Perplexity is the exponential of the mean negative log-likelihood
//   (§2: the geometric average of 1/P̂(w_t | w_1^{t−1})).
//
// Parameter count (§2): |V|(1 + nm + h) + h(1 + (n−1)m) with direct connections; without them, W's
// |V|(n−1)m fewer. See Nplm.ExpectedParameters.
//
// The same network with |V| = 27 characters, n−1 = 3, m = 10, h = 200 and no direct connections is the
// character MLP of Karpathy's makemore (part 2), which is Bengio et al.'s model applied to letters.
//
// Deviations:
//   * x concatenates the features oldest first, (C(w_{t−n+1}), …, C(w_{t−1})), the order the context window
//     holds them; the paper writes them newest first. The order only permutes the columns of H and W.
//   * Initialisation is not given in the paper beyond "random" (§4). Here C ~ N(0, 1) (PyTorch's Embedding
//     default, makemore's randn), H ~ U(±1/√((n−1)m)) (PyTorch's Linear default), d = b = 0, and U, W ~ N(0, 0.01²):
//     small output weights make every word start equally likely, so the loss at initialisation is ln|V|
//     (makemore part 3's reason for scaling its last layer by 0.01).
//   * Training uses mini-batch SGD (see Experiment.cs), not one update per word on 40 CPUs; the penalty R(θ) is
//     applied as the per-example updates apply it (WeightPenalty).

using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace PaperLab.Papers.Nplm;

/// <summary>Shape of a neural probabilistic language model (the paper's symbols, Table 1's columns).</summary>
/// <param name="VocabSize">|V|: number of words (16,383 for the paper's Brown vocabulary; 27 for names).</param>
/// <param name="Order">n: the model predicts word t from the n−1 words before it (Table 1: 3 or 5).</param>
/// <param name="Features">m: length of each word feature vector C(i) (Table 1: 30 or 60).</param>
/// <param name="Hidden">h: hidden tanh units (Table 1: 0, 50 or 100). 0 removes H, d and U; then direct connections are required.</param>
/// <param name="Direct">Whether the direct connections W from the features to the output exist (Table 1's "direct").</param>
public sealed record NplmConfig(int VocabSize, int Order = 5, int Features = 60, int Hidden = 50, bool Direct = true)
{
    /// <summary>n−1: words of context.</summary>
    public int ContextLength => Order - 1;

    /// <summary>(n−1)·m: length of the feature layer x.</summary>
    public int InputWidth => ContextLength * Features;

    /// <summary>Table 1, MLP1: n = 5, h = 50, m = 60, direct connections (test perplexity 268).</summary>
    public static NplmConfig Mlp1(int vocabSize) => new(vocabSize, Order: 5, Features: 60, Hidden: 50, Direct: true);

    /// <summary>Table 1, MLP5: n = 5, h = 50, m = 30, direct connections (test perplexity 279).</summary>
    public static NplmConfig Mlp5(int vocabSize) => new(vocabSize, Order: 5, Features: 30, Hidden: 50, Direct: true);

    /// <summary>Table 1, MLP9: n = 5, h = 100, m = 30, no direct connections (test perplexity 276; mixed with the trigram, MLP10: 252).</summary>
    public static NplmConfig Mlp9(int vocabSize) => new(vocabSize, Order: 5, Features: 30, Hidden: 100, Direct: false);

    /// <summary>makemore's character MLP (part 2): block 3, embedding 10, hidden 200, 27 characters, no direct connections.</summary>
    public static NplmConfig Makemore => new(NamesData.VocabSize, Order: 4, Features: 10, Hidden: 200, Direct: false);

    /// <summary>Checks the shape; throws naming the offending field.</summary>
    /// <exception cref="ArgumentException">A size is out of range, or h = 0 without direct connections (the model would ignore its input).</exception>
    public void Validate()
    {
        if (VocabSize < 2) throw new ArgumentException($"vocab_size |V| must be at least 2, got {VocabSize}");
        if (Order < 2) throw new ArgumentException($"order n must be at least 2 (one word of context), got {Order}");
        if (Features < 1) throw new ArgumentException($"the feature length m must be at least 1, got {Features}");
        if (Hidden < 0) throw new ArgumentException($"hidden units h cannot be negative, got {Hidden}");
        if (Hidden == 0 && !Direct)
            throw new ArgumentException("h = 0 without direct connections leaves no path from the context to the output: set Direct = true or Hidden > 0");
    }
}

/// <summary>
/// The neural probabilistic language model of Bengio et al. 2003 (§2, Eq. 1): y = b + W·x + U·tanh(d + H·x).
/// State-dict keys are the paper's symbols: <c>C.weight</c>, <c>H.weight</c>, <c>d</c>, <c>U.weight</c>,
/// <c>W.weight</c> (only with direct connections), <c>b</c> — the names a PyTorch port (nn.Embedding C,
/// bias-free nn.Linear H, U, W, nn.Parameter d, b) would give them.
/// </summary>
public sealed class Nplm : Module<Tensor, Tensor>
{
#pragma warning disable IDE1006 // the paper's symbols are the state-dict keys
    private readonly Embedding C;     // |V| × m word features
    private readonly Linear? H;       // (n−1)m → h, no bias (d is its bias)
    private readonly Parameter? d;    // (h) hidden biases
    private readonly Linear? U;       // h → |V|, no bias (b is the output bias)
    private readonly Linear? W;       // (n−1)m → |V|, no bias; null without direct connections
    private readonly Parameter b;     // (|V|) output biases
#pragma warning restore IDE1006

    /// <summary>The model's shape.</summary>
    public NplmConfig Config { get; }

    /// <summary>Builds the model and draws its initial weights (see <see cref="Initialise"/>). Seed torch first for a reproducible draw.</summary>
    /// <exception cref="ArgumentException">The configuration is invalid (<see cref="NplmConfig.Validate"/>).</exception>
    public Nplm(NplmConfig config) : base(nameof(Nplm))
    {
        config.Validate();
        Config = config;
        C = Embedding(config.VocabSize, config.Features);
        if (config.Hidden > 0)
        {
            H = Linear(config.InputWidth, config.Hidden, hasBias: false);
            d = Parameter(zeros(config.Hidden));
            U = Linear(config.Hidden, config.VocabSize, hasBias: false);
        }
        if (config.Direct) W = Linear(config.InputWidth, config.VocabSize, hasBias: false);
        b = Parameter(zeros(config.VocabSize));
        RegisterComponents();
        Initialise();
    }

    /// <summary>The word feature matrix C (|V|, m): row i is C(i). Shares storage with the parameter.</summary>
    public Tensor WordFeatures => C.weight!;

    /// <summary>
    /// Draws the initial weights (the paper only says "random", §4): C ~ N(0, 1); H ~ U(±1/√((n−1)m));
    /// d = 0; U, W ~ N(0, 0.01²); b = 0. The small output weights make the initial distribution nearly
    /// uniform, so the loss at initialisation is close to ln|V|.
    /// </summary>
    public void Initialise()
    {
        using var _ = no_grad();
        init.normal_(C.weight!, 0.0, 1.0);
        if (H is not null)
        {
            double bound = 1.0 / Math.Sqrt(Config.InputWidth);
            init.uniform_(H.weight!, -bound, bound);
            init.zeros_(d!);
            init.normal_(U!.weight!, 0.0, 0.01);
        }
        if (W is not null) init.normal_(W.weight!, 0.0, 0.01);
        init.zeros_(b);
    }

    /// <summary>The feature layer x: the context words' feature vectors, concatenated oldest first.</summary>
    /// <param name="context">(B, n−1) int64 word ids, oldest first.</param>
    /// <returns>x: (B, (n−1)·m) float32.</returns>
    /// <exception cref="ArgumentException">context is not (B, n−1).</exception>
    public Tensor FeatureLayer(Tensor context)
    {
        if (context.dim() != 2 || context.shape[1] != Config.ContextLength)
            throw new ArgumentException($"the model of order n = {Config.Order} reads contexts of shape (B, {Config.ContextLength}), got ({string.Join(", ", context.shape)})");
        using var scope = NewDisposeScope();
        return C.forward(context).view(context.shape[0], Config.InputWidth).MoveToOuterDisposeScope();
    }

    /// <summary>Eq. 1: the unnormalised log-probabilities y = b + W·x + U·tanh(d + H·x) of every next word.</summary>
    /// <param name="context">(B, n−1) int64 word ids, oldest first.</param>
    /// <returns>y (logits): (B, |V|) float32; softmax over the last dimension gives P̂(w_t = i | context).</returns>
    /// <exception cref="ArgumentException">context is not (B, n−1).</exception>
    public override Tensor forward(Tensor context)
    {
        using var scope = NewDisposeScope();
        // exercise nplm-forward: Eq. 1 of Bengio et al. 2003 — x = FeatureLayer(context), y = b + W·x + U·tanh(d + H·x) (W only with direct connections; h = 0: y = b + W·x): (B, |V|)
        Tensor x = FeatureLayer(context);                                    // (B, (n−1)m)
        Tensor y;
        if (H is not null)
        {
            Tensor a = (H.forward(x) + d!).tanh();                           // (B, h) hidden activations
            y = functional.linear(a, U!.weight!, b);                         // b + U·a: (B, |V|)
            if (W is not null) y = y.addmm(x, W.weight!.t());                // + W·x (direct connections)
        }
        else
        {
            y = functional.linear(x, W!.weight!, b);                         // h = 0: b + W·x
        }
        return y.MoveToOuterDisposeScope();
        // end exercise
    }

    /// <summary>Mean negative log-likelihood (nats per word) of <paramref name="targets"/> given <paramref name="context"/>: the training loss.</summary>
    /// <param name="context">(B, n−1) int64 word ids.</param>
    /// <param name="targets">(B) int64: the word that followed each context.</param>
    /// <returns>Scalar float32; exp of it is the batch's perplexity.</returns>
    public Tensor Loss(Tensor context, Tensor targets)
    {
        using var scope = NewDisposeScope();
        return functional.cross_entropy(forward(context), targets).MoveToOuterDisposeScope();
    }

    /// <summary>log P̂(target | context) of each example.</summary>
    /// <param name="context">(B, n−1) int64 word ids.</param>
    /// <param name="targets">(B) int64 word ids.</param>
    /// <returns>(B) float32, each ≤ 0.</returns>
    public Tensor TargetLogProbabilities(Tensor context, Tensor targets)
    {
        using var scope = NewDisposeScope();
        Tensor logp = functional.log_softmax(forward(context), dim: 1);
        return logp.gather(1, targets.unsqueeze(1)).squeeze(1).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The weight-decay penalty R(θ) of §2 for one batch, as the paper's per-example updates apply it:
    /// (λ/2)·(‖H‖² + ‖U‖² + ‖W‖²) on the network's weights, and on C only the rows of the words in the
    /// batch's context windows, each as often as it occurs there, averaged over the batch:
    /// (λ/2)·(1/B)·Σ_examples Σ_positions ‖C(w)‖². §2: "a large fraction of the parameters needs not be
    /// updated or visited after each example: the word features C(j) of all words j that do not occur in the
    /// input window" — so a word absent from a batch keeps its feature vector unchanged, whereas a dense decay
    /// (SGD's weight_decay, AdamW's decoupled decay) would shrink every row at every update. The biases b, d
    /// are not penalised. With a mini-batch rate ε·B on the batch mean, each row gets the decay of the
    /// paper's per-example updates (ε·λ per occurrence).
    /// </summary>
    /// <param name="context">(B, n−1) int64 word ids of the batch.</param>
    /// <param name="lambda">λ, the weight decay (the paper: 10⁻⁴ on Brown).</param>
    /// <returns>Scalar float32, to add to the mean NLL before backward().</returns>
    public Tensor WeightPenalty(Tensor context, double lambda)
    {
        using var scope = NewDisposeScope();
        Tensor x = FeatureLayer(context);                                    // (B, (n−1)m): the C rows of each window
        Tensor sum = x.square().sum() / context.shape[0];
        foreach (var layer in new[] { H, U, W })
            if (layer is not null) sum = sum + layer.weight!.square().sum();
        return (0.5 * lambda * sum).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The parameters the paper's penalty R(θ) applies to (§2: "a weight decay penalty applied only to the
    /// weights of the neural network and to the C matrix, not to the biases") and the biases b, d.
    /// </summary>
    /// <returns>(C, H, U, W; b, d): together each parameter exactly once.</returns>
    public (IList<Parameter> Decay, IList<Parameter> NoDecay) WeightDecayGroups()
    {
        var decay = new List<Parameter>();
        var noDecay = new List<Parameter>();
        foreach (var (name, p) in named_parameters())
            (name is "b" or "d" ? noDecay : decay).Add(p);
        return (decay, noDecay);
    }

    /// <summary>
    /// The parameter count derived from the shape (not from the tensors), §2:
    /// |V|·m (C) + |V| (b) + [h &gt; 0] (h·(n−1)m + h + |V|·h) (H, d, U) + [direct] |V|·(n−1)m (W).
    /// With direct connections and h &gt; 0 this is the paper's |V|(1 + nm + h) + h(1 + (n−1)m).
    /// </summary>
    public static long ExpectedParameters(NplmConfig c)
    {
        long V = c.VocabSize, m = c.Features, h = c.Hidden, n = c.Order, input = (n - 1) * m;
        long count = V * m + V;                         // C and b
        if (h > 0) count += h * input + h + V * h;      // H, d, U
        if (c.Direct) count += V * input;               // W
        return count;
    }

    /// <summary>Multiply-adds of one forward pass per predicted word: the output layer's |V|·(h + [direct]·(n−1)m) dominates (§3: 99.7% for the AP News model).</summary>
    public static long ForwardMultiplyAdds(NplmConfig c)
    {
        long V = c.VocabSize, h = c.Hidden, input = c.InputWidth;
        return V * h + (c.Direct ? V * input : 0) + h * input;
    }
}

/// <summary>Perplexity: the geometric average of 1/P̂ over the predicted words (§2), i.e. exp(mean NLL).</summary>
public static class Perplexity
{
    /// <summary>exp(<paramref name="meanNll"/>).</summary>
    /// <param name="meanNll">Mean negative log-likelihood, nats per word.</param>
    public static double FromMeanNll(double meanNll) => Math.Exp(meanNll);

    /// <summary>Perplexity of a sequence of probabilities given to the words that occurred.</summary>
    /// <exception cref="ArgumentException">The sequence is empty, or a probability is not in (0, 1].</exception>
    public static double Of(IEnumerable<double> probabilities) => FromMeanNll(MeanNll(probabilities));

    /// <summary>Mean of −ln p over the probabilities given to the words that occurred.</summary>
    /// <exception cref="ArgumentException">The sequence is empty, or a probability is not in (0, 1].</exception>
    public static double MeanNll(IEnumerable<double> probabilities)
    {
        double sum = 0;
        long count = 0;
        foreach (double p in probabilities)
        {
            if (!(p > 0 && p <= 1 + 1e-9)) throw new ArgumentException($"probability {p} of word {count} is not in (0, 1]: a model must give every word a positive probability");
            sum -= Math.Log(p);
            count++;
        }
        if (count == 0) throw new ArgumentException("perplexity of no words is undefined");
        return sum / count;
    }

    /// <summary>
    /// Mean NLL of the mixture λ·pA + (1 − λ)·pB, word by word: Table 1's "mix" column averages the network's
    /// probabilities with the interpolated trigram's with λ = 0.5 (§2, "Mixture of models").
    /// </summary>
    /// <param name="a">Probabilities model A gave the words that occurred.</param>
    /// <param name="b">Probabilities model B gave the same words, same order.</param>
    /// <param name="weightA">λ, in [0, 1].</param>
    /// <exception cref="ArgumentException">The lengths differ or λ is outside [0, 1].</exception>
    public static double MixtureMeanNll(IReadOnlyList<double> a, IReadOnlyList<double> b, double weightA = 0.5)
    {
        if (a.Count != b.Count) throw new ArgumentException($"the two models scored different numbers of words ({a.Count} and {b.Count})");
        if (weightA is < 0 or > 1) throw new ArgumentException($"the mixture weight must be in [0, 1], got {weightA}");
        return MeanNll(a.Select((p, i) => weightA * p + (1 - weightA) * b[i]));
    }
}
