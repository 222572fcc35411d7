namespace PaperLab.Runs;

/// <summary>Where the PaperLab repository is, for its data/ and runs/ folders.</summary>
public static class Repository
{
    /// <summary>
    /// The nearest folder holding PaperLab.sln above this library's own location (papers/&lt;Paper&gt;/bin/…,
    /// also when a notebook loads it), else above the program's folder, else above the current directory;
    /// null when there is none (a program copied elsewhere).
    /// </summary>
    public static string? Root()
    {
        string? library = typeof(Repository).Assembly.Location;
        foreach (string? start in new[] { string.IsNullOrEmpty(library) ? null : Path.GetDirectoryName(library), AppContext.BaseDirectory, Directory.GetCurrentDirectory() })
            for (var dir = start is null ? null : new DirectoryInfo(start); dir is not null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "PaperLab.sln")))
                    return dir.FullName;
        return null;
    }
}
