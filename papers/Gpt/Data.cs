// What the GPT reads: Tiny Shakespeare by characters (nanoGPT's shakespeare_char, the default), or a text of
// your own. text:FILE is one text (characters, or GPT-2's byte-pair encoding with --tokenizer gpt2), split
// as nanoGPT splits: the first 90% of the tokens train, the last 10% validate. lines:FILE is one item per
// line (names, words, SMILES, as makemore): the items are split by content hash and each split becomes one
// stream of items, each ended by '\n', so the model learns where an item ends as makemore's '.' does.
// Reading, clean-up and the data report are PaperLab.Data.Sources'.

using PaperLab.Data;
using PaperLab.Data.Sources;

namespace PaperLab.Papers.Gpt;

/// <summary>The token streams of a GPT run, whichever the source.</summary>
/// <param name="Name">For tables: "tinyshakespeare" or the file's name.</param>
/// <param name="Train">Training token ids, one stream.</param>
/// <param name="Val">Validation token ids, one stream.</param>
/// <param name="VocabSize">V.</param>
/// <param name="Decode">Token ids → text (for the sample).</param>
/// <param name="PromptId">The token a sample starts from: '\n' when the vocabulary has it.</param>
/// <param name="Unit">What a token is, for messages: "characters" or "GPT-2 tokens".</param>
/// <param name="Record">What config.json records about the data.</param>
/// <param name="Report">Your own text: its data report; Tiny Shakespeare: null.</param>
/// <param name="BigramLoss">Validation loss of bigram counts (add-one smoothing) from the training tokens.</param>
/// <param name="UnigramLoss">The same for unigram counts (your own text; null for Tiny Shakespeare).</param>
public sealed record GptData(string Name, int[] Train, int[] Val, int VocabSize, Func<IEnumerable<long>, string> Decode, int PromptId,
                             string Unit, object Record, TextDataReport? Report, double BigramLoss, double? UnigramLoss)
{
    /// <summary>Loads the data named by --dataset: tinyshakespeare exactly as before, or text:FILE / lines:FILE.</summary>
    /// <exception cref="DatasetNotFoundException">Tiny Shakespeare is nowhere to be found and cannot be downloaded.</exception>
    /// <exception cref="DataSourceException">Your file cannot be used (missing, empty, not UTF-8...): the message names it and the fix.</exception>
    public static GptData Load(GptOptions o, string? dataDir)
    {
        var source = DatasetArgument.Parse(o.Dataset);
        if (source.Kind == DataSourceKind.BuiltIn)
        {
            var data = ShakespeareChars.Load(dataDir);
            return new GptData("tinyshakespeare", data.Train, data.Val, data.Vocabulary.Size, data.Vocabulary.Decode, data.Vocabulary.Encode("\n")[0],
                               "characters", data.Record, null, BigramBaseline.Loss(data.Train, data.Val, data.Vocabulary.Size), null);
        }
        var options = o.SourceOptions();
        string name = Path.GetFileName(source.Path);
        if (source.Kind == DataSourceKind.Text)
        {
            var text = TextSource.Load(source.Path, options, o.Dataset);
            var tok = text.Tokenizer;
            int prompt = TryEncodeOne(tok, "\n") ?? text.Train[0];
            return new GptData(name, text.Train, text.Valid, tok.VocabSize, ids => tok.Decode(ids.Select(i => (int)i)), prompt,
                               tok is CharTokenizer ? "characters" : "GPT-2 tokens", new { source = text.Source, options }, text.Report,
                               text.Report.Baseline.Bigram, text.Report.Baseline.Unigram);
        }
        // lines: one stream per split, each item followed by '\n' (the end-of-item symbol).
        var lines = LinesSource.Load(source.Path, options, o.Dataset);
        var chars = new CharTokenizer(lines.Train.Concat(lines.Valid).Append("\n"));
        int[] Stream(string[] items) => chars.Encode(string.Concat(items.Select(s => s + "\n")));
        return new GptData(name, Stream(lines.Train), Stream(lines.Valid), chars.VocabSize, ids => chars.Decode(ids.Select(i => (int)i)),
                           chars.Encode("\n")[0], "characters", new { source = lines.Source, options }, lines.Report,
                           lines.Report.Baseline.Bigram, lines.Report.Baseline.Unigram);
    }

    static int? TryEncodeOne(ITextTokenizer tokenizer, string text)
    {
        try { return tokenizer.Encode(text) is [int id] ? id : null; }
        catch (ArgumentException) { return null; }
    }
}
