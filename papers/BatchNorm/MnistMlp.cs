// The MNIST network of §4.1 ("Activations over time") of Ioffe & Szegedy 2015:
//   "a simple network with a 28x28 binary image as input, and 3 fully-connected hidden layers with 100
//    activations each. Each hidden layer computes y = g(Wu + b) with sigmoid nonlinearity, and the weights W
//    initialized to small random Gaussian values. The last hidden layer is followed by a fully-connected
//    layer with 10 activations (one per class) and cross-entropy loss. We trained the network for 50000
//    steps, with 60 examples per mini-batch. We added Batch Normalization to each hidden layer of the
//    network, as in Sec. 3.1."
//
// With batch normalisation each hidden layer is z = g(BN(Wu)): §3.2 drops the bias b because BN's mean
// subtraction cancels it, and β takes its role.
//
//   fc1 784 → 100, [bn1], sigmoid
//   fc2 100 → 100, [bn2], sigmoid
//   fc3 100 → 100, [bn3], sigmoid      ← Fig. 1(b) follows the input of one of these sigmoids
//   fc4 100 → 10   logits (cross-entropy)
//
// Parameter count: without BN 784·100+100 + 2·(100·100+100) + 100·10+10 = 99,710;
// with BN (no hidden biases, γ and β per unit) 784·100 + 2·100·100 + 3·2·100 + 100·10+10 = 100,010.
//
// Deviations: the paper's inputs are "binary" images; this uses MNIST's grey levels scaled to [0, 1]
// (what every re-implementation does). The paper's "small random Gaussian values" give no standard deviation;
// InitStd is a parameter (BatchNormOptions.InitStd in Experiment.cs: 0.1, and README.md, Deviations, for why).

using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace PaperLab.Papers.BatchNorm;

/// <summary>
/// The §4.1 MNIST network: three fully connected hidden layers of 100 sigmoid units, optionally with batch
/// normalisation before each sigmoid, and a 10-way linear output. Submodules are run with <c>call</c>, so
/// forward hooks (the diagnostics toolkit) see every layer, the sigmoids included.
/// </summary>
public sealed class MnistMlp : Module<Tensor, Tensor>
{
    /// <summary>Hidden units per layer (§4.1).</summary>
    public const int Hidden = 100;
    /// <summary>Input size: 28·28 pixels.</summary>
    public const int Inputs = 28 * 28;

    private readonly Linear fc1, fc2, fc3, fc4;
    private readonly BatchNorm? bn1, bn2, bn3;
    private readonly Sigmoid sig1, sig2, sig3;

    /// <summary>Whether each hidden layer is batch-normalised.</summary>
    public bool UsesBatchNorm { get; }

    /// <param name="batchNorm">Insert BN before each hidden sigmoid (and drop the hidden biases, §3.2).</param>
    /// <param name="initStd">Standard deviation of the Gaussian initial weights of every layer; biases start at 0.</param>
    /// <exception cref="ArgumentException">initStd is not positive.</exception>
    public MnistMlp(bool batchNorm, double initStd) : base(nameof(MnistMlp))
    {
        if (!(initStd > 0)) throw new ArgumentException($"initStd must be positive, got {initStd}", nameof(initStd));
        UsesBatchNorm = batchNorm;
        fc1 = Linear(Inputs, Hidden, hasBias: !batchNorm);
        fc2 = Linear(Hidden, Hidden, hasBias: !batchNorm);
        fc3 = Linear(Hidden, Hidden, hasBias: !batchNorm);
        fc4 = Linear(Hidden, 10);
        if (batchNorm)
        {
            bn1 = new BatchNorm(Hidden);
            bn2 = new BatchNorm(Hidden);
            bn3 = new BatchNorm(Hidden);
        }
        sig1 = Sigmoid();
        sig2 = Sigmoid();
        sig3 = Sigmoid();
        using (no_grad())
        {
            foreach (var layer in new[] { fc1, fc2, fc3, fc4 })
            {
                init.normal_(layer.weight!, 0, initStd);
                if (layer.bias is { } b) b.zero_();
            }
        }
        RegisterComponents();
    }

    /// <summary>Class scores.</summary>
    /// <param name="x">Images (B, 1, 28, 28) or (B, 784) float32.</param>
    /// <returns>logits (B, 10).</returns>
    public override Tensor forward(Tensor x) => ForwardWithProbe(x).Logits;

    /// <summary>The logits and the input of the last hidden layer's sigmoids (what Fig. 1(b) plots).</summary>
    /// <param name="x">Images (B, 1, 28, 28) or (B, 784) float32.</param>
    /// <returns>Logits (B, 10) and the sigmoid inputs of the third hidden layer (B, 100): BN(W₃u) with BN, W₃u + b₃ without.</returns>
    /// <exception cref="ArgumentException">x does not hold 784 values per example.</exception>
    public (Tensor Logits, Tensor LastSigmoidInput) ForwardWithProbe(Tensor x)
    {
        if (x.dim() < 2 || x.numel() != x.shape[0] * Inputs)
            throw new ArgumentException($"the MNIST network expects (B, 1, 28, 28) or (B, 784), got ({string.Join(", ", x.shape)})");
        using var scope = NewDisposeScope();
        Tensor u = x.reshape(x.shape[0], Inputs);                 // (B, 784)
        Tensor h1 = sig1.call(Normalise(bn1, fc1.call(u)));       // (B, 100)
        Tensor h2 = sig2.call(Normalise(bn2, fc2.call(h1)));      // (B, 100)
        Tensor z3 = Normalise(bn3, fc3.call(h2));                 // (B, 100): the sigmoid inputs of Fig. 1(b)
        Tensor logits = fc4.call(sig3.call(z3));                  // (B, 10)
        return (logits.MoveToOuterDisposeScope(), z3.MoveToOuterDisposeScope());
    }

    private static Tensor Normalise(BatchNorm? bn, Tensor a) => bn is null ? a : bn.call(a);

    /// <summary>The parameter count derived from the layer sizes: 99,710 without BN, 100,010 with.</summary>
    public static long ExpectedParameters(bool batchNorm) => batchNorm
        ? Inputs * Hidden + 2 * Hidden * Hidden + 3 * 2 * Hidden + Hidden * 10 + 10
        : Inputs * Hidden + Hidden + 2 * (Hidden * Hidden + Hidden) + Hidden * 10 + 10;
}
