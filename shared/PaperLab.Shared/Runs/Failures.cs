namespace PaperLab.Runs;

/// <summary>
/// Marks an exception whose message was written for the person running the program: one line naming the
/// option or file, what is wrong and what to do. <see cref="PaperLab.Cli.PaperProgram"/> prints it as
/// <c>error: …</c> and exits with <see cref="ExitCode"/>; any other exception is unforeseen and gets a trace in error.log.
/// </summary>
public interface IFailureMessage
{
    /// <summary>The process exit code: 2 for a usage error, 1 for a runtime failure, 130 for an interruption.</summary>
    int ExitCode => ExitCodes.RuntimeFailure;
}

/// <summary>The exit codes of every paper's program.</summary>
public static class ExitCodes
{
    /// <summary>The run finished.</summary>
    public const int Success = 0;
    /// <summary>A runtime failure (missing or damaged data or checkpoint, divergence, a folder in use, a full disk).</summary>
    public const int RuntimeFailure = 1;
    /// <summary>A usage error: an unknown option, a value out of range, settings that contradict each other.</summary>
    public const int UsageError = 2;
    /// <summary>Stopped by Ctrl-C (128 + SIGINT), after writing a checkpoint.</summary>
    public const int Interrupted = 130;
}

/// <summary>A usage error found after parsing (e.g. a context longer than the text it is cut from): exit 2.</summary>
public sealed class UsageException(string message) : Exception(message), IFailureMessage
{
    /// <inheritdoc/>
    public int ExitCode => ExitCodes.UsageError;
}

/// <summary>A runtime failure explained in its message (exit 1).</summary>
public class RunFailureException(string message, Exception? inner = null) : Exception(message, inner), IFailureMessage;

/// <summary>A file could not be read or written; the message names it, says why and what to do.</summary>
public sealed class FileAccessFailure(string message, Exception? inner = null) : RunFailureException(message, inner)
{
    /// <summary>
    /// Runs <paramref name="action"/> on <paramref name="path"/>, turning the operating system's refusals
    /// (missing, a directory, no permission, disk full, …) into one line naming the file and what to do.
    /// </summary>
    /// <param name="path">The file acted on.</param>
    /// <param name="what">What it is, for the message: "the checkpoint", "the run folder".</param>
    /// <param name="writing">Whether the action writes (changes the advice).</param>
    /// <param name="action">The file operation.</param>
    public static T Guard<T>(string path, string what, bool writing, Func<T> action)
    {
        try { return action(); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Security.SecurityException && e is not IFailureMessage)
        {
            throw Explain(path, what, writing, e);
        }
    }

    /// <inheritdoc cref="Guard{T}"/>
    public static void Guard(string path, string what, bool writing, Action action) =>
        Guard(path, what, writing, () => { action(); return 0; });

    /// <summary>The one-line explanation of an I/O error on <paramref name="path"/>.</summary>
    public static FileAccessFailure Explain(string path, string what, bool writing, Exception e)
    {
        string reason = e switch
        {
            UnauthorizedAccessException => writing ? "permission denied: choose a folder you can write to" : "permission denied: check the file's permissions",
            DirectoryNotFoundException => writing ? "its folder cannot be created" : "its folder does not exist",
            FileNotFoundException => "it does not exist",
            PathTooLongException => "the path is too long",
            IOException io when io.HResult == 28 || io.Message.Contains("No space left", StringComparison.OrdinalIgnoreCase) =>
                "the disk is full: free some space or choose another folder; nothing was half written",
            IOException io when Directory.Exists(path) => $"it is a folder, not a file",
            _ => e.Message,
        };
        return new FileAccessFailure($"cannot {(writing ? "write" : "read")} {what} {path}: {reason}", e);
    }
}
