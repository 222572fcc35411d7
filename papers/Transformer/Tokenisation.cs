// Tokenisation of Multi30k: lower-cased words and punctuation marks, by Microsoft.ML.Tokenizers'
// LowerCaseNormalizer and its word-or-punctuation pre-tokenizer (regex \w+|[\p{P}]: runs of letters,
// digits and underscores, or single punctuation marks; .NET's \w covers ä, ö, ü and ß). Whitespace and
// symbols outside the Unicode punctuation class (rare in Multi30k: "+", "$") are dropped.
//
// Why words and not the paper's byte-pair encoding (§5.1): Multi30k is small (29,000 pairs, ~10k distinct
// German and ~6k English lower-cased words that occur at least twice), image captions use a small,
// repetitive vocabulary, and word-level vocabularies with a minimum frequency of 2 are what the published
// small re-implementations on Multi30k use (spaCy tokens, lower-cased, min_freq = 2), so BLEU is
// comparable with theirs. Words seen once in training become <unk>.

using Microsoft.ML.Tokenizers;

namespace PaperLab.Papers.Transformer;

/// <summary>Lower-cased word/punctuation tokenisation (see the file header).</summary>
public static class Tokenisation
{
    static readonly LowerCaseNormalizer Normalizer = new();
    static readonly PreTokenizer Splitter = PreTokenizer.CreateWordOrPunctuation();

    /// <summary>The tokens of <paramref name="text"/>: lower-cased, split into words and punctuation marks.</summary>
    /// <example>"Zwei Männer, die am Strand spielen." → ["zwei", "männer", ",", "die", "am", "strand", "spielen", "."]</example>
    public static string[] Tokenize(string text)
    {
        string normalized = Normalizer.Normalize(text);
        return Splitter.PreTokenize(normalized).Select(r => normalized.Substring(r.Offset, r.Length)).ToArray();
    }

    /// <summary>Joins tokens with single spaces, the form translations are shown and BLEU-scored in.</summary>
    public static string Detokenize(IEnumerable<string> tokens) => string.Join(' ', tokens);
}
