// text:FILE, lines:FILE and pairs:FILE | pairs:SRC,TGT — text of one's own for language models and translation.
//
//   text:   one text (a book, code, chat logs); tokens by character (code point) or GPT-2 BPE; the first
//           (100 − valid-pct)% of the tokens train, the rest validate (nanoGPT's contiguous 90/10 split).
//   lines:  one item per line (names, words, SMILES); blank lines skipped; each item goes to validation when
//           its content hash is among the smallest valid-pct% (identical lines go the same way).
//   pairs:  source TAB target per line, or two files aligned line by line; split like lines, by the pair's hash.
//
// Every file may be gzip-compressed. Nothing is written; a bad file throws DataSourceException naming file and line.

namespace PaperLab.Data.Sources;

/// <summary>How a text, lines or pairs source is read; recorded in config.json.</summary>
public sealed record TextSourceOptions
{
    /// <summary>UTF-8 (strict, default) or Latin-1.</summary>
    public TextEncodingChoice Encoding { get; init; } = TextEncodingChoice.Utf8;
    /// <summary>The clean-up choices; the default keeps the text as it is.</summary>
    public TextCleanupOptions Cleanup { get; init; } = new();
    /// <summary>text: only: characters (default) or GPT-2 BPE. lines: always characters; pairs: the paper tokenises.</summary>
    public TokenizerChoice Tokenizer { get; init; } = TokenizerChoice.Char;
    /// <summary>Percentage held out for validation (0..&lt;100, default 10).</summary>
    public double ValidPercent { get; init; } = 10;

    /// <exception cref="ArgumentException">A value out of range; the message names the option.</exception>
    public void Validate()
    {
        if (ValidPercent is < 0 or >= 100 || double.IsNaN(ValidPercent))
            throw new ArgumentException($"--valid-pct {ValidPercent}: give a percentage from 0 up to (not including) 100");
        Cleanup.Validate();
    }
}

/// <summary>A loaded text: source for a language model.</summary>
/// <param name="Text">The text after clean-up.</param>
/// <param name="Tokenizer">Characters of <see cref="Text"/>, or GPT-2 BPE.</param>
/// <param name="Train">The first token ids.</param>
/// <param name="Valid">The last <see cref="TextSourceOptions.ValidPercent"/>% of the token ids.</param>
/// <param name="Report">What was found and done.</param>
/// <param name="Source">What to record in config.json.</param>
/// <param name="Options">The options used.</param>
public sealed record TextData(string Text, ITextTokenizer Tokenizer, int[] Train, int[] Valid, TextDataReport Report,
                              DataSourceRecord Source, TextSourceOptions Options);

/// <summary>A loaded list of items, one per line (makemore's names).</summary>
/// <param name="Train">Training items, in file order.</param>
/// <param name="Valid">Validation items, in file order.</param>
/// <param name="Tokenizer">The characters of all items.</param>
/// <param name="Report">What was found and done.</param>
/// <param name="Source">What to record in config.json.</param>
/// <param name="Options">The options used.</param>
public sealed record LinesData(string[] Train, string[] Valid, CharTokenizer Tokenizer, TextDataReport Report,
                               DataSourceRecord Source, TextSourceOptions Options);

/// <summary>Loaded sentence pairs.</summary>
/// <param name="Train">Training pairs, in file order.</param>
/// <param name="Valid">Validation pairs, in file order.</param>
/// <param name="Report">What was found and done.</param>
/// <param name="Source">What to record in config.json.</param>
/// <param name="Options">The options used.</param>
public sealed record PairsData(IReadOnlyList<TranslationPair> Train, IReadOnlyList<TranslationPair> Valid, TextDataReport Report,
                               DataSourceRecord Source, TextSourceOptions Options);

