namespace PaperLab.Data.Sources;

/// <summary>
/// The one error of your-own-data sources: a file or folder that cannot be used as given (a corrupt image
/// under strict mode, an empty class, a single class, no images, text that is not UTF-8, an empty file, a
/// pair line without a tab, two pair files of different lengths...). <see cref="Exception.Message"/> is one
/// line: the file, the line when there is one, the problem and the fix, e.g.
/// <c>pairs.tsv: line 17: no tab between source and target; write each pair as source&lt;TAB&gt;target</c>.
/// A loader that throws it has written nothing.
/// </summary>
/// <remarks>
/// It derives from <see cref="DataFormatException"/> (an <see cref="IOException"/>), so a paper's
/// <c>Main</c> that maps IO errors to exit code 1 maps this one too.
/// </remarks>
public sealed class DataSourceException : DataFormatException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="path">The offending file or folder.</param>
    /// <param name="problem">What is wrong, in words.</param>
    /// <param name="fix">What the user can do about it.</param>
    /// <param name="line">1-based line of a text file, when the problem is on one line.</param>
    /// <param name="inner">The underlying error, if any.</param>
    public DataSourceException(string path, string problem, string fix, int? line = null, Exception? inner = null)
        : base(path, (line is int l ? $"line {l}: " : "") + problem + "; " + fix, inner)
    {
        Line = line;
        Fix = fix;
        What = problem;
    }

    /// <summary>1-based line number in <see cref="DataFormatException.Path"/>, when the problem is on one line.</summary>
    public int? Line { get; }

    /// <summary>The problem alone, without path, line or fix.</summary>
    public string What { get; }

    /// <summary>What the user can do about it.</summary>
    public string Fix { get; }
}
