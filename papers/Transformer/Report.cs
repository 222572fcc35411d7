// What a Transformer run shows its reader: report.html with the BLEU comparison, the loss, BLEU and
// learning-rate curves, attention maps for one test sentence, and translations beside their references.

using System.Globalization;
using PaperLab.Data;
using PaperLab.Metrics;
using PaperLab.Reporting;
using PaperLab.Runs;
using static TorchSharp.torch;

namespace PaperLab.Papers.Transformer;

/// <summary>Attention weights of one sentence pair, averaged over heads.</summary>
/// <param name="SourceTokens">Source tokens (with &lt;/s&gt;).</param>
/// <param name="TargetTokens">Decoder input tokens (&lt;s&gt; and the translation).</param>
/// <param name="EncoderSelf">Per encoder layer: (S × S) weights, rows = queries.</param>
/// <param name="Cross">Per decoder layer: (T × S) encoder–decoder weights, rows = target positions.</param>
public sealed record AttentionMaps(string[] SourceTokens, string[] TargetTokens, double[][][] EncoderSelf, double[][][] Cross);

/// <summary>Writes report.html of a Transformer run.</summary>
public static class Report
{
    /// <summary>
    /// The attention weights of <paramref name="model"/> reading <paramref name="sourceIds"/> while producing
    /// <paramref name="translationIds"/> (teacher-forced on its own translation), averaged over heads.
    /// </summary>
    public static AttentionMaps Attention(Transformer model, int[] sourceIds, int[] translationIds, Vocabulary source, Vocabulary target)
    {
        model.eval();
        var tgtIn = new[] { Vocabulary.BosId }.Concat(translationIds.TakeWhile(id => id != Vocabulary.EosId)).ToArray();
        model.RecordAttention(true);
        try
        {
            using var _ = no_grad();
            using var scope = NewDisposeScope();
            model.forward(SequenceMasks.Pad(new[] { sourceIds }, Vocabulary.PadId), SequenceMasks.Pad(new[] { tgtIn }, Vocabulary.PadId));
            double[][][] Maps(IEnumerable<MultiHeadAttention> layers) => layers.Select(a =>
            {
                using var mean = a.LastWeights!.mean(new long[] { 1 }).squeeze(0).to(ScalarType.Float64); // (L_q, L_k)
                long rows = mean.shape[0], cols = mean.shape[1];
                var flat = mean.data<double>().ToArray();
                return Enumerable.Range(0, (int)rows).Select(r => flat.AsSpan(r * (int)cols, (int)cols).ToArray()).ToArray();
            }).ToArray();
            return new AttentionMaps(sourceIds.Select(source.Token).ToArray(), tgtIn.Select(target.Token).ToArray(),
                                     Maps(model.EncoderLayers.Select(l => l.SelfAttention)), Maps(model.DecoderLayers.Select(l => l.CrossAttention)));
        }
        finally
        {
            model.RecordAttention(false);
        }
    }