/// <summary>Loads <c>text:FILE</c>.</summary>
public static class TextSource
{
    /// <summary>Reads, cleans, tokenises and splits one text.</summary>
    /// <param name="path">The text file (UTF-8 or, with the option, Latin-1; gzip allowed).</param>
    /// <param name="options">Encoding, clean-up, tokenizer, validation share; null: defaults.</param>
    /// <param name="datasetValue">The --dataset value for the source record; null: text:PATH.</param>
    /// <exception cref="ArgumentException">An option is out of range.</exception>
    /// <exception cref="DataSourceException">The file is missing, empty, not UTF-8 (with line and byte offset), binary,
    /// or has fewer than 2 tokens left after clean-up.</exception>
    public static TextData Load(string path, TextSourceOptions? options = null, string? datasetValue = null)
    {
        options ??= new TextSourceOptions();
        options.Validate();
        path = Path.GetFullPath(path);
        var content = TextReading.Read(path, options.Encoding);
        int crlf = CountCrlf(content.Text);
        var (items, cleanup) = TextCleanup.Apply([content.Text], options.Cleanup, wholeText: true);
        string text = items[0]!;

        ITextTokenizer tokenizer = options.Tokenizer == TokenizerChoice.Gpt2 ? new Gpt2Tokenizer() : new CharTokenizer([text]);
        int[] ids = tokenizer.Encode(text);
        if (ids.Length < 2)
            throw new DataSourceException(path, $"only {ids.Length} token(s) left after clean-up", "give a longer text or loosen the clean-up options");
        int n = (int)(ids.Length * (100 - options.ValidPercent) / 100.0);
        n = Math.Max(n, 2);
        int[] train = ids[..n], valid = ids[n..];

        var frequency = new long[tokenizer.VocabSize];
        foreach (int id in ids) frequency[id]++;
        var counts = new Dictionary<string, long>();
        for (int id = 0; id < frequency.Length; id++)
            if (frequency[id] > 0) counts[tokenizer.TokenText(id)] = counts.GetValueOrDefault(tokenizer.TokenText(id)) + frequency[id];
        var (common, rare) = TextDataReport.Extremes(counts);
        var lineLengths = text.Split('\n').Select(TextCleanup.CountRunes).ToArray();
        bool scoredOnValid = valid.Length >= 2;
        string unit = tokenizer is CharTokenizer ? "character" : "GPT-2 token";
        var baseline = new LanguageBaseline(unit, NgramBaseline.UniformLoss(tokenizer.VocabSize),
            NgramBaseline.UnigramLoss(train, scoredOnValid ? valid : train, tokenizer.VocabSize),
            NgramBaseline.BigramLoss(train, scoredOnValid ? valid : train, tokenizer.VocabSize),
            scoredOnValid ? "valid" : "train", "counts over the training tokens, add-one smoothing");

        var warnings = new List<string>();
        if (crlf > 0 && options.Cleanup.LineEndings == LineEndingMapping.Keep)
            warnings.Add($"{crlf:N0} lines end in \\r\\n: the model learns '\\r' as a character (--line-endings lf makes them \\n)");
        if (options.Cleanup.Normalization == UnicodeNormalization.None && !content.Text.IsNormalized(System.Text.NormalizationForm.FormC))
            warnings.Add("the text mixes composed and decomposed characters (it is not NFC): identical-looking words get different tokens (--normalize nfc)");
        if (tokenizer is CharTokenizer && tokenizer.VocabSize > 256)
            warnings.Add($"{tokenizer.VocabSize} distinct characters: consider --rare-below or --normalize nfkc");
        if (tokenizer is CharTokenizer)
        {
            var trainSet = train.ToHashSet();
            int unseen = valid.Distinct().Count(id => !trainSet.Contains(id));
            if (unseen > 0) warnings.Add($"{unseen} character(s) of the validation text never occur in the training text");
        }
        if (valid.Length == 0) warnings.Add($"no validation text (--valid-pct {options.ValidPercent:0.##})");

        var report = new TextDataReport
        {
            Kind = DataSourceKind.Text, Files = [path], Encoding = options.Encoding, Bytes = content.Bytes, ByteOrderMark = content.ByteOrderMark,
            CrlfLineEndings = crlf, Cleanup = cleanup, Tokenizer = tokenizer.Name, VocabularySize = tokenizer.VocabSize,
            Train = train.Length, Valid = valid.Length, Unit = tokenizer is CharTokenizer ? "characters" : "GPT-2 tokens",
            SplitRule = $"first {100 - options.ValidPercent:0.##}% of the tokens train, the last {options.ValidPercent:0.##}% validate",
            BlankLines = 0, MostCommon = common, Rarest = rare, LengthUnit = "characters per line",
            Lengths = HistogramBin.Of(lineLengths), MeanLength = lineLengths.Average(), LongestLength = lineLengths.Max(),
            DuplicatesWithinSplit = 0, DuplicatesAcrossSplits = 0, Baseline = baseline, Warnings = warnings,
        };
        var source = new DataSourceRecord(datasetValue ?? $"text:{path}", DataSourceKind.Text, [path], 1, content.Bytes, content.Sha256,
                                          "sha256 of the file's bytes (after gunzip)");
        return new TextData(text, tokenizer, train, valid, report, source, options);
    }

