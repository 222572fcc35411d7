using PaperLab.Data;
using PaperLab.Data.Sources;
using SkiaSharp;
using Xunit;

namespace PaperLab.Tests;

/// <summary>A fresh temporary folder per test, deleted afterwards.</summary>
public sealed class TempFolder : IDisposable
{
    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "paperlab-own-" + Guid.NewGuid().ToString("N")[..12]);
    public TempFolder() => Directory.CreateDirectory(Path);
    public string this[string relative] => System.IO.Path.Combine(Path, relative);
    public void Dispose() { try { Directory.Delete(Path, recursive: true); } catch (IOException) { } }
}

/// <summary>
/// folder: sources built at test time from real MNIST: PNG and JPEG files of mixed sizes in class folders,
/// with corrupt files, duplicates and the mistakes users make.
/// </summary>
[Collection("mnist")]
public class DataSourcesImageTests(MnistFixture mnist) : IDisposable
{
    readonly TempFolder _tmp = new();
    public void Dispose() => _tmp.Dispose();

    /// <summary>MNIST test images 0..n−1 (all ten digits appear within the first few dozen).</summary>
    ImageDataset Digits(int n) => mnist.Test.Take(n);

    static void WriteFile(string path, byte[] bytes)
    {
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, bytes);
    }

    /// <summary>The index encoded in a file name written by ImageFolderWriter ("3/00042.png" → 42).</summary>
    static int IndexOf(string file) => int.Parse(System.IO.Path.GetFileNameWithoutExtension(file)[..5]);

    static byte[] Nearest2x(ReadOnlySpan<byte> img)
    {
        var big = new byte[56 * 56];
        for (int y = 0; y < 56; y++) for (int x = 0; x < 56; x++) big[y * 56 + x] = img[(y / 2) * 28 + x / 2];
        return big;
    }

    [Fact]
    public void Png_class_folders_round_trip_every_pixel_and_label()
    {
        var digits = Digits(300);
        ImageFolderWriter.Write(digits, _tmp["digits"]);
        var data = ImageFolder.Load(_tmp["digits"], new ImageFolderOptions { ValidPercent = 0 });

        Assert.Equal(300, data.Train.Count);
        Assert.Empty(data.Valid.Labels);
        Assert.Null(data.Test);
        Assert.Equal(MnistFamily.DigitClassNames, data.Train.ClassNames);
        for (int k = 0; k < data.Train.Count; k++)
        {
            int i = IndexOf(data.Train.Files[k]);
            Assert.Equal(digits.Labels[i], data.Train.Labels[k]);
            Assert.True(digits.Image(i).SequenceEqual(data.Train.Image(k)), $"pixels of {data.Train.Files[k]} differ");
        }
        Assert.Equal(300, data.Report.ResizeActions["None"]);
        Assert.Equal("Png", Assert.Single(data.Report.Formats).Key);
        Assert.Equal(300, data.Report.GreySources);
        Assert.Equal(new SizeCount(28, 28, 300), Assert.Single(data.Report.SizesFound));
        // The same data as IDX: the record's hash names the content, and ImageDataset is what LeNet-5 takes today.
        var asIdx = data.Train.ToImageDataset();
        Assert.Equal(28, asIdx.Height);
        Assert.Equal(300, data.Source.FileCount);
        Assert.Matches("^[0-9a-f]{64}$", data.Source.ContentSha256);
    }

    [Fact]
    public void Jpeg_round_trip_is_close_and_other_formats_decode()
    {
        var digits = Digits(100);
        ImageFolderWriter.Write(digits, _tmp["jpeg"], ImageFileFormat.Jpeg);
        var data = ImageFolder.Load(_tmp["jpeg"], new ImageFolderOptions { ValidPercent = 0 });
        Assert.Equal(100, data.Train.Count);
        double sumAbs = 0;
        for (int k = 0; k < data.Train.Count; k++)
        {
            var a = digits.Image(IndexOf(data.Train.Files[k]));
            var b = data.Train.Image(k);
            for (int p = 0; p < a.Length; p++) sumAbs += Math.Abs(a[p] - b[p]);
        }
        double mae = sumAbs / (100.0 * 784);
        Assert.True(mae is > 0 and < 4, $"JPEG mean absolute error {mae:F2} grey levels per pixel");
        Assert.Equal("Jpeg", Assert.Single(data.Report.Formats).Key);

        // BMP (written by hand: 24-bit, bottom-up rows padded to 4 bytes) decodes exactly; WebP (Skia's encoder) closely.
        var img = digits.Image(0).ToArray();
        var bmp = ImageDecoding.TryDecode(Bmp24(img, 28, 28), 28, 28, 1, ResizeMode.Crop, out var err);
        Assert.Null(err);
        Assert.Equal("Bmp", bmp!.Format);
        Assert.Equal(img, bmp.Pixels);
        // GIF: a 1×1 image whose one pixel is colour 0 of the table, white.
        byte[] gif = [0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 1, 0, 1, 0, 0x80, 0, 0, 0xFF, 0xFF, 0xFF, 0, 0, 0,
                      0x2C, 0, 0, 0, 0, 1, 0, 1, 0, 0, 2, 2, 0x44, 1, 0, 0x3B];
        var white = ImageDecoding.TryDecode(gif, 1, 1, 1, ResizeMode.Crop, out err);
        Assert.Null(err);
        Assert.Equal(("Gif", (byte)255), (white!.Format, white.Pixels[0]));
        var webp = ImageDecoding.TryDecode(ImageDecoding.Encode(img, 28, 28, 1, SKEncodedImageFormat.Webp, 100), 28, 28, 1, ResizeMode.Crop, out err);
        Assert.Null(err);
        Assert.Equal("Webp", webp!.Format);
        Assert.True(img.Zip(webp.Pixels, (a, b) => Math.Abs(a - b)).Average() < 4);
    }

    static byte[] Bmp24(byte[] grey, int w, int h)
    {
        int stride = (3 * w + 3) / 4 * 4, size = 54 + stride * h;
        var b = new byte[size];
        void I32(int at, int v) => BitConverter.TryWriteBytes(b.AsSpan(at), v);
        b[0] = (byte)'B'; b[1] = (byte)'M'; I32(2, size); I32(10, 54); I32(14, 40); I32(18, w); I32(22, h);
        b[26] = 1; b[28] = 24; I32(34, stride * h);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                byte v = grey[(h - 1 - y) * w + x];
                int o = 54 + y * stride + 3 * x;
                b[o] = b[o + 1] = b[o + 2] = v;
            }
        return b;
    }

    [Fact]
    public void Resize_rule_crop_pad_and_scale_on_images_of_mixed_sizes()
    {
        var d = Digits(3);
        var img = d.Image(0).ToArray();
        // 56×56 made by doubling every pixel: a 2× reduction (mip level 1, a 2×2 box average) gives the original back.
        var scaled = ImageDecoding.TryDecode(ImageDecoding.EncodePng(Nearest2x(img), 56, 56, 1), 28, 28, 1, ResizeMode.Crop, out _)!;
        Assert.Equal(ResizeAction.Scaled, scaled.Action);
        Assert.True(img.Zip(scaled.Pixels, (a, b) => Math.Abs(a - b)).Max() <= 1, "2× reduction of a doubled image");

        // 28 wide × 40 tall, the digit between 6 black rows above and below: crop keeps the centre 28×28 = the digit.
        var tall = new byte[40 * 28];
        img.CopyTo(tall, 6 * 28);
        var cropped = ImageDecoding.TryDecode(ImageDecoding.EncodePng(tall, 40, 28, 1), 28, 28, 1, ResizeMode.Crop, out _)!;
        Assert.Equal(ResizeAction.Cropped, cropped.Action);
        Assert.Equal((28, 40), (cropped.SourceWidth, cropped.SourceHeight));
        Assert.Equal(img, cropped.Pixels);

        // 14 wide × 28 tall, pad: the longer side already fits (scale 1), centred with 7 black columns either side.
        var narrow = new byte[28 * 14];
        for (int y = 0; y < 28; y++) for (int x = 0; x < 14; x++) narrow[y * 14 + x] = img[y * 28 + x + 7];
        var padded = ImageDecoding.TryDecode(ImageDecoding.EncodePng(narrow, 28, 14, 1), 28, 28, 1, ResizeMode.Pad, out _)!;
        Assert.Equal(ResizeAction.Padded, padded.Action);
        for (int y = 0; y < 28; y++)
            for (int x = 0; x < 28; x++)
                Assert.Equal(x is >= 7 and < 21 ? narrow[y * 14 + x - 7] : (byte)0, padded.Pixels[y * 28 + x]);

        // A folder mixing the three sizes: the report counts sizes and what was done to them.
        WriteFile(_tmp["mixed/a/big.png"], ImageDecoding.EncodePng(Nearest2x(img), 56, 56, 1));
        WriteFile(_tmp["mixed/a/tall.png"], ImageDecoding.EncodePng(tall, 40, 28, 1));
        WriteFile(_tmp["mixed/b/same.png"], ImageDecoding.EncodePng(d.Image(1), 28, 28, 1));
        WriteFile(_tmp["mixed/b/narrow.jpg"], ImageDecoding.EncodeJpeg(narrow, 28, 14, 1));
        var data = ImageFolder.Load(_tmp["mixed"], new ImageFolderOptions { ValidPercent = 0 });
        Assert.Equal(4, data.Report.DistinctSizes);
        Assert.Equal(new Dictionary<string, int> { ["None"] = 1, ["Scaled"] = 1, ["Cropped"] = 2, ["Padded"] = 0 }, data.Report.ResizeActions);
        Assert.Contains("centre crop", string.Join(" ", data.Report.Warnings));
    }

    [Fact]
    public void Colour_images_become_grey_by_pillows_luma_or_stay_rgb()
    {
        // A 2×2 RGB image with known colours; grey must be (19595 R + 38470 G + 7471 B + 32768) >> 16, as Pillow's convert("L").
        byte[] rgb = [255, 0, 0, 10,   0, 255, 0, 20,   0, 0, 255, 30]; // planes R, G, B of 4 pixels
        byte[] png = ImageDecoding.EncodePng(rgb, 2, 2, 3);
        var colour = ImageDecoding.TryDecode(png, 2, 2, 3, ResizeMode.Crop, out _)!;
        Assert.Equal(rgb, colour.Pixels);
        Assert.False(colour.SourceGrey);
        var grey = ImageDecoding.TryDecode(png, 2, 2, 1, ResizeMode.Crop, out _)!;
        Assert.Equal(new byte[] { 76, 150, 29, 18 }, grey.Pixels); // 0.299·255, 0.587·255, 0.114·255, (0.299·10+0.587·20+0.114·30)
        // Grey files on three channels: repeated.
        var g3 = ImageDecoding.TryDecode(ImageDecoding.EncodePng(new byte[] { 0, 100, 200, 255 }, 2, 2, 1), 2, 2, 3, ResizeMode.Crop, out _)!;
        Assert.Equal(new byte[] { 0, 100, 200, 255, 0, 100, 200, 255, 0, 100, 200, 255 }, g3.Pixels);
    }

    [Fact]
    public void Corrupt_files_are_skipped_and_named_or_fail_under_strict()
    {
        var digits = Digits(60);
        ImageFolderWriter.Write(digits, _tmp["c"]);
        string truncated = _tmp["c/7/zz-truncated.png"], notImage = _tmp["c/3/notes-but-named.jpg"];
        byte[] good = File.ReadAllBytes(Directory.GetFiles(_tmp["c/7"])[0]);
        File.WriteAllBytes(truncated, good[..(good.Length / 2)]);
        File.WriteAllText(notImage, "this is not a JPEG");
        File.WriteAllText(_tmp["c/README.txt"], "my digits");
        File.WriteAllText(_tmp["c/3/.DS_Store"], "hidden");

        var data = ImageFolder.Load(_tmp["c"], new ImageFolderOptions { ValidPercent = 0 });
        Assert.Equal(60, data.Train.Count);
        Assert.Equal(62, data.Report.FilesFound);
        Assert.Equal(new[] { "3/notes-but-named.jpg", "7/zz-truncated.png" }, data.Report.Skipped.Select(s => s.File).Order());
        Assert.Equal(1, data.Report.IgnoredFiles); // README.txt; .DS_Store is hidden
        string text = data.Report.ToText();
        Assert.Contains("skipped 2 unreadable image(s)", text);
        Assert.Contains("7/zz-truncated.png", text);

        var e = Assert.Throws<DataSourceException>(() => ImageFolder.Load(_tmp["c"], new ImageFolderOptions { Strict = true }));
        Assert.True(e.Path == truncated || e.Path == notImage, e.Message);
        Assert.Contains("--strict", e.Message);
    }

    [Fact]
    public void Validation_split_by_content_hash_is_exact_per_class_and_survives_renames()
    {
        var digits = Digits(200);
        ImageFolderWriter.Write(digits, _tmp["s"]);
        var options = new ImageFolderOptions { ValidPercent = 20 };
        var first = ImageFolder.Load(_tmp["s"], options);
        var perClass = first.Train.CountsPerClass().Zip(first.Valid.CountsPerClass(), (t, v) => (t, v)).ToArray();
        foreach (var (t, v) in perClass) Assert.Equal((int)Math.Floor(0.2 * (t + v) + 0.5), v);

        // Rename every file (and shuffle the names): same split, same order, same bytes, same content hash.
        var rng = new Random(1);
        foreach (var file in Directory.GetFiles(_tmp["s"], "*.png", SearchOption.AllDirectories))
            File.Move(file, System.IO.Path.Combine(System.IO.Path.GetDirectoryName(file)!, $"renamed-{rng.Next():x8}-{System.IO.Path.GetFileName(file)}"));
        var second = ImageFolder.Load(_tmp["s"], options);
        Assert.Equal(first.Valid.Hashes, second.Valid.Hashes);
        Assert.Equal(first.Train.Pixels, second.Train.Pixels);
        Assert.Equal(first.Valid.Pixels, second.Valid.Pixels);
        Assert.Equal(first.Source.ContentSha256, second.Source.ContentSha256);
        Assert.NotEqual(first.Train.Files, second.Train.Files);
    }

    [Fact]
    public void Duplicates_across_splits_and_classes_are_found()
    {
        var digits = Digits(100);
        ImageFolderWriter.Write(digits, _tmp["x/train"]);
        Directory.CreateDirectory(_tmp["x/valid"]);
        // valid/: 3 copies of training images (leakage) and 5 genuine images from further down the test set.
        var copies = Directory.GetFiles(_tmp["x/train/1"]).Order().Take(3).ToArray();
        foreach (var f in copies) WriteFile(_tmp[$"x/valid/1/copy-{System.IO.Path.GetFileName(f)}"], File.ReadAllBytes(f));
        var more = mnist.Test.Subset([500, 501, 502, 503, 504]);
        for (int i = 0; i < more.Count; i++)
            WriteFile(_tmp[$"x/valid/{more.Labels[i]}/new{i}.png"], ImageDecoding.EncodePng(more.Image(i), 28, 28, 1));
        // A training image filed under two classes.
        string wrong = Directory.GetFiles(_tmp["x/train/2"]).Order().First();
        WriteFile(_tmp["x/train/5/also-a-five.png"], File.ReadAllBytes(wrong));
        // An extra top-level folder is ignored and named.
        Directory.CreateDirectory(_tmp["x/models"]);

        var data = ImageFolder.Load(_tmp["x"]);
        Assert.Equal(FolderLayout.SplitFolders, data.Report.Layout);
        Assert.False(data.Report.ValidChosenByHash);
        Assert.Equal(8, data.Valid.Count);
        Assert.Equal(3, data.Report.ValidCopiesOfTrain);
        Assert.Equal(3, data.Report.CrossSplitDuplicates);
        Assert.Equal(1, data.Report.ConflictingLabels);
        Assert.Equal(new[] { "models/" }, data.Report.IgnoredFolders);
        Assert.Contains(data.Report.DuplicateExamples, g => g.Splits.Contains("valid") && g.Splits.Contains("train"));
        Assert.Contains(data.Report.Warnings, w => w.Contains("exact copies of training images"));
    }

    [Fact]
    public void Majority_baseline_and_imbalance_are_computed_by_hand()
    {
        var b = MajorityBaseline.Of([0, 0, 1, 2, 0], [0, 1, 1, 2], [2, 2], ["cat", "dog", "fox"]);
        Assert.Equal(("cat", 0.6, 0.25, 0.0), (b.Class, b.TrainShare, b.ValidAccuracy!.Value, b.TestAccuracy!.Value));
        // Ties go to the first class; an empty split has no accuracy.
        var tie = MajorityBaseline.Of([1, 0], [], null, ["a", "b"]);
        Assert.Equal(("a", 0.5), (tie.Class, tie.TrainShare));
        Assert.Null(tie.ValidAccuracy);

        // On a folder: 12 cats, 3 dogs → ratio 4, baseline accuracy = share of cats in valid.
        var d = Digits(15);
        for (int i = 0; i < 15; i++)
            WriteFile(_tmp[$"pets/{(i < 12 ? "cat" : "dog")}/{i}.png"], ImageDecoding.EncodePng(d.Image(i), 28, 28, 1));
        var data = ImageFolder.Load(_tmp["pets"], new ImageFolderOptions { ValidPercent = 34 });
        Assert.Equal((8, 4, 2, 1), (data.Train.CountsPerClass()[0], data.Valid.CountsPerClass()[0], data.Train.CountsPerClass()[1], data.Valid.CountsPerClass()[1]));
        Assert.Equal(4.0, data.Report.ImbalanceRatio);
        Assert.Equal("cat", data.Report.Baseline.Class);
        Assert.Equal(0.8, data.Report.Baseline.ValidAccuracy!.Value, 12);
    }

    [Fact]
    public void Bad_folders_fail_with_one_line_naming_the_folder_and_the_fix()
    {
        var d = Digits(4);
        void Png(string rel, int i) => WriteFile(_tmp[rel], ImageDecoding.EncodePng(d.Image(i), 28, 28, 1));

        var e = Assert.Throws<DataSourceException>(() => ImageFolder.Load(_tmp["missing"]));
        Assert.Contains("no such folder", e.Message);
        Assert.StartsWith(_tmp["missing"], e.Message);

        Directory.CreateDirectory(_tmp["empty"]);
        e = Assert.Throws<DataSourceException>(() => ImageFolder.Load(_tmp["empty"]));
        Assert.Contains("no images", e.Message);

        Png("one/cat/a.png", 0); Png("one/cat/b.png", 1);
        e = Assert.Throws<DataSourceException>(() => ImageFolder.Load(_tmp["one"]));
        Assert.Contains("only one class ('cat')", e.Message);
        Assert.Equal(2, ImageFolder.Load(_tmp["one"], new ImageFolderOptions { MinClasses = 1, ValidPercent = 0 }).Train.Count);

        Png("hollow/cat/a.png", 0); Directory.CreateDirectory(_tmp["hollow/dog"]); File.WriteAllText(_tmp["hollow/dog/list.txt"], "");
        e = Assert.Throws<DataSourceException>(() => ImageFolder.Load(_tmp["hollow"]));
        Assert.Equal(_tmp["hollow/dog"], e.Path);
        Assert.Contains("class folder has no images", e.Message);

        Png("loose/cat/a.png", 0); Png("loose/dog/b.png", 1); Png("loose/c.png", 2);
        e = Assert.Throws<DataSourceException>(() => ImageFolder.Load(_tmp["loose"]));
        Assert.Contains("lie directly in the folder", e.Message);
        Assert.Contains("move each image", e.Message);

        Png("flat/a.png", 0); Png("flat/b.png", 1);
        e = Assert.Throws<DataSourceException>(() => ImageFolder.Load(_tmp["flat"]));
        Assert.Contains("without class subfolders", e.Message);
        var unlabelled = ImageFolder.Load(_tmp["flat"], new ImageFolderOptions { MinClasses = 1, ValidPercent = 0 });
        Assert.Equal(FolderLayout.Unlabelled, unlabelled.Report.Layout);
        Assert.Equal(2, unlabelled.Train.Count);

        Png("sp/train/cat/a.png", 0); Png("sp/train/dog/b.png", 1); Png("sp/valid/fox/c.png", 2);
        e = Assert.Throws<DataSourceException>(() => ImageFolder.Load(_tmp["sp"]));
        Assert.Contains("class 'fox' is in valid/ but not in train/", e.Message);

        WriteFile(_tmp["broken/cat/a.png"], [1, 2, 3]); Png("broken/dog/b.png", 1);
        e = Assert.Throws<DataSourceException>(() => ImageFolder.Load(_tmp["broken"]));
        Assert.Contains("every image of class 'cat' is unreadable", e.Message);

        Assert.DoesNotContain('\n', e.Message);
        Assert.Throws<ArgumentException>(() => ImageFolder.Load(_tmp["one"], new ImageFolderOptions { Channels = 2 }));
    }

    [Fact]
    public void Cache_file_gives_the_same_images_and_the_report_renders()
    {
        var digits = Digits(120);
        ImageFolderWriter.Write(digits, _tmp["k"]);
        var options = new ImageFolderOptions { CacheDir = _tmp["cache"], Channels = 3, Height = 32, Width = 32, Resize = ResizeMode.Pad };
        var first = ImageFolder.Load(_tmp["k"], options);
        Assert.StartsWith("written", first.Report.Cache);
        var second = ImageFolder.Load(_tmp["k"], options);
        Assert.StartsWith("read", second.Report.Cache);
        Assert.Equal(first.Train.Pixels, second.Train.Pixels);
        Assert.Equal(first.Valid.Hashes, second.Valid.Hashes);
        Assert.Equal(3 * 32 * 32, first.Train.ImageBytes);
        // Different options → a different cache file.
        Assert.StartsWith("written", ImageFolder.Load(_tmp["k"], options with { Channels = 1 }).Report.Cache);

        // The report: text, json and the sample grid (10 rows of up to 8, 28→32 padded, enlarged 2×, 2-px gaps).
        second.Report.WriteTo(_tmp["run"]);
        string text = File.ReadAllText(_tmp[$"run/{ImageFolderReport.TextFile}"]);
        Assert.Contains("validation: 10% of each class, chosen by content hash", text);
        Assert.Contains("baseline to beat", text);
        Assert.Contains("\"Layout\": \"ClassFolders\"", File.ReadAllText(_tmp[$"run/{ImageFolderReport.JsonFile}"]));
        using var grid = SKBitmap.Decode(_tmp[$"run/{ImageFolderReport.SamplesFile}"]);
        Assert.Equal((8 * 64 + 9 * 2, 10 * 64 + 11 * 2), (grid.Width, grid.Height));

        var tensors = new ImageSetTensors(second.Train);
        var (x, y) = tensors.Gather([0, 1]);
        Assert.Equal(new long[] { 2, 3, 32, 32 }, x.shape);
        Assert.Equal(second.Train.Labels[1], (int)y[1].item<long>());
    }

    [Fact]
    public void Fashion_mnist_as_jpeg_folders_keeps_each_image_under_its_class_name_in_rgb()
    {
        var fashion = MnistFamily.Locate("fashion-mnist", testLimit: 150).Test;
        ImageFolderWriter.Write(fashion, _tmp["fashion"], ImageFileFormat.Jpeg);
        var data = ImageFolder.Load(_tmp["fashion"], new ImageFolderOptions { Channels = 3, Height = 32, Width = 32, Resize = ResizeMode.Pad, ValidPercent = 10 });
        // Class indices follow the folder names' ordinal order: "Ankle boot", "Bag", "Coat", ..., "T-shirt_top", "Trouser".
        Assert.Equal(MnistFamily.FashionClassNames.Select(ImageFolderWriter.FolderName).Order(StringComparer.Ordinal), data.Train.ClassNames);
        foreach (var set in new[] { data.Train, data.Valid })
            for (int k = 0; k < set.Count; k++)
            {
                int i = IndexOf(set.Files[k]);
                Assert.Equal(ImageFolderWriter.FolderName(MnistFamily.FashionClassNames[fashion.Labels[i]]), set.ClassNames[set.Labels[k]]);
                // 28×28 scaled to 32×32 (same aspect ratio: nothing to crop or pad), grey on all three channels.
                var img = set.Image(k);
                Assert.True(img.Slice(0, 1024).SequenceEqual(img.Slice(1024, 1024)));
            }
        Assert.Equal(150, data.Report.ResizeActions["Scaled"]);
        Assert.Equal(150, data.Report.GreySources);
    }

    [Fact]
    public void Mnist_written_as_train_and_test_folders_loads_as_the_idx_sets()
    {
        // The helper behind the LeNet-5 folder-versus-IDX comparison, on a slice (the full 70,000 files: same code).
        var train = mnist.Train.Take(500);
        var test = mnist.Test.Take(200);
        Assert.Equal(700, ImageFolderWriter.WriteTrainTest(train, test, _tmp["mnist-png"]));
        Assert.Throws<IOException>(() => ImageFolderWriter.WriteTrainTest(train, test, _tmp["mnist-png"]));
        Assert.Empty(Directory.GetDirectories(_tmp.Path, ".*"));

        var data = ImageFolder.Load(_tmp["mnist-png"], new ImageFolderOptions { ValidPercent = 0 });
        Assert.Equal((500, 0, 200), (data.Train.Count, data.Valid.Count, data.Test!.Count));
        for (int k = 0; k < data.Test.Count; k++)
        {
            int i = IndexOf(data.Test.Files[k]);
            Assert.Equal(test.Labels[i], data.Test.Labels[k]);
            Assert.True(test.Image(i).SequenceEqual(data.Test.Image(k)));
        }
        Assert.Equal(train.Labels.Order(), data.Train.Labels.Select(l => (byte)l).Order());
        Assert.Equal("T-shirt_top", ImageFolderWriter.FolderName("T-shirt/top"));
    }
}
