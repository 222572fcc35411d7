using PaperLab.Runs;

namespace PaperLab.Data;

/// <summary>
/// Settings of <see cref="DatasetLocator.Locate"/>. The defaults suit the command line; tests override
/// the environment, the repository root, the system folders and the network.
/// </summary>
public sealed record LocatorOptions
{
    /// <summary>Environment variable naming a data root: a folder holding a dataset's files, or its <c>&lt;name&gt;/</c> subfolders.</summary>
    public const string DataVariable = "PAPERLAB_DATA";

    /// <summary>Environment variable that, set to <c>1</c> or <c>true</c>, forbids downloads (for CI).</summary>
    public const string OfflineVariable = "PAPERLAB_OFFLINE";

    /// <summary>
    /// Whether files may be downloaded. Null (the default): yes, unless <see cref="OfflineVariable"/> is set
    /// to 1/true. An explicit true overrides the variable.
    /// </summary>
    public bool? AllowDownload { get; init; }

    /// <summary>Whether local files are checked against the catalog's sha256 (a fraction of a second for MNIST). Default true.</summary>
    public bool VerifyChecksums { get; init; } = true;

    /// <summary>Base URLs to download from instead of the dataset's own (e.g. a local mirror or test server).</summary>
    public IReadOnlyList<string>? BaseUrls { get; init; }

    /// <summary>HTTP client for downloads; <see cref="DatasetDownloader.DefaultClient"/> when null.</summary>
    public HttpClient? HttpClient { get; init; }

    /// <summary>The repository root (folder of PaperLab.sln); found by <see cref="Runs.Repository.Root"/> when null.</summary>
    public string? RepoRoot { get; init; }

    /// <summary>Folders where system packages install datasets; the dataset's <see cref="DatasetSpec.SystemDirs"/> when null.</summary>
    public IReadOnlyList<string>? SystemDirs { get; init; }

    /// <summary>
    /// Per-user data root, used when no repository root is found; when null,
    /// <c>&lt;LocalApplicationData&gt;/PaperLab/data</c> (Linux: <c>~/.local/share/PaperLab/data</c>).
    /// </summary>
    public string? UserDataDir { get; init; }

    /// <summary>Reads environment variables (injectable for tests). Default: <see cref="Environment.GetEnvironmentVariable(string)"/>.</summary>
    public Func<string, string?> GetEnvironmentVariable { get; init; } = Environment.GetEnvironmentVariable;

    /// <summary>Receives plain progress and warning lines. Default: stderr.</summary>
    public Action<string> Log { get; init; } = Console.Error.WriteLine;

    /// <summary>The per-user data root in effect.</summary>
    public string EffectiveUserDataDir => UserDataDir
        ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.DoNotVerify), "PaperLab", "data");

    /// <summary>Whether downloads are allowed, after <see cref="OfflineVariable"/>.</summary>
    public bool DownloadAllowed => AllowDownload ?? GetEnvironmentVariable(OfflineVariable)?.Trim().ToLowerInvariant() is not ("1" or "true" or "yes");
}

