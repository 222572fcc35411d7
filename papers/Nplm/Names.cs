// names.txt at the character level, prepared as Karpathy's makemore (lecture part 2, "MLP") prepares it:
// 32,033 lower-case names; the characters '.' (id 0, the start/end mark) and a … z (ids 1 … 26); the names
// shuffled and split 80% / 10% / 10% into training, dev and test names (n1 = int(0.8·N) = 25,626,
// n2 = int(0.9·N) = 28,829); each name of L letters gives L + 1 examples with block_size 3 (228,146 examples
// over all names). The model is Bengio et al.'s with |V| = 27, n−1 = 3, m = 10, h = 200 and no direct
// connections (NplmConfig.Makemore); makemore reaches a dev loss of 2.17 with it.
//
// Deviation: makemore shuffles with Python's random.seed(42); random.shuffle(words). This shuffles with
// System.Random(seed) (Fisher–Yates), so the three sets are the same sizes but not the same names.

using PaperLab.Data;
using static TorchSharp.torch;

namespace PaperLab.Papers.Nplm;

/// <summary>The names of names.txt as character ids, split into training, dev and test names.</summary>
public sealed class NamesData
{
    /// <summary>The start/end mark; id 0.</summary>
    public const char Boundary = '.';
    /// <summary>Characters: '.' and a … z.</summary>
    public const int VocabSize = 27;
    /// <summary>Names in makemore's names.txt.</summary>
    public const int PublishedCount = 32_033;

    /// <summary>All names, file order.</summary>
    public IReadOnlyList<string> All { get; }
    /// <summary>The first 80% of the shuffled names.</summary>
    public IReadOnlyList<string> Train { get; }
    /// <summary>The next 10%.</summary>
    public IReadOnlyList<string> Dev { get; }
    /// <summary>The last 10%.</summary>
    public IReadOnlyList<string> Test { get; }
    /// <summary>The file read.</summary>
    public string Source { get; }

    NamesData(IReadOnlyList<string> all, int seed, string source)
    {
        All = all;
        Source = source;
        var shuffled = all.ToArray();
        new Random(seed).Shuffle(shuffled);
        int n1 = (int)(0.8 * shuffled.Length), n2 = (int)(0.9 * shuffled.Length);
        Train = shuffled[..n1];
        Dev = shuffled[n1..n2];
        Test = shuffled[n2..];
    }

    /// <summary>
    /// Reads names.txt: <paramref name="path"/> (the file or its folder) when given, and only there; else <c>$PAPERLAB_DATA/names/names.txt</c>,
    /// else <c>data/names/names.txt</c> of the repository.
    /// </summary>
    /// <param name="path">names.txt or a folder holding it (or its names/ subfolder); null to search.</param>
    /// <param name="seed">Seed of the shuffle before the split.</param>
    /// <exception cref="DatasetNotFoundException">The file is nowhere; the message lists the places tried.</exception>
    /// <exception cref="DataFormatException">A line holds something other than the letters a–z.</exception>
    /// <param name="options">Where the environment and the repository root come from (only those two settings are read); defaults when null.</param>
    public static NamesData Load(string? path = null, int seed = 42, LocatorOptions? options = null)
    {
        string file = Locate(path, options ?? new LocatorOptions());
        var names = File.ReadAllLines(file).Select(l => l.Trim()).Where(l => l.Length > 0).ToArray();
        for (int i = 0; i < names.Length; i++)
            if (names[i].Any(c => c is < 'a' or > 'z'))
                throw new DataFormatException(file, $"line {i + 1} '{names[i]}' holds a character outside a–z");
        return new NamesData(names, seed, file);
    }

    /// <summary>Splits an in-memory list of names (for tests and the notebook).</summary>
    public static NamesData FromNames(IReadOnlyList<string> names, int seed = 42) => new(names, seed, "(in memory)");

