using System.Text.Json.Serialization;

namespace PaperLab.Data.Sources;

/// <summary>What a <c>--dataset</c> value names: a catalog dataset, or one of the four kinds of your own data.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<DataSourceKind>))]
public enum DataSourceKind
{
    /// <summary>A dataset of <see cref="DatasetCatalog"/> (<c>mnist</c>, <c>fashion-mnist</c>, <c>tinyshakespeare</c>, <c>multi30k</c>).</summary>
    BuiltIn,
    /// <summary><c>folder:DIR</c>: images in class subfolders, see <see cref="ImageFolder"/>.</summary>
    Folder,
    /// <summary><c>text:FILE</c>: one UTF-8 text for a language model, see <see cref="TextSource"/>.</summary>
    Text,
    /// <summary><c>lines:FILE</c>: one item per line (names, words, SMILES...), see <see cref="LinesSource"/>.</summary>
    Lines,
    /// <summary><c>pairs:FILE</c> (source TAB target per line) or <c>pairs:SRC,TGT</c> (two aligned files), see <see cref="PairsSource"/>.</summary>
    Pairs,
}

/// <summary>
/// A parsed <c>--dataset</c> value: a built-in name (<c>mnist</c>) or <c>KIND:PATH</c> (<c>folder:~/pets</c>,
/// <c>text:poems.txt</c>, <c>lines:names.txt</c>, <c>pairs:de-en.tsv</c>, <c>pairs:train.de,train.en</c>).
/// Parsing checks the syntax only; whether the files exist and are usable is the loader's business
/// (it throws <see cref="DataSourceException"/>).
/// </summary>
/// <param name="Value">The value as given on the command line.</param>
/// <param name="Kind">Which kind of source.</param>
/// <param name="Name">The catalog name for <see cref="DataSourceKind.BuiltIn"/> (lower case), else null.</param>
/// <param name="Paths">Absolute paths: none for a built-in, one for folder/text/lines/pairs:FILE, two for pairs:SRC,TGT.</param>
public sealed record DatasetArgument(string Value, DataSourceKind Kind, string? Name, IReadOnlyList<string> Paths)
{
    /// <summary>The prefixes of the kinds of one's own data, as typed before the colon.</summary>
    public static IReadOnlyList<string> KindPrefixes { get; } = ["folder", "text", "lines", "pairs"];

    /// <summary>The one path of folder:, text:, lines: and single-file pairs: values.</summary>
    /// <exception cref="InvalidOperationException">A built-in dataset (no path) or pairs:SRC,TGT (two).</exception>
    public string Path => Paths.Count == 1 ? Paths[0]
        : throw new InvalidOperationException($"--dataset {Value} has {Paths.Count} paths, not one");

    /// <summary>The prefix the value was written with (<c>folder</c>, ...), or the built-in name.</summary>
    public string KindName => Kind == DataSourceKind.BuiltIn ? Name! : KindPrefixes[(int)Kind - 1];

