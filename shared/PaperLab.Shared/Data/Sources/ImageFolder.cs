// folder:DIR — a folder of one's own images, laid out as torchvision's ImageFolder and fast.ai's
// ImageDataLoaders.from_folder expect:
//
//   DIR/cat/*.png, DIR/dog/*.jpg, ...       one subfolder per class (any depth below it); the validation
//                                           split is chosen by content hash (--valid-pct, default 10%)
//   DIR/train/<class>/, DIR/valid/<class>/  fixed splits (valid/ may be val/ or validation/; test/ optional;
//   [DIR/test/<class>/]                     without valid/, it is chosen from train/ by content hash)
//   DIR/*.png (no subfolders)               unlabelled: one class, for generative models (MinClasses = 1)
//
// Images are decoded once (in parallel) by SkiaSharp and brought to one size and channel count by the rule
// in ImageDecoding.cs; hidden files and folders (.DS_Store, ._x.jpg) are skipped, other non-image files are
// counted and named in the report. The split, and the order of images within a split (class, then content
// hash), depend on the files' bytes and class folders only: renaming files changes nothing.

using System.Diagnostics;
using System.Text.Json.Serialization;

namespace PaperLab.Data.Sources;

/// <summary>How a folder of images is read and turned into tensors-to-be; recorded in config.json.</summary>
public sealed record ImageFolderOptions
{
    /// <summary>Target height H in pixels (LeNet-5: 28).</summary>
    public int Height { get; init; } = 28;
    /// <summary>Target width W in pixels (LeNet-5: 28).</summary>
    public int Width { get; init; } = 28;
    /// <summary>1 (grey, Pillow's luma) or 3 (RGB).</summary>
    public int Channels { get; init; } = 1;
    /// <summary>Crop (default) or pad images whose aspect ratio differs from the target's.</summary>
    public ResizeMode Resize { get; init; } = ResizeMode.Crop;
    /// <summary>Percentage of each class's images held out for validation when the folder has no valid/ (0..100, default 10).</summary>
    public double ValidPercent { get; init; } = 10;
    /// <summary>Fail on the first unreadable image instead of skipping it (and naming it in the report).</summary>
    public bool Strict { get; init; }
    /// <summary>Fewest classes accepted: 2 for a classifier (default), 1 for a generative model.</summary>
    public int MinClasses { get; init; } = 2;
    /// <summary>Folder for a cache of the decoded images, keyed by the files' content and these options; null: none.</summary>
    [JsonIgnore] public string? CacheDir { get; init; }
    /// <summary>Parallel decoders; null: one per core.</summary>
    [JsonIgnore] public int? Threads { get; init; }

    /// <summary>The resize rule in words, for config.json and the report.</summary>
    public string Rule =>
        $"decoded by SkiaSharp; images of {Width}×{Height} kept pixel for pixel, others scaled (bilinear, linear mipmaps) " +
        (Resize == ResizeMode.Crop ? "so the shorter side fits, then centre-cropped" : "so the longer side fits, then centred on black") +
        (Channels == 1 ? "; grey = (19595 R + 38470 G + 7471 B + 2^15) >> 16 (Pillow's convert(\"L\"))" : "; RGB, grey images repeated on 3 channels") +
        "; transparency over black";

    /// <exception cref="ArgumentException">A value out of range; the message names the option.</exception>
    public void Validate()
    {
        if (Height < 1 || Width < 1 || Height > 4096 || Width > 4096)
            throw new ArgumentException($"image size {Width}×{Height}: each side must be 1..4096 pixels (--image-size)");
        if (Channels is not (1 or 3)) throw new ArgumentException($"--channels {Channels}: give 1 (grey) or 3 (RGB)");
        if (ValidPercent is < 0 or >= 100 || double.IsNaN(ValidPercent))
            throw new ArgumentException($"--valid-pct {ValidPercent}: give a percentage from 0 up to (not including) 100");
        if (MinClasses < 1) throw new ArgumentException($"MinClasses {MinClasses}: at least 1");
        if (Threads is < 1) throw new ArgumentException($"Threads {Threads}: at least 1");
    }
}

/// <summary>How the folder was laid out.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<FolderLayout>))]
public enum FolderLayout
{
    /// <summary>DIR/&lt;class&gt;/...: the validation split chosen by content hash.</summary>
    ClassFolders,
    /// <summary>DIR/train/&lt;class&gt;/, DIR/valid/&lt;class&gt;/ (and test/): the user's splits.</summary>
    SplitFolders,
    /// <summary>Images directly in DIR: one class, no labels.</summary>
    Unlabelled,
}

