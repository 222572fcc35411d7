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
    /// <exception cref="ArgumentException">The split is <see cref="Split.Validation"/>, which these datasets do not publish.</exception>
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
        string imagesPath = FindFile(dir, $"{prefix}-images-idx3-ubyte", dataset);
        string labelsPath = FindFile(dir, $"{prefix}-labels-idx1-ubyte", dataset);

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
    /// Finds the dataset with <see cref="DatasetLocator.Locate"/> (which may download it) and reads one split.
    /// </summary>
    /// <param name="dataset"><c>mnist</c> or <c>fashion-mnist</c>.</param>
    /// <param name="split">Train or test.</param>
    /// <param name="dataDir">The <c>--data</c> folder, if given.</param>
    /// <param name="options">Locator settings; defaults when null.</param>
    /// <exception cref="DatasetNotFoundException">The data is nowhere; the message says how to get it.</exception>
    /// <exception cref="DataFormatException">A file is damaged; the message names it.</exception>
    public static ImageDataset LocateAndLoad(string dataset, Split split, string? dataDir = null, LocatorOptions? options = null)
    {
        ClassNamesOf(dataset);
        string dir = DatasetLocator.Locate(DatasetCatalog.Get(dataset), dataDir, options);
        return Load(dir, split, dataset);
    }

    static string[] ClassNamesOf(string dataset) => dataset switch
    {
        "mnist" => [.. DigitClassNames],
        "fashion-mnist" => [.. FashionClassNames],
        _ => throw new ArgumentException($"'{dataset}' is not an MNIST-family dataset; use mnist or fashion-mnist", nameof(dataset)),
    };

    static string FindFile(string dir, string name, string dataset)
    {
        foreach (string candidate in new[] { name, name + ".gz" })
        {
            string path = Path.Combine(dir, candidate);
            if (File.Exists(path))
                return path;
        }
        string full = Path.GetFullPath(Path.Combine(dir, name));
        throw new FileNotFoundException(
            $"{full}[.gz]: {dataset} file not found; pass the folder holding the {dataset} IDX files " +
            $"(--data DIR or {LocatorOptions.DataVariable}=DIR), or let DatasetLocator find or download them", full);
    }
}
