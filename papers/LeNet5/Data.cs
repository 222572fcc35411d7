// What LeNet-5 trains and is tested on: MNIST or Fashion-MNIST from their IDX files (the paper's setting),
// or a folder of your own images (--dataset folder:DIR), decoded once by SkiaSharp into C×N×N bytes
// (PaperLab.Data.Sources.ImageFolder). Either way the run sees the same things: two tensor datasets,
// the class names, the evaluation images for the report, and what to record in config.json.

using PaperLab.Data;
using PaperLab.Data.Sources;
using PaperLab.Runs;

namespace PaperLab.Papers.LeNet5;

/// <summary>The images of a LeNet-5 run, whichever their source.</summary>
public sealed class LeNet5Data : IDisposable
{
    /// <summary>The dataset's name for tables: "mnist", "fashion-mnist", or the folder's name.</summary>
    public required string Name { get; init; }
    /// <summary>Training images as normalised tensors (B, C, N, N) and labels.</summary>
    public required ITensorDataset TrainSet { get; init; }
    /// <summary>Evaluation images (the test set, or your folder's test/ or else validation images).</summary>
    public required ITensorDataset EvalSet { get; init; }
    /// <summary>Which split <see cref="EvalSet"/> is: "test" or "valid" (the metrics are named after it).</summary>
    public required string EvalSplit { get; init; }
    /// <summary>C: 1 grey, 3 RGB.</summary>
    public required int Channels { get; init; }
    /// <summary>N: side of the square images.</summary>
    public required int Size { get; init; }
    /// <summary>Name of each class index.</summary>
    public required string[] ClassNames { get; init; }
    /// <summary>Training and evaluation images as bytes (C·N·N each), for the linear baseline and the report.</summary>
    public required (byte[] Pixels, int[] Labels) Train { get; init; }
    /// <inheritdoc cref="Train"/>
    public required (byte[] Pixels, int[] Labels) Eval { get; init; }
    /// <summary>The normalised value of a black pixel (per channel, averaged): what shifted-in pixels become.</summary>
    public required double Black { get; init; }
    /// <summary>What config.json records about the data.</summary>
    public required object Record { get; init; }
    /// <summary>Your own folder: its data report (printed before training, stored in the run folder); built-in: null.</summary>
    public ImageFolderReport? Report { get; init; }
    /// <summary>Files of the evaluation images (your own folder), for naming the mistakes; built-in: null.</summary>
    public string[]? EvalFiles { get; init; }

    /// <summary>Number of classes.</summary>
    public int Classes => ClassNames.Length;

    /// <summary>Evaluation image <paramref name="i"/> in grey, N·N values in [0, 1] (RGB averaged), for image grids.</summary>
    public float[] EvalImageGrey(int i)
    {
        int plane = Size * Size;
        var grey = new float[plane];
        var image = Eval.Pixels.AsSpan(i * Channels * plane, Channels * plane);
        for (int c = 0; c < Channels; c++)
            for (int p = 0; p < plane; p++) grey[p] += image[c * plane + p] / (255f * Channels);
        return grey;
    }

    /// <summary>MNIST or Fashion-MNIST, exactly as before own data existed: IDX files, the fixed mean and std.</summary>
    /// <exception cref="DatasetNotFoundException">The dataset is nowhere to be found and cannot be downloaded.</exception>
    public static LeNet5Data BuiltIn(LeNet5Options o, string? dataDir)
    {
        var (train, test, record) = MnistFamily.Locate(o.Dataset, dataDir, o.TrainLimit, o.TestLimit);
        var (mean, std) = Experiment.Normalisation(o.Dataset);
        return new LeNet5Data
        {
            Name = o.Dataset, EvalSplit = "test", Channels = 1, Size = 28, ClassNames = train.ClassNames,
            TrainSet = new ImageTensorDataset(train.Pixels, train.Labels, 28, 28, mean, std),
            EvalSet = new ImageTensorDataset(test.Pixels, test.Labels, 28, 28, mean, std),
            Train = (train.Pixels, train.Labels.Select(l => (int)l).ToArray()),
            Eval = (test.Pixels, test.Labels.Select(l => (int)l).ToArray()),
            Black = -mean / std, Record = record,
        };
    }

