// What a LeNet-5 run shows its reader: the comparison table in the terminal, and report.html with the
// curves, the confusion matrix and the test images the network got wrong.

using PaperLab.Data;
using PaperLab.Metrics;
using PaperLab.Reporting;
using PaperLab.Runs;
using Spectre.Console;

namespace PaperLab.Papers.LeNet5;

/// <summary>The figures a LeNet-5 run is judged by.</summary>
/// <param name="Dataset">"mnist" or "fashion-mnist".</param>
/// <param name="Test">ML.NET's evaluation of the final model on the test set.</param>
/// <param name="BaselineAccuracy">Test accuracy of the linear baseline on the same pixels.</param>
/// <param name="Published">The paper's (or benchmark's) figure.</param>
public sealed record Outcome(string Dataset, ClassificationReport Test, double BaselineAccuracy, Published Published)
{
    /// <summary>Rows of (model, test error, test accuracy, source) for the comparison table.</summary>
    public IReadOnlyList<string[]> Rows()
    {
        double publishedAccuracy = Published.Metric == "test_error" ? 1 - Published.Value : Published.Value;
        var rows = new List<string[]>
        {
            new[] { "published", $"{Pct(1 - publishedAccuracy)}", $"{Pct(publishedAccuracy)}", Published.Source },
            new[] { "LeNet-5, this run", $"{Pct(Test.Error)}", $"{Pct(Test.Accuracy)}", "summary.json" },
            new[] { "linear classifier, this run", $"{Pct(1 - BaselineAccuracy)}", $"{Pct(BaselineAccuracy)}", LinearBaseline.Name },
        };
        if (Dataset == "mnist")
            rows.Add(new[] { "linear classifier, published", "12.00%", "88.00%", "LeCun et al. 1998, Section III.C" });
        return rows;
    }

    /// <summary>A fraction as a percentage with two decimals, e.g. 0.0095 → "0.95%".</summary>
    public static string Pct(double fraction) => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{fraction * 100:F2}%");

    /// <summary>Prints the comparison as a table.</summary>
    public void Print()
    {
        var table = new Table().Title($"LeNet-5 on {Dataset}: test set").AddColumns("model", "error", "accuracy", "source");
        foreach (var r in Rows()) table.AddRow(r.Select(Markup.Escape).ToArray());
        AnsiConsole.Write(table);
    }
}

