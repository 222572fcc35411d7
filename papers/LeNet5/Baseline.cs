// What the convolutional network buys: a linear classifier on the same pixels, trained by ML.NET.
// LeCun et al. 1998 (Section III.C, Fig. 9) list a linear classifier at 12.0% test error on MNIST
// (8.4% for the pairwise version); a multinomial logistic regression is the modern equivalent.

using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms;
using PaperLab.Data;

namespace PaperLab.Papers.LeNet5;

/// <summary>ML.NET's SDCA maximum-entropy (multinomial logistic regression) on raw pixels scaled to [0, 1].</summary>
public static class LinearBaseline
{
    /// <summary>Name shown in tables and summary.json.</summary>
    public const string Name = "ML.NET SdcaMaximumEntropy (linear) on the same pixels";

    sealed class PixelRow
    {
        public float[] Pixels { get; set; } = Array.Empty<float>();
        public uint Digit { get; set; }
    }

    /// <summary>Trains on <paramref name="train"/>, returns the micro accuracy on <paramref name="test"/> (ML.NET's evaluator).</summary>
    /// <param name="train">Training images (N·H·W bytes) and labels.</param>
    /// <param name="test">Test images and labels.</param>
    /// <param name="seed">ML.NET's seed.</param>
    /// <param name="iterations">SDCA passes; null lets ML.NET choose.</param>
    public static double TestAccuracy(ImageDataset train, ImageDataset test, int seed, int? iterations = 10) =>
        TestAccuracy((train.Pixels, train.Labels.Select(l => (int)l).ToArray()), (test.Pixels, test.Labels.Select(l => (int)l).ToArray()),
                     train.Height * train.Width, seed, iterations);

    /// <summary>The same on images of <paramref name="d"/> bytes each (C·H·W: grey or RGB).</summary>
    /// <param name="train">Training pixels (N·d bytes) and labels.</param>
    /// <param name="test">Test pixels and labels.</param>
    /// <param name="d">Bytes per image.</param>
    /// <param name="seed">ML.NET's seed.</param>
    /// <param name="iterations">SDCA passes; null lets ML.NET choose.</param>
    public static double TestAccuracy((byte[] Pixels, int[] Labels) train, (byte[] Pixels, int[] Labels) test, int d, int seed, int? iterations = 10)
    {
        var ml = new MLContext(seed);
        var schema = SchemaDefinition.Create(typeof(PixelRow));
        schema[nameof(PixelRow.Pixels)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, d);

        IDataView Load((byte[] Pixels, int[] Labels) s) => ml.Data.LoadFromEnumerable(
            Enumerable.Range(0, s.Labels.Length).Select(i => new PixelRow
            {
                Pixels = s.Pixels.AsSpan(i * d, d).ToArray().Select(p => p / 255f).ToArray(),
                Digit = (uint)s.Labels[i],
            }), schema);

        var pipeline = ml.Transforms.Conversion
            .MapValueToKey("Label", nameof(PixelRow.Digit), keyOrdinality: ValueToKeyMappingEstimator.KeyOrdinality.ByValue)
            .Append(ml.MulticlassClassification.Trainers.SdcaMaximumEntropy(
                labelColumnName: "Label", featureColumnName: nameof(PixelRow.Pixels), maximumNumberOfIterations: iterations));
        var model = pipeline.Fit(Load(train));
        var metrics = ml.MulticlassClassification.Evaluate(model.Transform(Load(test)), labelColumnName: "Label");
        return metrics.MicroAccuracy;
    }
}
