// Text clean-up as explicit choices, each counted. The defaults keep the text exactly as it is; every change
// is something the user asked for, and the report says what it did.
//
// A "character" is a Unicode code point (System.Text.Rune; what Python's str counts, what nanoGPT's vocabulary
// is made of): an emoji such as 👍 is one character, not two UTF-16 halves; 👍🏽 (with a skin-tone modifier) is two.
//
// The steps, in this order:
//   1. line endings   keep | lf: "\r\n" and a lone "\r" become "\n" (text: only; lines and pairs are split at
//                     line ends, which drops a "\r\n"'s "\r" whatever this says)
//   2. normalisation  none | NFC (canonical composition: e + ◌́ → é) | NFKC (also compatibility forms:
//                     ﬁ → fi, ² → 2, full-width Ａ → A, non-breaking space → space), Unicode Standard Annex #15
//   3. case           keep | lower | upper, one-to-one per character, invariant culture
//   4. digits         keep | zero (every decimal digit, any script, becomes 0: numbers keep their shape,
//                     not their value) | drop
//   5. rare characters  with rare-below N > 0, every character seen fewer than N times in the whole text
//                     (after steps 1-4) is replaced by the unknown symbol (default U+FFFD �) or dropped
//   6. maximum length text: the first N characters are kept; lines and pairs: longer items are dropped.

using System.Globalization;
using System.Text;
using System.Text.Json.Serialization;

namespace PaperLab.Data.Sources;

/// <summary>Unicode normalisation form (UAX #15).</summary>
[JsonConverter(typeof(JsonStringEnumConverter<UnicodeNormalization>))]
public enum UnicodeNormalization
{
    /// <summary>Keep the text's own form.</summary>
    None,
    /// <summary>Canonical composition: identical-looking sequences become identical (e + combining acute → é).</summary>
    NFC,
    /// <summary>Compatibility composition: also folds ligatures, super/subscripts, full-width forms, non-breaking spaces.</summary>
    NFKC,
}

/// <summary>Case mapping.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<CaseMapping>))]
public enum CaseMapping
{
    /// <summary>Keep case.</summary>
    Keep,
    /// <summary>Lower-case every character (invariant culture, one-to-one).</summary>
    Lower,
    /// <summary>Upper-case every character (invariant culture, one-to-one).</summary>
    Upper,
}

/// <summary>Line-ending handling of text: sources.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<LineEndingMapping>))]
public enum LineEndingMapping
{
    /// <summary>Keep "\r\n" and "\r" as they are (the model then learns the '\r' character).</summary>
    Keep,
    /// <summary>"\r\n" and a lone "\r" become "\n".</summary>
    LF,
}

/// <summary>What happens to decimal digits.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<DigitMapping>))]
public enum DigitMapping
{
    /// <summary>Keep them.</summary>
    Keep,
    /// <summary>Every decimal digit (Unicode Nd, any script) becomes '0'.</summary>
    Zero,
    /// <summary>Remove them.</summary>
    Drop,
}

/// <summary>What happens to characters rarer than <see cref="TextCleanupOptions.RareBelow"/>.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<RareMapping>))]
public enum RareMapping
{
    /// <summary>Replace with <see cref="TextCleanupOptions.UnknownSymbol"/>.</summary>
    Unknown,
    /// <summary>Remove.</summary>
    Drop,
}

/// <summary>The clean-up choices (order and meaning in TextCleanup.cs's header); the defaults change nothing.</summary>
public sealed record TextCleanupOptions
{
    /// <summary>Step 1, text: only.</summary>
    public LineEndingMapping LineEndings { get; init; } = LineEndingMapping.Keep;
    /// <summary>Step 2.</summary>
    public UnicodeNormalization Normalization { get; init; } = UnicodeNormalization.None;
    /// <summary>Step 3.</summary>
    public CaseMapping Case { get; init; } = CaseMapping.Keep;
    /// <summary>Step 4.</summary>
    public DigitMapping Digits { get; init; } = DigitMapping.Keep;
    /// <summary>Step 5: characters seen fewer than this many times are rare; 0 (default) = none.</summary>
    public int RareBelow { get; init; }
    /// <summary>Step 5: replace rare characters by <see cref="UnknownSymbol"/> (default) or drop them.</summary>
    public RareMapping Rare { get; init; } = RareMapping.Unknown;
    /// <summary>Step 5: the one character that stands for rare ones (default U+FFFD '�').</summary>
    public string UnknownSymbol { get; init; } = "\uFFFD";
    /// <summary>Step 6: maximum characters (text: keep the first N; lines/pairs: drop longer items); null = no limit.</summary>
    public int? MaxLength { get; init; }

