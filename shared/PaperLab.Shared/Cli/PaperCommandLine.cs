using System.CommandLine;
using System.CommandLine.Parsing;

namespace PaperLab.Cli;

/// <summary>The options every paper accepts (the command-line contract of README.md).</summary>
/// <param name="Seed">Seed of every random choice: initialisation, shuffling, dropout.</param>
/// <param name="Threads">Intra-op threads for libtorch as given by --threads; null when not given (see <see cref="ThreadCount"/>).</param>
/// <param name="Out">Run folder; null means <c>runs/&lt;paper&gt;/&lt;UTC time&gt;/</c>.</param>
/// <param name="Data">Folder holding the dataset's files; null means search (see <c>DatasetLocator</c>).</param>
/// <param name="Resume">Checkpoint to resume from; null starts afresh.</param>
/// <param name="Smoke">Use the paper's tiny preset (seconds of training, what CI runs).</param>
public sealed record CommonOptions(int Seed, int? Threads, string? Out, string? Data, string? Resume, bool Smoke)
{
    /// <summary>
    /// The libtorch intra-op threads a paper runs with: --threads, or one per logical core when it is not given.
    /// On a machine busy with other jobs, libtorch's OpenMP threads slow each other down, and --threads 1 is faster.
    /// </summary>
    public int ThreadCount => Threads ?? Environment.ProcessorCount;
}

/// <summary>
/// Parses a paper's command line with System.CommandLine: the common options plus the paper's own.
/// Exit codes follow the contract: 0 success, 1 runtime failure, 2 usage error (usage on stderr).
/// </summary>
/// <example><code>
/// var cli = new PaperCommandLine("lenet5", "LeNet-5 (LeCun et al. 1998) on MNIST or Fashion-MNIST");
/// var epochs = cli.Add(new Option&lt;int?&gt;("--epochs") { Description = "passes over the training set" });
/// if (!cli.TryParse(args, out var common, out var parsed, out int exit)) return exit;
/// int? e = parsed.GetValue(epochs);
/// </code></example>
public sealed class PaperCommandLine
{
    /// <summary>Exit code of a usage error (unknown or malformed option).</summary>
    public const int UsageError = 2;
    /// <summary>Exit code of a runtime failure.</summary>
    public const int RuntimeFailure = 1;

    readonly RootCommand _root;
    readonly Option<int> _seed = new("--seed") { Description = "random seed (initialisation, shuffling, dropout)", DefaultValueFactory = _ => 0 };
    readonly Option<int?> _threads = new("--threads");
    readonly Option<string?> _out = new("--out") { Description = "run folder (default: runs/<paper>/<UTC time>/)" };
    readonly Option<string?> _data = new("--data") { Description = "folder holding the dataset's files (default: search, then download)" };
    readonly Option<string?> _resume = new("--resume") { Description = "checkpoint file to resume training from" };
    readonly Option<bool> _smoke = new("--smoke") { Description = "tiny preset that trains in seconds (what CI runs)" };

    /// <summary>The paper's short name, used for the default run folder (e.g. "lenet5").</summary>
    public string Paper { get; }

    /// <param name="paper">Short name of the paper, e.g. "lenet5".</param>
    /// <param name="description">One line shown at the top of --help.</param>
    public PaperCommandLine(string paper, string description)
    {
        Paper = paper;
        _threads.Description = "libtorch intra-op threads (default: one per core)";
        _root = new RootCommand(description);
        AtLeast(_threads, 1);
        foreach (var o in new Option[] { _seed, _threads, _out, _data, _resume, _smoke }) _root.Options.Add(o);
    }

    /// <summary>Adds a paper-specific option and returns it, for reading its value after parsing.</summary>
    public Option<T> Add<T>(Option<T> option)
    {
        _root.Options.Add(option);
        return option;
    }

    /// <summary>Adds a check that <paramref name="option"/>, when given, is at least <paramref name="min"/>.</summary>
    public static void AtLeast<T>(Option<T> option, T min)
    {
        var bound = Comparer<T>.Default;
        option.Validators.Add(r =>
        {
            if (r.Tokens.Count == 0) return; // not given: the default applies
            T value;
            try { value = r.GetValueOrDefault<T>(); }
            catch (InvalidOperationException) { return; } // unparsable: already reported as such
            if (value is not null && bound.Compare(value, min) < 0) r.AddError($"{option.Name} must be at least {min}");
        });
    }

    /// <summary>
    /// Adds a check that <paramref name="option"/>, when given, lies in [<paramref name="min"/>, <paramref name="maxExclusive"/>)
    /// (no upper bound when <paramref name="maxExclusive"/> is null). An unparsable value is left to the parser's own error.
    /// </summary>
    public static void InRange(Option<double?> option, double min, double? maxExclusive = null) =>
        option.Validators.Add(r =>
        {
            if (r.Tokens.Count == 0) return;
            double? value;
            try { value = r.GetValueOrDefault<double?>(); }
            catch (InvalidOperationException) { return; }
            if (value < min || value >= maxExclusive)
                r.AddError(maxExclusive is null ? $"{option.Name} must be at least {min}" : $"{option.Name} must be in [{min}, {maxExclusive})");
        });

    /// <summary>Adds a check that <paramref name="option"/>, when given, is greater than 0.</summary>
    public static void Positive(Option<double?> option) =>
        option.Validators.Add(r =>
        {
            if (r.Tokens.Count == 0) return;
            double? value;
            try { value = r.GetValueOrDefault<double?>(); }
            catch (InvalidOperationException) { return; }
            if (value is not > 0) r.AddError($"{option.Name} must be greater than 0");
        });

    /// <summary>
    /// Parses <paramref name="args"/>. Returns false when the program should exit now with
    /// <paramref name="exitCode"/>: 0 after printing --help to stdout, 2 after printing the errors and the
    /// usage to stderr.
    /// </summary>
    public bool TryParse(string[] args, out CommonOptions common, out ParseResult parsed, out int exitCode,
                         TextWriter? stdout = null, TextWriter? stderr = null)
    {
        stdout ??= Console.Out;
        stderr ??= Console.Error;
        parsed = _root.Parse(args);
        common = new CommonOptions(0, null, null, null, null, false);

        if (parsed.Action is System.CommandLine.Help.HelpAction)
        {
            exitCode = parsed.Invoke(new InvocationConfiguration { Output = stdout, Error = stderr });
            return false;
        }
        if (parsed.Errors.Count > 0)
        {
            foreach (ParseError e in parsed.Errors) stderr.WriteLine($"error: {e.Message}");
            stderr.WriteLine();
            _root.Parse("--help").Invoke(new InvocationConfiguration { Output = stderr, Error = stderr });
            exitCode = UsageError;
            return false;
        }
        common = new CommonOptions(parsed.GetValue(_seed), parsed.GetValue(_threads), parsed.GetValue(_out),
                                   parsed.GetValue(_data), parsed.GetValue(_resume), parsed.GetValue(_smoke));
        exitCode = 0;
        return true;
    }
}
