// LeNet-5, from
//   Y. LeCun, L. Bottou, Y. Bengio, P. Haffner. "Gradient-Based Learning Applied to Document Recognition".
//   Proceedings of the IEEE 86(11), 1998. Section II.B ("LeNet-5") and Fig. 2; results in Section III.C.
//
// The network reads a 32×32 image: MNIST's 28×28 digits sit centred in that field, which is what
// zero-padding the 28×28 input by 2 pixels does. Then, as in Fig. 2:
//
//   C1  convolution, 6 maps of 28×28, 5×5 kernels          (paper: 156 trainable parameters)
//   S2  2×2 subsampling → 6 maps of 14×14
//   C3  convolution, 16 maps of 10×10, 5×5 kernels
//   S4  2×2 subsampling → 16 maps of 5×5
//   C5  convolution, 120 maps of 1×1, 5×5 kernels over the 5×5 maps: a full connection 400 → 120
//   F6  full connection 120 → 84
//   output: 10 units, one per class
//
// Deviations from the 1998 network, all of them the modern defaults, and why:
//   * ReLU instead of the scaled tanh f(a) = 1.7159·tanh(2a/3) (Appendix A): trains faster with Adam.
//   * Max-pooling in S2/S4 instead of the trainable subsampling (sum of 4 inputs × a coefficient + a bias,
//     then a sigmoid): no parameters, same 2× reduction.
//   * C3 connects to all 6 maps of S2; the paper's Table I connects each C3 map to a subset of 3, 4 or 6
//     (1,516 parameters instead of 2,416) to break symmetry and save compute, neither of which matters now.
//   * A linear output layer read through softmax + cross-entropy instead of the Euclidean RBF units with
//     fixed 7×12 bitmap codes and the MAP criterion of Eq. 9.
// The result is the 61,706-parameter network most re-implementations call LeNet-5.
//
// Your own images (--dataset folder:DIR): the same layers, with C1 reading C channels (1 grey, 3 RGB) and
// C5 reading whatever S4 leaves of an N×N image, 16·s·s with s = ⌊(⌊N/2⌋ − 4)/2⌋ (5 for N = 28); the
// output layer has one unit per class folder.

using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace PaperLab.Papers.LeNet5;

/// <summary>
/// LeNet-5 (LeCun et al. 1998, §II.B, Fig. 2) with ReLU and max-pooling; see the file header for the
/// deviations. Field names are the state-dict keys (conv1, conv2, fc1, fc2, fc3), as in the usual PyTorch
/// version, so exported weights load there.
/// </summary>
public sealed class LeNet5 : Module<Tensor, Tensor>
{
    // C1: 1 → 6 maps, 5×5, on the 28×28 image padded to the paper's 32×32 field.
    private readonly Conv2d conv1;
    // C3: 6 → 16 maps, 5×5.
    private readonly Conv2d conv2;
    // C5: 16·5·5 = 400 → 120 (a 5×5 convolution over a 5×5 map is a full connection).
    private readonly Linear fc1;
    // F6: 120 → 84.
    private readonly Linear fc2;
    // Output: 84 → number of classes (logits).
    private readonly Linear fc3;

    /// <summary>Number of output classes.</summary>
    public int NumClasses { get; }
    /// <summary>C: channels of the input images (1 grey, 3 RGB).</summary>
    public int InChannels { get; }
    /// <summary>N: side of the square input images in pixels (28 for MNIST).</summary>
    public int ImageSize { get; }

    /// <param name="numClasses">Output units (10 for MNIST and Fashion-MNIST; the number of classes of your folder).</param>
    /// <param name="inChannels">C, channels of the input (1 grey, 3 RGB).</param>
    /// <param name="imageSize">N, side of the square input; at least 12, so that S4 keeps one pixel.</param>
    /// <exception cref="ArgumentOutOfRangeException">numClasses &lt; 2, inChannels &lt; 1 or imageSize &lt; 12.</exception>
    public LeNet5(int numClasses = 10, int inChannels = 1, int imageSize = 28) : base(nameof(LeNet5))
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(numClasses, 2);
        ArgumentOutOfRangeException.ThrowIfLessThan(inChannels, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(imageSize, 12);
        (NumClasses, InChannels, ImageSize) = (numClasses, inChannels, imageSize);
        int s = S4Side(imageSize);
        conv1 = Conv2d(inChannels, 6, kernel_size: 5, padding: 2);
        conv2 = Conv2d(6, 16, kernel_size: 5);
        fc1 = Linear(16 * s * s, 120);
        fc2 = Linear(120, 84);
        fc3 = Linear(84, numClasses);
        RegisterComponents();
    }

    /// <summary>Side of S4's maps for an N×N input: C1 keeps N (padding 2), S2 halves, C3 takes 4, S4 halves: 5 for N = 28.</summary>
    public static int S4Side(int imageSize) => (imageSize / 2 - 4) / 2;

    /// <summary>Class scores.</summary>
    /// <param name="x">Images (B, C, N, N) float32, normalised; (B, 1, 28, 28) for MNIST.</param>
    /// <returns>logits (B, numClasses) float32; softmax gives class probabilities.</returns>
    public override Tensor forward(Tensor x) => fc3.forward(Features(x));

    /// <summary>The F6 layer's activations: the 84-dimensional code the output layer classifies.</summary>
    /// <param name="x">Images (B, C, N, N) float32, normalised.</param>
    /// <returns>(B, 84) float32, non-negative (after ReLU).</returns>
    /// <exception cref="ArgumentException">x is not (B, C, N, N) with this network's C and N.</exception>
    public Tensor Features(Tensor x)
    {
        if (x.dim() != 4 || x.shape[1] != InChannels || x.shape[2] != ImageSize || x.shape[3] != ImageSize)
            throw new ArgumentException($"this LeNet-5 expects images of shape (B, {InChannels}, {ImageSize}, {ImageSize}), got ({string.Join(", ", x.shape)})");
        // exercise lenet5-forward: Fig. 2 — C1 conv1 → ReLU → S2 2×2 max-pool → C3 conv2 → ReLU → S4 max-pool → flatten → C5 fc1 → ReLU → F6 fc2 → ReLU: (B, 84)
        using var scope = NewDisposeScope();
        Tensor c1 = functional.relu(conv1.forward(x));          // (B, 6, 28, 28); shapes for N = 28
        Tensor s2 = functional.max_pool2d(c1, 2);               // (B, 6, 14, 14)
        Tensor c3 = functional.relu(conv2.forward(s2));         // (B, 16, 10, 10)
        Tensor s4 = functional.max_pool2d(c3, 2);               // (B, 16, 5, 5)
        Tensor c5 = functional.relu(fc1.forward(s4.flatten(1))); // (B, 120)
        Tensor f6 = functional.relu(fc2.forward(c5));           // (B, 84)
        return f6.MoveToOuterDisposeScope();
        // end exercise
    }

    /// <summary>
    /// The parameter count derived from the layer sizes (not from the tensors): 61,706 for 10 classes of grey
    /// 28×28 images. A convolution has out·(in·k·k + 1) parameters, a full connection out·(in + 1).
    /// </summary>
    public static long ExpectedParameters(int numClasses = 10, int inChannels = 1, int imageSize = 28) =>
        6 * (inChannels * 5 * 5 + 1)                                  // C1: 156
        + 16 * (6 * 5 * 5 + 1)                                        // C3: 2,416
        + 120 * (16 * S4Side(imageSize) * S4Side(imageSize) + 1)      // C5: 48,120
        + 84 * (120 + 1)           // F6: 10,164
        + numClasses * (84 + 1);   // output: 850
}