    /// <summary>Parses a <c>--dataset</c> value.</summary>
    /// <param name="value">E.g. <c>mnist</c>, <c>folder:~/pets</c>, <c>pairs:train.de,train.en</c>. A leading
    /// <c>~/</c> in a path is the home folder; relative paths are taken from the current folder.</param>
    /// <exception cref="ArgumentException">Not a built-in name nor KIND:PATH with a known kind and a non-empty
    /// path; the message names the value and lists the built-in names and the kinds.</exception>
    public static DatasetArgument Parse(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        string v = value.Trim();
        var builtIn = DatasetCatalog.All.FirstOrDefault(d => string.Equals(d.Name, v, StringComparison.OrdinalIgnoreCase));
        if (builtIn is not null) return new DatasetArgument(value, DataSourceKind.BuiltIn, builtIn.Name, []);

        int colon = v.IndexOf(':');
        string prefix = colon < 0 ? v : v[..colon].Trim();
        int kindIndex = KindPrefixes.ToList().FindIndex(k => string.Equals(k, prefix, StringComparison.OrdinalIgnoreCase));
        if (colon < 0 || kindIndex < 0)
            throw new ArgumentException($"--dataset '{value}' is neither a built-in dataset nor KIND:PATH; {Usage}", nameof(value));
        var kind = (DataSourceKind)(kindIndex + 1);
        string rest = v[(colon + 1)..].Trim();
        if (rest.Length == 0)
            throw new ArgumentException($"--dataset '{value}' has no path after '{prefix}:'; {Example(kind)}", nameof(value));

        if (kind == DataSourceKind.Pairs && rest.Contains(',') && !File.Exists(Expand(rest)))
        {
            string[] parts = rest.Split(',', StringSplitOptions.TrimEntries);
            if (parts.Length != 2 || parts.Any(p => p.Length == 0))
                throw new ArgumentException($"--dataset '{value}': pairs: takes one tab-separated file or two aligned files " +
                                            "separated by one comma (pairs:SRC,TGT); " + Example(kind), nameof(value));
            return new DatasetArgument(value, kind, null, parts.Select(Expand).ToArray());
        }
        return new DatasetArgument(value, kind, null, [Expand(rest)]);
    }

    /// <summary>
    /// Checks that a paper can train on this kind of data.
    /// </summary>
    /// <param name="paper">The paper's name, for the message (e.g. "GPT").</param>
    /// <param name="builtIns">The catalog names the paper takes (e.g. <c>tinyshakespeare</c>).</param>
    /// <param name="kinds">The kinds of own data the paper takes.</param>
    /// <exception cref="ArgumentException">It cannot; the message says what it takes (a command line exits 2 on it).</exception>
    public void Require(string paper, IReadOnlyCollection<string> builtIns, params DataSourceKind[] kinds)
    {
        bool ok = Kind == DataSourceKind.BuiltIn
            ? builtIns.Contains(Name!, StringComparer.OrdinalIgnoreCase)
            : kinds.Contains(Kind);
        if (ok) return;
        var takes = builtIns.Concat(kinds.Select(k => KindPrefixes[(int)k - 1] + ":")).ToArray();
        throw new ArgumentException($"{paper} cannot train on --dataset {Value} ({Describe(Kind)}); it takes {string.Join(", ", takes)}");
    }

    /// <summary>What the accepted values look like, for error messages and --help.</summary>
    public static string Usage =>
        $"give a built-in dataset ({string.Join(", ", DatasetCatalog.All.Select(d => d.Name))}) or KIND:PATH with KIND one of " +
        "folder (images in class subfolders, folder:~/pets), text (one UTF-8 text, text:poems.txt), " +
        "lines (one item per line, lines:names.txt), pairs (source TAB target per line, pairs:de-en.tsv, or two aligned files, pairs:train.de,train.en)";

    static string Example(DataSourceKind kind) => kind switch
    {
        DataSourceKind.Folder => "e.g. folder:~/pets with ~/pets/cat/*.jpg and ~/pets/dog/*.jpg",
        DataSourceKind.Text => "e.g. text:poems.txt",
        DataSourceKind.Lines => "e.g. lines:names.txt",
        _ => "e.g. pairs:de-en.tsv or pairs:train.de,train.en",
    };

    static string Describe(DataSourceKind kind) => kind switch
    {
        DataSourceKind.BuiltIn => "a built-in dataset",
        DataSourceKind.Folder => "images",
        DataSourceKind.Text => "one text",
        DataSourceKind.Lines => "one item per line",
        _ => "sentence pairs",
    };

    static string Expand(string path)
    {
        if (path == "~" || path.StartsWith("~/", StringComparison.Ordinal) || path.StartsWith("~\\", StringComparison.Ordinal))
            path = System.IO.Path.Join(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), path[1..].TrimStart('/', '\\'));
        return System.IO.Path.GetFullPath(path);
    }
}
