using System.CommandLine;
using System.CommandLine.Help;
using PaperLab.Runs;
using PaperLab.Training;

namespace PaperLab.Cli;

/// <summary>
/// Every paper's <c>Main</c>: parses the command line (System.CommandLine) into the common
/// <see cref="RunOptions"/> and the paper's hyperparameter record, validates everything before anything
/// runs, runs the experiment, prints the run folder last, and maps every outcome to an exit code:
/// 0 done, 1 runtime failure, 2 usage error, 130 stopped by Ctrl-C.
/// </summary>
/// <remarks>
/// Failures the program foresees carry their explanation (<see cref="IFailureMessage"/>) and are printed
/// as one line. Anything else is a bug: one line with the path of error.log, which holds the full trace.
/// </remarks>
public static class PaperProgram
{
    /// <summary>The first words of the line printed for an unforeseen error (tests look for it).</summary>
    public const string UnforeseenPrefix = "error: unexpected failure";

    /// <summary>Runs a paper's experiment from its command line.</summary>
    /// <typeparam name="TOptions">The paper's hyperparameter record (its properties are its options).</typeparam>
    /// <param name="args">The command line.</param>
    /// <param name="paper">The paper's name and title.</param>
    /// <param name="preset">
    /// The paper's defaults for a run: receives the record with only the options given on the command line
    /// set (so it can look at --dataset or --preset) and the common options (--smoke), returns the base
    /// record; the options given are then applied on top of it.
    /// </param>
    /// <param name="run">The experiment: options → run folder and summary.</param>
    /// <param name="stdout">Where --help and the run folder go (default: the console).</param>
    /// <param name="stderr">Where errors go (default: the console).</param>
    /// <param name="progress">Where progress goes (default: the console).</param>
    /// <returns>The exit code.</returns>
    public static int Main<TOptions>(string[] args, PaperInfo paper, Func<TOptions, RunOptions, TOptions> preset,
                                     Func<TOptions, RunContext, RunSummary> run, TextWriter? stdout = null, TextWriter? stderr = null,
                                     TrainingProgress? progress = null) where TOptions : class, new()
    {
        stdout ??= Console.Out;
        stderr ??= Console.Error;
        var parsed = Parse<TOptions>(args, paper, preset, stdout, stderr, out int exit);
        if (parsed is not var (options, common)) return exit;

        if (common.Threads > Environment.ProcessorCount)
            stderr.WriteLine($"warning: --threads {common.Threads} is more than this machine's {Environment.ProcessorCount} logical cores; " +
                             "libtorch's threads will compete with each other and training slows down, often many times over");

        RunContext? ctx = null;
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            if (ctx is null || ctx.StopRequested.IsCancellationRequested) return; // a second Ctrl-C ends the process
            e.Cancel = true;
            stderr.WriteLine("stopping at the end of this step (Ctrl-C again to quit at once)…");
            ctx.RequestStop();
        };
        Console.CancelKeyPress += onCancel;
        bool failed = true, keepLog = false;
        try
        {
            ctx = new RunContext(paper, common, progress);
            run(options, ctx);
            failed = false;
            if (ctx.Run is { } folder) stdout.WriteLine(folder.Path);
            return ExitCodes.Success;
        }
        catch (Exception e) when (e is IFailureMessage { ExitCode: ExitCodes.Success })
        {
            failed = false;   // a toolkit check (--find-lr, --overfit-batch) that ran instead of training: its result, then the folder
            if (ctx?.Run is { } folder)
            {
                WriteToolkitReport(folder);
                stdout.WriteLine(OneLine(e.Message));
                stdout.WriteLine(folder.Path);
            }
            return ExitCodes.Success;
        }
        catch (Exception e) when (e is IFailureMessage f)
        {
            if (ctx?.Run is { Overfit: not null } folder) WriteToolkitReport(folder);
            stderr.WriteLine($"error: {OneLine(e.Message)}");
            return f.ExitCode;
        }
        catch (Exception e)
        {
            keepLog = true;
            string log = WriteErrorLog(e, ctx, paper, common);
            stderr.WriteLine($"{UnforeseenPrefix} ({e.GetType().Name}: {OneLine(e.Message)}); the full trace is in {log}");
            return ExitCodes.RuntimeFailure;
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
            ctx?.Run?.Close(failed, keepLog);
            if (!Console.IsOutputRedirected) Console.Write("\u001b[?25h"); // the progress bar hides the cursor; always give it back
        }
    }

    /// <summary>
    /// Parses and validates the command line. Returns null when the program should exit now with
    /// <paramref name="exitCode"/>: 0 after --help or --version, 2 after usage errors (each on its own line).
    /// </summary>
    public static (TOptions Options, RunOptions Common)? Parse<TOptions>(string[] args, PaperInfo paper, Func<TOptions, RunOptions, TOptions> preset,
                                                                         TextWriter stdout, TextWriter stderr, out int exitCode) where TOptions : class, new()
    {
        var commonSpecs = OptionSet.Describe(typeof(RunOptions));
        var paperSpecs = OptionSet.Describe(typeof(TOptions)).Where(o => !o.Rules.Derived).ToList();
        if (paperSpecs.FirstOrDefault(p => commonSpecs.Any(c => c.Name == p.Name)) is { } clash)
            throw new InvalidOperationException($"{typeof(TOptions).Name}.{clash.Property.Name}: --{clash.Name} is already a common option");

        var root = new RootCommand(paper.Title);
        foreach (var v in root.Options.OfType<VersionOption>().ToList()) root.Options.Remove(v);
        var version = new Option<bool>("--version") { Description = "print the versions of this program, TorchSharp and libtorch, and exit" };
        root.Options.Add(version);
        var bound = new List<(OptionSpec Spec, Option<string> Option, bool Common)>();
        object commonDefaults = new RunOptions(), paperDefaults = new TOptions();
        foreach (var (spec, isCommon) in commonSpecs.Select(s => (s, true)).Concat(paperSpecs.Select(s => (s, false))))
        {
            object? def = spec.Get(isCommon ? commonDefaults : paperDefaults);
            string defaultText = def is null ? "" : $"; default {OptionSpec.Format(def)}";
            var option = new Option<string>("--" + spec.Name)
            {
                Description = $"{spec.Help} [{(spec.IsFlag ? "a flag: given alone it means true" : spec.Accepts())}{defaultText}]",
                Arity = spec.IsFlag ? ArgumentArity.ZeroOrOne : ArgumentArity.ExactlyOne,
                HelpName = spec.IsFlag ? "true|false" : spec.ValueType == typeof(string) ? "value" : spec.ValueType == typeof(double) || spec.ValueType == typeof(float) ? "number" : "n",
            };
            root.Options.Add(option);
            bound.Add((spec, option, isCommon));
        }

        var result = root.Parse(args);
        exitCode = ExitCodes.Success;
        if (result.Action is HelpAction)
        {
            result.Invoke(new InvocationConfiguration { Output = stdout, Error = stderr });
            return null;
        }
        if (result.Errors.Count == 0 && result.GetValue(version))
        {
            stdout.WriteLine(VersionText(paper));
            return null;
        }

        var errors = result.Errors.Select(e => e.Message).ToList();
        object common = new RunOptions(), given = new TOptions();
        var explicitValues = new List<(OptionSpec Spec, object? Value)>();
        if (errors.Count == 0)
            foreach (var (spec, option, isCommon) in bound)
            {
                var r = result.GetResult(option);
                if (r is null) continue;
                string? text = r.Tokens.Count == 0 ? null : r.Tokens[0].Value;
                if (!spec.TryParse(text, out var value, out var error)) { errors.Add(error!); continue; }
                if (isCommon) common = spec.With(common, value);
                else { given = spec.With(given, value); explicitValues.Add((spec, value)); }
            }
        TOptions options = null!;
        if (errors.Count == 0)
        {
            options = preset((TOptions)given, (RunOptions)common);
            foreach (var (spec, value) in explicitValues) options = (TOptions)spec.With(options, value);
            if (options is ICheckedOptions checkedOptions) errors.AddRange(checkedOptions.Problems());
        }
        if (errors.Count > 0)
        {
            foreach (var e in errors) stderr.WriteLine($"error: {e}");
            stderr.WriteLine($"usage: dotnet run --project papers/<Paper> -c Release -- [options]   (--help lists the options of {paper.Name})");
            exitCode = ExitCodes.UsageError;
            return null;
        }
        return (options, (RunOptions)common);
    }

    /// <summary>report.html of a run that was a toolkit check rather than training: the check's curve.</summary>
    static void WriteToolkitReport(RunFolder run)
    {
        try
        {
            var page = new PaperLab.Reporting.HtmlPage(run.LrFinder != null ? "Learning-rate range test" : "Overfitting one batch");
            page.Save(run);
        }
        catch (Exception e) when (e is IFailureMessage) { }
    }

    /// <summary>"lenet5 (PaperLab 1.0.0); TorchSharp 0.107.0, libtorch 2.10.0; .NET 10.0.x".</summary>
    public static string VersionText(PaperInfo paper)
    {
        var v = RunEnvironment.Versions();
        string mine = RunEnvironment.PackageVersion(typeof(PaperProgram));
        return $"{paper.Name} (PaperLab {mine}); TorchSharp {v["TorchSharp"]}, libtorch {v["libtorch"]}; {v["dotnet"]}";
    }

    static string OneLine(string message) => string.Join(" ", message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));

    static string WriteErrorLog(Exception e, RunContext? ctx, PaperInfo paper, RunOptions common)
    {
        if (ctx?.Run is { } run) return run.WriteErrorLog(e);
        string dir = common.Out is { Length: > 0 } o ? Path.GetFullPath(o) : RunFolder.DefaultPath(paper.Name);
        string path = Path.Combine(dir, "error.log");
        try
        {
            Directory.CreateDirectory(dir);
            File.WriteAllText(path, $"{DateTime.UtcNow:o}\n{RunEnvironment.CommandLine()}\n\n{e}\n");
            return path;
        }
        catch (Exception inner) when (inner is IOException or UnauthorizedAccessException)
        {
            path = Path.Combine(Path.GetTempPath(), $"paperlab-{paper.Name}-error-{Environment.ProcessId}.log");
            File.WriteAllText(path, e.ToString());
            return path;
        }
    }
}