    internal static int CountCrlf(string text)
    {
        int n = 0;
        for (int i = text.IndexOf("\r\n", StringComparison.Ordinal); i >= 0; i = text.IndexOf("\r\n", i + 2, StringComparison.Ordinal)) n++;
        return n;
    }
}

/// <summary>Loads <c>lines:FILE</c>.</summary>
public static class LinesSource
{
    /// <summary>Reads one item per line, cleans the items, and splits them by content hash.</summary>
    /// <param name="path">The file (UTF-8 or Latin-1; gzip allowed).</param>
    /// <param name="options">Encoding, clean-up (maximum length drops longer items), validation share; null: defaults.</param>
    /// <param name="datasetValue">The --dataset value for the source record; null: lines:PATH.</param>
    /// <exception cref="ArgumentException">An option is out of range.</exception>
    /// <exception cref="DataSourceException">The file is missing, empty, not UTF-8, binary, or has no non-blank line (left).</exception>
    public static LinesData Load(string path, TextSourceOptions? options = null, string? datasetValue = null)
    {
        options ??= new TextSourceOptions();
        options.Validate();
        path = Path.GetFullPath(path);
        var content = TextReading.Read(path, options.Encoding);
        var lines = TextReading.SplitLines(content.Text, out int crlf);
        var nonBlank = lines.Where(l => !string.IsNullOrWhiteSpace(l)).ToArray();
        int blank = lines.Length - nonBlank.Length;
        if (nonBlank.Length == 0) throw new DataSourceException(path, "every line is blank", "give a file with one item per line");
        var (cleaned, cleanup) = TextCleanup.Apply(nonBlank, options.Cleanup, wholeText: false);
        var items = cleaned.Where(s => s is not null).Cast<string>().ToArray();
        if (items.Length == 0)
            throw new DataSourceException(path, "no line is left after clean-up (all longer than --max-length, or emptied)", "loosen the clean-up options");

        var hashes = items.Select(ContentHash.Of).ToArray();
        bool[] isValid = ContentHash.SelectSmallest(hashes, options.ValidPercent);
        string[] train = items.Where((_, i) => !isValid[i]).ToArray(), valid = items.Where((_, i) => isValid[i]).ToArray();
        var tokenizer = new CharTokenizer(items);

        var counts = new Dictionary<string, long>();
        foreach (var s in items) foreach (var r in s.EnumerateRunes()) counts[r.ToString()] = counts.GetValueOrDefault(r.ToString()) + 1;
        var (common, rare) = TextDataReport.Extremes(counts);
        var lengths = items.Select(TextCleanup.CountRunes).ToArray();
        var trainIds = train.Select(tokenizer.Encode).ToArray();
        bool onValid = valid.Length > 0;
        var evalIds = onValid ? valid.Select(tokenizer.Encode).ToArray() : trainIds;
        var baseline = new LanguageBaseline("character (and end of item)", NgramBaseline.UniformLoss(tokenizer.VocabSize + 1),
            NgramBaseline.SequenceUnigramLoss(trainIds, evalIds, tokenizer.VocabSize),
            NgramBaseline.SequenceBigramLoss(trainIds, evalIds, tokenizer.VocabSize), onValid ? "valid" : "train",
            "each item framed by a boundary symbol (makemore's '.'), counts over the training items, add-one smoothing");

        var warnings = new List<string>();
        int padded = items.Count(s => s.Length > 0 && (char.IsWhiteSpace(s[0]) || char.IsWhiteSpace(s[^1])));
        if (padded > 0) warnings.Add($"{padded:N0} item(s) start or end with whitespace (kept as characters)");
        if (valid.Length == 0) warnings.Add($"no validation items (--valid-pct {options.ValidPercent:0.##})");
        int within = Duplicates(train) + Duplicates(valid);
        if (within > 0) warnings.Add($"{within:N0} item(s) repeat an earlier one");

        var report = new TextDataReport
        {
            Kind = DataSourceKind.Lines, Files = [path], Encoding = options.Encoding, Bytes = content.Bytes, ByteOrderMark = content.ByteOrderMark,
            CrlfLineEndings = crlf, Cleanup = cleanup, Tokenizer = tokenizer.Name, VocabularySize = tokenizer.VocabSize,
            Train = train.Length, Valid = valid.Length, Unit = "items",
            SplitRule = $"the {options.ValidPercent:0.##}% of items with the smallest content hashes validate",
            BlankLines = blank, MostCommon = common, Rarest = rare, LengthUnit = "characters per item",
            Lengths = HistogramBin.Of(lengths), MeanLength = lengths.Average(), LongestLength = lengths.Max(),
            DuplicatesWithinSplit = within, DuplicatesAcrossSplits = train.Intersect(valid, StringComparer.Ordinal).Count(),
            Baseline = baseline, Warnings = warnings,
        };
        var source = new DataSourceRecord(datasetValue ?? $"lines:{path}", DataSourceKind.Lines, [path], 1, content.Bytes, content.Sha256,
                                          "sha256 of the file's bytes (after gunzip)");
        return new LinesData(train, valid, tokenizer, report, source, options);
    }

