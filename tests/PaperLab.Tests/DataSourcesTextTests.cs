using System.Text;
using PaperLab.Data;
using PaperLab.Data.Sources;
using PaperLab.Papers.Gpt;
using Xunit;

namespace PaperLab.Tests;

/// <summary>
/// text:, lines: and pairs: sources on real corpora made awkward at test time (Tiny Shakespeare with Windows
/// line endings and odd Unicode, makemore's names, Multi30k val as a TSV), plus the clean-up, the baselines
/// and the errors, each checked against hand-computed values or another implementation.
/// </summary>
public class DataSourcesTextTests : IDisposable
{
    readonly TempFolder _tmp = new();
    public void Dispose() => _tmp.Dispose();

    static string Kit(string relative)
    {
        string root = Environment.GetEnvironmentVariable("PAPERLAB_DATA") ?? System.IO.Path.GetFullPath("../../shared/data");
        string path = System.IO.Path.Combine(root, relative);
        Assert.True(File.Exists(path), $"{path} is missing: set PAPERLAB_DATA to the folder holding tinyshakespeare/, names/ and multi30k/");
        return path;
    }

    static string Shakespeare => File.ReadAllText(Kit("tinyshakespeare/input.txt"));

    string Write(string name, string text, bool bom = false)
    {
        string path = _tmp[name];
        File.WriteAllText(path, text, new UTF8Encoding(bom));
        return path;
    }

    [Fact]
    public void Tiny_shakespeare_as_text_gives_nanogpts_split_and_the_gpt_papers_bigram_loss()
    {
        var data = TextSource.Load(Kit("tinyshakespeare/input.txt"));
        Assert.Equal(65, data.Tokenizer.VocabSize);
        Assert.Equal((1_003_854, 111_540), (data.Train.Length, data.Valid.Length));
        // The character ids are the GPT paper's (sorted characters), so its bigram baseline must agree with ours.
        var gpt = new CharVocabulary(data.Text);
        Assert.Equal(gpt.Encode(data.Text), data.Train.Concat(data.Valid));
        Assert.Equal(BigramBaseline.Loss(data.Train, data.Valid, 65), data.Report.Baseline.Bigram, 10);
        Assert.Equal(Math.Log(65), data.Report.Baseline.Uniform, 12);
        Assert.True(data.Report.Baseline.Bigram < data.Report.Baseline.Unigram && data.Report.Baseline.Unigram < data.Report.Baseline.Uniform);
        Assert.Equal("86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed", data.Source.ContentSha256);
        Assert.Empty(data.Report.Cleanup.Steps);
        Assert.Contains("clean-up: none", data.Report.ToText());
    }

    /// <summary>60,000 characters of Shakespeare with Windows line endings, a byte-order mark and odd Unicode.</summary>
    string AwkwardShakespeare()
    {
        string odd = "\nThe ﬁrst café and cafe\u0301, Ｒｏｍｅｏ\u00A0¹ 👍 in 1603.\n";
        return (Shakespeare[..30_000] + odd + Shakespeare[30_000..60_000]).Replace("\n", "\r\n");
    }

    [Fact]
    public void Defaults_keep_the_text_as_it_is_and_warn_about_what_it_holds()
    {
        string text = AwkwardShakespeare();
        var data = TextSource.Load(Write("awkward.txt", text, bom: true));
        Assert.Equal(text, data.Text);
        Assert.True(data.Report.ByteOrderMark);
        Assert.Equal(text.Split("\r\n").Length - 1, data.Report.CrlfLineEndings);
        var chars = (CharTokenizer)data.Tokenizer;
        Assert.NotEqual(-1, chars.IdOf(new Rune('\r')));
        Assert.NotEqual(-1, chars.IdOf(Rune.GetRuneAt("👍", 0))); // one character, not two UTF-16 halves
        Assert.Equal(text, chars.Decode(data.Train.Concat(data.Valid)));
        Assert.Contains(data.Report.Warnings, w => w.Contains("\\r\\n") && w.Contains("--line-endings lf"));
        Assert.Contains(data.Report.Warnings, w => w.Contains("not NFC"));
    }