/// <summary>
/// Finds the folder that holds a dataset's files, downloading them when they are nowhere to be found.
/// </summary>
public static class DatasetLocator
{
    /// <summary>
    /// Returns the folder holding every file of <paramref name="spec"/> (each as its name or name.gz),
    /// looking, in this order:
    /// <list type="number">
    /// <item><paramref name="explicitDir"/> (the <c>--data</c> option): <c>DIR/&lt;name&gt;/</c>, then <c>DIR</c> itself;</item>
    /// <item>the folder in <c>PAPERLAB_DATA</c>, likewise;</item>
    /// <item><c>data/&lt;name&gt;/</c> of the repository (the folder of PaperLab.sln, above the current directory or the assembly);</item>
    /// <item>the system folders of the dataset (Fashion-MNIST: Debian's <c>/usr/share/datasets/fashion-mnist/</c>);</item>
    /// <item>the per-user data folder <c>&lt;user data&gt;/&lt;name&gt;/</c>;</item>
    /// <item>a download from the dataset's public URLs into <c>data/&lt;name&gt;/</c> of the repository, or of
    /// the per-user folder when there is no repository, unless downloads are disabled (<c>PAPERLAB_OFFLINE=1</c>).</item>
    /// </list>
    /// A folder missing some files is passed over, except the explicit one: a <c>--data</c> folder that lacks
    /// the dataset is an error naming what is missing, never a silent fall-back to other data. Found files are verified against the catalog's sha256
    /// (of their content, after gunzip) unless <see cref="LocatorOptions.VerifyChecksums"/> is false; a folder
    /// whose files are another catalog dataset's (e.g. MNIST's where Fashion-MNIST is wanted) is passed over.
    /// Downloads fetch only the missing files.
    /// </summary>
    /// <returns>The full path of the folder holding the files.</returns>
    /// <exception cref="ChecksumMismatchException">
    /// A found file's content is not the catalog's (damaged or a different version); the message names
    /// the file and gives both digests.
    /// </exception>
    /// <exception cref="DataFormatException">A found gzip file is corrupt.</exception>
    /// <exception cref="DatasetNotFoundException">
    /// The files are nowhere and could not be downloaded; the message lists every place tried and how to get them.
    /// </exception>
    public static string Locate(DatasetSpec spec, string? explicitDir = null, LocatorOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(spec);
        options ??= new LocatorOptions();
        var tried = new List<string>();

        string? Try(string origin, string dir)
        {
            string full = Path.GetFullPath(dir);
            string? outcome = Check(spec, full, options);
            if (outcome is null)
                return full;
            tried.Add($"{origin} {full}: {outcome}");
            return null;
        }

        string? RootAndSubfolder(string origin, string? root)
        {
            if (string.IsNullOrWhiteSpace(root))
            {
                tried.Add($"{origin}: not given");
                return null;
            }
            return Try(origin, Path.Combine(root, spec.Name)) ?? Try(origin, root);
        }

        if (explicitDir is not null)
        {
            if (RootAndSubfolder("--data", explicitDir) is { } given)
                return given;
            throw new DatasetNotFoundException(spec.Name,
                $"--data {explicitDir} does not hold {spec.Name} ({spec.Title}): {string.Join("; ", tried.Select(t => t["--data ".Length..]))}. " +
                $"It needs {string.Join(", ", spec.Files.Select(f => f.Name))} (each plain or .gz) in that folder or in its {spec.Name}/ subfolder; " +
                $"to get them: {spec.HowToGet}. Without --data, the usual places are searched.", tried);
        }
        string? found = RootAndSubfolder(LocatorOptions.DataVariable, options.GetEnvironmentVariable(LocatorOptions.DataVariable));
        if (found is not null)
            return found;

        string? repo = options.RepoRoot ?? Repository.Root();
        if (repo is null)
            tried.Add("repository data folder: no PaperLab.sln above the current directory or the program");
        else if ((found = Try("repository data folder", Path.Combine(repo, "data", spec.Name))) is not null)
            return found;

        foreach (string system in options.SystemDirs ?? spec.SystemDirs)
            if ((found = Try("system folder", system)) is not null)
                return found;

        string userDir = Path.Combine(options.EffectiveUserDataDir, spec.Name);
        if ((found = Try("per-user data folder", userDir)) is not null)
            return found;

        Exception? downloadError = null;
        string target = Path.GetFullPath(repo is not null ? Path.Combine(repo, "data", spec.Name) : userDir);
        if (!options.DownloadAllowed)
        {
            tried.Add(options.AllowDownload == false
                ? "download: disabled by the caller"
                : $"download: disabled ({LocatorOptions.OfflineVariable} is set)");
        }
        else
        {
            try
            {
                Download(spec, target, options);
                return target;
            }
            catch (DownloadException e)
            {
                downloadError = e;
                tried.Add($"download into {target}: {e.Message}");
            }
        }

        string nl = Environment.NewLine;
        string message =
            $"Dataset '{spec.Name}' ({spec.Title}) not found. It needs {string.Join(", ", spec.Files.Select(f => f.Name))} " +
            $"(each plain or .gz). Tried:{nl}" +
            string.Join(nl, tried.Select(t => "  - " + t)) + nl +
            $"To get it: {spec.HowToGet}.{nl}" +
            $"Then pass --data DIR, or set {LocatorOptions.DataVariable}=DIR, where DIR holds the files or a {spec.Name}/ folder with them" +
            (options.DownloadAllowed || options.AllowDownload == false
                ? "."
                : $"; or allow downloads (unset {LocatorOptions.OfflineVariable}) to fetch them from {string.Join(" or ", options.BaseUrls ?? spec.BaseUrls)}.") +
            $"{nl}Source: {spec.Origin}.";
        throw new DatasetNotFoundException(spec.Name, message, tried, downloadError);
    }

    /// <summary>
    /// Downloads into <paramref name="dir"/> every file of <paramref name="spec"/> it lacks, verified
    /// (see <see cref="DatasetDownloader.Download"/>). Files already there are left alone.
    /// </summary>
    /// <exception cref="DownloadException">A file could not be downloaded from any URL.</exception>
    public static void Download(DatasetSpec spec, string dir, LocatorOptions? options = null)
    {
        options ??= new LocatorOptions();
        var missing = spec.Files.Where(f => f.FindIn(dir) is null).ToList();
        options.Log($"{spec.Name}: downloading {missing.Count} file(s) into {dir} ({spec.Origin})");
        foreach (var file in missing)
            DatasetDownloader.Download(spec.UrlsOf(file, options.BaseUrls), Path.Combine(dir, file.RemoteName),
                file.Sha256, options.HttpClient, options.Log);
    }

    /// <summary>
    /// Null when <paramref name="dir"/> holds every file of the dataset with the right content; otherwise
    /// why it does not. Throws when a file is there but damaged.
    /// </summary>
    static string? Check(DatasetSpec spec, string dir, LocatorOptions options)
    {
        if (!Directory.Exists(dir))
            return "does not exist";
        var paths = spec.Files.Select(f => (File: f, Path: f.FindIn(dir))).ToList();
        var missing = paths.Where(p => p.Path is null).Select(p => p.File.Name).ToList();
        if (missing.Count == paths.Count)
            return "no files of this dataset";
        if (missing.Count > 0)
            return $"incomplete, missing {string.Join(", ", missing)}";
        if (!options.VerifyChecksums)
            return null;
        foreach (var (file, path) in paths)
        {
            string actual = FileContent.Sha256(path!);
            if (string.Equals(actual, file.Sha256, StringComparison.OrdinalIgnoreCase))
                continue;
            if (DatasetCatalog.FindByContent(actual) is { } other && other.Dataset.Name != spec.Name)
            {
                options.Log($"{spec.Name}: passing over {dir}: its {Path.GetFileName(path)} is {other.Dataset.Name}'s {other.File.Name}");
                return $"holds {other.Dataset.Name}'s files, not {spec.Name}'s";
            }
            throw new ChecksumMismatchException(path!, file.Sha256, actual,
                $"this is not {spec.Name}'s {file.Name} (damaged, or another version): delete it and get it again ({spec.HowToGet})");
        }
        return null;
    }
}
