// A multi-layer perceptron on the engine, the networks of the MNIST rows this paper reproduces:
//   Y. LeCun, L. Bottou, Y. Bengio, P. Haffner. "Gradient-Based Learning Applied to Document Recognition".
//     Proc. IEEE 86(11), 1998. Section III.C.5 (fully connected multi-layer networks): 784-300-10, 4.7% test
//     error; 784-300-100-10, 3.05% (no distortions). Appendix A: the squashing function
//     f(a) = 1.7159·tanh(2a/3) (A.1) and the initialisation uniform in ±2.4/F_i, F_i the fan-in (A.2).
//   Y. LeCun, L. Bottou, G. B. Orr, K.-R. Müller. "Efficient BackProp". In Neural Networks: Tricks of the
//     Trade, 1998. §4.6, Eq. 16: weights of standard deviation fan_in^−½ for that same squashing function.
//   P. Y. Simard, D. Steinkraus, J. C. Platt. "Best Practices for Convolutional Neural Networks Applied to
//     Visual Document Analysis". ICDAR 2003, Table 1: 784-800-10 with cross-entropy, 1.6% (no distortions).
//   The learning rule of all three is back-propagation (Rumelhart, Hinton & Williams 1986): E of Eq. 3 is
//     the squared error, E = ½ Σ_c Σ_j (y_j,c − d_j,c)²; here it is averaged over the mini-batch.
// Modern variant (for comparison, not in the papers above): ReLU units with He initialisation
//   (K. He et al., "Delving Deep into Rectifiers", ICCV 2015, Eq. 10) or tanh with Glorot initialisation
//   (X. Glorot, Y. Bengio, AISTATS 2010, Eq. 16), cross-entropy, Adam.
//
// Layout: each layer is x·W + b with W of shape (fan_in, fan_out), so a batch of row vectors flows left to
// right as in the engine's matmul. PyTorch's nn.Linear stores the transpose, (fan_out, fan_in).

using System.Numerics;

namespace PaperLab.Papers.Backprop;

/// <summary>The nonlinearity of the hidden units.</summary>
public enum Activation
{
    /// <summary>LeCun's scaled hyperbolic tangent 1.7159·tanh(2a/3) (LeCun et al. 1998, Eq. A.1): f(±1) = ±1.</summary>
    ScaledTanh,
    /// <summary>tanh a.</summary>
    Tanh,
    /// <summary>The logistic function of Rumelhart et al. 1986, Eq. 2.</summary>
    Sigmoid,
    /// <summary>max(0, a).</summary>
    Relu,
}

/// <summary>The training criterion.</summary>
public enum LossKind
{
    /// <summary>½ Σⱼ (yⱼ − dⱼ)² on one-hot targets d (1 for the class, 0 elsewhere), averaged over the batch (Eq. 3 of Rumelhart et al. 1986).</summary>
    SquaredError,
    /// <summary>−log softmax(y)_class, averaged over the batch (Simard et al. 2003).</summary>
    CrossEntropy,
}

/// <summary>How the initial weights are drawn (biases start at 0 in every case).</summary>
public enum InitKind
{
    /// <summary>Uniform in ±2.4/fan_in (LeCun et al. 1998, Appendix A.2).</summary>
    LeCun1998,
    /// <summary>
    /// Uniform in ±√(3/fan_in), standard deviation fan_in^−½ (LeCun, Bottou, Orr &amp; Müller, "Efficient BackProp",
    /// 1998, §4.6, Eq. 16): with normalised inputs the total input of each unit has unit variance, where the
    /// scaled tanh is neither linear nor saturated.
    /// </summary>
    EfficientBackprop,
    /// <summary>Uniform in ±√(6/(fan_in + fan_out)) (Glorot &amp; Bengio 2010, Eq. 16), for tanh and sigmoid.</summary>
    Glorot,
    /// <summary>Uniform in ±√(6/fan_in), variance 2/fan_in (He et al. 2015, Eq. 10), for ReLU.</summary>
    He,
}

/// <summary>Shape and criterion of an MLP.</summary>
/// <param name="Widths">Units per layer, input first, output last: [784, 300, 10].</param>
/// <param name="Activation">Nonlinearity of the hidden layers (the output layer is linear).</param>
/// <param name="Loss">Training criterion.</param>
/// <param name="Init">Initial weight distribution.</param>
public sealed record MlpConfig(int[] Widths, Activation Activation, LossKind Loss, InitKind Init)
{
    /// <summary>Checks the widths.</summary>
    /// <exception cref="ArgumentException">Fewer than two widths or a width below 1.</exception>
    public void Validate()
    {
        if (Widths is null || Widths.Length < 2) throw new ArgumentException("an MLP needs at least an input and an output width, e.g. [784, 300, 10]");
        if (Widths.Any(w => w < 1)) throw new ArgumentException($"every width must be at least 1, got [{string.Join(", ", Widths)}]");
    }

    /// <summary>Weights and biases: Σₗ (fan_inₗ + 1)·fan_outₗ (238,510 for 784-300-10; 266,610 for 784-300-100-10; 636,010 for 784-800-10).</summary>
    public long ParameterCount()
    {
        long total = 0;
        for (int l = 0; l + 1 < Widths.Length; l++) total += (long)(Widths[l] + 1) * Widths[l + 1];
        return total;
    }

    /// <inheritdoc/>
    public override string ToString() => $"MlpConfig({string.Join("-", Widths)}, {Activation}, {Loss}, {Init})";
}

