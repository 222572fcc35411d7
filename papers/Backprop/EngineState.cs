// The engine's state in the run's checkpoint, and its weights in PyTorch's format.
//   EngineState: the MLP's weights and the optimiser's buffers as plain arrays, written and read bit for bit,
//     so a run resumed from the checkpoint takes exactly the steps an uninterrupted run takes.
//   TorchMlp: the same network as TorchSharp nn.Linear layers (which store Wᵀ), for model.pt and for the
//     tests that compare the engine with TorchSharp. The engine itself never uses TorchSharp.

using System.Numerics;
using System.Runtime.InteropServices;
using PaperLab.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PaperLab.Papers.Backprop;

/// <summary>
/// An MLP's weights and its optimiser's state (SGD's velocity; Adam's two moments and step count) as one
/// checkpoint part: TrainingLoop.Add("engine", new EngineState&lt;float&gt;(model, optimizer)).
/// </summary>
/// <typeparam name="T">float or double.</typeparam>
/// <param name="model">The network; its arrays are overwritten in place on <see cref="Load"/>.</param>
/// <param name="optimizer">An <see cref="Sgd{T}"/> or <see cref="Adam{T}"/> over the model's parameters.</param>
public sealed class EngineState<T>(Mlp<T> model, Optimizer<T> optimizer) : ICheckpointState where T : unmanaged, IFloatingPointIeee754<T>
{
    const string Magic = "backprop-engine-1";

    /// <summary>Every array the state consists of, in a fixed order: W, b of each layer, then the optimiser's buffers.</summary>
    IReadOnlyList<T[]> Arrays()
    {
        var arrays = model.Parameters().Select(p => p.Data).ToList();
        switch (optimizer)
        {
            case Sgd<T> sgd: arrays.AddRange(sgd.Velocity); break;
            case Adam<T> adam: arrays.AddRange(adam.FirstMoments); arrays.AddRange(adam.SecondMoments); break;
            default: throw new NotSupportedException($"no checkpoint format for {optimizer.GetType().Name}");
        }
        return arrays;
    }

    string Kind => $"{typeof(T).Name} {optimizer.GetType().Name.Split('`')[0]} {string.Join("-", model.Config.Widths)}";

    /// <summary>Writes the kind (element type, optimiser, widths), Adam's step count, then each array's length and bytes.</summary>
    public void Save(BinaryWriter writer)
    {
        writer.Write(Magic);
        writer.Write(Kind);
        writer.Write(optimizer is Adam<T> a ? a.StepCount : 0);
        var arrays = Arrays();
        writer.Write(arrays.Count);
        foreach (var array in arrays)
        {
            writer.Write(array.Length);
            writer.Write(MemoryMarshal.AsBytes(array.AsSpan()));
        }
    }

    /// <summary>Reads what <see cref="Save"/> wrote into the model's and optimiser's arrays.</summary>
    /// <exception cref="InvalidDataException">Another element type, optimiser or network, or a truncated state.</exception>
    public void Load(BinaryReader reader)
    {
        if (reader.ReadString() != Magic) throw new InvalidDataException("not a backprop engine state");
        string kind = reader.ReadString();
        if (kind != Kind) throw new InvalidDataException($"the checkpoint holds a {kind} network; this run builds a {Kind}");
        int steps = reader.ReadInt32();
        var arrays = Arrays();
        if (reader.ReadInt32() != arrays.Count) throw new InvalidDataException("the number of arrays differs");
        // read everything before changing anything, so a damaged state leaves the model as it was
        var loaded = new List<byte[]>();
        foreach (var array in arrays)
        {
            if (reader.ReadInt32() != array.Length) throw new InvalidDataException("an array's length differs");
            var bytes = reader.ReadBytes(array.Length * Marshal.SizeOf<T>());
            if (bytes.Length != array.Length * Marshal.SizeOf<T>()) throw new InvalidDataException("the state is truncated");
            loaded.Add(bytes);
        }
        for (int i = 0; i < arrays.Count; i++) loaded[i].CopyTo(MemoryMarshal.AsBytes(arrays[i].AsSpan()));
        if (optimizer is Adam<T> adam) adam.StepCount = steps;
    }
}

/// <summary>
/// The engine's MLP as a TorchSharp module: nn.Linear layers (<c>layers.0.weight</c> (out, in), <c>layers.0.bias</c>, …)
/// and the same activations, so that <c>torch.load("model.pt")</c> in PyTorch gives its state dict.
/// </summary>
public sealed class TorchMlp : nn.Module<Tensor, Tensor>
{
    readonly ModuleList<Linear> layers;
    readonly Activation activation;

    /// <summary>Copies the weights of <paramref name="source"/> (W transposed into nn.Linear's (out, in) layout).</summary>
    /// <param name="source">The engine's network.</param>
    /// <param name="dtype">float32 or float64.</param>
    public TorchMlp(Mlp<float> source, ScalarType dtype = ScalarType.Float32) : this(source.Config, dtype)
    {
        using var _ = no_grad();
        for (int l = 0; l < source.Layers.Count; l++)
        {
            var (w, b) = (source.Layers[l].W, source.Layers[l].B);
            layers[l].weight!.copy_(tensor(w.Data, [w.Shape[0], w.Shape[1]]).t());
            layers[l].bias!.copy_(tensor(b.Data));
        }
    }

    /// <summary>Copies the weights of a float64 network.</summary>
    public TorchMlp(Mlp<double> source, ScalarType dtype = ScalarType.Float64) : this(source.Config, dtype)
    {
        using var _ = no_grad();
        for (int l = 0; l < source.Layers.Count; l++)
        {
            var (w, b) = (source.Layers[l].W, source.Layers[l].B);
            layers[l].weight!.copy_(tensor(w.Data, [w.Shape[0], w.Shape[1]], float64).t());
            layers[l].bias!.copy_(tensor(b.Data, float64));
        }
    }

    TorchMlp(MlpConfig config, ScalarType dtype) : base("TorchMlp")
    {
        var widths = config.Widths;
        layers = nn.ModuleList(Enumerable.Range(0, widths.Length - 1).Select(l => nn.Linear(widths[l], widths[l + 1], dtype: dtype)).ToArray());
        activation = config.Activation;
        RegisterComponents();
    }

    /// <summary>The nn.Linear layers, input side first.</summary>
    public IReadOnlyList<Linear> Layers => layers.ToList();

    /// <summary>The output units' total inputs.</summary>
    /// <param name="x">(N, Widths[0]).</param>
    /// <returns>(N, Widths[^1]) logits.</returns>
    public override Tensor forward(Tensor x)
    {
        for (int l = 0; l < layers.Count; l++)
        {
            x = layers[l].forward(x);
            if (l < layers.Count - 1) x = activation switch
            {
                Activation.ScaledTanh => (x * (2.0 / 3.0)).tanh() * 1.7159,
                Activation.Tanh => x.tanh(),
                Activation.Sigmoid => x.sigmoid(),
                _ => x.relu(),
            };
        }
        return x;
    }

    /// <summary>The loss of <paramref name="kind"/> as the engine computes it (Mlp.Criterion): cross-entropy, or ½ Σ (y − one-hot)² averaged over the batch.</summary>
    public static Tensor Criterion(Tensor logits, Tensor labels, LossKind kind) => kind == LossKind.CrossEntropy
        ? nn.functional.cross_entropy(logits, labels)
        : (logits - nn.functional.one_hot(labels, logits.shape[1]).to(logits.dtype)).square().sum() * (0.5 / logits.shape[0]);
}
