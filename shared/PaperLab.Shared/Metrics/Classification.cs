using Microsoft.ML;
using Microsoft.ML.Data;

namespace PaperLab.Metrics;

/// <summary>Multiclass results as ML.NET computes them.</summary>
/// <param name="Accuracy">Micro accuracy: correct / total, in [0, 1].</param>
/// <param name="MacroAccuracy">Mean of the per-class accuracies, in [0, 1].</param>
/// <param name="LogLoss">Mean −ln p(true class), nats (from the scores as given).</param>
/// <param name="Confusion">Counts: Confusion[trueClass][predictedClass].</param>
public sealed record ClassificationReport(double Accuracy, double MacroAccuracy, double LogLoss, int[][] Confusion)
{
    /// <summary>1 − accuracy.</summary>
    public double Error => 1.0 - Accuracy;
}

/// <summary>
/// Accuracy, error and confusion matrix through ML.NET's multiclass evaluator
/// (<c>MulticlassClassification.Evaluate</c>); nothing here is counted by hand.
/// </summary>
public static class Classification
{
    sealed class Row
    {
        public uint Label { get; set; }
        public float[] Score { get; set; } = Array.Empty<float>();
        public uint PredictedLabel { get; set; }
    }

    /// <summary>
    /// Evaluates class probabilities against true labels.
    /// </summary>
    /// <param name="probabilities">(N, K) row-major: probabilities[i·K + k] = p(class k | example i), rows summing to 1.</param>
    /// <param name="labels">N true classes in [0, K).</param>
    /// <param name="numClasses">K.</param>
    /// <exception cref="ArgumentException">Sizes disagree or a label is out of range.</exception>
    /// <remarks>
    /// ML.NET documents key values as 1-based (0 = missing), but its multiclass evaluator, fed key-typed
    /// columns from <c>LoadFromEnumerable</c>, reads the raw value as the 0-based score column: class k is
    /// passed as k. A test pins this, since getting it wrong shifts every class by one (accuracy ≈ 1%).
    /// </remarks>
    public static ClassificationReport Evaluate(float[] probabilities, int[] labels, int numClasses)
    {
        if (probabilities.Length != labels.Length * numClasses)
            throw new ArgumentException($"{probabilities.Length} scores are not {labels.Length} rows of {numClasses} classes");
        var rows = new Row[labels.Length];
        for (int i = 0; i < labels.Length; i++)
        {
            if ((uint)labels[i] >= numClasses) throw new ArgumentException($"label {labels[i]} of example {i} is outside [0, {numClasses})");
            var score = probabilities.AsSpan(i * numClasses, numClasses).ToArray();
            int argmax = 0;
            for (int k = 1; k < numClasses; k++) if (score[k] > score[argmax]) argmax = k;
            rows[i] = new Row { Label = (uint)labels[i], Score = score, PredictedLabel = (uint)argmax };
        }

        var ml = new MLContext(seed: 0);
        var schema = SchemaDefinition.Create(typeof(Row));
        schema[nameof(Row.Label)].ColumnType = new KeyDataViewType(typeof(uint), numClasses);
        schema[nameof(Row.PredictedLabel)].ColumnType = new KeyDataViewType(typeof(uint), numClasses);
        schema[nameof(Row.Score)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, numClasses);
        IDataView data = ml.Data.LoadFromEnumerable(rows, schema);

        MulticlassClassificationMetrics m = ml.MulticlassClassification.Evaluate(
            data, labelColumnName: nameof(Row.Label), scoreColumnName: nameof(Row.Score),
            predictedLabelColumnName: nameof(Row.PredictedLabel));

        var confusion = new int[numClasses][];
        for (int t = 0; t < numClasses; t++)
        {
            confusion[t] = new int[numClasses];
            for (int p = 0; p < numClasses; p++) confusion[t][p] = (int)Math.Round(m.ConfusionMatrix.Counts[t][p]);
        }
        return new ClassificationReport(m.MicroAccuracy, m.MacroAccuracy, m.LogLoss, confusion);
    }
}

/// <summary>A running mean of a scalar (e.g. the training loss since the last log line).</summary>
public sealed class RunningMean
{
    double _sum;
    /// <summary>Values added since the last <see cref="Reset"/>.</summary>
    public long Count { get; private set; }
    /// <summary>Adds a value with weight <paramref name="weight"/> (e.g. the batch size).</summary>
    public void Add(double value, long weight = 1) { _sum += value * weight; Count += weight; }
    /// <summary>The mean; NaN when empty.</summary>
    public double Mean => Count == 0 ? double.NaN : _sum / Count;
    /// <summary>The weighted sum of the values.</summary>
    public double Sum => _sum;
    /// <summary>Forgets everything.</summary>
    public void Reset() { _sum = 0; Count = 0; }
    /// <summary>Continues from a saved <see cref="Sum"/> and <see cref="Count"/> (a resumed run).</summary>
    public void Restore(double sum, long count) { _sum = sum; Count = count; }
}

/// <summary>Samples (or tokens) per second of wall time over a measured interval.</summary>
public sealed class Throughput
{
    readonly System.Diagnostics.Stopwatch _clock = new();
    /// <summary>Items counted while running.</summary>
    public long Items { get; private set; }
    /// <summary>Wall seconds measured.</summary>
    public double Seconds => _clock.Elapsed.TotalSeconds;
    /// <summary>Starts or resumes the clock.</summary>
    public void Start() => _clock.Start();
    /// <summary>Pauses the clock (e.g. during evaluation).</summary>
    public void Stop() => _clock.Stop();
    /// <summary>Counts <paramref name="items"/> processed.</summary>
    public void Add(long items) => Items += items;
    /// <summary>Items per second; 0 before any time has passed.</summary>
    public double PerSecond => Seconds > 0 ? Items / Seconds : 0;
}