    internal static int Duplicates<T>(IEnumerable<T> items) where T : notnull
    {
        var seen = new HashSet<T>();
        return items.Count(x => !seen.Add(x));
    }
}

/// <summary>Loads <c>pairs:FILE</c> (source TAB target) and <c>pairs:SRC,TGT</c> (two aligned files).</summary>
public static class PairsSource
{
    /// <summary>Reads sentence pairs, cleans both sides with the same choices, and splits them by content hash.</summary>
    /// <param name="paths">One tab-separated file, or the source file and the target file.</param>
    /// <param name="options">Encoding, clean-up (maximum length drops a pair when either side is longer), validation share.</param>
    /// <param name="datasetValue">The --dataset value for the source record; null: pairs:PATHS.</param>
    /// <exception cref="ArgumentException">Not one or two paths, or an option out of range.</exception>
    /// <exception cref="DataSourceException">A file is missing, empty, not UTF-8 or binary; a line has no tab or more than one, an
    /// empty side, or is blank before the end; two files differ in their number of lines; no pair is left after clean-up.</exception>
    public static PairsData Load(IReadOnlyList<string> paths, TextSourceOptions? options = null, string? datasetValue = null)
    {
        options ??= new TextSourceOptions();
        options.Validate();
        if (paths.Count is not (1 or 2)) throw new ArgumentException($"pairs: takes one tab-separated file or two aligned files, got {paths.Count} paths");
        var full = paths.Select(Path.GetFullPath).ToArray();
        var contents = full.Select(p => TextReading.Read(p, options.Encoding)).ToArray();
        int crlf = 0, trailingBlank = 0;
        var src = new List<string>();
        var tgt = new List<string>();

        if (full.Length == 1)
        {
            var lines = Trimmed(TextReading.SplitLines(contents[0].Text, out crlf), out trailingBlank);
            for (int i = 0; i < lines.Length; i++)
            {
                string line = lines[i];
                int tabs = line.Count(c => c == '\t');
                if (line.Length == 0)
                    throw new DataSourceException(full[0], "blank line", "remove it: each line is one pair, source<TAB>target", i + 1);
                if (tabs != 1)
                    throw new DataSourceException(full[0], tabs == 0 ? "no tab between source and target" : $"{tabs} tabs; a pair has exactly one",
                                                  "write each pair as source<TAB>target on one line (or give two aligned files: pairs:SRC,TGT)", i + 1);
                int at = line.IndexOf('\t');
                if (at == 0 || at == line.Length - 1)
                    throw new DataSourceException(full[0], at == 0 ? "empty source sentence" : "empty target sentence",
                                                  "give both sides, or remove the line", i + 1);
                src.Add(line[..at]);
                tgt.Add(line[(at + 1)..]);
            }
        }
        else
        {
            var a = Trimmed(TextReading.SplitLines(contents[0].Text, out int crlfA), out int ta);
            var b = Trimmed(TextReading.SplitLines(contents[1].Text, out int crlfB), out int tb);
            (crlf, trailingBlank) = (crlfA + crlfB, ta + tb);
            if (a.Length != b.Length)
                throw new DataSourceException(full[0], $"has {a.Length:N0} lines but {full[1]} has {b.Length:N0}",
                                              "the two files must align line by line: line i of one translates line i of the other");
            for (int i = 0; i < a.Length; i++)
            {
                if (a[i].Length == 0 || b[i].Length == 0)
                    throw new DataSourceException(a[i].Length == 0 ? full[0] : full[1], "blank line", "give a sentence on every line, or remove the line from both files", i + 1);
                src.Add(a[i]);
                tgt.Add(b[i]);
            }
        }
        if (src.Count == 0) throw new DataSourceException(full[0], "no pairs", "give one pair per line");

        var (cleanSrc, srcReport) = TextCleanup.Apply(src, options.Cleanup, wholeText: false);
        var (cleanTgt, tgtReport) = TextCleanup.Apply(tgt, options.Cleanup, wholeText: false);
        var pairs = Enumerable.Range(0, src.Count).Where(i => cleanSrc[i] is not null && cleanTgt[i] is not null)
                              .Select(i => new TranslationPair(cleanSrc[i]!, cleanTgt[i]!)).ToArray();
        if (pairs.Length == 0) throw new DataSourceException(full[0], "no pair is left after clean-up", "loosen the clean-up options");

        bool[] isValid = ContentHash.SelectSmallest(pairs.Select(p => ContentHash.Of(p.Source + "\t" + p.Target)).ToArray(), options.ValidPercent);
        var train = pairs.Where((_, i) => !isValid[i]).ToArray();
        var valid = pairs.Where((_, i) => isValid[i]).ToArray();

        // Target words (split at whitespace): vocabulary, counts and the baselines; unseen words are one <unk>.
        static string[] Words(string s) => s.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        var vocab = train.SelectMany(p => Words(p.Target)).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)
                         .Select((w, i) => (w, i)).ToDictionary(x => x.w, x => x.i, StringComparer.Ordinal);
        int unk = vocab.Count;
        int[] Ids(TranslationPair p) => Words(p.Target).Select(w => vocab.TryGetValue(w, out int id) ? id : unk).ToArray();
        var trainIds = train.Select(Ids).ToArray();
        bool onValid = valid.Length > 0;
        var evalIds = onValid ? valid.Select(Ids).ToArray() : trainIds;
        var baseline = new LanguageBaseline("target word (and end of sentence)", NgramBaseline.UniformLoss(vocab.Count + 2),
            NgramBaseline.SequenceUnigramLoss(trainIds, evalIds, vocab.Count + 1),
            NgramBaseline.SequenceBigramLoss(trainIds, evalIds, vocab.Count + 1), onValid ? "valid" : "train",
            "target sentences split at whitespace, words unseen in training as one <unk>, each sentence framed by a boundary symbol, add-one smoothing");