/// <summary>A loaded folder of images.</summary>
/// <param name="Train">Training images.</param>
/// <param name="Valid">Validation images (valid/, or chosen by content hash).</param>
/// <param name="Test">Test images when the folder has test/, else null.</param>
/// <param name="Report">What was found and done, for printing and report.html.</param>
/// <param name="Source">What to record in config.json.</param>
/// <param name="Options">The options used (recorded in config.json too).</param>
public sealed record ImageFolderData(ImageSet Train, ImageSet Valid, ImageSet? Test, ImageFolderReport Report,
                                     DataSourceRecord Source, ImageFolderOptions Options);

/// <summary>Loads <c>folder:DIR</c> datasets (layouts in the file header).</summary>
public static class ImageFolder
{
    /// <summary>Names accepted for the validation folder of the split layout.</summary>
    public static IReadOnlyList<string> ValidFolderNames { get; } = ["valid", "val", "validation"];

    const string CacheVersion = "PaperLab image cache 1";

    sealed record Entry(Split? FixedSplit, int Class, string Relative, string Full);

    sealed class Decoded
    {
        public string? Hash;
        public long Size;
        public DecodedImage? Image;
        public string? Error;
    }

    /// <summary>
    /// Reads every image of <paramref name="dir"/>, decodes and resizes it, splits the set and describes it.
    /// </summary>
    /// <param name="dir">The folder (layouts in the file header).</param>
    /// <param name="options">Size, channels, resize rule, validation share, strictness; null: defaults (grey 28×28, crop, 10%).</param>
    /// <param name="datasetValue">The <c>--dataset</c> value, for the source record; null: <c>folder:DIR</c>.</param>
    /// <returns>Train, validation and (if present) test images, the data report and the source record.</returns>
    /// <exception cref="ArgumentException">An option is out of range.</exception>
    /// <exception cref="DataSourceException">No such folder, no images, an empty class folder, fewer classes than
    /// <see cref="ImageFolderOptions.MinClasses"/>, images beside class folders, a class only in valid/ or test/,
    /// an unreadable image under <see cref="ImageFolderOptions.Strict"/>, or every image of a class unreadable.</exception>
    public static ImageFolderData Load(string dir, ImageFolderOptions? options = null, string? datasetValue = null)
    {
        options ??= new ImageFolderOptions();
        options.Validate();
        dir = Path.GetFullPath(dir);
        var clock = Stopwatch.StartNew();
        var (layout, classes, entries, ignoredFiles, ignoredFolders, hasValidFolder) = Scan(dir, options);

        // Read, hash and decode (decode from the cache when it holds exactly these files with these options).
        var results = new Decoded[entries.Count];
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = options.Threads ?? Environment.ProcessorCount };
        string cacheState = "off";
        if (options.CacheDir is null)
            Parallel.For(0, entries.Count, parallel, i => results[i] = ReadAndDecode(entries[i].Full, options, decode: true));
        else
        {
            Parallel.For(0, entries.Count, parallel, i => results[i] = ReadAndDecode(entries[i].Full, options, decode: false));
            string cacheFile = CachePath(options, results);
            var cached = ImageCache.TryRead(cacheFile, options);
            bool hit = cached is not null && results.All(r => r.Hash is null || cached.ContainsKey(r.Hash));
            if (hit)
            {
                foreach (var r in results)
                    if (r.Hash is not null) (r.Image, r.Error) = cached![r.Hash];
                cacheState = "read " + cacheFile;
            }
            else
            {
                Parallel.For(0, entries.Count, parallel, i =>
                {
                    if (results[i].Hash is not null) results[i] = ReadAndDecode(entries[i].Full, options, decode: true);
                });
                ImageCache.Write(cacheFile, options, results.Where(r => r.Hash is not null)
                                                              .Select(r => (r.Hash!, r.Image, r.Error)));
                cacheState = "written " + cacheFile;
            }
        }
        double loadSeconds = clock.Elapsed.TotalSeconds;

        var skipped = new List<SkippedFile>();
        for (int i = 0; i < entries.Count; i++)
        {
            if (results[i].Image is not null) continue;
            if (options.Strict)
                throw new DataSourceException(entries[i].Full, $"cannot read the image: {results[i].Error}",
                                              "delete or replace the file, or leave out --strict to skip unreadable images");
            skipped.Add(new SkippedFile(entries[i].Relative, results[i].Error ?? "unreadable"));
        }