    /// <summary>True when every choice is the default (the text is kept as it is).</summary>
    [JsonIgnore] public bool KeepsEverything => this == new TextCleanupOptions();

    /// <exception cref="ArgumentException">RareBelow or MaxLength out of range, or UnknownSymbol not one character.</exception>
    public void Validate()
    {
        if (RareBelow < 0) throw new ArgumentException($"--rare-below {RareBelow}: give a count ≥ 0 (0: keep every character)");
        if (MaxLength is < 1) throw new ArgumentException($"--max-length {MaxLength}: give a length ≥ 1");
        if (UnknownSymbol is null || UnknownSymbol.EnumerateRunes().Count() != 1)
            throw new ArgumentException($"the unknown symbol must be one character, got '{UnknownSymbol}'");
    }
}

/// <summary>One mapping a step made, with how often.</summary>
/// <param name="From">What was there (escaped for display: \r, \n, \t, U+XXXX for invisible characters).</param>
/// <param name="To">What it became ("" when removed).</param>
/// <param name="Count">Occurrences.</param>
public sealed record CharChange(string From, string To, long Count);

/// <summary>What one clean-up step did.</summary>
/// <param name="Step">"line endings", "normalisation", "case", "digits", "rare characters", "maximum length".</param>
/// <param name="Setting">The choice, e.g. "NFKC", "lower", "below 3 → �".</param>
/// <param name="Changed">Characters of the input that the step replaced or removed.</param>
/// <param name="CharactersBefore">Characters going in.</param>
/// <param name="CharactersAfter">Characters coming out.</param>
/// <param name="Examples">The most frequent changes (up to 10).</param>
public sealed record CleanupStep(string Step, string Setting, long Changed, long CharactersBefore, long CharactersAfter, IReadOnlyList<CharChange> Examples);

/// <summary>The clean-up's choices and their effect, for printing and the run folder.</summary>
/// <param name="Options">The choices.</param>
/// <param name="Steps">What each step that ran did (steps left at their default do not run).</param>
/// <param name="CharactersBefore">Characters (code points) before clean-up.</param>
/// <param name="CharactersAfter">Characters after.</param>
/// <param name="VocabularyBefore">Distinct characters before.</param>
/// <param name="VocabularyAfter">Distinct characters after.</param>
/// <param name="ItemsDropped">Lines or pairs dropped (over the maximum length, or empty after clean-up); 0 for text.</param>
/// <param name="RareCharacters">The characters found rare, with their counts (up to 30), rarest first.</param>
public sealed record CleanupReport(TextCleanupOptions Options, IReadOnlyList<CleanupStep> Steps, long CharactersBefore, long CharactersAfter,
                                   int VocabularyBefore, int VocabularyAfter, int ItemsDropped, IReadOnlyList<CharChange> RareCharacters)
{
    /// <summary>The report as indented plain-text lines.</summary>
    public string ToText()
    {
        var sb = new StringBuilder();
        var ci = CultureInfo.InvariantCulture;
        if (Steps.Count == 0) sb.AppendLine("  clean-up: none (the text is used as it is)");
        else
        {
            sb.AppendLine(string.Create(ci, $"  clean-up: {CharactersBefore:N0} → {CharactersAfter:N0} characters, vocabulary {VocabularyBefore} → {VocabularyAfter}"));
            foreach (var s in Steps)
            {
                sb.Append(string.Create(ci, $"    {s.Step} ({s.Setting}): {s.Changed:N0} characters changed or removed"));
                if (s.Examples.Count > 0) sb.Append("; ").Append(string.Join(", ", s.Examples.Take(6).Select(e => string.Create(ci, $"{e.From} → {(e.To.Length == 0 ? "(removed)" : e.To)} ×{e.Count:N0}"))));
                sb.AppendLine();
            }
            if (ItemsDropped > 0) sb.AppendLine(string.Create(ci, $"    items dropped: {ItemsDropped:N0}"));
        }
        return sb.ToString();
    }
}

