// PaperName — replace this header with the paper: authors, "title", venue, year; then, for each part of
// the model below, the section and equation it comes from.
//
// The model is written from the paper, top-down like the paper, in its notation: each class one idea,
// each line commented with its shape. Until you write yours, this file holds a stand-in so that the
// project builds, trains and is tested from the first minute: a perceptron with one hidden layer,
//
//   h      = ReLU(W₁ x + b₁)        x: the 28×28 image flattened to 784 values
//   logits = W₂ h + b₂              one score per class; softmax + cross-entropy in the experiment
//
// with 784·H + H + H·K + K parameters (H hidden units, K classes). Keep what the checklist in README.md
// asks of it: a parameter-count formula, shapes checked at the entrance, names a PyTorch port would use.

using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace PaperLab.Papers.PaperName;

/// <summary>The model of the paper (a stand-in: one hidden layer; replace it with the paper's).</summary>
public sealed class PaperName : Module<Tensor, Tensor>
{
    private readonly Linear fc1, fc2;   // field names become state-dict keys: name them as the PyTorch reference would

    /// <param name="inputs">Values per example (784 for 28×28 images).</param>
    /// <param name="hidden">H, hidden units.</param>
    /// <param name="classes">K, classes.</param>
    /// <exception cref="ArgumentOutOfRangeException">A size below 1.</exception>
    public PaperName(int inputs = 784, int hidden = 100, int classes = 10) : base(nameof(PaperName))
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(inputs, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(hidden, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(classes, 1);
        Inputs = inputs;
        fc1 = Linear(inputs, hidden);
        fc2 = Linear(hidden, classes);
        RegisterComponents();
    }

    /// <summary>Values per example the model expects.</summary>
    public int Inputs { get; }

    /// <summary>The class scores of a batch.</summary>
    /// <param name="x">(B, 1, 28, 28) float32 images (or any (B, …) holding <see cref="Inputs"/> values per example).</param>
    /// <returns>(B, K) logits.</returns>
    /// <exception cref="ArgumentException">An example does not hold <see cref="Inputs"/> values.</exception>
    public override Tensor forward(Tensor x)
    {
        if (x.dim() < 2 || x.numel() / x.shape[0] != Inputs)
            throw new ArgumentException($"expected (B, …) with {Inputs} values per example, got ({string.Join(", ", x.shape)})");
        using var scope = NewDisposeScope();
        Tensor h = functional.relu(fc1.forward(x.flatten(1)));   // (B, H)
        return fc2.forward(h).MoveToOuterDisposeScope();          // (B, K)
    }

    /// <summary>The parameter count from the sizes (not from the tensors): 784·H + H + H·K + K.</summary>
    public static long ExpectedParameters(int inputs = 784, int hidden = 100, int classes = 10) =>
        (long)inputs * hidden + hidden + (long)hidden * classes + classes;
}
