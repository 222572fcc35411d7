using System.Security.Cryptography;
using System.Text;

namespace PaperLab.Data.Sources;

/// <summary>
/// What a run trained on, for config.json: enough to find the same data again and to tell whether it is
/// still the same (<see cref="ContentSha256"/>).
/// </summary>
/// <param name="Dataset">The <c>--dataset</c> value as given (e.g. <c>folder:/home/me/pets</c>).</param>
/// <param name="Kind">Which kind of source.</param>
/// <param name="Paths">The absolute paths read (one folder or file; two for pairs:SRC,TGT).</param>
/// <param name="FileCount">Number of files read (images of a folder including skipped ones; 1 or 2 for text).</param>
/// <param name="Bytes">Their total size in bytes.</param>
/// <param name="ContentSha256">Hash of the data, 64 lowercase hex digits; <see cref="ContentHashRule"/> says of what.</param>
/// <param name="ContentHashRule">What <see cref="ContentSha256"/> covers, in words.</param>
public sealed record DataSourceRecord(
    string Dataset, DataSourceKind Kind, IReadOnlyList<string> Paths, int FileCount, long Bytes,
    string ContentSha256, string ContentHashRule);

/// <summary>The sha256 helpers behind content hashes, splits and duplicate detection.</summary>
public static class ContentHash
{
    /// <summary>Sha256 of <paramref name="bytes"/> as 64 lowercase hex digits.</summary>
    public static string Of(ReadOnlySpan<byte> bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    /// <summary>Sha256 of the UTF-8 bytes of <paramref name="text"/>, 64 lowercase hex digits.</summary>
    public static string Of(string text) => Of(Encoding.UTF8.GetBytes(text));

    /// <summary>Sha256 of <paramref name="lines"/> sorted ordinally, each followed by '\n': independent of their order.</summary>
    public static string OfSortedLines(IEnumerable<string> lines)
    {
        var sorted = lines.ToList();
        sorted.Sort(StringComparer.Ordinal);
        var sb = new StringBuilder();
        foreach (var line in sorted) sb.Append(line).Append('\n');
        return Of(sb.ToString());
    }

    /// <summary>
    /// The items of a hash-ordered selection: given each item's content hash, the ⌊<paramref name="percent"/>·n/100⌉
    /// (rounded half up) items with the smallest hashes, whole groups of identical hashes at a time, so identical
    /// items never straddle the cut. Sha256 orders items as a random permutation would, but depends only on content:
    /// the choice is the same on every machine and does not change when files are renamed or reordered.
    /// </summary>
    /// <param name="hashes">One hex hash per item.</param>
    /// <param name="percent">0..100.</param>
    /// <returns>A flag per item: true = selected.</returns>
    /// <exception cref="ArgumentOutOfRangeException">percent outside 0..100.</exception>
    public static bool[] SelectSmallest(IReadOnlyList<string> hashes, double percent)
    {
        if (percent is < 0 or > 100 || double.IsNaN(percent))
            throw new ArgumentOutOfRangeException(nameof(percent), percent, "a percentage from 0 to 100");
        int n = hashes.Count;
        int want = (int)Math.Floor(percent * n / 100.0 + 0.5);
        var order = Enumerable.Range(0, n).OrderBy(i => hashes[i], StringComparer.Ordinal).ToArray();
        var selected = new bool[n];
        int taken = 0;
        for (int k = 0; k < n && taken < want;)
        {
            int j = k;
            while (j < n && hashes[order[j]] == hashes[order[k]]) selected[order[j++]] = true;
            taken += j - k;
            k = j;
        }
        return selected;
    }
}
