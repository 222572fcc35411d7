// Early stopping on the validation set (Bengio et al. 2003 §4.2: the validation words serve "model selection,
// weight decay, early stopping"; early stopping "was necessary only in our Brown experiments"): after each
// evaluation the weights with the lowest validation NLL so far are copied aside; training ends after
// `patience` evaluations in a row without a better one; at the end the kept weights are put back and
// evaluated on the test words. The copy, the best NLL, its step and the count of evaluations since are part
// of the run's checkpoint, so a resumed run stops and restores exactly as an uninterrupted one.

using PaperLab.Training;
using static TorchSharp.torch;

namespace PaperLab.Papers.Nplm;

/// <summary>The weights of the best validation evaluation so far, and the early-stopping count (an <see cref="ICheckpointState"/>).</summary>
public sealed class BestWeights : ICheckpointState
{
    readonly Nplm _model, _copy;

    /// <summary>Lowest validation NLL seen (nats per word); +∞ before the first evaluation.</summary>
    public double BestNll { get; private set; } = double.PositiveInfinity;
    /// <summary>The step of that evaluation; −1 before the first.</summary>
    public long BestStep { get; private set; } = -1;
    /// <summary>Evaluations since the best one (0 right after an improvement).</summary>
    public int SinceBest { get; private set; }

    /// <param name="model">The trained network.</param>
    /// <param name="copy">A network of the same shape that holds the kept weights (its own weights are overwritten).</param>
    /// <exception cref="ArgumentException">The two shapes differ.</exception>
    public BestWeights(Nplm model, Nplm copy)
    {
        if (model.Config != copy.Config) throw new ArgumentException($"the copy's shape {copy.Config} is not the model's {model.Config}", nameof(copy));
        _model = model;
        _copy = copy;
        Copy(_model, _copy);
        foreach (var p in _copy.parameters()) p.requires_grad = false;
    }

    /// <summary>Records an evaluation; keeps the model's weights when <paramref name="nll"/> is the lowest so far.</summary>
    /// <param name="step">Updates done.</param>
    /// <param name="nll">Mean validation NLL.</param>
    /// <returns>Whether it improved on the best.</returns>
    public bool Observe(long step, double nll)
    {
        if (nll < BestNll)
        {
            BestNll = nll;
            BestStep = step;
            SinceBest = 0;
            Copy(_model, _copy);
            return true;
        }
        SinceBest++;
        return false;
    }

    /// <summary>Whether <paramref name="patience"/> evaluations in a row have not improved (null: never).</summary>
    public bool Exhausted(int? patience) => patience is int p && SinceBest >= p;

    /// <summary>Puts the kept weights back into the model (nothing when no evaluation ran).</summary>
    public void Restore()
    {
        if (BestStep >= 0) Copy(_copy, _model);
    }

    static void Copy(Nplm from, Nplm to)
    {
        using var _ = no_grad();
        var target = to.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        foreach (var (name, p) in from.named_parameters()) target[name].copy_(p);
    }

    /// <inheritdoc/>
    public void Save(BinaryWriter writer)
    {
        writer.Write(BestNll);
        writer.Write(BestStep);
        writer.Write(SinceBest);
        _copy.save(writer);
    }

    /// <inheritdoc/>
    /// <exception cref="InvalidDataException">Counts that cannot be.</exception>
    public void Load(BinaryReader reader)
    {
        double nll = reader.ReadDouble();
        long step = reader.ReadInt64();
        int since = reader.ReadInt32();
        if (step < -1 || since < 0) throw new InvalidDataException($"best step {step}, evaluations since {since}");
        _copy.load(reader, strict: true);
        (BestNll, BestStep, SinceBest) = (nll, step, since);
    }
}