        // Every class needs a readable image; a classifier needs two classes.
        var usable = Enumerable.Range(0, entries.Count).Where(i => results[i].Image is not null).ToList();
        var perClass = new int[classes.Length];
        foreach (int i in usable) perClass[entries[i].Class]++;
        for (int c = 0; c < classes.Length; c++)
            if (perClass[c] == 0)
                throw new DataSourceException(Path.GetDirectoryName(entries.First(e => e.Class == c).Full)!,
                                              $"every image of class '{classes[c]}' is unreadable ({string.Join("; ", skipped.Where(s => entries.First(e => e.Relative == s.File).Class == c).Take(3).Select(s => s.File + ": " + s.Reason))})",
                                              "replace the damaged files or remove the class folder");
        if (classes.Length < options.MinClasses)
            throw layout == FolderLayout.Unlabelled
                ? new DataSourceException(dir, "the images lie directly in the folder, without class subfolders",
                                          $"put them in one subfolder per class ({Path.Combine(dir, "cat")}, {Path.Combine(dir, "dog")}, ...)")
                : new DataSourceException(dir, $"only one class ('{classes[0]}'); a classifier needs at least {options.MinClasses}",
                                          "add a subfolder with the images of each other class");

        // Splits: the user's, else the smallest content hashes of each class go to validation.
        var split = new Split[entries.Count];
        foreach (int i in usable) split[i] = entries[i].FixedSplit ?? Split.Train;
        bool chooseValid = layout != FolderLayout.SplitFolders || !hasValidFolder;
        if (chooseValid)
            for (int c = 0; c < classes.Length; c++)
            {
                var members = usable.Where(i => entries[i].Class == c && split[i] == Split.Train).ToList();
                bool[] valid = ContentHash.SelectSmallest(members.Select(i => results[i].Hash!).ToList(), options.ValidPercent);
                for (int k = 0; k < members.Count; k++) if (valid[k]) split[members[k]] = Split.Validation;
            }

        string name = Path.GetFileName(dir.TrimEnd(Path.DirectorySeparatorChar));
        ImageSet Build(Split s)
        {
            var items = usable.Where(i => split[i] == s)
                              .OrderBy(i => entries[i].Class)
                              .ThenBy(i => results[i].Hash, StringComparer.Ordinal)
                              .ThenBy(i => entries[i].Relative, StringComparer.Ordinal)
                              .ToArray();
            int size = options.Channels * options.Height * options.Width;
            var pixels = new byte[(long)items.Length * size];
            for (int k = 0; k < items.Length; k++) results[items[k]].Image!.Pixels.CopyTo(pixels, (long)k * size);
            return new ImageSet(name, s, pixels, items.Select(i => entries[i].Class).ToArray(), options.Channels,
                                options.Height, options.Width, classes, items.Select(i => entries[i].Relative).ToArray(),
                                items.Select(i => results[i].Hash!).ToArray());
        }
        var train = Build(Split.Train);
        var validSet = Build(Split.Validation);
        ImageSet? test = entries.Any(e => e.FixedSplit == Split.Test) ? Build(Split.Test) : null;

        var source = new DataSourceRecord(
            datasetValue ?? $"folder:{dir}", DataSourceKind.Folder, [dir], entries.Count, results.Sum(r => r.Size),
            ContentHash.OfSortedLines(usable.Select(i => $"{SplitFolder(entries[i].FixedSplit)}/{classes[entries[i].Class]}\t{results[i].Hash}")),
            "sha256 of the sorted lines '<split folder>/<class>\\t<sha256 of the file>' of every image used (file names do not count)");