    /// <summary>Builds report.html in <paramref name="run"/>.</summary>
    public static void Write(RunFolder run, TransformerOptions config, Corpus corpus, Transformer model, int[][] testHyps,
                             BleuScore bleu, BleuScore greedy, TransformerSummary summary)
    {
        var inv = CultureInfo.InvariantCulture;
        bool own = summary.UnigramNll is not null;
        var page = new HtmlPage(own ? $"Transformer on {config.Dataset}" : "Transformer on Multi30k de→en");
        page.Paragraph("Vaswani et al. (2017), Attention Is All You Need. Post-LN encoder–decoder, " +
                       $"N = {config.N}, d_model = {config.DModel}, h = {config.H}, d_ff = {config.DFf}, P_drop = {config.PDrop.ToString(inv)}, " +
                       $"ε_ls = {config.LabelSmoothing.ToString(inv)}; {summary.Parameters:N0} parameters. See papers/Transformer/README.md. " +
                       "BLEU is corpus BLEU-4 on lower-cased word/punctuation tokens.");
        var published = summary.Published;
        page.Table(new[] { "model", "test BLEU", "details" }, new[]
        {
            own ? new[] { "unigram counts of the training targets", "—", $"NLL {summary.UnigramNll:F3} per target token on the held-out pairs; this run: {summary.TestNll:F3}" }
                : new[] { "published (small re-implementations)", "30.6–35", published.Source },
            new[] { $"this run, beam {config.Beam}, α {config.LengthPenalty.ToString(inv)}", bleu.Score.ToString("F2", inv), bleu.ToString() },
            new[] { "this run, greedy", greedy.Score.ToString("F2", inv), greedy.ToString() },
        });
        string Or(double? v) => v is double d ? d.ToString("F0", inv) : "— (resumed run: trained in an earlier process)";
        page.Table(new[] { "train s", "target tokens/s", "epochs", "steps", "threads" }, new[]
        {
            new[] { Or(summary.TrainSeconds), Or(summary.TokensPerSecond),
                    config.Epochs.ToString(inv), summary.Steps.ToString(inv), summary.Threads.ToString(inv) },
        });

        var (trainSteps, trainLoss) = run.Metrics.Series("train", "loss");
        var (valSteps, valNll) = run.Metrics.Series("val", "nll");
        page.Chart(Charts.Line("Loss per target token", "optimizer step", "nats",
            new[] { new Series("train, label-smoothed (running mean)", trainSteps, trainLoss), new Series("validation NLL", valSteps, valNll) }));
        var (bleuSteps, valBleu) = run.Metrics.Series("val", "bleu_greedy");
        page.Chart(Charts.Line("Validation BLEU (greedy)", "optimizer step", "BLEU", new[] { new Series("val", bleuSteps, valBleu) }));
        var (lrSteps, lr) = run.Metrics.Series("train", "lr");
        page.Chart(Charts.Line("Learning rate (Eq. 3)", "optimizer step", "learning rate", new[] { new Series($"warm-up {config.Warmup}, factor {config.LrFactor.ToString(inv)}", lrSteps, lr) }));

        int chosen = ChooseSentence(corpus.Test);
        var maps = Attention(model, corpus.Test.SourceIds[chosen], testHyps[chosen], corpus.Source, corpus.Target);
        page.Paragraph($"Attention for test sentence {chosen + 1}: “{corpus.Test.Pairs[chosen].Source}” → “{Tokenisation.Detokenize(corpus.Target.Decode(testHyps[chosen]))}” " +
                       "(weights averaged over the heads; the decoder is fed its own translation).");
        int last = maps.EncoderSelf.Length - 1;
        page.Chart(Charts.Attention($"Encoder self-attention, layer {last + 1} (rows: queries)", maps.EncoderSelf[last], maps.SourceTokens, maps.SourceTokens));
        for (int l = 0; l < maps.Cross.Length; l++)
            page.Chart(Charts.Attention($"Encoder–decoder attention, decoder layer {l + 1} (rows: target positions, columns: source)",
                maps.Cross[l], maps.SourceTokens, maps.TargetTokens, xTitle: "source token", yTitle: "target position"));

        var rows = Enumerable.Range(0, Math.Min(12, testHyps.Length)).Select(i => new[]
        {
            corpus.Test.Pairs[i].Source, Tokenisation.Detokenize(corpus.Test.References[i]), Tokenisation.Detokenize(corpus.Target.Decode(testHyps[i])),
        }).ToArray();
        page.Table(new[] { "German source", "English reference", "translation (this run)" }, rows);
        page.Save(run);
    }

    // A test sentence of middling length (8–12 tokens) whose words are all in the vocabulary: readable maps.
    static int ChooseSentence(EncodedSplit test)
    {
        for (int i = 0; i < test.SourceIds.Length; i++)
            if (test.SourceIds[i].Length is >= 9 and <= 13 && !test.SourceIds[i].Contains(Vocabulary.UnkId)) return i;
        return 0;
    }
}