    [Fact]
    public void Clean_up_steps_do_exactly_what_they_say_and_count_it()
    {
        string text = AwkwardShakespeare();
        var options = new TextSourceOptions
        {
            Cleanup = new TextCleanupOptions { LineEndings = LineEndingMapping.LF, Normalization = UnicodeNormalization.NFKC, Case = CaseMapping.Lower, Digits = DigitMapping.Zero },
        };
        var data = TextSource.Load(Write("awkward.txt", text), options);
        // The reference: .NET's own normalisation and invariant lower-casing, applied to the whole text.
        string normalized = text.Replace("\r\n", "\n").Normalize(NormalizationForm.FormKC);
        string expected = System.Text.RegularExpressions.Regex.Replace(normalized.ToLowerInvariant(), "[0-9]", "0");
        Assert.Equal(expected, data.Text);
        Assert.Contains("the first café and café, romeo 0 👍 in 0000.", data.Text); // ¹ → 1 (NFKC) → 0 (digits)

        var steps = data.Report.Cleanup.Steps.ToDictionary(s => s.Step);
        int crlf = text.Split("\r\n").Length - 1;
        Assert.Equal(crlf, steps["line endings"].Changed);
        Assert.Equal(steps["line endings"].CharactersBefore - crlf, steps["line endings"].CharactersAfter);
        // NFKC: ﬁ → fi, e + combining acute → é, five full-width letters, the no-break space, ¹ → 1.
        Assert.Contains(steps["normalisation"].Examples, e => (e.From, e.To, e.Count) == ("ﬁ", "fi", 1));
        Assert.Contains(steps["normalisation"].Examples, e => e.From == "e" + "U+0301" && e.To == "é");
        Assert.Contains(steps["normalisation"].Examples, e => (e.From, e.To) == ("U+00A0", "' '"));
        Assert.Equal(1 + 2 + 5 + 1 + 1, steps["normalisation"].Changed);
        Assert.Equal(normalized.Count(c => c is >= '1' and <= '9'), steps["digits"].Changed); // a '0' stays what it was
        long upper = normalized.EnumerateRunes().LongCount(r => Rune.ToLowerInvariant(r) != r);
        Assert.Equal(upper, steps["case"].Changed);
        Assert.True(data.Report.Cleanup.VocabularyAfter < data.Report.Cleanup.VocabularyBefore);
        Assert.Equal(data.Tokenizer.VocabSize, data.Report.Cleanup.VocabularyAfter);
        Assert.Contains("ﬁ → fi ×1", data.Report.ToText());
    }

    [Fact]
    public void Rare_characters_digits_and_maximum_length_on_hand_made_text()
    {
        string[] Apply(string text, TextCleanupOptions o, bool whole = true) => TextCleanup.Apply([text], o, whole).Items.Select(s => s ?? "<dropped>").ToArray();
        var (items, report) = TextCleanup.Apply(["aaaabbbcc d"], new TextCleanupOptions { RareBelow = 3 }, wholeText: true);
        Assert.Equal("aaaabbb����", items[0]); // c ×2, ' ' ×1, d ×1 are rarer than 3
        Assert.Equal(4, report.Steps.Single().Changed);
        Assert.Equal(new[] { "' '", "d", "c" }, report.RareCharacters.Select(r => r.From));
        Assert.Equal((5, 3), (report.VocabularyBefore, report.VocabularyAfter));
        Assert.Equal("aaaabbb", Apply("aaaabbbcc d", new TextCleanupOptions { RareBelow = 3, Rare = RareMapping.Drop })[0]);
        Assert.Equal("aaaabbbcc##", Apply("aaaabbbcc?d", new TextCleanupOptions { RareBelow = 2, UnknownSymbol = "#" })[0]);

        // Digits of any script (here Arabic-Indic ٢٠٢٤) become 0, or go.
        Assert.Equal("Call 000-0000 in 0000", Apply("Call 555-1234 in ٢٠٢٤", new TextCleanupOptions { Digits = DigitMapping.Zero })[0]);
        Assert.Equal("Call - in ", Apply("Call 555-1234 in ٢٠٢٤", new TextCleanupOptions { Digits = DigitMapping.Drop })[0]);

        // Maximum length counts characters: the emoji is one. Text truncates; lines drop longer items.
        Assert.Equal("ab👍", Apply("ab👍cd", new TextCleanupOptions { MaxLength = 3 })[0]);
        var lines = TextCleanup.Apply(["anna", "bob", "christina"], new TextCleanupOptions { MaxLength = 4 }, wholeText: false);
        Assert.Equal(new[] { "anna", "bob", null }, lines.Items);
        Assert.Equal(1, lines.Report.ItemsDropped);
        Assert.Throws<ArgumentException>(() => TextCleanup.Apply(["x"], new TextCleanupOptions { UnknownSymbol = "??" }, true));
    }

