using PaperLab.Data;

namespace PaperLab.Papers.Transformer;

/// <summary>
/// Parallel corpora stored as one file per language with one sentence per line, line i of each file
/// being translations of each other (Multi30k's <c>train.de</c> / <c>train.en</c>, plain or gzip-compressed).
/// </summary>
public static class TranslationPairs
{
    /// <summary>
    /// Reads split <paramref name="split"/> of a parallel corpus in <paramref name="dir"/>: the files
    /// <c>{split}.{source}</c> and <c>{split}.{target}</c>, each as itself or with <c>.gz</c>.
    /// </summary>
    /// <param name="dir">Folder holding the files (e.g. from <see cref="DatasetLocator.Locate"/>).</param>
    /// <param name="split">File stem, e.g. "train", "val", "test_2016_flickr".</param>
    /// <param name="source">Source language code, e.g. "de".</param>
    /// <param name="target">Target language code, e.g. "en".</param>
    /// <param name="limit">Keep only the first N pairs; null: all.</param>
    /// <returns>The pairs in file order, whitespace-trimmed.</returns>
    /// <exception cref="DataFormatException">
    /// A file is missing (the message names both forms looked for), is corrupt gzip, the two files have
    /// different numbers of lines, or a line is empty.
    /// </exception>
    public static IReadOnlyList<TranslationPair> Load(string dir, string split, string source, string target, int? limit = null)
    {
        string srcPath = FileContent.Find(dir, $"{split}.{source}", "multi30k");
        string tgtPath = FileContent.Find(dir, $"{split}.{target}", "multi30k");
        string[] src = ReadLines(srcPath);
        string[] tgt = ReadLines(tgtPath);
        if (src.Length != tgt.Length)
            throw new DataFormatException(srcPath, $"{src.Length} lines but {tgtPath} has {tgt.Length}: the files of a parallel corpus " +
                                                   "must align line by line; get both again");
        for (int i = 0; i < src.Length; i++)
            if (src[i].Length == 0 || tgt[i].Length == 0)
                throw new DataFormatException(src[i].Length == 0 ? srcPath : tgtPath, $"line {i + 1} is empty; the file is damaged, get it again");
        int n = Math.Min(src.Length, limit ?? int.MaxValue);
        var pairs = new TranslationPair[n];
        for (int i = 0; i < n; i++) pairs[i] = new TranslationPair(src[i], tgt[i]);
        return pairs;
    }

    /// <summary>The lines of a UTF-8 text file, gunzipped when it is gzip-compressed (by content); trailing empty lines dropped, each line trimmed.</summary>
    /// <exception cref="DataFormatException">Corrupt gzip data.</exception>
    public static string[] ReadLines(string path)
    {
        var lines = FileContent.ReadAllText(path).Split('\n').Select(l => l.Trim()).ToList();
        while (lines.Count > 0 && lines[^1].Length == 0) lines.RemoveAt(lines.Count - 1);
        return lines.ToArray();
    }
}
