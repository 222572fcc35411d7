using PaperLab.Papers.Transformer;
using Xunit;

namespace PaperLab.Tests;

public class BleuTests
{
    static IReadOnlyList<string> T(string s) => s.Split(' ', StringSplitOptions.RemoveEmptyEntries);

    [Fact]
    public void Identical_corpus_scores_100()
    {
        var s = Bleu.Corpus(new[] { T("a man rides a bike"), T("two dogs play in the snow") }, new[] { T("a man rides a bike"), T("two dogs play in the snow") });
        Assert.Equal(100, s.Score, 10);
        Assert.Equal(1, s.BrevityPenalty);
    }

    [Fact]
    public void Modified_unigram_precision_clips_counts_papineni_example()
    {
        // Papineni et al. 2002, §2.1: candidate "the the the the the the the" against
        // "the cat is on the mat" / "there is a cat on the mat": modified unigram precision 2/7.
        var s = Bleu.Corpus(new[] { T("the the the the the the the") }, new[] { new[] { T("the cat is on the mat"), T("there is a cat on the mat") } });
        Assert.Equal(2.0 / 7, s.Precisions[0], 12);
        Assert.Equal(0, s.Score); // no bigram matches: BLEU is 0 without smoothing
    }

    [Fact]
    public void Two_sentence_corpus_matches_the_hand_computation()
    {
        // hyp 1 "the cat sat on the mat"  vs "the cat is on the mat":      1-4-gram matches 5/6, 3/5, 1/4, 0/3
        // hyp 2 "a dog runs in the park"  vs "a dog runs in the big park":  6/6, 4/5, 3/4, 2/3
        // corpus: p = 11/12, 7/10, 4/8, 2/6; c = 12, r = 13, BP = exp(1 − 13/12)
        var s = Bleu.Corpus(new[] { T("the cat sat on the mat"), T("a dog runs in the park") },
                            new[] { T("the cat is on the mat"), T("a dog runs in the big park") });
        Assert.Equal(new[] { 11.0 / 12, 7.0 / 10, 4.0 / 8, 2.0 / 6 }, s.Precisions);
        Assert.Equal(12, s.HypothesisLength);
        Assert.Equal(13, s.ReferenceLength);
        double expected = 100 * Math.Exp(1 - 13.0 / 12) * Math.Pow(11.0 / 12 * 7.0 / 10 * 4.0 / 8 * 2.0 / 6, 0.25);
        Assert.Equal(expected, s.Score, 10);
        Assert.Equal(52.61, s.Score, 2);
    }

    [Fact]
    public void Longer_hypotheses_have_no_brevity_penalty_and_the_closest_reference_length_counts()
    {
        var s = Bleu.Corpus(new[] { T("a b c d e f") }, new[] { new[] { T("a b c d e"), T("a b c d e f g h") } });
        Assert.Equal(5, s.ReferenceLength); // |6−5| = 1 < |6−8| = 2
        Assert.Equal(1, s.BrevityPenalty);
        Assert.Throws<ArgumentException>(() => Bleu.Corpus(new[] { T("a") }, Array.Empty<IReadOnlyList<string>>()));
    }
}