    [Fact]
    public void Bad_text_files_fail_naming_the_file_line_and_fix()
    {
        // "café" in Latin-1 on line 2: byte 0xE9 at offset 16.
        string latin = _tmp["latin1.txt"];
        File.WriteAllBytes(latin, Encoding.Latin1.GetBytes("line one\nour caf\u00e9 is open\n"));
        var e = Assert.Throws<DataSourceException>(() => TextSource.Load(latin));
        Assert.Equal((latin, 2), (e.Path, e.Line));
        Assert.Contains("byte 0xE9 is not valid UTF-8 (byte offset 16)", e.Message);
        Assert.Contains("--encoding latin1", e.Message);
        Assert.DoesNotContain('\n', e.Message);
        Assert.Contains("our café is open", TextSource.Load(latin, new TextSourceOptions { Encoding = TextEncodingChoice.Latin1 }).Text);

        File.WriteAllBytes(_tmp["empty.txt"], []);
        Assert.Contains("the file is empty", Assert.Throws<DataSourceException>(() => LinesSource.Load(_tmp["empty.txt"])).Message);
        File.WriteAllBytes(_tmp["utf16.txt"], Encoding.Unicode.GetPreamble().Concat(Encoding.Unicode.GetBytes("hello")).ToArray());
        Assert.Contains("UTF-16", Assert.Throws<DataSourceException>(() => TextSource.Load(_tmp["utf16.txt"])).Message);
        File.WriteAllBytes(_tmp["binary.txt"], [65, 66, 10, 0, 1, 2]);
        var nul = Assert.Throws<DataSourceException>(() => TextSource.Load(_tmp["binary.txt"]));
        Assert.Equal(2, nul.Line);
        Assert.Contains("NUL byte at byte offset 3", nul.Message);
        Assert.Contains("no such file", Assert.Throws<DataSourceException>(() => TextSource.Load(_tmp["nope.txt"])).Message);
        Assert.Contains("every line is blank", Assert.Throws<DataSourceException>(() => LinesSource.Load(Write("blank.txt", "\n  \n\n"))).Message);
        Assert.Contains("only 1 token", Assert.Throws<DataSourceException>(() => TextSource.Load(Write("one.txt", "x"))).Message);
    }

