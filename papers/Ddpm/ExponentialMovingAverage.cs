using PaperLab.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace PaperLab.Papers.Ddpm;

/// <summary>
/// An exponential moving average of a model's weights, kept in a second model of the same architecture
/// (Polyak averaging; DDPM samples with decay 0.9999, Ho et al. 2020 §B):
/// θ̄ ← d·θ̄ + (1 − d)·θ after each optimizer step, with d = min(decay, (1 + n)/(10 + n)) at the n-th update
/// so that early averages are not dominated by the initial weights. Its state (the averaged weights and
/// the update count) goes into the run's checkpoint, so a resumed run samples from the same average.
/// </summary>
public sealed class ExponentialMovingAverage : ICheckpointState
{
    readonly Tensor[] _source, _shadow;

    /// <summary>The averaged model (sample or evaluate with this one).</summary>
    public nn.Module Shadow { get; }
    /// <summary>Upper bound of the decay d.</summary>
    public double Decay { get; }
    /// <summary>Updates applied so far.</summary>
    public long Updates { get; private set; }

    /// <param name="model">The trained model.</param>
    /// <param name="shadow">A model of the same architecture; its weights are overwritten with <paramref name="model"/>'s.</param>
    /// <param name="decay">d in [0, 1).</param>
    /// <exception cref="ArgumentException">decay outside [0, 1), or models whose parameters do not match in number and shape.</exception>
    public ExponentialMovingAverage(nn.Module model, nn.Module shadow, double decay)
    {
        if (decay is < 0 or >= 1) throw new ArgumentException($"decay must be in [0, 1), got {decay}", nameof(decay));
        _source = model.parameters().Select(p => (Tensor)p).ToArray();
        _shadow = shadow.parameters().Select(p => (Tensor)p).ToArray();
        if (_source.Length != _shadow.Length || _source.Zip(_shadow).Any(p => !p.First.shape.SequenceEqual(p.Second.shape)))
            throw new ArgumentException("the shadow model's parameters do not match the model's in number and shape", nameof(shadow));
        Shadow = shadow;
        Decay = decay;
        using var _ = no_grad();
        foreach (var (s, p) in _shadow.Zip(_source)) s.copy_(p);
        foreach (var p in _shadow) p.requires_grad = false;
        shadow.eval();
    }

    /// <summary>The decay used at update number <paramref name="n"/> (0-based).</summary>
    public double DecayAt(long n) => Math.Min(Decay, (1.0 + n) / (10.0 + n));

    /// <summary>Moves the average towards the model's current weights; call after each optimizer step.</summary>
    public void Update()
    {
        double d = DecayAt(Updates);
        using var _ = no_grad();
        foreach (var (s, p) in _shadow.Zip(_source)) s.mul_(d).add_(p, alpha: 1 - d);
        Updates++;
    }

    /// <summary>Writes the averaged weights and the update count.</summary>
    public void Save(BinaryWriter writer)
    {
        writer.Write(Updates);
        Shadow.save(writer);
    }

    /// <summary>Reads what <see cref="Save"/> wrote.</summary>
    /// <exception cref="InvalidDataException">A negative update count.</exception>
    public void Load(BinaryReader reader)
    {
        long updates = reader.ReadInt64();
        if (updates < 0) throw new InvalidDataException($"update count {updates}");
        Shadow.load(reader, strict: true);
        Updates = updates;
    }
}
