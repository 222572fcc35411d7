namespace PaperLab.Data;

/// <summary>
/// Loads MNIST and Fashion-MNIST, which share file names and format: <c>train-images-idx3-ubyte</c>,
/// <c>train-labels-idx1-ubyte</c>, <c>t10k-images-idx3-ubyte</c>, <c>t10k-labels-idx1-ubyte</c>
/// (each plain or .gz), 28x28 unsigned-byte images and labels 0..9.
/// </summary>
public static class MnistFamily
{
    /// <summary>Height and width of every image, in pixels.</summary>
    public const int ImageSize = 28;

    /// <summary>MNIST's classes: the digits.</summary>
    public static IReadOnlyList<string> DigitClassNames { get; } = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];

    /// <summary>Fashion-MNIST's classes, by label (zalandoresearch/fashion-mnist README).</summary>
    public static IReadOnlyList<string> FashionClassNames { get; } =
        ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

    /// <summary>The file-name prefix of a split: <c>train</c> or <c>t10k</c>.</summary>
    /// <exception cref="ArgumentException">Not a split these datasets publish.</exception>
    public static string Prefix(Split split) => split switch
    {
        Split.Train => "train",
        Split.Test => "t10k",
        _ => throw new ArgumentException(
            $"MNIST and Fashion-MNIST publish only train and test splits, not {split}; hold out part of train instead", nameof(split)),
    };

    /// <summary>
    /// Reads one split from <paramref name="dir"/>.
    /// </summary>
    /// <param name="dir">Folder holding the IDX files (plain or .gz), e.g. from <see cref="DatasetLocator.Locate"/>.</param>
    /// <param name="split">Train (60,000 images) or test (10,000).</param>
    /// <param name="dataset">Catalog name, <c>mnist</c> or <c>fashion-mnist</c>: sets the class names.</param>
    /// <returns>The images (N x 28 x 28 bytes, 0..255) and labels (N bytes, 0..9).</returns>
    /// <exception cref="FileNotFoundException">A file is missing; the message names the file looked for.</exception>
    /// <exception cref="DataFormatException">
    /// A file is not valid IDX, the images are not N x 28 x 28, the labels not N, the image and label
    /// counts disagree, or a label is above 9; the message names the file.
    /// </exception>
    public static ImageDataset Load(string dir, Split split, string dataset = "mnist")
    {
        var classNames = ClassNamesOf(dataset);
        string prefix = Prefix(split);
        string imagesPath = FileContent.Find(dir, $"{prefix}-images-idx3-ubyte", dataset);
        string labelsPath = FileContent.Find(dir, $"{prefix}-labels-idx1-ubyte", dataset);

        var images = Idx.Read(imagesPath);
        if (images.Shape.Length != 3 || images.Shape[1] != ImageSize || images.Shape[2] != ImageSize)
            throw new DataFormatException(imagesPath,
                $"images have shape {string.Join('x', images.Shape)}; expected N x {ImageSize} x {ImageSize}");
        var labels = Idx.Read(labelsPath);
        if (labels.Shape.Length != 1)
            throw new DataFormatException(labelsPath, $"labels have shape {string.Join('x', labels.Shape)}; expected one dimension N");
        if (images.Count != labels.Count)
            throw new DataFormatException(labelsPath,
                $"{labels.Count} labels but {imagesPath} holds {images.Count} images: the two files come from different splits or datasets");
        int bad = Array.FindIndex(labels.Data, l => l >= classNames.Length);
        if (bad >= 0)
            throw new DataFormatException(labelsPath, $"label {labels.Data[bad]} at index {bad} is outside 0..{classNames.Length - 1}");

        return new ImageDataset(dataset, split, images.Data, labels.Data, ImageSize, ImageSize, classNames);
    }

    /// <summary>
    /// Finds the dataset with <see cref="DatasetLocator.Locate"/> (which may download it) and reads both
    /// splits, optionally only their first images (smoke runs), with a record of the files used for config.json.
    /// </summary>
    /// <param name="dataset"><c>mnist</c> or <c>fashion-mnist</c>.</param>
    /// <param name="dataDir">The <c>--data</c> folder, if given (then nothing else is searched).</param>
    /// <param name="trainLimit">Keep only the first N training images; null: all 60,000.</param>
    /// <param name="testLimit">Keep only the first N test images; null: all 10,000.</param>
    /// <param name="options">Locator settings; defaults when null.</param>
    /// <exception cref="DatasetNotFoundException">The data is nowhere (or not in --data); the message says how to get it.</exception>
    /// <exception cref="DataFormatException">A file is damaged; the message names it.</exception>
    public static (ImageDataset Train, ImageDataset Test, DataRecord Record) Locate(string dataset, string? dataDir = null,
                                                                                   int? trainLimit = null, int? testLimit = null, LocatorOptions? options = null)
    {
        ClassNamesOf(dataset);
        string dir = DatasetLocator.Locate(DatasetCatalog.Get(dataset), dataDir, options);
        var train = Load(dir, Split.Train, dataset);
        var test = Load(dir, Split.Test, dataset);
        if (trainLimit is int n) train = train.Take(n);
        if (testLimit is int m) test = test.Take(m);
        var files = new[] { "train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte" }
            .Select(f => FileContent.Find(dir, f, dataset));
        return (train, test, DataRecord.Of(dataset, dir, files, $"train {train.Count:N0} / test {test.Count:N0} images"));
    }

    static string[] ClassNamesOf(string dataset) => dataset switch
    {
        "mnist" => [.. DigitClassNames],
        "fashion-mnist" => [.. FashionClassNames],
        _ => throw new ArgumentException($"'{dataset}' is not an MNIST-family dataset; use mnist or fashion-mnist", nameof(dataset)),
    };
}