    [Fact]
    public void Ngram_baselines_match_hand_computed_values_and_makemores_bigram_on_names()
    {
        // train 0 1 0 1, V = 2. Unigram: P(0) = (2+1)/(4+2) = 1/2. Bigram: c(0,1) = 2, c(0) = 2, P(1|0) = (2+1)/(2+2) = 3/4.
        Assert.Equal(Math.Log(2), NgramBaseline.UnigramLoss([0, 1, 0, 1], [0, 1], 2), 12);
        Assert.Equal(-Math.Log(0.75), NgramBaseline.BigramLoss([0, 1, 0, 1], [0, 1], 2), 12);
        // Sequences "ab", "a" with boundary id 2 (V = 2, 3 symbols): transitions .a ab b. .a a. ; score "a": .a a.
        // P(a|.) = (2+1)/(2+3) = 3/5, P(.|a) = (1+1)/(2+3) = 2/5.
        Assert.Equal(-(Math.Log(0.6) + Math.Log(0.4)) / 2, NgramBaseline.SequenceBigramLoss([[0, 1], [0]], [[0]], 2), 12);
        // Unigram with the end symbol: counts a 2, b 1, end 2 (N = 5); score a, end: P = 3/8 each.
        Assert.Equal(-Math.Log(3.0 / 8), NgramBaseline.SequenceUnigramLoss([[0, 1], [0]], [[0]], 2), 12);

        // makemore on names.txt: bigram counts with +1 smoothing, scored on the whole file (228,146 transitions):
        // 2.454577 nats per character by the same formula in float64 Python (makemore prints 2.4544, summed in float32).
        var names = LinesSource.Load(Kit("names/names.txt"), new TextSourceOptions { ValidPercent = 0 });
        Assert.Equal((32_033, 26, 15), (names.Train.Length, names.Tokenizer.VocabSize, names.Report.LongestLength));
        var ids = names.Train.Select(names.Tokenizer.Encode).ToArray();
        Assert.Equal(2.454577, NgramBaseline.SequenceBigramLoss(ids, ids, 26), 6);
        Assert.Equal("train", names.Report.Baseline.ScoredOn);
    }

    [Fact]
    public void Lines_split_by_content_hash_is_deterministic_under_reordering_and_reports_the_file()
    {
        string[] all = File.ReadAllLines(Kit("names/names.txt"));
        var data = LinesSource.Load(Kit("names/names.txt"));
        Assert.Equal(all.Length, data.Train.Length + data.Valid.Length);
        Assert.InRange(data.Valid.Length, 3203, 3230); // ⌊10% + ½⌉ = 3,203, plus whole groups of repeated names
        Assert.Empty(data.Train.Intersect(data.Valid));
        // Shuffled, with Windows line endings and blank lines: the same validation items.
        var shuffled = all.OrderBy(s => s.GetHashCode()).ToList();
        shuffled.Insert(100, "");
        shuffled.Insert(200, "   ");
        var again = LinesSource.Load(Write("names-crlf.txt", string.Join("\r\n", shuffled) + "\r\n"));
        Assert.Equal(data.Valid.Order(StringComparer.Ordinal), again.Valid.Order(StringComparer.Ordinal));
        Assert.Equal(2, again.Report.BlankLines);
        Assert.Equal(shuffled.Count, again.Report.CrlfLineEndings);
        Assert.Equal(26, again.Tokenizer.VocabSize); // the '\r' of the line endings is not content
        Assert.True(again.Report.DuplicatesWithinSplit > 0);
        Assert.Contains("items: train", again.Report.ToText());
    }

    [Fact]
    public void Multi30k_val_as_tsv_and_as_two_gzip_files_gives_the_same_pairs()
    {
        string de = Kit("multi30k/val.de.gz"), en = Kit("multi30k/val.en.gz");
        string[] src = PaperLab.Papers.Transformer.TranslationPairs.ReadLines(de), tgt = PaperLab.Papers.Transformer.TranslationPairs.ReadLines(en);
        string tsv = Write("val.tsv", string.Join("\n", src.Zip(tgt, (s, t) => s + "\t" + t)) + "\n\n");
        var fromTsv = PairsSource.Load([tsv]);
        Assert.Equal(1014, fromTsv.Train.Count + fromTsv.Valid.Count);
        Assert.Equal(1, fromTsv.Report.BlankLines);
        Assert.Equal(PaperLab.Papers.Transformer.TranslationPairs.Load(System.IO.Path.GetDirectoryName(de)!, "val", "de", "en").ToHashSet(), fromTsv.Train.Concat(fromTsv.Valid).ToHashSet());
        var fromFiles = PairsSource.Load([Write("val.de", string.Join("\n", src)), Write("val.en", string.Join("\n", tgt))]);
        Assert.Equal(fromTsv.Valid, fromFiles.Valid);
        Assert.Equal(fromTsv.Train, fromFiles.Train);
        Assert.Equal(2, fromFiles.Source.FileCount);
        var gz = PairsSource.Load([de, en]);
        Assert.Equal(1014, gz.Train.Count + gz.Valid.Count);
        // Add-one bigrams over ~900 training sentences spread too much mass on unseen pairs to beat unigrams; both beat uniform.
        Assert.True(gz.Report.Baseline.Unigram < gz.Report.Baseline.Uniform && gz.Report.Baseline.Bigram < gz.Report.Baseline.Uniform);
        Assert.Contains("target words per sentence", gz.Report.ToText());
    }

