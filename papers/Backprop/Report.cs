// What a run shows its reader: report.html with the comparison, the curves, what the hidden units learned
// (the paper's point: features nobody designed), the confusion matrix and the digits the network got wrong.

using PaperLab.Data;
using PaperLab.Reporting;
using PaperLab.Runs;

namespace PaperLab.Papers.Backprop;

/// <summary>Writes report.html of a run.</summary>
public static class Report
{
    /// <summary>A fraction as a percentage with two decimals, e.g. 0.047 → "4.70%".</summary>
    public static string Pct(double fraction) => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{fraction * 100:F2}%");

    /// <summary>
    /// Builds report.html in <paramref name="run"/>: comparison table, loss, error and learning-rate curves from
    /// metrics.csv, the input weights of the first 32 hidden units as images, the confusion matrix and up to 40
    /// misclassified test digits.
    /// </summary>
    /// <param name="run">The run folder (its metrics are read from memory).</param>
    /// <param name="summary">The run's figures.</param>
    /// <param name="model">The trained network.</param>
    /// <param name="test">The test images, in the order of <paramref name="predicted"/>.</param>
    /// <param name="predicted">The network's class for each test image.</param>
    public static void Write(RunFolder run, BackpropSummary summary, Mlp<float> model, ImageDataset test, int[] predicted)
    {
        var page = new HtmlPage($"Backpropagation: MLP {string.Join("-", model.Config.Widths)} on MNIST");
        page.Paragraph("Rumelhart, Hinton & Williams (1986), Learning representations by back-propagating errors. Trained entirely by this " +
                       "project's autograd engine in plain C# (no TorchSharp in the training step). " + summary.Network + ".");
        page.Table(new[] { "model", "test error", "source" }, new[]
        {
            new[] { "published", Pct(summary.Published.Value), summary.Published.Source },
            new[] { "this run", Pct(summary.TestError), "summary.json" },
            new[] { "majority class", Pct(summary.MajorityError), "always the most frequent training digit: the baseline to beat" },
        });

        var (trainSteps, trainLoss) = run.Metrics.Series("train", "loss");
        var (testSteps, testLoss) = run.Metrics.Series("test", "loss");
        string lossName = model.Config.Loss == LossKind.CrossEntropy ? "cross-entropy (nats)" : "squared error ½Σ(y−d)²";
        page.Chart(Charts.Line("Training criterion", "optimizer step", lossName,
            new[] { new Series("train (running mean)", trainSteps, trainLoss), new Series("test", testSteps, testLoss) }, logY: true));

        var (errorSteps, testError) = run.Metrics.Series("test", "error");
        var (trainErrorSteps, trainError) = run.Metrics.Series("train_eval", "error");
        var series = new List<Series> { new("test", errorSteps, testError), new($"train (first {Experiment.TrainEvalImages:N0} images)", trainErrorSteps, trainError) };
        if (errorSteps.Length > 0)
            series.Add(new($"published ({Pct(summary.Published.Value)})", new[] { errorSteps[0], errorSteps[^1] }, new[] { summary.Published.Value, summary.Published.Value }));
        page.Chart(Charts.Line("Error rate after each epoch", "optimizer step", "fraction misclassified", series, logY: true));

        var (lrSteps, lr) = run.Metrics.Series("train", "lr");
        page.Chart(Charts.Line("Learning rate", "optimizer step", "learning rate", new[] { new Series("half cosine", lrSteps, lr) }));

        page.Chart(Charts.ImageGrid("Input weights of the first 32 hidden units (grey 0, white positive, black negative)",
            HiddenUnitImages(model, 32), test.Height, test.Width, columns: 8, cellPixels: 3));

        int k = test.ClassNames.Length;
        var counts = new long[k, k];
        for (int i = 0; i < test.Count; i++) counts[test.Labels[i], predicted[i]]++;
        page.Chart(Charts.ConfusionMatrix(counts, test.ClassNames, "Confusion matrix (rows: true digit, columns: predicted)"));

        var wrong = new List<float[]>();
        var captions = new List<string>();
        int d = test.Height * test.Width;
        for (int i = 0; i < test.Count && wrong.Count < 40; i++)
        {
            if (predicted[i] == test.Labels[i]) continue;
            wrong.Add(test.Pixels.AsSpan(i * d, d).ToArray().Select(p => p / 255f).ToArray());
            captions.Add($"{test.ClassNames[test.Labels[i]]}→{test.ClassNames[predicted[i]]}");
        }
        if (wrong.Count > 0)
            page.Chart(Charts.ImageGrid($"Misclassified test digits (true→predicted): first {wrong.Count}", wrong, test.Height, test.Width, captions, columns: 8));
        page.Save(run);   // with the data and toolkit sections every report shares
    }

    /// <summary>
    /// The 784 input weights of each of the first <paramref name="count"/> hidden units as a 28×28 image in [0, 1],
    /// 0.5 for a zero weight, each unit scaled by its own largest |w|.
    /// </summary>
    public static IReadOnlyList<float[]> HiddenUnitImages(Mlp<float> model, int count)
    {
        var w = model.Layers[0].W;   // (784, H): column j holds unit j's input weights
        int inputs = w.Shape[0], units = Math.Min(count, w.Shape[1]);
        var images = new List<float[]>();
        for (int j = 0; j < units; j++)
        {
            var image = new float[inputs];
            float max = 1e-12f;
            for (int i = 0; i < inputs; i++) max = Math.Max(max, Math.Abs(w.Data[i * w.Shape[1] + j]));
            for (int i = 0; i < inputs; i++) image[i] = 0.5f + 0.5f * w.Data[i * w.Shape[1] + j] / max;
            images.Add(image);
        }
        return images;
    }
}