        var decodedImages = usable.Select(i => results[i].Image!).ToList();
        var report = ImageFolderReport.Describe(dir, layout, chooseValid, options, train, validSet, test,
            decodedImages, skipped, ignoredFiles, ignoredFolders, loadSeconds, entries.Count, cacheState);
        return new ImageFolderData(train, validSet, test, report, source, options);
    }

    static string SplitFolder(Split? split) => split switch
    {
        Split.Train => "train",
        Split.Validation => "valid",
        Split.Test => "test",
        _ => "",
    };

    static Decoded ReadAndDecode(string path, ImageFolderOptions options, bool decode)
    {
        var d = new Decoded();
        byte[] bytes;
        try { bytes = File.ReadAllBytes(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            d.Error = "cannot read the file: " + e.Message;
            return d;
        }
        d.Size = bytes.Length;
        d.Hash = ContentHash.Of(bytes);
        if (decode)
        {
            d.Image = ImageDecoding.TryDecode(bytes, options.Height, options.Width, options.Channels, options.Resize, out string? error);
            d.Error = error;
        }
        return d;
    }

    static string CachePath(ImageFolderOptions o, Decoded[] results)
    {
        string key = ContentHash.OfSortedLines(results.Where(r => r.Hash is not null).Select(r => r.Hash!).Distinct()
            .Append($"{CacheVersion}|{typeof(SkiaSharp.SKCodec).Assembly.GetName().Version}|{o.Height}|{o.Width}|{o.Channels}|{o.Resize}"));
        return Path.Combine(o.CacheDir!, $"images-{key[..32]}.bin");
    }

    // ---- scanning the folder ----

    static readonly EnumerationOptions Recursive = new() { RecurseSubdirectories = true, AttributesToSkip = FileAttributes.Hidden | FileAttributes.System, IgnoreInaccessible = false };
    static readonly EnumerationOptions Flat = new() { RecurseSubdirectories = false, AttributesToSkip = FileAttributes.Hidden | FileAttributes.System };

    static bool Hidden(string relative) => relative.Split('/').Any(part => part.StartsWith('.'));

    static string[] Subfolders(string dir) =>
        Directory.GetDirectories(dir, "*", Flat).Where(d => !Path.GetFileName(d).StartsWith('.'))
                 .OrderBy(d => Path.GetFileName(d), StringComparer.Ordinal).ToArray();

    static string[] LooseImages(string dir) =>
        Directory.GetFiles(dir, "*", Flat).Where(f => !Path.GetFileName(f).StartsWith('.') && ImageDecoding.IsImageFile(f))
                 .OrderBy(f => f, StringComparer.Ordinal).ToArray();

    static (FolderLayout, string[] Classes, List<Entry>, List<string> IgnoredFiles, List<string> IgnoredFolders, bool HasValidFolder)
        Scan(string dir, ImageFolderOptions options)
    {
        if (!Directory.Exists(dir))
            throw new DataSourceException(dir, File.Exists(dir) ? "is a file, not a folder" : "no such folder",
                                          "give the folder that holds one subfolder of images per class (folder:DIR)");
        var entries = new List<Entry>();
        var ignoredFiles = new List<string>();
        var ignoredFolders = new List<string>();
        string Rel(string full) => Path.GetRelativePath(dir, full).Replace(Path.DirectorySeparatorChar, '/');

        void AddClassFolder(string classDir, int cls, Split? split)
        {
            int before = entries.Count;
            foreach (var file in Directory.EnumerateFiles(classDir, "*", Recursive))
            {
                string rel = Rel(file);
                if (Hidden(rel)) continue;
                if (ImageDecoding.IsImageFile(file)) entries.Add(new Entry(split, cls, rel, file));
                else ignoredFiles.Add(rel);
            }
            if (entries.Count == before)
                throw new DataSourceException(classDir, $"class folder has no images ({string.Join(", ", ImageDecoding.Extensions)})",
                                              "add images to it or remove it");
        }

        void RejectLooseImages(string folder, string what)
        {
            var loose = LooseImages(folder);
            if (loose.Length > 0)
                throw new DataSourceException(folder, $"{loose.Length} image(s) lie directly in the {what} beside the class subfolders (e.g. {Path.GetFileName(loose[0])})",
                                              "move each image into the subfolder of its class");
        }

        var top = Subfolders(dir);
        string? trainDir = top.FirstOrDefault(d => string.Equals(Path.GetFileName(d), "train", StringComparison.OrdinalIgnoreCase));
        if (trainDir is not null && Subfolders(trainDir).Length > 0)
        {
            string? validDir = top.FirstOrDefault(d => ValidFolderNames.Contains(Path.GetFileName(d).ToLowerInvariant()));
            string? testDir = top.FirstOrDefault(d => string.Equals(Path.GetFileName(d), "test", StringComparison.OrdinalIgnoreCase));
            foreach (var d in top)
                if (d != trainDir && d != validDir && d != testDir) ignoredFolders.Add(Rel(d) + "/");
            RejectLooseImages(trainDir, "train/ folder");
            string[] classes = Subfolders(trainDir).Select(Path.GetFileName).ToArray()!;
            for (int c = 0; c < classes.Length; c++) AddClassFolder(Path.Combine(trainDir, classes[c]), c, Split.Train);
            foreach (var (splitDir, split) in new[] { (validDir, Split.Validation), (testDir, Split.Test) })
            {
                if (splitDir is null) continue;
                RejectLooseImages(splitDir, $"{Path.GetFileName(splitDir)}/ folder");
                foreach (var classDir in Subfolders(splitDir))
                {
                    int c = Array.IndexOf(classes, Path.GetFileName(classDir));
                    if (c < 0)
                        throw new DataSourceException(classDir, $"class '{Path.GetFileName(classDir)}' is in {Path.GetFileName(splitDir)}/ but not in train/",
                                                      $"add its training images to {Path.Combine(trainDir, Path.GetFileName(classDir))} or remove the folder");
                    AddClassFolder(classDir, c, split);
                }
            }
            return (FolderLayout.SplitFolders, classes, entries, ignoredFiles, ignoredFolders, validDir is not null);
        }

        if (top.Length > 0)
        {
            RejectLooseImages(dir, "folder");
            string[] classes = top.Select(Path.GetFileName).ToArray()!;
            for (int c = 0; c < classes.Length; c++) AddClassFolder(top[c], c, null);
            foreach (var f in Directory.GetFiles(dir, "*", Flat)) if (!Path.GetFileName(f).StartsWith('.')) ignoredFiles.Add(Rel(f));
            return (FolderLayout.ClassFolders, classes, entries, ignoredFiles, ignoredFolders, false);
        }

        var images = LooseImages(dir);
        if (images.Length == 0)
            throw new DataSourceException(dir, $"no images ({string.Join(", ", ImageDecoding.Extensions)}) and no class subfolders",
                                          $"put the images in one subfolder per class ({Path.Combine(dir, "cat")}, {Path.Combine(dir, "dog")}, ...)");
        foreach (var f in images) entries.Add(new Entry(null, 0, Rel(f), f));
        foreach (var f in Directory.GetFiles(dir, "*", Flat))
            if (!Path.GetFileName(f).StartsWith('.') && !ImageDecoding.IsImageFile(f)) ignoredFiles.Add(Rel(f));
        return (FolderLayout.Unlabelled, [Path.GetFileName(dir.TrimEnd(Path.DirectorySeparatorChar))], entries, ignoredFiles, ignoredFolders, false);
    }

    /// <summary>The cache file of decoded images: content hash → decoded image or error.</summary>
    static class ImageCache
    {
        public static Dictionary<string, (DecodedImage?, string?)>? TryRead(string path, ImageFolderOptions o)
        {
            if (!File.Exists(path)) return null;
            try
            {
                using var reader = new BinaryReader(File.OpenRead(path));
                if (reader.ReadString() != CacheVersion || reader.ReadInt32() != o.Height || reader.ReadInt32() != o.Width
                    || reader.ReadInt32() != o.Channels || reader.ReadInt32() != (int)o.Resize) return null;
                int n = reader.ReadInt32(), size = o.Channels * o.Height * o.Width;
                var map = new Dictionary<string, (DecodedImage?, string?)>(n);
                for (int i = 0; i < n; i++)
                {
                    string hash = reader.ReadString();
                    if (reader.ReadBoolean())
                    {
                        int w = reader.ReadInt32(), h = reader.ReadInt32();
                        bool grey = reader.ReadBoolean();
                        string format = reader.ReadString();
                        var action = (ResizeAction)reader.ReadByte();
                        byte[] pixels = reader.ReadBytes(size);
                        if (pixels.Length != size) return null;
                        map[hash] = (new DecodedImage(pixels, w, h, grey, format, action), null);
                    }
                    else map[hash] = (null, reader.ReadString());
                }
                return map;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException) { return null; } // a damaged cache is rebuilt
        }

        public static void Write(string path, ImageFolderOptions o, IEnumerable<(string Hash, DecodedImage? Image, string? Error)> items)
        {
            var distinct = items.DistinctBy(x => x.Hash).ToList();
            PaperLab.Runs.AtomicFile.Write(path, stream =>
            {
                using var w = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true);
                w.Write(CacheVersion);
                w.Write(o.Height); w.Write(o.Width); w.Write(o.Channels); w.Write((int)o.Resize);
                w.Write(distinct.Count);
                foreach (var (hash, image, error) in distinct)
                {
                    w.Write(hash);
                    w.Write(image is not null);
                    if (image is null) { w.Write(error ?? "unreadable"); continue; }
                    w.Write(image.SourceWidth); w.Write(image.SourceHeight); w.Write(image.SourceGrey);
                    w.Write(image.Format); w.Write((byte)image.Action); w.Write(image.Pixels);
                }
            });
        }
    }
}
