// What a LeNet-5 run shows its reader: the comparison table in the terminal, and report.html with the
// curves, the confusion matrix and the test images the network got wrong.

using PaperLab.Data;
using PaperLab.Metrics;
using PaperLab.Reporting;
using PaperLab.Runs;
using Spectre.Console;

namespace PaperLab.Papers.LeNet5;

/// <summary>The figures a LeNet-5 run is judged by.</summary>
/// <param name="Dataset">"mnist", "fashion-mnist", or your folder's name.</param>
/// <param name="Test">ML.NET's evaluation of the final model on the evaluation split.</param>
/// <param name="BaselineAccuracy">Accuracy of the linear baseline on the same pixels.</param>
/// <param name="Published">The paper's (or benchmark's) figure; for your own data, the majority baseline (not comparable).</param>
/// <param name="Split">"test", or "valid" for a folder without test/.</param>
/// <param name="MajorityAccuracy">Your own data: accuracy of always answering the most frequent training class.</param>
public sealed record Outcome(string Dataset, ClassificationReport Test, double BaselineAccuracy, Published Published,
                             string Split = "test", double? MajorityAccuracy = null)
{
    /// <summary>Rows of (model, error, accuracy, source) for the comparison table.</summary>
    public IReadOnlyList<string[]> Rows()
    {
        double publishedAccuracy = Published.Metric == "test_error" ? 1 - Published.Value : Published.Value;
        var rows = new List<string[]>
        {
            MajorityAccuracy is double m
                ? new[] { "always the most frequent class", $"{Pct(1 - m)}", $"{Pct(m)}", "data report (the trivial baseline to beat)" }
                : new[] { "published", $"{Pct(1 - publishedAccuracy)}", $"{Pct(publishedAccuracy)}", Published.Source },
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
        var table = new Table().Title($"LeNet-5 on {Dataset}: {(Split == "test" ? "test set" : "validation images")}").AddColumns("model", "error", "accuracy", "source");
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
    /// confusion matrix, and the 40 evaluation images with the highest loss ("top losses"; your own data: with
    /// their files). The data report of your own folder goes on top (<see cref="HtmlPage.Save(RunFolder)"/>).
    /// </summary>
    /// <param name="run">The run folder (its metrics are read from memory).</param>
    /// <param name="outcome">Final figures.</param>
    /// <param name="data">The run's images; its evaluation images are in the order of <paramref name="probabilities"/>.</param>
    /// <param name="probabilities">(N·K) softmax outputs of the final model on the evaluation images.</param>
    public static void Write(RunFolder run, Outcome outcome, LeNet5Data data, float[] probabilities)
    {
        int k = data.Classes;
        string split = outcome.Split;
        var names = data.ClassNames;
        var page = new HtmlPage($"LeNet-5 on {outcome.Dataset}");
        page.Paragraph("LeCun, Bottou, Bengio, Haffner (1998), Gradient-Based Learning Applied to Document Recognition. " +
                       "ReLU and max-pooling variant; see papers/LeNet5/README.md for the deviations.");
        page.Table(new[] { "model", $"{split} error", $"{split} accuracy", "source" }, outcome.Rows().ToArray());
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
        var (testSteps, testLoss) = run.Metrics.Series(split, "loss");
        page.Chart(Charts.Line("Cross-entropy loss", "optimizer step", "loss (nats)",
            new[] { new Series("train (running mean)", trainSteps, trainLoss), new Series(split, testSteps, testLoss) }, logY: true));
        var (accSteps, accuracy) = run.Metrics.Series(split, "accuracy");
        page.Chart(Charts.Line($"Accuracy ({split})", "optimizer step", "accuracy", new[] { new Series(split, accSteps, accuracy) }));
        var (lrSteps, lr) = run.Metrics.Series("train", "lr");
        page.Chart(Charts.Line("Learning rate", "optimizer step", "learning rate", new[] { new Series("Adam, half-cosine decay", lrSteps, lr) }));

        var counts = new long[k, k];
        for (int t = 0; t < k; t++) for (int p = 0; p < k; p++) counts[t, p] = outcome.Test.Confusion[t][p];
        page.Chart(Charts.ConfusionMatrix(counts, names, "Confusion matrix (rows: true class, columns: predicted)"));

        // "top losses" (fast.ai): the evaluation images the model is most confidently wrong about, highest loss
        // first; for your own images with their files, where a wrong label hides
        const int shown = 40;
        var labels = data.Eval.Labels;
        var worst = Enumerable.Range(0, labels.Length)
            .Select(i => (Index: i, Loss: -Math.Log(Math.Max(probabilities[i * k + labels[i]], 1e-12f))))
            .OrderByDescending(x => x.Loss).ThenBy(x => x.Index).Take(shown).ToList();
        var images = new List<float[]>();
        var captions = new List<string>();
        var files = new List<string[]>();
        foreach (var (i, loss) in worst)
        {
            int predicted = ArgMax(probabilities.AsSpan(i * k, k));
            images.Add(data.EvalImageGrey(i));
            captions.Add(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"{names[labels[i]]}→{names[predicted]} {probabilities[i * k + predicted] * 100:F0}%, loss {loss:F1}"));
            if (data.EvalFiles is { } f)
                files.Add(new[] { f[i], names[labels[i]], names[predicted], $"{probabilities[i * k + predicted] * 100:F0}%", loss.ToString("F2", System.Globalization.CultureInfo.InvariantCulture) });
        }
        if (images.Count > 0)
            page.Chart(Charts.ImageGrid($"Top losses: the {images.Count} {split} images with the highest cross-entropy (true→predicted, confidence, loss)",
                images, data.Size, data.Size, captions, columns: 8));
        if (files.Count > 0) page.Table(new[] { "file", "labelled", "predicted", "confidence", "loss" }, files.ToArray());

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