/// <summary>Writes report.html of a LeNet-5 run.</summary>
public static class Report
{
    /// <summary>
    /// Builds report.html in <paramref name="run"/>: comparison table, training time and hyperparameters (from
    /// the run's summary.json and config.json, written before), loss and accuracy curves from metrics.csv, the
    /// confusion matrix, and the 40 test images with the highest loss ("top losses").
    /// </summary>
    /// <param name="run">The run folder (its metrics are read from memory).</param>
    /// <param name="outcome">Final figures.</param>
    /// <param name="test">The test images, in the order of <paramref name="probabilities"/>.</param>
    /// <param name="probabilities">(N·K) softmax outputs of the final model on <paramref name="test"/>.</param>
    public static void Write(RunFolder run, Outcome outcome, ImageDataset test, float[] probabilities)
    {
        int k = test.ClassNames.Length;
        var page = new HtmlPage($"LeNet-5 on {outcome.Dataset}");
        page.Paragraph("LeCun, Bottou, Bengio, Haffner (1998), Gradient-Based Learning Applied to Document Recognition. " +
                       "ReLU and max-pooling variant; see papers/LeNet5/README.md for the deviations.");
        page.Table(new[] { "model", "test error", "test accuracy", "source" }, outcome.Rows().ToArray());
        var summary = ReadJson(run.File("summary.json"));
        if (summary is not null)
        {
            string Number(string key, string format) => summary[key] is System.Text.Json.Nodes.JsonValue v && v.TryGetValue(out double x)
                ? x.ToString(format, System.Globalization.CultureInfo.InvariantCulture) : "—";
            page.Heading("Training");
            page.KeyValues(new Dictionary<string, string>
            {
                ["training time"] = $"{Number("train_seconds", "F1")} s in training steps, {Number("wall_seconds", "F1")} s from start to report",
                ["epochs / optimizer steps"] = $"{Number("epochs", "F0")} / {Number("steps", "F0")}",
                ["throughput"] = $"{Number("samples_per_second", "N0")} images/s",
                ["libtorch threads"] = Number("threads", "F0"),
                ["parameters"] = Number("parameters", "N0"),
            });
        }
        if (ReadJson(run.File("config.json"))?["hyperparameters"] is System.Text.Json.Nodes.JsonObject hyperparameters)
        {
            page.Heading("Hyperparameters");
            page.KeyValues(hyperparameters.Select(p => new KeyValuePair<string, string>(OptionName(p.Key), Format(p.Value))));
        }

        var (trainSteps, trainLoss) = run.Metrics.Series("train", "loss");
        var (testSteps, testLoss) = run.Metrics.Series("test", "loss");
        page.Chart(Charts.Line("Cross-entropy loss", "optimizer step", "loss (nats)",
            new[] { new Series("train (running mean)", trainSteps, trainLoss), new Series("test", testSteps, testLoss) }, logY: true));
        var (accSteps, accuracy) = run.Metrics.Series("test", "accuracy");
        page.Chart(Charts.Line("Test accuracy", "optimizer step", "accuracy", new[] { new Series("test", accSteps, accuracy) }));
        var (lrSteps, lr) = run.Metrics.Series("train", "lr");
        page.Chart(Charts.Line("Learning rate", "optimizer step", "learning rate", new[] { new Series("Adam, half-cosine decay", lrSteps, lr) }));

        var counts = new long[k, k];
        for (int t = 0; t < k; t++) for (int p = 0; p < k; p++) counts[t, p] = outcome.Test.Confusion[t][p];
        page.Chart(Charts.ConfusionMatrix(counts, test.ClassNames, "Confusion matrix (rows: true class, columns: predicted)"));

        // "top losses" (fast.ai): the test images the model is most confidently wrong about, highest loss first
        const int shown = 40;
        int d = test.Height * test.Width;
        var worst = Enumerable.Range(0, test.Count)
            .Select(i => (Index: i, Loss: -Math.Log(Math.Max(probabilities[i * k + test.Labels[i]], 1e-12f))))
            .OrderByDescending(x => x.Loss).ThenBy(x => x.Index).Take(shown).ToList();
        var images = worst.Select(x => test.Pixels.AsSpan(x.Index * d, d).ToArray().Select(p => p / 255f).ToArray()).ToList();
        var captions = worst.Select(x =>
        {
            int predicted = ArgMax(probabilities.AsSpan(x.Index * k, k));
            return string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"{test.ClassNames[test.Labels[x.Index]]}→{test.ClassNames[predicted]} {probabilities[x.Index * k + predicted] * 100:F0}%, loss {x.Loss:F1}");
        }).ToList();
        if (images.Count > 0)
            page.Chart(Charts.ImageGrid($"Top losses: the {images.Count} test images with the highest cross-entropy (true→predicted, confidence, loss)",
                images, test.Height, test.Width, captions, columns: 8));

        page.Save(run);
    }

    static System.Text.Json.Nodes.JsonObject? ReadJson(string path) =>
        File.Exists(path) ? System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(path)) as System.Text.Json.Nodes.JsonObject : null;

    /// <summary>A hyperparameter's value as the command line would take it: numbers shortest round-trip ("0.002", "3E-04" → "0.0003").</summary>
    static string Format(System.Text.Json.Nodes.JsonNode? value) => value switch
    {
        null => "—",
        System.Text.Json.Nodes.JsonValue v when v.TryGetValue(out double x) => PaperLab.Cli.Numbers.Format(x),
        System.Text.Json.Nodes.JsonValue v when v.TryGetValue(out string? text) => text ?? "—",
        _ => value.ToJsonString(),
    };

    /// <summary>The command-line option of a hyperparameter's property name: "BatchSize" → "--batch-size".</summary>
    static string OptionName(string property) =>
        "--" + System.Text.RegularExpressions.Regex.Replace(property, "(?<=[a-z0-9])([A-Z])", "-$1").ToLowerInvariant();

    static int ArgMax(ReadOnlySpan<float> v)
    {
        int best = 0;
        for (int i = 1; i < v.Length; i++) if (v[i] > v[best]) best = i;
        return best;
    }
}
