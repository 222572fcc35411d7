// What a GPT run shows its reader: report.html with the loss and learning-rate curves, the final figures
// next to the published ones, and a sample of generated text.

using System.Globalization;
using System.Net;
using PaperLab.Cli;
using PaperLab.Reporting;
using PaperLab.Runs;

namespace PaperLab.Papers.Gpt;

/// <summary>Writes report.html of a GPT run.</summary>
public static class Report
{
    /// <summary>
    /// Builds report.html in <paramref name="run"/>: settings, final losses against the bigram, uniform and
    /// published figures, train/val loss curves and the learning-rate curve (from the run's metrics), and
    /// the generated sample.
    /// </summary>
    /// <param name="run">The run folder (its metrics are read from memory).</param>
    /// <param name="config">The run's hyperparameters.</param>
    /// <param name="m">The model's shape.</param>
    /// <param name="summary">What summary.json holds.</param>
    /// <param name="sample">Generated text.</param>
    public static void Write(RunFolder run, GptOptions config, GptConfig m, GptSummary summary, string sample)
    {
        var inv = CultureInfo.InvariantCulture;
        bool own = summary.UnigramLoss is not null;
        var page = new HtmlPage(own ? $"GPT on {config.Dataset} ({summary.Unit})" : "GPT on Tiny Shakespeare (characters)");
        page.Paragraph("Radford et al. (2018, 2019): a decoder-only Transformer with pre-layer-norm blocks, learned position " +
                       "embeddings, GELU and an output layer tied to the token embedding, at nanoGPT's Shakespeare-char sizes. " +
                       "See papers/Gpt/README.md.");
        page.KeyValues(new Dictionary<string, string>
        {
            ["model"] = $"{m.NLayer} layers, {m.NHead} heads, n_embd {m.NEmbd}, block_size {m.BlockSize}, dropout {m.Dropout.ToString(inv)}",
            ["parameters"] = summary.Parameters.ToString("N0", inv),
            ["training"] = $"{config.MaxIters} steps of {config.BatchSize}×{m.BlockSize} characters, AdamW (β {config.Beta1.ToString(inv)}, {config.Beta2.ToString(inv)}, " +
                           $"weight decay {Numbers.Format(config.WeightDecay)} on matrices), lr {Numbers.Format(config.Lr)} → {Numbers.Format(config.MinLrInEffect)}, warm-up {config.Warmup}, clip {config.GradClip.ToString(inv)}",
            ["threads"] = summary.Threads.ToString(inv),
            ["tokens/s"] = summary.TokensPerSecond?.ToString("F0", inv) ?? "—",
            ["train seconds / wall seconds"] = string.Create(inv, $"{summary.TrainSeconds:F0} / {summary.WallSeconds:F0}"),
        });
        page.Table(new[] { "model", "val loss (nats/token)", "source" }, new[]
        {
            own ? new[] { "unigram counts", summary.Published.Value.ToString("F4", inv), "data report: the trivial baseline to beat" }
                : new[] { "published", summary.Published.Value.ToString("F4", inv), summary.Published.Source },
            new[] { "GPT, this run", summary.ValLoss.ToString("F4", inv), $"summary.json, {config.FinalEvalIters} val batches" },
            new[] { "bigram counts", summary.Baseline.ValLoss.ToString("F4", inv), "same split" },
            new[] { "uniform over the vocabulary", summary.UniformLoss.ToString("F4", inv), "ln V" },
        });

        var (trainSteps, trainLoss) = run.Metrics.Series("train", "loss");
        var (evalSteps, evalLoss) = run.Metrics.Series("train_eval", "loss");
        var (valSteps, valLoss) = run.Metrics.Series("val", "loss");
        page.Chart(Charts.Line("Cross-entropy loss", "optimizer step", "loss (nats/char)", new[]
        {
            new Series("train (running mean of steps)", trainSteps, trainLoss),
            new Series($"train ({config.EvalIters} held batches)", evalSteps, evalLoss),
            new Series($"val ({config.EvalIters} held batches)", valSteps, valLoss),
        }));
        var (lrSteps, lr) = run.Metrics.Series("train", "lr");
        page.Chart(Charts.Line("Learning rate", "optimizer step", "learning rate", new[] { new Series("warm-up + cosine", lrSteps, lr) }));

        page.Heading("Sample");
        page.Paragraph($"{sample.Length - 1} characters after a newline, temperature {config.Temperature.ToString(inv)}, top-k {config.TopK}, key/value cache.");
        page.Html($"<pre>{WebUtility.HtmlEncode(sample)}</pre>");
        page.Save(run);
    }
}