    [Fact]
    public void Bad_pairs_fail_naming_the_file_and_line()
    {
        string bad = Write("bad.tsv", "ein Hund\ta dog\nzwei Katzen two cats\nein Haus\ta house\n");
        var e = Assert.Throws<DataSourceException>(() => PairsSource.Load([bad]));
        Assert.Equal((bad, 2), (e.Path, e.Line));
        Assert.StartsWith($"{bad}: line 2: no tab between source and target; write each pair as source<TAB>target", e.Message);
        e = Assert.Throws<DataSourceException>(() => PairsSource.Load([Write("tabs.tsv", "a\tb\nc\td\te\n")]));
        Assert.Equal(2, e.Line);
        Assert.Contains("2 tabs", e.Message);
        e = Assert.Throws<DataSourceException>(() => PairsSource.Load([Write("gap.tsv", "a\tb\n\nc\td\n")]));
        Assert.Equal(2, e.Line);
        e = Assert.Throws<DataSourceException>(() => PairsSource.Load([Write("nosrc.tsv", "a\tb\n\td\n")]));
        Assert.Contains("empty source", e.Message);
        string a = Write("a.de", "eins\nzwei\ndrei\n"), b = Write("b.en", "one\ntwo\n");
        e = Assert.Throws<DataSourceException>(() => PairsSource.Load([a, b]));
        Assert.Contains($"has 3 lines but {b} has 2", e.Message);
        Assert.Contains("align line by line", e.Message);
    }

    [Fact]
    public void Gpt2_byte_pair_encoding_round_trips_and_has_gpt2s_ids()
    {
        var gpt2 = new Gpt2Tokenizer();
        Assert.Equal(new[] { 15496, 995 }, gpt2.Encode("Hello world")); // GPT-2's ids for "Hello", " world"
        var data = TextSource.Load(Write("s.txt", Shakespeare[..20_000]), new TextSourceOptions { Tokenizer = TokenizerChoice.Gpt2 });
        Assert.Equal(50257, data.Tokenizer.VocabSize);
        Assert.Equal(Shakespeare[..20_000], data.Tokenizer.Decode(data.Train.Concat(data.Valid)));
        Assert.True(data.Train.Length + data.Valid.Length < 20_000 / 2.5); // several characters per token in English
        Assert.Equal("GPT-2 token", data.Report.Baseline.Unit);
        Assert.Equal(Math.Log(50257), data.Report.Baseline.Uniform, 12);
    }

    [Fact]
    public void Report_is_written_to_the_run_folder_atomically()
    {
        var data = LinesSource.Load(Write("few.txt", "anna\nbob\nanna\ncarl\n"));
        data.Report.WriteTo(_tmp["run"]);
        Assert.Equal(data.Report.ToText(), File.ReadAllText(_tmp[$"run/{TextDataReport.TextFile}"]));
        string json = File.ReadAllText(_tmp[$"run/{TextDataReport.JsonFile}"]);
        Assert.Contains("\"Kind\": \"Lines\"", json);
        Assert.Contains("\"Normalization\": \"None\"", json);
        Assert.Equal(new[] { TextDataReport.JsonFile, TextDataReport.TextFile }, Directory.GetFiles(_tmp["run"]).Select(System.IO.Path.GetFileName).Order());
    }
}

