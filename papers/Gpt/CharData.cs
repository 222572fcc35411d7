// Tiny Shakespeare as characters, prepared as nanoGPT's data/shakespeare_char/prepare.py does: the
// vocabulary is the sorted set of characters in the whole file (65), the first 90% is training text and
// the last 10% validation text (1,003,854 / 111,540 characters).

using PaperLab.Data;

namespace PaperLab.Papers.Gpt;

/// <summary>A character vocabulary: id ↔ character, ids in sorted character order.</summary>
public sealed class CharVocabulary
{
    readonly Dictionary<char, int> _stoi;

    /// <summary>The characters, id order.</summary>
    public IReadOnlyList<char> Chars { get; }
    /// <summary>V: number of characters.</summary>
    public int Size => Chars.Count;

    /// <summary>The vocabulary of every distinct character of <paramref name="text"/>, sorted by code point.</summary>
    public CharVocabulary(string text)
    {
        Chars = text.Distinct().Order().ToArray();
        _stoi = Chars.Select((c, i) => (c, i)).ToDictionary(p => p.c, p => p.i);
    }

    /// <summary>Token ids of <paramref name="text"/>.</summary>
    /// <exception cref="ArgumentException">A character is not in the vocabulary.</exception>
    public int[] Encode(string text) => text.Select(c => _stoi.TryGetValue(c, out int id) ? id
        : throw new ArgumentException($"character U+{(int)c:X4} '{c}' is not in the {Size}-character vocabulary")).ToArray();

    /// <summary>The text of token ids.</summary>
    public string Decode(IEnumerable<long> ids) => new(ids.Select(i => Chars[(int)i]).ToArray());
}

/// <summary>Tiny Shakespeare tokenised by characters and split 90/10 into training and validation ids.</summary>
/// <param name="Vocabulary">The 65-character vocabulary.</param>
/// <param name="Train">The first 90% of the ids (1,003,854).</param>
/// <param name="Val">The remaining ids (111,540).</param>
/// <param name="Source">The input.txt read.</param>
/// <param name="Record">The file and its sha256, for config.json.</param>
public sealed record ShakespeareChars(CharVocabulary Vocabulary, int[] Train, int[] Val, string Source, DataRecord Record)
{
    /// <summary>
    /// Finds input.txt with <see cref="DatasetLocator"/> (explicit folder, PAPERLAB_DATA, data/, download) and
    /// splits it. The file may be stored gzip-compressed, as input.txt or input.txt.gz.
    /// </summary>
    /// <param name="dataDir">Folder holding input.txt, or null to search.</param>
    /// <exception cref="DatasetNotFoundException">The file is nowhere (or not in --data) and cannot be downloaded.</exception>
    public static ShakespeareChars Load(string? dataDir)
    {
        string dir = DatasetLocator.Locate(DatasetCatalog.TinyShakespeare, dataDir);
        string path = FileContent.Find(dir, "input.txt", "tinyshakespeare");
        string text = FileContent.ReadAllText(path);
        var vocabulary = new CharVocabulary(text);
        int[] ids = vocabulary.Encode(text);
        int n = (int)(0.9 * ids.Length);   // nanoGPT: n = int(0.9 * len(data))
        return new ShakespeareChars(vocabulary, ids[..n], ids[n..], path,
                                    DataRecord.Of("tinyshakespeare", dir, new[] { path }, $"{ids.Length:N0} characters: train {n:N0} / val {ids.Length - n:N0}"));
    }
}

/// <summary>
/// The bigram baseline: P(next | current) from counts over the training ids, with add-one smoothing so
/// every pair has a probability. The best any model can do that sees only the previous character.
/// </summary>
public static class BigramBaseline
{
    /// <summary>Name used in summary.json and reports.</summary>
    public const string Name = "bigram counts (add-one smoothing)";

    /// <summary>(V, V) counts + 1: row a, column b counts "b follows a" in <paramref name="train"/>.</summary>
    public static double[,] Counts(int[] train, int vocabSize)
    {
        var counts = new double[vocabSize, vocabSize];
        for (int a = 0; a < vocabSize; a++) for (int b = 0; b < vocabSize; b++) counts[a, b] = 1;
        for (int i = 0; i + 1 < train.Length; i++) counts[train[i], train[i + 1]]++;
        return counts;
    }

    /// <summary>Mean negative log-likelihood (nats per character) of every transition in <paramref name="ids"/>
    /// under the bigram model counted on <paramref name="train"/>.</summary>
    public static double Loss(int[] train, int[] ids, int vocabSize)
    {
        var counts = Counts(train, vocabSize);
        var rowSums = new double[vocabSize];
        for (int a = 0; a < vocabSize; a++) for (int b = 0; b < vocabSize; b++) rowSums[a] += counts[a, b];
        double nll = 0;
        for (int i = 0; i + 1 < ids.Length; i++) nll -= Math.Log(counts[ids[i], ids[i + 1]] / rowSums[ids[i]]);
        return nll / (ids.Length - 1);
    }
}
