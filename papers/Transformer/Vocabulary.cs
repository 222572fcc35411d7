using System.Text;

namespace PaperLab.Papers.Transformer;

/// <summary>
/// A word-level vocabulary: token ↔ integer id, with the four special tokens every sequence model needs
/// at fixed ids (padding 0, unknown 1, begin-of-sentence 2, end-of-sentence 3) followed by the corpus's
/// tokens by descending frequency (ties in ordinal order, so the same corpus always gives the same ids).
/// </summary>
/// <example><code>
/// var vocab = Vocabulary.Build(trainSentences, minFrequency: 2);
/// int[] ids = vocab.Encode(new[] { "a", "dog", "runs" }, addBos: true, addEos: true); // [2, …, 3]
/// string[] back = vocab.Decode(ids);                                             // ["a", "dog", "runs"]
/// </code></example>
public sealed class Vocabulary
{
    /// <summary>Padding token: fills batches to a rectangle; id 0, never predicted, masked out of attention and loss.</summary>
    public const string Pad = "<pad>";
    /// <summary>Stands for every token not in the vocabulary; id 1.</summary>
    public const string Unk = "<unk>";
    /// <summary>Begin of sentence: the decoder's first input; id 2.</summary>
    public const string Bos = "<s>";
    /// <summary>End of sentence: the last target token, where decoding stops; id 3.</summary>
    public const string Eos = "</s>";

    /// <summary>Id of <see cref="Pad"/>.</summary>
    public const int PadId = 0;
    /// <summary>Id of <see cref="Unk"/>.</summary>
    public const int UnkId = 1;
    /// <summary>Id of <see cref="Bos"/>.</summary>
    public const int BosId = 2;
    /// <summary>Id of <see cref="Eos"/>.</summary>
    public const int EosId = 3;

    static readonly string[] Specials = [Pad, Unk, Bos, Eos];

    readonly string[] _tokens;
    readonly Dictionary<string, int> _ids;

    /// <summary>All tokens, indexed by id (the specials first).</summary>
    public IReadOnlyList<string> Tokens => _tokens;

    /// <summary>Number of tokens including the four specials.</summary>
    public int Count => _tokens.Length;

    /// <param name="tokens">Tokens in id order; the first four must be the specials in order.</param>
    /// <exception cref="ArgumentException">The specials are not first, or a token appears twice.</exception>
    public Vocabulary(IEnumerable<string> tokens)
    {
        _tokens = tokens.ToArray();
        if (_tokens.Length < Specials.Length || !_tokens.Take(Specials.Length).SequenceEqual(Specials))
            throw new ArgumentException($"a vocabulary starts with the special tokens {string.Join(" ", Specials)}");
        _ids = new Dictionary<string, int>(_tokens.Length, StringComparer.Ordinal);
        for (int i = 0; i < _tokens.Length; i++)
            if (!_ids.TryAdd(_tokens[i], i)) throw new ArgumentException($"token '{_tokens[i]}' appears twice in the vocabulary");
    }

    /// <summary>
    /// Builds the vocabulary of a tokenised corpus: every token seen at least <paramref name="minFrequency"/>
    /// times, most frequent first, at most <paramref name="maxSize"/> tokens in all (specials included).
    /// </summary>
    /// <param name="sentences">Tokenised training sentences (never the validation or test set).</param>
    /// <param name="minFrequency">Rarer tokens become <see cref="Unk"/> (≥ 1).</param>
    /// <param name="maxSize">Upper bound on <see cref="Count"/>; null: no bound.</param>
    /// <exception cref="ArgumentOutOfRangeException">minFrequency &lt; 1 or maxSize &lt; 4.</exception>
    public static Vocabulary Build(IEnumerable<IReadOnlyList<string>> sentences, int minFrequency = 1, int? maxSize = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(minFrequency, 1);
        if (maxSize is int m) ArgumentOutOfRangeException.ThrowIfLessThan(m, Specials.Length, nameof(maxSize));
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var sentence in sentences)
            foreach (var token in sentence)
                counts[token] = counts.GetValueOrDefault(token) + 1;
        var kept = counts.Where(kv => kv.Value >= minFrequency && !Specials.Contains(kv.Key))
                         .OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key, StringComparer.Ordinal)
                         .Select(kv => kv.Key);
        if (maxSize is int max) kept = kept.Take(max - Specials.Length);
        return new Vocabulary(Specials.Concat(kept));
    }

    /// <summary>The id of <paramref name="token"/>, or <see cref="UnkId"/> when it is not in the vocabulary.</summary>
    public int Id(string token) => _ids.TryGetValue(token, out int id) ? id : UnkId;

    /// <summary>Whether <paramref name="token"/> has its own id.</summary>
    public bool Contains(string token) => _ids.ContainsKey(token);

    /// <summary>The token of <paramref name="id"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">id is not in [0, Count).</exception>
    public string Token(int id) =>
        (uint)id < (uint)_tokens.Length ? _tokens[id] : throw new ArgumentOutOfRangeException(nameof(id), $"id {id} is not in [0, {_tokens.Length})");

    /// <summary>Ids of <paramref name="tokens"/>, optionally framed by <see cref="BosId"/> and <see cref="EosId"/>.</summary>
    public int[] Encode(IReadOnlyList<string> tokens, bool addBos = false, bool addEos = true)
    {
        var ids = new List<int>(tokens.Count + 2);
        if (addBos) ids.Add(BosId);
        foreach (var t in tokens) ids.Add(Id(t));
        if (addEos) ids.Add(EosId);
        return ids.ToArray();
    }

    /// <summary>Tokens of <paramref name="ids"/> up to the first <see cref="EosId"/>, without BOS and padding.</summary>
    public string[] Decode(IEnumerable<int> ids)
    {
        var tokens = new List<string>();
        foreach (int id in ids)
        {
            if (id == EosId) break;
            if (id is BosId or PadId) continue;
            tokens.Add(Token(id));
        }
        return tokens.ToArray();
    }

    /// <summary>Writes the tokens one per line in id order (UTF-8), the format <see cref="Load"/> reads.</summary>
    public void Save(string path) => File.WriteAllLines(path, _tokens, new UTF8Encoding(false));

    /// <summary>Reads a vocabulary written by <see cref="Save"/>.</summary>
    /// <exception cref="InvalidDataException">The file does not start with the special tokens or repeats a token.</exception>
    public static Vocabulary Load(string path)
    {
        try { return new Vocabulary(File.ReadAllLines(path, Encoding.UTF8)); }
        catch (ArgumentException e) { throw new InvalidDataException($"{path} is not a vocabulary file: {e.Message}", e); }
    }
}
