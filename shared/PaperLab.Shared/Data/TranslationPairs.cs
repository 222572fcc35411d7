using System.IO.Compression;
using System.Text;

namespace PaperLab.Data;

/// <summary>One sentence and its translation, as raw text.</summary>
/// <param name="Source">The sentence to translate.</param>
/// <param name="Target">Its reference translation.</param>
public sealed record TranslationPair(string Source, string Target);

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
    /// <exception cref="FileNotFoundException">A file is missing; the message names both forms looked for.</exception>
    /// <exception cref="InvalidDataException">The two files have different numbers of lines, or a line is empty.</exception>
    public static IReadOnlyList<TranslationPair> Load(string dir, string split, string source, string target, int? limit = null)
    {
        string srcPath = Find(dir, $"{split}.{source}");
        string tgtPath = Find(dir, $"{split}.{target}");
        string[] src = ReadLines(srcPath);
        string[] tgt = ReadLines(tgtPath);
        if (src.Length != tgt.Length)
            throw new InvalidDataException($"{srcPath} has {src.Length} lines but {tgtPath} has {tgt.Length}: the files of a parallel corpus " +
                                           "must align line by line; re-download both");
        for (int i = 0; i < src.Length; i++)
            if (src[i].Length == 0 || tgt[i].Length == 0)
                throw new InvalidDataException($"line {i + 1} of {(src[i].Length == 0 ? srcPath : tgtPath)} is empty; the file is damaged, re-download it");
        int n = Math.Min(src.Length, limit ?? int.MaxValue);
        var pairs = new TranslationPair[n];
        for (int i = 0; i < n; i++) pairs[i] = new TranslationPair(src[i], tgt[i]);
        return pairs;
    }

    /// <summary>The lines of a UTF-8 text file, gunzipped when its name ends in .gz; trailing empty lines dropped, each line trimmed.</summary>
    public static string[] ReadLines(string path)
    {
        using Stream file = File.OpenRead(path);
        using Stream content = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? new GZipStream(file, CompressionMode.Decompress) : file;
        using var reader = new StreamReader(content, Encoding.UTF8);
        var lines = new List<string>();
        while (reader.ReadLine() is { } line) lines.Add(line.Trim());
        while (lines.Count > 0 && lines[^1].Length == 0) lines.RemoveAt(lines.Count - 1);
        return lines.ToArray();
    }

    static string Find(string dir, string name)
    {
        foreach (var candidate in new[] { name, name + ".gz" })
        {
            string path = Path.Combine(dir, candidate);
            if (File.Exists(path)) return path;
        }
        throw new FileNotFoundException($"neither {name} nor {name}.gz is in {dir}; pass the folder holding the corpus with --data " +
                                        "(or set PAPERLAB_DATA)", Path.Combine(dir, name));
    }
}
