using System.Text;

namespace PaperLab.Data.Sources;

/// <summary>A symbol (character, token or word) and how often it occurs.</summary>
public sealed record SymbolCount(string Symbol, long Count);

/// <summary>Items whose length lies in From..To (inclusive).</summary>
public sealed record HistogramBin(int From, int To, int Count)
{
    /// <summary>Up to <paramref name="bins"/> equal-width bins from 0 to the longest length (width at least 1).</summary>
    public static IReadOnlyList<HistogramBin> Of(IReadOnlyCollection<int> lengths, int bins = 10)
    {
        if (lengths.Count == 0) return [];
        int max = lengths.Max(), width = Math.Max(1, (max + bins) / bins);
        var counts = new int[max / width + 1];
        foreach (int l in lengths) counts[l / width]++;
        return counts.Select((c, i) => new HistogramBin(i * width, Math.Min(max, (i + 1) * width - 1), c)).ToList();
    }
}

/// <summary>
/// The trivial language models to beat (see <see cref="NgramBaseline"/>), in nats per <see cref="Unit"/>.
/// </summary>
/// <param name="Unit">What a token is, e.g. "character", "GPT-2 token", "target word".</param>
/// <param name="Uniform">ln V: a model that knows nothing (a fresh model's loss).</param>
/// <param name="Unigram">Unigram counts from train, scored on <see cref="ScoredOn"/>.</param>
/// <param name="Bigram">Bigram counts from train, scored on <see cref="ScoredOn"/>.</param>
/// <param name="ScoredOn">"valid", or "train" when there is no validation text.</param>
/// <param name="Rule">How the counts were made, in words.</param>
public sealed record LanguageBaseline(string Unit, double Uniform, double Unigram, double Bigram, string ScoredOn, string Rule);

/// <summary>
/// What a text, lines or pairs source held and what loading did to it: printed before training, saved in the
/// run folder (<see cref="DataReport.WriteTo"/>) and shown at the top of report.html.
/// </summary>
public sealed record TextDataReport : DataReport
{
    /// <summary>text, lines or pairs.</summary>
    public required DataSourceKind Kind { get; init; }
    /// <summary>The files read.</summary>
    public required IReadOnlyList<string> Files { get; init; }
    /// <summary>How bytes were read as characters.</summary>
    public required TextEncodingChoice Encoding { get; init; }
    /// <summary>Bytes read (after gunzip).</summary>
    public required long Bytes { get; init; }
    /// <summary>True when a UTF-8 byte-order mark was removed.</summary>
    public required bool ByteOrderMark { get; init; }
    /// <summary>Lines that ended in "\r\n" (Windows).</summary>
    public required int CrlfLineEndings { get; init; }
    /// <summary>What clean-up did (for pairs: to the source side).</summary>
    public required CleanupReport Cleanup { get; init; }
    /// <summary>For pairs: what clean-up did to the target side; else null.</summary>
    public CleanupReport? TargetCleanup { get; init; }
    /// <summary>"char", "gpt2" or, for pairs, "words (whitespace)".</summary>
    public required string Tokenizer { get; init; }
    /// <summary>Vocabulary size V of <see cref="Tokenizer"/> (pairs: of the target words).</summary>
    public required int VocabularySize { get; init; }
    /// <summary>Tokens (text), items (lines) or pairs in the training split.</summary>
    public required long Train { get; init; }
    /// <summary>The same for the validation split.</summary>
    public required long Valid { get; init; }
    /// <summary>What <see cref="Train"/> and <see cref="Valid"/> count, e.g. "characters", "names", "pairs".</summary>
    public required string Unit { get; init; }
    /// <summary>How the validation split was chosen, in words.</summary>
    public required string SplitRule { get; init; }
    /// <summary>Blank lines skipped (lines) or trailing blank lines (pairs).</summary>
    public required int BlankLines { get; init; }
    /// <summary>The 10 most frequent symbols.</summary>
    public required IReadOnlyList<SymbolCount> MostCommon { get; init; }
    /// <summary>The 10 rarest symbols, rarest first.</summary>
    public required IReadOnlyList<SymbolCount> Rarest { get; init; }
    /// <summary>What lengths are measured in, e.g. "characters per line".</summary>
    public required string LengthUnit { get; init; }
    /// <summary>Histogram of lengths.</summary>
    public required IReadOnlyList<HistogramBin> Lengths { get; init; }
    /// <summary>Mean length.</summary>
    public required double MeanLength { get; init; }
    /// <summary>Longest length.</summary>
    public required int LongestLength { get; init; }
    /// <summary>Extra copies of an item inside one split (lines and pairs).</summary>
    public required int DuplicatesWithinSplit { get; init; }
    /// <summary>Distinct items in both splits (0 under a content-hash split: identical items go the same way).</summary>
    public required int DuplicatesAcrossSplits { get; init; }
    /// <summary>The baselines to beat.</summary>
    public required LanguageBaseline Baseline { get; init; }
    /// <summary>Things worth a look before training.</summary>
    public required IReadOnlyList<string> Warnings { get; init; }