        var counts = pairs.SelectMany(p => Words(p.Target)).GroupBy(w => w, StringComparer.Ordinal).Select(g => KeyValuePair.Create(g.Key, g.LongCount()));
        var (common, rare) = TextDataReport.Extremes(counts);
        var lengths = pairs.Select(p => Words(p.Target).Length).ToArray();

        var warnings = new List<string>();
        int same = pairs.Count(p => p.Source == p.Target);
        if (same > 0) warnings.Add($"{same:N0} pair(s) have identical source and target");
        int within = LinesSource.Duplicates(train) + LinesSource.Duplicates(valid);
        if (within > 0) warnings.Add($"{within:N0} pair(s) repeat an earlier one");
        if (valid.Length == 0) warnings.Add($"no validation pairs (--valid-pct {options.ValidPercent:0.##})");

        var report = new TextDataReport
        {
            Kind = DataSourceKind.Pairs, Files = full, Encoding = options.Encoding, Bytes = contents.Sum(c => c.Bytes),
            ByteOrderMark = contents.Any(c => c.ByteOrderMark), CrlfLineEndings = crlf, Cleanup = srcReport, TargetCleanup = tgtReport,
            Tokenizer = "words (whitespace)", VocabularySize = vocab.Count + 1, Train = train.Length, Valid = valid.Length, Unit = "pairs",
            SplitRule = $"the {options.ValidPercent:0.##}% of pairs with the smallest content hashes validate",
            BlankLines = trailingBlank, MostCommon = common, Rarest = rare, LengthUnit = "target words per sentence",
            Lengths = HistogramBin.Of(lengths), MeanLength = lengths.Average(), LongestLength = lengths.Max(),
            DuplicatesWithinSplit = within, DuplicatesAcrossSplits = train.Intersect(valid).Count(),
            Baseline = baseline, Warnings = warnings,
        };
        string hash = full.Length == 1 ? contents[0].Sha256 : ContentHash.Of($"{contents[0].Sha256}\n{contents[1].Sha256}\n");
        var source = new DataSourceRecord(datasetValue ?? $"pairs:{string.Join(",", full)}", DataSourceKind.Pairs, full, full.Length,
            contents.Sum(c => c.Bytes), hash,
            full.Length == 1 ? "sha256 of the file's bytes (after gunzip)" : "sha256 of '<sha256 of source file>\\n<sha256 of target file>\\n' (bytes after gunzip)");
        return new PairsData(train, valid, report, source, options);
    }

    /// <summary>The lines without the blank lines at the end of the file (counted).</summary>
    static string[] Trimmed(string[] lines, out int trailing)
    {
        int n = lines.Length;
        while (n > 0 && string.IsNullOrWhiteSpace(lines[n - 1])) n--;
        trailing = lines.Length - n;
        return lines[..n];
    }
}