/// <summary>What config.json gets from a source: names, not numbers; the rule in words; no machine-local settings.</summary>
public class DataSourceRecordTests
{
    [Fact]
    public void Options_and_source_records_serialize_for_config_json()
    {
        var json = System.Text.Json.JsonSerializer.Serialize(new ImageFolderOptions { CacheDir = "/tmp/x", Threads = 2 }, PaperLab.Runs.RunFolder.Json);
        Assert.Contains("\"Resize\": \"Crop\"", json);
        Assert.Contains("\"Rule\": \"decoded by SkiaSharp; images of 28", json);
        Assert.DoesNotContain("CacheDir", json);
        Assert.DoesNotContain("Threads", json);
        json = System.Text.Json.JsonSerializer.Serialize(new TextSourceOptions { Cleanup = new TextCleanupOptions { Normalization = UnicodeNormalization.NFKC } }, PaperLab.Runs.RunFolder.Json);
        Assert.Contains("\"Normalization\": \"NFKC\"", json);
        Assert.Contains("\"Tokenizer\": \"Char\"", json);
        var record = new DataSourceRecord("folder:/d", DataSourceKind.Folder, ["/d"], 3, 100, new string('a', 64), "rule");
        Assert.Contains("\"Kind\": \"Folder\"", System.Text.Json.JsonSerializer.Serialize(record, PaperLab.Runs.RunFolder.Json));

        // The content-hash selection: ⌊p·n/100 + ½⌉ smallest hashes, identical hashes together, independent of order.
        string[] h = ["c", "a", "b", "a", "d"];
        Assert.Equal(new[] { false, true, false, true, false }, ContentHash.SelectSmallest(h, 20)); // want 1, the group "a" has 2
        Assert.Equal(new[] { false, true, true, true, false }, ContentHash.SelectSmallest(h, 50));
        Assert.Equal(ContentHash.OfSortedLines(["x", "y"]), ContentHash.OfSortedLines(["y", "x"]));
        Assert.Equal("2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824", ContentHash.Of("hello"));
    }
}

/// <summary>The --dataset parser.</summary>
public class DatasetArgumentTests
{
    [Fact]
    public void Built_in_names_and_kinds_parse_and_mistakes_list_the_choices()
    {
        Assert.Equal((DataSourceKind.BuiltIn, "fashion-mnist"), (DatasetArgument.Parse("Fashion-MNIST").Kind, DatasetArgument.Parse("Fashion-MNIST").Name));
        var folder = DatasetArgument.Parse("folder:~/pets");
        Assert.Equal(DataSourceKind.Folder, folder.Kind);
        Assert.Equal(Path.Join(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), "pets"), folder.Path);
        Assert.Equal(Path.GetFullPath("names.txt"), DatasetArgument.Parse("lines:names.txt").Path);
        Assert.Equal(DataSourceKind.Text, DatasetArgument.Parse("TEXT: poems.txt").Kind);
        var pairs = DatasetArgument.Parse("pairs:train.de,train.en");
        Assert.Equal(new[] { Path.GetFullPath("train.de"), Path.GetFullPath("train.en") }, pairs.Paths);
        Assert.Single(DatasetArgument.Parse("pairs:de-en.tsv").Paths);

        var e = Assert.Throws<ArgumentException>(() => DatasetArgument.Parse("imagenet"));
        Assert.Contains("'imagenet'", e.Message);
        foreach (var word in new[] { "mnist", "fashion-mnist", "tinyshakespeare", "multi30k", "folder", "text", "lines", "pairs" })
            Assert.Contains(word, e.Message);
        Assert.Contains("no path after 'folder:'", Assert.Throws<ArgumentException>(() => DatasetArgument.Parse("folder:")).Message);
        Assert.Contains("'images:x'", Assert.Throws<ArgumentException>(() => DatasetArgument.Parse("images:x")).Message);
        Assert.Contains("two aligned files", Assert.Throws<ArgumentException>(() => DatasetArgument.Parse("pairs:a,b,c")).Message);

        // A paper says which kinds it takes.
        DatasetArgument.Parse("text:a.txt").Require("GPT", ["tinyshakespeare"], DataSourceKind.Text, DataSourceKind.Lines);
        var wrong = Assert.Throws<ArgumentException>(() => DatasetArgument.Parse("folder:x").Require("GPT", ["tinyshakespeare"], DataSourceKind.Text, DataSourceKind.Lines));
        Assert.Equal("GPT cannot train on --dataset folder:x (images); it takes tinyshakespeare, text:, lines:", wrong.Message);
    }
}