    /// <inheritdoc/>
    protected override string Render()
    {
        var sb = new StringBuilder();
        sb.AppendLine($"data: {Kind.ToString().ToLowerInvariant()}:{string.Join(",", Files)} ({Bytes:N0} bytes, {Encoding}{(ByteOrderMark ? ", byte-order mark removed" : "")}{(CrlfLineEndings > 0 ? $", {CrlfLineEndings:N0} \\r\\n line endings" : "")})");
        sb.AppendLine($"  {Unit}: train {Train:N0}, valid {Valid:N0} ({SplitRule})");
        sb.AppendLine($"  tokenizer: {Tokenizer}, vocabulary {VocabularySize:N0}");
        if (BlankLines > 0) sb.AppendLine($"  blank lines skipped: {BlankLines:N0}");
        sb.Append(TargetCleanup is null ? Cleanup.ToText() : "  source side:\n" + Cleanup.ToText() + "  target side:\n" + TargetCleanup.ToText());
        sb.AppendLine($"  most common: {string.Join(" ", MostCommon.Select(s => $"{s.Symbol}×{s.Count:N0}"))}");
        sb.AppendLine($"  rarest: {string.Join(" ", Rarest.Select(s => $"{s.Symbol}×{s.Count:N0}"))}");
        sb.AppendLine($"  {LengthUnit}: mean {MeanLength:0.#}, longest {LongestLength:N0}; " +
                      string.Join(", ", Lengths.Where(b => b.Count > 0).Select(b => b.From == b.To ? $"{b.From}: {b.Count:N0}" : $"{b.From}-{b.To}: {b.Count:N0}")));
        if (Kind != DataSourceKind.Text)
            sb.AppendLine($"  duplicates: {DuplicatesWithinSplit:N0} extra copies within a split, {DuplicatesAcrossSplits:N0} in both splits");
        sb.AppendLine($"  baselines to beat (nats per {Baseline.Unit}, on {Baseline.ScoredOn}): uniform {Baseline.Uniform:F4}, unigram {Baseline.Unigram:F4}, bigram {Baseline.Bigram:F4}");
        foreach (var w in Warnings) sb.AppendLine($"  warning: {w}");
        return sb.ToString();
    }

    /// <summary>The 10 most and 10 least frequent symbols of <paramref name="counts"/> (ties in ordinal order).</summary>
    internal static (IReadOnlyList<SymbolCount> Common, IReadOnlyList<SymbolCount> Rare) Extremes(IEnumerable<KeyValuePair<string, long>> counts)
    {
        var list = counts.Select(kv => new SymbolCount(TextCleanup.Show(kv.Key), kv.Value)).ToList();
        return (list.OrderByDescending(s => s.Count).ThenBy(s => s.Symbol, StringComparer.Ordinal).Take(10).ToList(),
                list.OrderBy(s => s.Count).ThenBy(s => s.Symbol, StringComparer.Ordinal).Take(10).ToList());
    }
}
