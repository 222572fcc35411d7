using System.Text.Json.Serialization;

namespace PaperLab.Data.Sources;

/// <summary>Encoding of the files <see cref="ImageFolderWriter"/> writes.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<ImageFileFormat>))]
public enum ImageFileFormat
{
    /// <summary>Lossless: loading gives back the pixels exactly.</summary>
    Png,
    /// <summary>Lossy (quality 95 by default): loading gives back pixels close to the originals.</summary>
    Jpeg,
}

/// <summary>
/// Writes in-memory images out as an image folder of the layout <see cref="ImageFolder"/> reads: to turn a
/// built-in dataset into "your own data" (e.g. MNIST as PNG class folders with the official test set as
/// test/, the check that folder: trains exactly like IDX) or to export images for another tool.
/// </summary>
public static class ImageFolderWriter
{
    /// <summary>
    /// Writes every image of <paramref name="data"/> as <c>dir/&lt;class name&gt;/&lt;index&gt;.&lt;ext&gt;</c>, the index being
    /// the image's position in <paramref name="data"/>, zero-padded to 5 digits (so a file maps back to its IDX record).
    /// The folder appears complete or not at all: files are written into a temporary sibling folder, which is then renamed.
    /// </summary>
    /// <param name="data">Grey images (MNIST family).</param>
    /// <param name="dir">Folder to create; must not exist yet.</param>
    /// <param name="format">PNG (exact) or JPEG.</param>
    /// <param name="jpegQuality">JPEG quality 1..100.</param>
    /// <returns>Number of files written.</returns>
    /// <exception cref="IOException"><paramref name="dir"/> already exists.</exception>
    public static int Write(ImageDataset data, string dir, ImageFileFormat format = ImageFileFormat.Png, int jpegQuality = 95)
    {
        ArgumentNullException.ThrowIfNull(data);
        return Atomically(dir, tmp => WriteInto(data, tmp, format, jpegQuality));
    }

    /// <summary>
    /// Writes a train/test pair in the split layout: <c>dir/train/&lt;class&gt;/NNNNN.png</c> and <c>dir/test/&lt;class&gt;/NNNNN.png</c>
    /// (no valid/: <see cref="ImageFolder"/> then holds out <see cref="ImageFolderOptions.ValidPercent"/> of train by content
    /// hash, 0 to train on all of it as the IDX runs do). All or nothing, as <see cref="Write"/>.
    /// </summary>
    /// <param name="train">The training images (e.g. MNIST's 60,000).</param>
    /// <param name="test">The test images (e.g. MNIST's official 10,000).</param>
    /// <param name="dir">Folder to create; must not exist yet.</param>
    /// <param name="format">PNG (exact) or JPEG.</param>
    /// <returns>Number of files written.</returns>
    /// <exception cref="IOException"><paramref name="dir"/> already exists.</exception>
    public static int WriteTrainTest(ImageDataset train, ImageDataset test, string dir, ImageFileFormat format = ImageFileFormat.Png) =>
        Atomically(dir, tmp => WriteInto(train, Path.Combine(tmp, "train"), format, 95) + WriteInto(test, Path.Combine(tmp, "test"), format, 95));

    /// <summary>
    /// The folder name of a class: the name with path separators and characters invalid in file names replaced by '_'
    /// (Fashion-MNIST's "T-shirt/top" → "T-shirt_top"). Loading names classes after their folders, indexed in ordinal
    /// order of the names: MNIST's "0".."9" keep their labels; Fashion-MNIST's are renumbered alphabetically.
    /// </summary>
    public static string FolderName(string className)
    {
        var invalid = Path.GetInvalidFileNameChars().Concat(['/', '\\', ':']).ToHashSet();
        string name = new(className.Select(ch => invalid.Contains(ch) ? '_' : ch).ToArray());
        return name.Trim() is "" or "." or ".." ? "_" + name : name;
    }

    static int Atomically(string dir, Func<string, int> write)
    {
        dir = Path.GetFullPath(dir);
        if (Directory.Exists(dir) || File.Exists(dir))
            throw new IOException($"{dir} already exists; give a new folder (the writer never mixes its files with others)");
        string parent = Path.GetDirectoryName(dir.TrimEnd(Path.DirectorySeparatorChar))!;
        Directory.CreateDirectory(parent);
        string tmp = Path.Combine(parent, $".{Path.GetFileName(dir.TrimEnd(Path.DirectorySeparatorChar))}.{Guid.NewGuid():N}.tmp");
        try
        {
            int n = write(tmp);
            Directory.Move(tmp, dir);
            return n;
        }
        finally
        {
            if (Directory.Exists(tmp)) Directory.Delete(tmp, recursive: true);
        }
    }

    static int WriteInto(ImageDataset data, string dir, ImageFileFormat format, int quality)
    {
        string[] folders = data.ClassNames.Select(FolderName).ToArray();
        // A folder for each class that has images (an empty class folder is an error when loading).
        foreach (int label in data.Labels.Distinct()) Directory.CreateDirectory(Path.Combine(dir, folders[label]));
        string ext = format == ImageFileFormat.Png ? ".png" : ".jpg";
        Parallel.For(0, data.Count, i =>
        {
            var pixels = data.Image(i);
            byte[] bytes = format == ImageFileFormat.Png
                ? ImageDecoding.EncodePng(pixels, data.Height, data.Width, 1)
                : ImageDecoding.EncodeJpeg(pixels, data.Height, data.Width, 1, quality);
            File.WriteAllBytes(Path.Combine(dir, folders[data.Labels[i]], $"{i:D5}{ext}"), bytes);
        });
        return data.Count;
    }
}