    /// <summary>
    /// Your own images: <c>--dataset folder:DIR</c> read by <see cref="ImageFolder.Load"/> at --image-size and
    /// --channels, normalised by the training images' per-channel mean and standard deviation. The evaluation
    /// split is test/ when the folder has one, else the validation images (valid/, or --valid-pct of each class
    /// chosen by content hash). --train-limit and --test-limit keep the images with the smallest content hashes,
    /// so every class stays represented.
    /// </summary>
    /// <exception cref="DataSourceException">The folder cannot be used (the message names it and the fix): exit 1.</exception>
    /// <exception cref="UsageException">There is nothing to evaluate on (--valid-pct 0 and no test/): exit 2.</exception>
    public static LeNet5Data Folder(LeNet5Options o, DatasetArgument source, int threads)
    {
        var folder = LoadFolder(o, source, threads);
        var train = Limit(folder.Train, o.TrainLimit);
        var eval = Limit(folder.Test ?? folder.Valid, o.TestLimit);
        string split = folder.Test is null ? "valid" : "test";
        if (eval.Count == 0)
            throw new UsageException($"--dataset {o.Dataset}: no images to evaluate on (no test/ folder and --valid-pct {o.ValidPct:0.##}); give --valid-pct above 0");
        var (mean, std) = ImageSetTensors.ChannelStatistics(train);
        std = std.Select(s => s > 1e-6 ? s : 1.0).ToArray();   // a channel that never changes: leave its scale alone
        return new LeNet5Data
        {
            Name = folder.Train.Name, EvalSplit = split, Channels = o.Channels, Size = o.ImageSize, ClassNames = train.ClassNames,
            TrainSet = new ImageSetTensors(train, mean, std), EvalSet = new ImageSetTensors(eval, mean, std),
            Train = (train.Pixels, train.Labels), Eval = (eval.Pixels, eval.Labels),
            Black = mean.Select((m, c) => -m / std[c]).Average(),
            Record = new { source = folder.Source, images = folder.Options, normalisation = new { mean, std } },
            Report = folder.Report, EvalFiles = eval.Files,
        };
    }

    /// <summary>The folder as <see cref="ImageFolder"/> reads it with this run's options (also what the notebook and tests look at).</summary>
    /// <exception cref="DataSourceException">The folder cannot be used.</exception>
    public static ImageFolderData LoadFolder(LeNet5Options o, DatasetArgument source, int threads) =>
        ImageFolder.Load(source.Path, new ImageFolderOptions
        {
            Height = o.ImageSize, Width = o.ImageSize, Channels = o.Channels, ValidPercent = o.ValidPct, Strict = o.Strict, Threads = threads,
        }, o.Dataset);

    /// <summary>The first <paramref name="limit"/> images in content-hash order (all classes keep their share), in the set's order.</summary>
    public static ImageSet Limit(ImageSet set, int? limit)
    {
        if (limit is not int n || n >= set.Count) return set;
        int[] keep = Enumerable.Range(0, set.Count).OrderBy(i => set.Hashes[i], StringComparer.Ordinal).ThenBy(i => i).Take(n).Order().ToArray();
        int size = set.ImageBytes;
        var pixels = new byte[(long)keep.Length * size];
        for (int k = 0; k < keep.Length; k++) set.Image(keep[k]).CopyTo(pixels.AsSpan(k * size, size));
        return new ImageSet(set.Name, set.Split, pixels, keep.Select(i => set.Labels[i]).ToArray(), set.Channels, set.Height, set.Width,
                            set.ClassNames, keep.Select(i => set.Files[i]).ToArray(), keep.Select(i => set.Hashes[i]).ToArray());
    }

    /// <summary>Releases the tensors.</summary>
    public void Dispose()
    {
        (TrainSet as IDisposable)?.Dispose();
        (EvalSet as IDisposable)?.Dispose();
    }
}
