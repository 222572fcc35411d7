using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace PaperLab.Papers.Dqn;

/// <summary>
/// A multilayer perceptron with ReLU between layers and a linear output: the Q-network of DQN (outputs are
/// Q(s, ·), one per action), REINFORCE's policy (outputs are logits of π(·|s)) and its value baseline
/// (one output, V(s)). Mnih et al. 2015 read pixels with convolutions; CartPole's four numbers need only
/// fully connected layers. PyTorch's default initialisation (Kaiming-uniform weights, uniform biases):
/// seed torch before constructing for a reproducible draw. State-dict keys: layers.0.weight, layers.0.bias, …
/// </summary>
public sealed class Mlp : Module<Tensor, Tensor>
{
    private readonly ModuleList<Linear> layers;

    /// <summary>Input width.</summary>
    public int Inputs { get; }
    /// <summary>Output width.</summary>
    public int Outputs { get; }

    /// <param name="inputs">Observation size (CartPole: 4).</param>
    /// <param name="hidden">Widths of the hidden layers, first to last (may be empty: a linear map).</param>
    /// <param name="outputs">Number of outputs.</param>
    /// <exception cref="ArgumentException">A width is not positive.</exception>
    public Mlp(int inputs, IReadOnlyList<int> hidden, int outputs) : base(nameof(Mlp))
    {
        if (inputs < 1 || outputs < 1 || hidden.Any(h => h < 1))
            throw new ArgumentException($"every layer width must be at least 1: inputs {inputs}, hidden [{string.Join(", ", hidden)}], outputs {outputs}");
        Inputs = inputs;
        Outputs = outputs;
        var widths = new[] { inputs }.Concat(hidden).Append(outputs).ToArray();
        layers = new ModuleList<Linear>(Enumerable.Range(0, widths.Length - 1).Select(i => Linear(widths[i], widths[i + 1])).ToArray());
        RegisterComponents();
    }

    /// <param name="x">(B, inputs) float32.</param>
    /// <returns>(B, outputs) float32.</returns>
    /// <exception cref="ArgumentException">x is not (B, inputs).</exception>
    public override Tensor forward(Tensor x)
    {
        if (x.dim() != 2 || x.shape[1] != Inputs)
            throw new ArgumentException($"the network expects observations of shape (B, {Inputs}), got ({string.Join(", ", x.shape)})");
        using var scope = NewDisposeScope();
        for (int i = 0; i < layers.Count - 1; i++) x = functional.relu(layers[i].forward(x));
        return layers[layers.Count - 1].forward(x).MoveToOuterDisposeScope();
    }

    /// <summary>Copies every parameter of <paramref name="source"/> (same shape) into this network, without gradient.</summary>
    /// <exception cref="ArgumentException">The shapes differ.</exception>
    public void CopyFrom(Mlp source)
    {
        var mine = parameters().ToArray();
        var theirs = source.parameters().ToArray();
        if (mine.Length != theirs.Length || mine.Zip(theirs).Any(p => !p.First.shape.SequenceEqual(p.Second.shape)))
            throw new ArgumentException("cannot copy between networks of different shapes");
        using var _ = no_grad();
        foreach (var (to, from) in mine.Zip(theirs)) to.copy_(from);
    }
}
