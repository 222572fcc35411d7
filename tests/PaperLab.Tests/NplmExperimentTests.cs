using TorchSharp;
using PaperLab.Cli;
using PaperLab.Papers.Nplm;
using Xunit;

namespace PaperLab.Tests;

/// <summary>
/// The experiment on the spine: a smoke run of makemore's character MLP on the real names.txt (3,000
/// updates) must beat the unigram and makemore's bigram counts; a run stopped and resumed ends bit for bit
/// where the uninterrupted run ends (weights, SGD state, the kept best weights and the early-stopping count);
/// bad options exit 2 naming the option.
/// </summary>
[Collection("names")]
public class NplmExperimentTests
{
    static NplmOptions NamesSmoke => NplmOptions.Defaults(new NplmOptions { Preset = "names" }, new RunOptions { Smoke = true });

    [Fact]
    public void Names_smoke_run_beats_the_unigram_and_the_bigram_counts_and_generates_names()
    {
        using var dir = new TempDir();
        var s = PaperRun.Run(Experiment.Run, NamesSmoke, PaperRun.Context(Experiment.Paper, dir.File("run")))!;
        Assert.Equal(NamesData.VocabSize, s.VocabSize);
        Assert.Equal(Math.Log(27), s.UniformLoss, 12);
        Assert.True(s.ValidLoss < s.Unigram.ValidLoss - 0.3, $"dev loss {s.ValidLoss:F3}, unigram {s.Unigram.ValidLoss:F3}");
        Assert.True(s.ValidLoss < PublishedNumbers.MakemoreBigramLoss, $"dev loss {s.ValidLoss:F3} after 3,000 updates, makemore's bigram counts {PublishedNumbers.MakemoreBigramLoss}");
        Assert.InRange(s.KneserNeyTrigram.ValidLoss, 2.0, 2.45);          // a trigram of characters: between the bigram and the MLP
        Assert.Equal(Math.Exp(s.TestLoss), s.TestPerplexity, 9);
        Assert.Equal("valid_loss", s.Published.Metric);
        Assert.Equal(10, s.GeneratedNames!.Count);
        Assert.All(s.GeneratedNames, n => Assert.Matches("^[a-z]*$", n));
        foreach (var f in new[] { "config.json", "metrics.csv", "checkpoint.bin", "model.pt", "summary.json", "report.html" })
            Assert.True(File.Exists(dir.File("run", f)), $"{f} missing from the run folder");
        Assert.Contains("mix_valid_perplexity", File.ReadAllText(dir.File("run", "summary.json")));
        Assert.Contains("Names sampled from the network", File.ReadAllText(dir.File("run", "report.html")));
    }

    [Fact]
    public void The_overfit_floor_of_a_batch_is_the_entropy_of_the_next_word_given_each_repeated_context()
    {
        // contexts (1,2) ×3 followed by 5, 5, 6 and (3,4) ×1: floor = (−2 ln 2/3 − ln 1/3) / 4
        using var context = torch.tensor(new long[] { 1, 2, 1, 2, 1, 2, 3, 4 }).reshape(4, 2);
        using var next = torch.tensor(new long[] { 5, 5, 6, 7 });
        Assert.Equal((-2 * Math.Log(2.0 / 3) - Math.Log(1.0 / 3)) / 4, Experiment.BatchEntropyFloor(context, next), 12);
    }

    [Fact]
    public void Resuming_gives_exactly_the_uninterrupted_run() =>
        PaperRun.ResumesBitIdentically(Experiment.Paper, Experiment.Run,
            NamesSmoke with { Steps = 600, EvalEvery = 100, Patience = 2, Samples = 0, LrDropStep = 300 }, stopAfter: 250);

    [Theory]
    [InlineData("--order: expected an integer in [2, 16], got '1'", "--order", "1")]
    [InlineData("--preset: expected one of brown, names, got 'wikitext'", "--preset", "wikitext")]
    [InlineData("--hidden 0 leaves no path from the context to the output", "--hidden", "0")]
    public void Bad_options_exit_2_naming_the_option(string message, params string[] args)
    {
        var (exit, stderr) = PaperMain.Run(Experiment.Main, args);
        Assert.Equal(2, exit);
        Assert.Contains(message, stderr);
    }
}