/// <summary>Applies <see cref="TextCleanupOptions"/> (steps in the file header) and counts what each step did.</summary>
public static class TextCleanup
{
    /// <summary>Cleans a list of items (one text, or the lines of a file) with one set of choices.</summary>
    /// <param name="items">The items; for text: one item.</param>
    /// <param name="options">The choices.</param>
    /// <param name="wholeText">True for text: sources: step 1 applies and step 6 truncates; false for lines and pairs:
    /// step 6 drops longer items (returned as null), and items left empty by clean-up are dropped too.</param>
    /// <returns>The cleaned items (null where dropped, same length as <paramref name="items"/>) and the report.</returns>
    /// <exception cref="ArgumentException">The options are invalid.</exception>
    public static (string?[] Items, CleanupReport Report) Apply(IReadOnlyList<string> items, TextCleanupOptions options, bool wholeText)
    {
        options.Validate();
        var current = items.ToArray();
        long before = current.Sum(CountRunes);
        int vocabBefore = Vocabulary(current).Count;
        var steps = new List<CleanupStep>();

        void Step(string name, string setting, Func<string, Dictionary<(string, string), long>, (string Text, long Changed)> apply)
        {
            long inCount = current.Sum(CountRunes), changed = 0;
            var changes = new Dictionary<(string, string), long>();
            for (int i = 0; i < current.Length; i++)
            {
                var (text, c) = apply(current[i], changes);
                current[i] = text;
                changed += c;
            }
            steps.Add(new CleanupStep(name, setting, changed, inCount, current.Sum(CountRunes), Top(changes)));
        }

        if (wholeText && options.LineEndings == LineEndingMapping.LF)
            Step("line endings", "\\r\\n and \\r → \\n", (s, changes) =>
            {
                if (!s.Contains('\r')) return (s, 0);
                int crlf = 0, cr = 0;
                var sb = new StringBuilder(s.Length);
                for (int i = 0; i < s.Length; i++)
                {
                    if (s[i] != '\r') { sb.Append(s[i]); continue; }
                    if (i + 1 < s.Length && s[i + 1] == '\n') { crlf++; continue; } // the '\n' follows
                    cr++;
                    sb.Append('\n');
                }
                if (crlf > 0) Count(changes, "\\r\\n", "\\n", crlf);
                if (cr > 0) Count(changes, "\\r", "\\n", cr);
                return (sb.ToString(), crlf + cr);
            });

        if (options.Normalization != UnicodeNormalization.None)
        {
            var form = options.Normalization == UnicodeNormalization.NFC ? NormalizationForm.FormC : NormalizationForm.FormKC;
            Step("normalisation", options.Normalization.ToString(), (s, changes) =>
            {
                if (s.IsNormalized(form)) return (s, 0);
                // Normalise line by line (a line break never takes part in composition), and count per text element
                // (grapheme cluster), the unit inside which composition happens.
                long changed = 0;
                var lines = s.Split('\n');
                for (int l = 0; l < lines.Length; l++)
                {
                    if (lines[l].IsNormalized(form)) continue;
                    var e = StringInfo.GetTextElementEnumerator(lines[l]);
                    while (e.MoveNext())
                    {
                        string element = e.GetTextElement(), normal = element.Normalize(form);
                        if (element == normal) continue;
                        changed += CountRunes(element);
                        Count(changes, Show(element), Show(normal), 1);
                    }
                    lines[l] = lines[l].Normalize(form);
                }
                return (string.Join('\n', lines), changed);
            });
        }

        if (options.Case != CaseMapping.Keep)
            Step("case", options.Case.ToString().ToLowerInvariant(), (s, changes) => MapRunes(s, changes,
                r => options.Case == CaseMapping.Lower ? Rune.ToLowerInvariant(r) : Rune.ToUpperInvariant(r)));

        if (options.Digits != DigitMapping.Keep)
            Step("digits", options.Digits == DigitMapping.Zero ? "zero: every digit → 0" : "drop", (s, changes) => MapRunes(s, changes,
                r => !Rune.IsDigit(r) ? r : options.Digits == DigitMapping.Zero ? new Rune('0') : null));

        var rareList = new List<CharChange>();
        if (options.RareBelow > 0)
        {
            var counts = new Dictionary<Rune, long>();
            foreach (var s in current) foreach (var r in s.EnumerateRunes()) counts[r] = counts.GetValueOrDefault(r) + 1;
            var rare = counts.Where(kv => kv.Value < options.RareBelow).Select(kv => kv.Key).ToHashSet();
            rareList = counts.Where(kv => rare.Contains(kv.Key)).OrderBy(kv => kv.Value).ThenBy(kv => kv.Key.Value)
                             .Take(30).Select(kv => new CharChange(Show(kv.Key.ToString()), "", kv.Value)).ToList();
            Rune unknown = options.UnknownSymbol.EnumerateRunes().First();
            Step("rare characters", $"seen < {options.RareBelow} times → " + (options.Rare == RareMapping.Unknown ? Show(options.UnknownSymbol) : "removed"),
                (s, changes) => MapRunes(s, changes, r => !rare.Contains(r) ? r : options.Rare == RareMapping.Unknown ? unknown : null));
        }

        int dropped = 0;
        var result = current.Select(s => (string?)s).ToArray();
        if (options.MaxLength is int max)
        {
            long inCount = current.Sum(CountRunes), changed = 0;
            for (int i = 0; i < result.Length; i++)
            {
                int n = CountRunes(result[i]!);
                if (n <= max) continue;
                changed += wholeText ? n - max : n;
                if (wholeText) result[i] = Truncate(result[i]!, max);
                else { result[i] = null; dropped++; }
            }
            steps.Add(new CleanupStep("maximum length", wholeText ? $"first {max:N0} characters" : $"items over {max:N0} characters dropped",
                                      changed, inCount, result.Sum(s => s is null ? 0 : CountRunes(s)), []));
        }
        if (!wholeText && !options.KeepsEverything)
            for (int i = 0; i < result.Length; i++)
                if (result[i] is "" && items[i].Length > 0) { result[i] = null; dropped++; }

        var kept = result.Where(s => s is not null).Cast<string>().ToArray();
        var report = new CleanupReport(options, steps, before, kept.Sum(CountRunes), vocabBefore, Vocabulary(kept).Count, dropped, rareList);
        return (result, report);
    }

