using PaperLab.Runs;

namespace PaperLab.Data;

/// <summary>
/// A data file exists but its content is not what it should be (bad magic number, unsupported
/// element type, truncated data, corrupt gzip, ...). The message names the file and the problem.
/// </summary>
public class DataFormatException : IOException, IFailureMessage
{
    /// <summary>Creates the exception for the file at <paramref name="path"/>.</summary>
    /// <param name="path">The offending file.</param>
    /// <param name="problem">What is wrong with it, in words; appended to the path in <see cref="Exception.Message"/>.</param>
    /// <param name="inner">The underlying error, if any.</param>
    public DataFormatException(string path, string problem, Exception? inner = null)
        : base($"{path}: {problem}", inner)
    {
        Path = path;
        Problem = problem;
    }

    /// <summary>The offending file.</summary>
    public string Path { get; }

    /// <summary>What is wrong with the file (the message without the path).</summary>
    public string Problem { get; }
}

/// <summary>
/// A data file's sha256 (of its content, after gunzip when gzip-compressed) differs from the catalog's.
/// </summary>
public sealed class ChecksumMismatchException : DataFormatException
{
    /// <summary>Creates the exception; the message shows both digests and what to do.</summary>
    /// <param name="path">The file that failed verification.</param>
    /// <param name="expectedSha256">The catalog's digest (lowercase hex).</param>
    /// <param name="actualSha256">The digest of the file's content (lowercase hex).</param>
    /// <param name="hint">Extra advice appended to the message (e.g. "delete it and run again").</param>
    public ChecksumMismatchException(string path, string expectedSha256, string actualSha256, string? hint = null)
        : base(path, $"checksum mismatch: sha256 of its content is {actualSha256}, expected {expectedSha256}"
                     + (string.IsNullOrEmpty(hint) ? "" : $"; {hint}"))
    {
        ExpectedSha256 = expectedSha256;
        ActualSha256 = actualSha256;
    }

    /// <summary>The catalog's digest (lowercase hex).</summary>
    public string ExpectedSha256 { get; }

    /// <summary>The digest of the file's content (lowercase hex).</summary>
    public string ActualSha256 { get; }
}

/// <summary>
/// A dataset could be found nowhere and could not be downloaded. The message lists every place
/// tried, with the outcome, and how to get the data.
/// </summary>
public sealed class DatasetNotFoundException : IOException, IFailureMessage
{
    /// <summary>Creates the exception.</summary>
    /// <param name="dataset">The dataset's catalog name.</param>
    /// <param name="message">The full message (places tried and instructions).</param>
    /// <param name="tried">One line per place tried, with its outcome.</param>
    /// <param name="inner">The last underlying error (e.g. of the download), if any.</param>
    public DatasetNotFoundException(string dataset, string message, IReadOnlyList<string> tried, Exception? inner = null)
        : base(message, inner)
    {
        Dataset = dataset;
        Tried = tried;
    }

    /// <summary>The dataset's catalog name.</summary>
    public string Dataset { get; }

    /// <summary>One line per place tried, with its outcome, in the order tried.</summary>
    public IReadOnlyList<string> Tried { get; }
}

/// <summary>A download failed from every URL tried; the message lists each URL with its error.</summary>
public sealed class DownloadException : IOException, IFailureMessage
{
    /// <summary>Creates the exception.</summary>
    /// <param name="destination">The file that was to be written (it was not).</param>
    /// <param name="message">The full message.</param>
    /// <param name="inner">The last underlying error.</param>
    public DownloadException(string destination, string message, Exception? inner = null) : base(message, inner)
    {
        Destination = destination;
    }

    /// <summary>The file that was to be written; after this exception it does not exist (or is unchanged).</summary>
    public string Destination { get; }
}