    static string Locate(string? path, LocatorOptions options)
    {
        var candidates = new List<(string Origin, string File)>();
        if (!string.IsNullOrWhiteSpace(path))
            candidates.AddRange([("--data", path), ("--data", Path.Combine(path, "names.txt")), ("--data", Path.Combine(path, "names", "names.txt"))]);   // given: only there
        else
        {
            if (options.GetEnvironmentVariable(LocatorOptions.DataVariable) is { Length: > 0 } env)
                candidates.Add((LocatorOptions.DataVariable, Path.Combine(env, "names", "names.txt")));
            if ((options.RepoRoot ?? PaperLab.Runs.Repository.Root()) is { } repo) candidates.Add(("repository data folder", Path.Combine(repo, "data", "names", "names.txt")));
        }
        foreach (var (_, file) in candidates)
            if (File.Exists(file)) return Path.GetFullPath(file);
        var tried = candidates.Select(c => $"{c.Origin} {Path.GetFullPath(c.File)}: does not exist").ToList();
        string nl = Environment.NewLine;
        throw new DatasetNotFoundException("names",
            $"names.txt (makemore's 32,033 names) was not found. Tried:{nl}{string.Join(nl, tried.Select(t => "  - " + t))}{nl}" +
            $"Set {LocatorOptions.DataVariable} to a folder holding names/names.txt, or pass the file; " +
            "it is https://raw.githubusercontent.com/karpathy/makemore/master/names.txt (MIT).", tried);
    }

    /// <summary>makemore's stoi: '.' → 0, 'a' … 'z' → 1 … 26.</summary>
    /// <exception cref="ArgumentException">A character is not '.' or a–z.</exception>
    public static int Id(char c) => c == Boundary ? 0 : c is >= 'a' and <= 'z' ? c - 'a' + 1
        : throw new ArgumentException($"character '{c}' is not in the 27-character vocabulary ('.' and a–z)");

    /// <summary>makemore's itos.</summary>
    public static char Char(long id) => id == 0 ? Boundary : id is >= 1 and <= 26 ? (char)('a' + id - 1)
        : throw new ArgumentOutOfRangeException(nameof(id), $"character id {id} is outside 0 … 26");

    /// <summary>The ids of a name's letters (no boundaries).</summary>
    public static int[] Encode(string name) => name.Select(Id).ToArray();

    /// <summary>The (context, next character) examples of <paramref name="names"/> (makemore's build_dataset).</summary>
    /// <param name="names">Names, e.g. <see cref="Train"/>.</param>
    /// <param name="blockSize">Characters of context (makemore: 3).</param>
    public static NgramExamples Examples(IEnumerable<string> names, int blockSize = 3) =>
        NgramExamples.FromWords(names.Select(Encode), blockSize, boundary: 0);

    /// <summary>
    /// Samples <paramref name="count"/> names from the model, as makemore does: start from a context of
    /// '.', draw each next character from the softmax, stop at '.'. All names are drawn side by side, each
    /// row with its own draws from <paramref name="generator"/>, so the same seed gives the same names.
    /// </summary>
    /// <param name="model">A character model (|V| = 27).</param>
    /// <param name="count">Names to draw.</param>
    /// <param name="generator">Random source (seed it for reproducible names).</param>
    /// <param name="maxLength">Names are cut at this many letters if '.' has not come.</param>
    /// <exception cref="ArgumentException">The model's vocabulary is not the 27 characters.</exception>
    public static IReadOnlyList<string> Generate(Nplm model, int count, Generator generator, int maxLength = 30)
    {
        if (model.Config.VocabSize != VocabSize) throw new ArgumentException($"a names model has |V| = {VocabSize}, this one {model.Config.VocabSize}");
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        bool wasTraining = model.training;
        model.eval();
        try
        {
            using var _ = no_grad();
            using var scope = NewDisposeScope();
            int block = model.Config.ContextLength;
            var context = zeros(count, block, dtype: ScalarType.Int64);          // all '.'
            var letters = new List<char>[count];
            for (int i = 0; i < count; i++) letters[i] = new List<char>();
            var done = new bool[count];
            for (int step = 0; step <= maxLength && done.Contains(false); step++)
            {
                Tensor probs = nn.functional.softmax(model.forward(context), dim: 1);   // (count, 27)
                Tensor next = multinomial(probs, 1, generator: generator);           // (count, 1)
                long[] ids = next.data<long>().ToArray();
                for (int i = 0; i < count; i++)
                {
                    if (done[i]) continue;
                    if (ids[i] == 0 || step == maxLength) done[i] = true;
                    else letters[i].Add(Char(ids[i]));
                }
                context = cat(new[] { context[TensorIndex.Colon, TensorIndex.Slice(1, null)], next }, 1);   // context[1:] + [ix]
            }
            return letters.Select(l => new string(l.ToArray())).ToArray();
        }
        finally
        {
            model.train(wasTraining);
        }
    }
}