/// <summary>A fully connected layer y = x·W + b (Eq. 1 of Rumelhart et al. 1986, with a bias unit).</summary>
/// <typeparam name="T">float or double.</typeparam>
public sealed class Linear<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Weights (fan_in, fan_out).</summary>
    public Variable<T> W { get; }
    /// <summary>Biases (fan_out).</summary>
    public Variable<T> B { get; }

    /// <param name="fanIn">Inputs per unit.</param>
    /// <param name="fanOut">Units.</param>
    /// <param name="init">Weight distribution.</param>
    /// <param name="random">Source of the weights, drawn row by row of W.</param>
    public Linear(int fanIn, int fanOut, InitKind init, Random random)
    {
        double bound = init switch
        {
            InitKind.LeCun1998 => 2.4 / fanIn,
            InitKind.EfficientBackprop => Math.Sqrt(3.0 / fanIn),
            InitKind.Glorot => Math.Sqrt(6.0 / (fanIn + fanOut)),
            InitKind.He => Math.Sqrt(6.0 / fanIn),
            _ => throw new ArgumentOutOfRangeException(nameof(init), init, "unknown initialisation"),
        };
        var w = new T[fanIn * fanOut];
        for (int i = 0; i < w.Length; i++) w[i] = T.CreateChecked((random.NextDouble() * 2 - 1) * bound);
        W = Variable<T>.Parameter(w, fanIn, fanOut);
        B = Variable<T>.Parameter(new T[fanOut], fanOut);
    }

    /// <summary>x·W + b.</summary>
    /// <param name="x">(N, fan_in).</param>
    /// <returns>(N, fan_out): the total inputs of the layer's units (Eq. 1's x_j).</returns>
    public Variable<T> Forward(Variable<T> x) => x.MatMul(W) + B;
}

/// <summary>
/// A multi-layer perceptron: Linear → activation → … → Linear, the output layer linear; the loss on top.
/// </summary>
/// <typeparam name="T">float or double.</typeparam>
public sealed class Mlp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Shape and criterion.</summary>
    public MlpConfig Config { get; }
    /// <summary>The layers, input side first.</summary>
    public IReadOnlyList<Linear<T>> Layers { get; }

    /// <param name="config">Widths, activation, loss and initialisation.</param>
    /// <param name="seed">Seed of the initial weights (System.Random): the same seed gives the same network.</param>
    /// <exception cref="ArgumentException">The configuration is invalid.</exception>
    public Mlp(MlpConfig config, int seed)
    {
        config.Validate();
        Config = config;
        var random = new Random(seed);
        Layers = Enumerable.Range(0, config.Widths.Length - 1)
            .Select(l => new Linear<T>(config.Widths[l], config.Widths[l + 1], config.Init, random)).ToArray();
    }

    /// <summary>W then b of each layer, input side first.</summary>
    public IEnumerable<Variable<T>> Parameters() => Layers.SelectMany(l => new[] { l.W, l.B });

    /// <summary>The output units' total inputs (logits).</summary>
    /// <param name="x">(N, Widths[0]) inputs.</param>
    /// <returns>(N, Widths[^1]).</returns>
    /// <exception cref="ArgumentException">x is not (N, Widths[0]).</exception>
    public Variable<T> Forward(Variable<T> x)
    {
        if (x.Rank != 2 || x.Shape[1] != Config.Widths[0])
            throw new ArgumentException($"the MLP expects inputs of shape (N, {Config.Widths[0]}), got {Variable<T>.Format(x.Shape)}");
        for (int l = 0; l < Layers.Count; l++)
        {
            x = Layers[l].Forward(x);
            if (l < Layers.Count - 1) x = Activate(x, Config.Activation);
        }
        return x;
    }

    /// <summary>The training criterion of <see cref="Config"/> for a batch.</summary>
    /// <param name="x">(N, Widths[0]) inputs.</param>
    /// <param name="labels">N class indices in 0 .. Widths[^1]−1.</param>
    /// <returns>The loss (shape ()) and the logits (N, Widths[^1]).</returns>
    public (Variable<T> Loss, Variable<T> Logits) Loss(Variable<T> x, int[] labels)
    {
        var logits = Forward(x);
        return (Criterion(logits, labels, Config.Loss), logits);
    }

    /// <summary>The activation <paramref name="kind"/> applied elementwise, as engine operations.</summary>
    public static Variable<T> Activate(Variable<T> a, Activation kind) => kind switch
    {
        // 1.7159·tanh(2a/3): A = 1.7159 and S = 2/3 make f(1) = 1 and f'' largest near ±1 (Appendix A.1)
        Activation.ScaledTanh => (a * T.CreateChecked(2.0 / 3.0)).Tanh() * T.CreateChecked(1.7159),
        Activation.Tanh => a.Tanh(),
        Activation.Sigmoid => a.Sigmoid(),
        Activation.Relu => a.Relu(),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "unknown activation"),
    };

    /// <summary>The loss of logits (N, C) against class indices, averaged over the N cases.</summary>
    /// <exception cref="ArgumentException">A label is outside 0 .. C−1 or the counts differ.</exception>
    public static Variable<T> Criterion(Variable<T> logits, int[] labels, LossKind kind)
    {
        if (kind == LossKind.CrossEntropy) return logits.CrossEntropy(labels);
        int n = logits.Shape[0], c = logits.Shape[1];
        if (labels.Length != n) throw new ArgumentException($"{labels.Length} labels for {n} cases", nameof(labels));
        var d = new T[n * c];   // one-hot desired outputs d_j,c
        for (int i = 0; i < n; i++)
        {
            if ((uint)labels[i] >= (uint)c) throw new ArgumentException($"label {labels[i]} at index {i} is outside 0..{c - 1}", nameof(labels));
            d[i * c + labels[i]] = T.One;
        }
        var error = logits - Variable<T>.Constant(d, n, c);
        // Eq. 3, E = ½ Σ_j (y_j − d_j)² per case, averaged over the batch
        return (error * error).Sum() * T.CreateChecked(0.5 / n);
    }
}