    /// <summary>Number of characters (code points) of <paramref name="s"/>.</summary>
    public static int CountRunes(string s)
    {
        int n = 0;
        foreach (char c in s) if (!char.IsLowSurrogate(c)) n++;
        return n;
    }

    /// <summary>Distinct characters (code points) of the items.</summary>
    public static HashSet<Rune> Vocabulary(IEnumerable<string> items)
    {
        var set = new HashSet<Rune>();
        foreach (var s in items) foreach (var r in s.EnumerateRunes()) set.Add(r);
        return set;
    }

    /// <summary>A character or short string made visible: \n, \r, \t, and U+XXXX for other controls, spaces other than ' ', and format characters.</summary>
    public static string Show(string s)
    {
        var sb = new StringBuilder();
        foreach (var r in s.EnumerateRunes())
        {
            var cat = Rune.GetUnicodeCategory(r);
            sb.Append(r.Value switch
            {
                '\n' => "\\n",
                '\r' => "\\r",
                '\t' => "\\t",
                ' ' => "' '",
                _ when cat is UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.SpaceSeparator
                            or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator or UnicodeCategory.NonSpacingMark
                    => $"U+{r.Value:X4}",
                _ => r.ToString(),
            });
        }
        return sb.ToString();
    }

    static string Truncate(string s, int runes)
    {
        int i = 0, n = 0;
        while (i < s.Length && n < runes) { i += char.IsHighSurrogate(s[i]) && i + 1 < s.Length ? 2 : 1; n++; }
        return s[..i];
    }

    static (string, long) MapRunes(string s, Dictionary<(string, string), long> changes, Func<Rune, Rune?> map)
    {
        var sb = new StringBuilder(s.Length);
        long changed = 0;
        foreach (var r in s.EnumerateRunes())
        {
            Rune? m = map(r);
            if (m == r) { sb.Append(r.ToString()); continue; }
            changed++;
            if (m is Rune to) sb.Append(to.ToString());
            Count(changes, Show(r.ToString()), m is Rune t ? Show(t.ToString()) : "", 1);
        }
        return (changed == 0 ? s : sb.ToString(), changed);
    }

    static void Count(Dictionary<(string, string), long> changes, string from, string to, long n) =>
        changes[(from, to)] = changes.GetValueOrDefault((from, to)) + n;

    static IReadOnlyList<CharChange> Top(Dictionary<(string, string), long> changes) =>
        changes.OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key.Item1, StringComparer.Ordinal).Take(10)
               .Select(kv => new CharChange(kv.Key.Item1, kv.Key.Item2, kv.Value)).ToList();
}
