// report.html of a run: the comparison with Table 1 (or makemore), the training and validation curves, the
// learning rate, and what the word features learned (nearest neighbours in C; generated names).

using PaperLab.Reporting;
using PaperLab.Runs;
using static TorchSharp.torch;

namespace PaperLab.Papers.Nplm;

/// <summary>Writes report.html.</summary>
public static class NplmReport
{
    /// <summary>Frequent Brown words whose nearest neighbours in C the report lists.</summary>
    public static readonly string[] ProbeWords = ["the", "he", "said", "was", "Monday", "two", "city", "good"];

    /// <summary>Builds the page and saves it into the run folder (with the shared data and toolkit sections).</summary>
    public static void Write(RunFolder run, NplmSummary s, Nplm model, LanguageData data)
    {
        bool names = s.Preset == "names";
        var page = new HtmlPage(names ? "makemore's character MLP (Bengio et al. 2003) on names.txt" : "A Neural Probabilistic Language Model (Bengio et al. 2003) on the Brown corpus");
        page.Heading("Results");
        if (names)
        {
            page.Paragraph("Mean negative log-likelihood in nats per character (makemore's \"loss\"); perplexity = exp of it.");
            page.Table(new[] { "model", "dev loss", "test loss", "source" }, new[]
            {
                new[] { "this network (kept weights)", $"{s.ValidLoss:F4}", $"{s.TestLoss:F4}", "this run" },
                new[] { "mixed 0.5/0.5 with the trigram", $"{Math.Log(s.MixValidPerplexity):F4}", $"{Math.Log(s.MixTestPerplexity):F4}", "this run" },
                new[] { s.KneserNeyTrigram.Name, $"{s.KneserNeyTrigram.ValidLoss:F4}", $"{s.KneserNeyTrigram.TestLoss:F4}", "this run" },
                new[] { s.Unigram.Name, $"{s.Unigram.ValidLoss:F4}", $"{s.Unigram.TestLoss:F4}", "this run" },
                new[] { "uniform over 27 characters", $"{s.UniformLoss:F4}", $"{s.UniformLoss:F4}", "ln 27" },
                new[] { "makemore's MLP", $"{PublishedNumbers.MakemoreMlpDevLoss}", "", s.Published.Source },
                new[] { "makemore's bigram counts", $"{PublishedNumbers.MakemoreBigramLoss}", "", "makemore, lecture part 1" },
            });
        }
        else
        {
            page.Paragraph("Perplexity = exp(mean negative log-likelihood per word) over every word of the part, marks and punctuation included (§4). " +
                           "Our test part is 3,682 words shorter than the paper's (another copy of the corpus, see the README).");
            var rows = new List<string[]>
            {
                new[] { "this network (kept weights)", $"{s.ValidPerplexity:F1}", $"{s.TestPerplexity:F1}", "this run" },
                new[] { "this network mixed 0.5/0.5 with our trigram", $"{s.MixValidPerplexity:F1}", $"{s.MixTestPerplexity:F1}", "this run" },
                new[] { s.KneserNeyTrigram.Name, $"{s.KneserNeyTrigram.ValidPerplexity:F1}", $"{s.KneserNeyTrigram.TestPerplexity:F1}", "this run" },
                new[] { s.Unigram.Name, $"{s.Unigram.ValidPerplexity:F1}", $"{s.Unigram.TestPerplexity:F1}", "this run" },
            };
            foreach (var r in PublishedNumbers.Table1)
            {
                string shape = r.Hidden is int h ? $" (n {r.N}, h {h}, m {r.Features}{(r.Direct == true ? ", direct" : "")}{(r.Mix == true ? ", mix" : "")})"
                             : r.Classes is int c ? $" (n {r.N}, {c} classes)" : $" (n {r.N})";
                rows.Add(new[] { r.Model + shape, $"{r.Valid}", $"{r.Test}", "Bengio et al. 2003, Table 1" });
            }
            page.Table(new[] { "model", "valid perplexity", "test perplexity", "source" }, rows.ToArray());
        }
        page.KeyValues(new Dictionary<string, string>
        {
            ["|V|"] = $"{s.VocabSize:N0}",
            ["parameters"] = $"{s.Parameters:N0}",
            ["examples (train / valid / test)"] = $"{s.TrainExamples:N0} / {s.ValidExamples:N0} / {s.TestExamples:N0}",
            ["updates"] = $"{s.Steps:N0} ({s.Epochs:F2} epochs){(s.StoppedEarly ? ", stopped early" : "")}",
            ["weights kept from"] = $"update {s.BestStep:N0} (lowest validation loss)",
            ["training words per second"] = s.WordsPerSecond is double w ? $"{w:N0} on {s.Threads} thread(s)" : "—",
        });

        page.Heading("Training");
        var (trainSteps, trainLoss) = run.Metrics.Series("train", "loss");
        var (valSteps, valLoss) = run.Metrics.Series("val", "loss");
        page.Chart(Charts.Line("Loss", "update", $"mean −ln P̂ (nats per {(names ? "character" : "word")})", new[]
        {
            new Series("training batches (running mean; without the penalty)", trainSteps, trainLoss),
            new Series("validation", valSteps, valLoss),
        }));
        if (!names)
        {
            var (pSteps, ppl) = run.Metrics.Series("val", "perplexity");
            page.Chart(Charts.Line("Validation perplexity", "update", "perplexity", new[] { new Series("validation", pSteps, ppl) }, logY: true));
        }
        var (lrSteps, lr) = run.Metrics.Series("train", "lr");
        page.Chart(Charts.Line("Learning rate ε_t", "update", "learning rate (per update, batch mean)", new[] { new Series("SGD", lrSteps, lr) }));

        if (names && s.GeneratedNames is { Count: > 0 } generated)
        {
            page.Heading("Names sampled from the network");
            page.Paragraph(string.Join(", ", generated));
        }
        if (!names)
        {
            page.Heading("What C learned: nearest words by cosine similarity of their feature vectors");
            var probe = ProbeWords.Select(w => (Word: w, Id: Enumerable.Range(0, data.VocabSize).FirstOrDefault(i => data.Word(i) == w, -1)))
                                  .Where(p => p.Id > 0).ToList();
            var rows = probe.Select(p => new[] { p.Word, string.Join(", ", Neighbours(model, p.Id, 8).Select(data.Word)) }).ToArray();
            page.Table(new[] { "word", "nearest in C" }, rows);
        }
        page.Save(run);
    }

    /// <summary>The <paramref name="k"/> words whose rows of C have the highest cosine similarity to row <paramref name="id"/>'s (itself excluded).</summary>
    public static int[] Neighbours(Nplm model, int id, int k)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var c = nn.functional.normalize(model.WordFeatures, p: 2, dim: 1);      // (|V|, m) unit rows
        var similarity = c.matmul(c[id]);                                        // (|V|)
        similarity[id] = float.NegativeInfinity;
        return similarity.topk(Math.Min(k, (int)similarity.shape[0] - 1)).indexes.data<long>().ToArray().Select(i => (int)i).ToArray();
    }
}
