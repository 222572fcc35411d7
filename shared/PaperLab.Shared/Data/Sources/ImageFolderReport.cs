using System.Globalization;
using System.Text;
using System.Text.Json.Serialization;
using PaperLab.Runs;

namespace PaperLab.Data.Sources;

/// <summary>Images of one class in each split.</summary>
public sealed record ClassCount(string Class, int Train, int Valid, int Test);

/// <summary>How many files had one source size.</summary>
public sealed record SizeCount(int Width, int Height, int Count);

/// <summary>A file that was not used, and why.</summary>
/// <param name="File">Path relative to the source folder.</param>
/// <param name="Reason">E.g. "truncated image data".</param>
public sealed record SkippedFile(string File, string Reason);

/// <summary>Files with identical bytes.</summary>
/// <param name="Sha256">Their content hash.</param>
/// <param name="Files">The files (relative paths), in split then class order.</param>
/// <param name="Splits">The split of each file ("train", "valid", "test").</param>
/// <param name="Classes">The class of each file.</param>
public sealed record DuplicateGroup(string Sha256, IReadOnlyList<string> Files, IReadOnlyList<string> Splits, IReadOnlyList<string> Classes);

/// <summary>
/// The trivial classifier to beat: always answer the most frequent training class.
/// </summary>
/// <param name="Class">The most frequent class in the training split (ties: the first in class order).</param>
/// <param name="TrainShare">Its share of the training images, 0..1.</param>
/// <param name="ValidAccuracy">Accuracy of always answering it on the validation split, 0..1; null when that split is empty.</param>
/// <param name="TestAccuracy">The same on the test split; null without one.</param>
public sealed record MajorityBaseline(string Class, double TrainShare, double? ValidAccuracy, double? TestAccuracy)
{
    /// <summary>The baseline of training labels <paramref name="train"/>, scored on <paramref name="valid"/> and <paramref name="test"/>.</summary>
    /// <param name="train">Training labels, each in 0..classNames.Length−1; not empty.</param>
    /// <param name="valid">Validation labels (may be empty).</param>
    /// <param name="test">Test labels, or null.</param>
    /// <param name="classNames">Name of each class.</param>
    /// <exception cref="ArgumentException">No training labels.</exception>
    public static MajorityBaseline Of(IReadOnlyList<int> train, IReadOnlyList<int> valid, IReadOnlyList<int>? test, IReadOnlyList<string> classNames)
    {
        if (train.Count == 0) throw new ArgumentException("no training labels", nameof(train));
        var counts = new int[classNames.Count];
        foreach (int l in train) counts[l]++;
        int majority = Array.IndexOf(counts, counts.Max());
        double? Accuracy(IReadOnlyList<int>? labels) =>
            labels is null || labels.Count == 0 ? null : labels.Count(l => l == majority) / (double)labels.Count;
        return new MajorityBaseline(classNames[majority], counts[majority] / (double)train.Count, Accuracy(valid), Accuracy(test));
    }
}

/// <summary>
/// What a folder of images held and what loading did to it: printed before training, saved in the run folder
/// (<see cref="WriteTo"/>, with a grid of sample images) and shown at the top of report.html.
/// </summary>
public sealed record ImageFolderReport : DataReport
{
    /// <summary>The folder read (absolute).</summary>
    public required string Folder { get; init; }
    /// <summary>How it was laid out.</summary>
    public required FolderLayout Layout { get; init; }
    /// <summary>True when the validation split was chosen by content hash (no valid/ folder).</summary>
    public required bool ValidChosenByHash { get; init; }
    /// <summary>The percentage held out when <see cref="ValidChosenByHash"/>.</summary>
    public required double ValidPercent { get; init; }
    /// <summary>Images per class and split, in class-index order.</summary>
    public required IReadOnlyList<ClassCount> Classes { get; init; }
    /// <summary>Image files found (before skipping unreadable ones).</summary>
    public required int FilesFound { get; init; }
    /// <summary>Images decoded and used.</summary>
    public required int ImagesUsed { get; init; }
    /// <summary>The most common source sizes, most frequent first (at most 10).</summary>
    public required IReadOnlyList<SizeCount> SizesFound { get; init; }
    /// <summary>Number of distinct source sizes.</summary>
    public required int DistinctSizes { get; init; }
    /// <summary>Files per format as detected from their content (Png, Jpeg...).</summary>
    public required IReadOnlyDictionary<string, int> Formats { get; init; }
    /// <summary>Files that store a grey image.</summary>
    public required int GreySources { get; init; }
    /// <summary>Files that store a colour image.</summary>
    public required int ColourSources { get; init; }
    /// <summary>The target shape, e.g. "1×28×28 (C×H×W)".</summary>
    public required string Target { get; init; }
    /// <summary>The resize rule in words (<see cref="ImageFolderOptions.Rule"/>).</summary>
    public required string Rule { get; init; }
    /// <summary>Images per resize action (None, Scaled, Cropped, Padded).</summary>
    public required IReadOnlyDictionary<string, int> ResizeActions { get; init; }
    /// <summary>Distinct contents found in more than one split.</summary>
    public required int CrossSplitDuplicates { get; init; }
    /// <summary>Validation images whose exact bytes are also a training image (they flatter validation accuracy).</summary>
    public required int ValidCopiesOfTrain { get; init; }
    /// <summary>Test images whose exact bytes are also a training image.</summary>
    public required int TestCopiesOfTrain { get; init; }
    /// <summary>Extra copies inside one split (group size − 1, summed).</summary>
    public required int WithinSplitDuplicates { get; init; }
    /// <summary>Distinct contents filed under more than one class.</summary>
    public required int ConflictingLabels { get; init; }
    /// <summary>Up to 5 cross-split and 5 conflicting duplicate groups.</summary>
    public required IReadOnlyList<DuplicateGroup> DuplicateExamples { get; init; }
    /// <summary>Largest training class ÷ smallest (∞ when a class has no training image; 1 = balanced).</summary>
    public required double ImbalanceRatio { get; init; }
    /// <summary>The majority-class baseline to beat.</summary>
    public required MajorityBaseline Baseline { get; init; }
    /// <summary>Unreadable images skipped, with the reason.</summary>
    public required IReadOnlyList<SkippedFile> Skipped { get; init; }
    /// <summary>Files that are not images (by extension), not read.</summary>
    public required int IgnoredFiles { get; init; }
    /// <summary>Up to 5 of them.</summary>
    public required IReadOnlyList<string> IgnoredExamples { get; init; }
    /// <summary>Top-level folders of a train/valid/test layout that are none of those, not read.</summary>
    public required IReadOnlyList<string> IgnoredFolders { get; init; }
    /// <summary>Things worth a look before training, in words.</summary>
    public required IReadOnlyList<string> Warnings { get; init; }
    /// <summary>Wall seconds to list, read, hash and decode (or read the cache).</summary>
    public required double LoadSeconds { get; init; }
    /// <summary>Images loaded per wall second.</summary>
    public required double ImagesPerSecond { get; init; }
    /// <summary>"off", "read PATH" or "written PATH".</summary>
    public required string Cache { get; init; }
    /// <summary>The first classes shown in <see cref="SamplesPng"/>, one row each.</summary>
    public required IReadOnlyList<string> SampleRows { get; init; }
    /// <summary>A PNG of up to 8 training images per class, one row per class (up to 16 classes).</summary>
    [JsonIgnore] public byte[] SamplesPng { get; init; } = [];

    /// <summary>File name of the sample grid written by <see cref="WriteTo"/>.</summary>
    public const string SamplesFile = "data_samples.png";

    /// <summary>Writes data_report.txt, data_report.json and data_samples.png into <paramref name="dir"/>, each atomically.</summary>
    /// <param name="dir">An existing folder, usually the run's.</param>
    /// <exception cref="IOException">The folder cannot be written.</exception>
    public override void WriteTo(string dir)
    {
        base.WriteTo(dir);
        AtomicFile.Write(Path.Combine(dir, SamplesFile), s => s.Write(SamplesPng));
    }

    /// <inheritdoc/>
    protected override string Render()
    {
        var sb = new StringBuilder();
        sb.AppendLine($"data: {Folder} ({Layout switch { FolderLayout.SplitFolders => "train/valid/test folders", FolderLayout.Unlabelled => "unlabelled images", _ => "class folders" }})");
        sb.AppendLine($"  {ImagesUsed:N0} images used of {FilesFound:N0} image files; validation: " +
                          (ValidChosenByHash ? $"{ValidPercent:0.##}% of each class, chosen by content hash" : "the valid/ folder"));
        bool hasTest = Classes.Any(c => c.Test > 0);
        int width = Math.Max(5, Classes.Max(c => c.Class.Length));
        sb.AppendLine($"  {"class".PadRight(width)} {"train",8} {"valid",8}" + (hasTest ? $" {"test",8}" : ""));
        foreach (var c in Classes)
            sb.AppendLine($"  {c.Class.PadRight(width)} {c.Train,8:N0} {c.Valid,8:N0}" + (hasTest ? $" {c.Test,8:N0}" : ""));
        sb.AppendLine($"  {"total".PadRight(width)} {Classes.Sum(c => c.Train),8:N0} {Classes.Sum(c => c.Valid),8:N0}" + (hasTest ? $" {Classes.Sum(c => c.Test),8:N0}" : ""));
        sb.AppendLine($"  sizes found: {DistinctSizes} distinct; " + string.Join(", ", SizesFound.Take(5).Select(s => $"{s.Width}×{s.Height} ({s.Count:N0})")));
        sb.AppendLine($"  formats: {string.Join(", ", Formats.Select(kv => $"{kv.Key} {kv.Value:N0}"))}; grey {GreySources:N0}, colour {ColourSources:N0}");
        sb.AppendLine($"  to {Target}: {string.Join(", ", ResizeActions.Where(kv => kv.Value > 0).Select(kv => $"{kv.Key.ToLowerInvariant()} {kv.Value:N0}"))}");
        sb.AppendLine($"  rule: {Rule}");
        sb.AppendLine($"  duplicates: {CrossSplitDuplicates} across splits ({ValidCopiesOfTrain} valid and {TestCopiesOfTrain} test images copy a training image), " +
                          $"{WithinSplitDuplicates} extra copies within a split, {ConflictingLabels} filed under two classes");
        sb.AppendLine($"  class imbalance: largest/smallest training class = " + (double.IsInfinity(ImbalanceRatio) ? "∞" : ImbalanceRatio.ToString("0.##")));
        sb.AppendLine($"  baseline to beat: always '{Baseline.Class}' ({Baseline.TrainShare:P1} of train) scores " +
                          $"{Fmt(Baseline.ValidAccuracy)} validation accuracy" + (Baseline.TestAccuracy is null ? "" : $", {Fmt(Baseline.TestAccuracy)} test"));
        if (Skipped.Count > 0)
        {
            sb.AppendLine($"  skipped {Skipped.Count} unreadable image(s) (--strict fails instead):");
            foreach (var s in Skipped.Take(10)) sb.AppendLine($"    {s.File}: {s.Reason}");
            if (Skipped.Count > 10) sb.AppendLine($"    ... and {Skipped.Count - 10} more (data_report.json lists all)");
        }
        if (IgnoredFiles > 0) sb.AppendLine($"  ignored {IgnoredFiles} file(s) that are not images: {string.Join(", ", IgnoredExamples)}{(IgnoredFiles > IgnoredExamples.Count ? ", ..." : "")}");
        if (IgnoredFolders.Count > 0) sb.AppendLine($"  ignored folders: {string.Join(", ", IgnoredFolders)}");
        foreach (var w in Warnings) sb.AppendLine($"  warning: {w}");
        sb.AppendLine($"  loaded in {LoadSeconds:0.00} s ({ImagesPerSecond:N0} images/s); cache: {Cache}");
        return sb.ToString();

        static string Fmt(double? v) => v is double d ? d.ToString("P2") : "n/a (no images)";
    }

    internal static ImageFolderReport Describe(string dir, FolderLayout layout, bool validByHash, ImageFolderOptions options,
        ImageSet train, ImageSet valid, ImageSet? test, IReadOnlyList<DecodedImage> decoded, List<SkippedFile> skipped,
        List<string> ignoredFiles, List<string> ignoredFolders, double seconds, int filesFound, string cache)
    {
        string[] classes = train.ClassNames;
        int[] tr = train.CountsPerClass(), va = valid.CountsPerClass(), te = test?.CountsPerClass() ?? new int[classes.Length];
        var counts = classes.Select((c, i) => new ClassCount(c, tr[i], va[i], te[i])).ToArray();

        var sizes = decoded.GroupBy(d => (d.SourceWidth, d.SourceHeight))
                           .Select(g => new SizeCount(g.Key.SourceWidth, g.Key.SourceHeight, g.Count()))
                           .OrderByDescending(s => s.Count).ThenBy(s => s.Width).ThenBy(s => s.Height).ToList();
        var actions = Enum.GetValues<ResizeAction>().ToDictionary(a => a.ToString(), a => decoded.Count(d => d.Action == a));

        // Duplicates by content hash over every image used.
        var all = new List<(string Hash, string File, string Split, string Class)>();
        void Add(ImageSet? set, string split)
        {
            if (set is null) return;
            for (int i = 0; i < set.Count; i++) all.Add((set.Hashes[i], set.Files[i], split, classes[set.Labels[i]]));
        }
        Add(train, "train"); Add(valid, "valid"); Add(test, "test");
        var groups = all.GroupBy(x => x.Hash).Where(g => g.Count() > 1).ToList();
        DuplicateGroup Group(IGrouping<string, (string Hash, string File, string Split, string Class)> g) =>
            new(g.Key, g.Select(x => x.File).ToList(), g.Select(x => x.Split).ToList(), g.Select(x => x.Class).ToList());
        var cross = groups.Where(g => g.Select(x => x.Split).Distinct().Count() > 1).ToList();
        var conflicting = groups.Where(g => g.Select(x => x.Class).Distinct().Count() > 1).ToList();
        var trainHashes = train.Hashes.ToHashSet();
        int validCopies = valid.Hashes.Count(trainHashes.Contains), testCopies = test?.Hashes.Count(trainHashes.Contains) ?? 0;
        int within = groups.Sum(g => g.GroupBy(x => x.Split).Sum(s => s.Count() - 1));

        double imbalance = tr.Min() == 0 ? double.PositiveInfinity : tr.Max() / (double)tr.Min();
        var baseline = MajorityBaseline.Of(train.Labels, valid.Labels, test?.Labels, classes);

        var warnings = new List<string>();
        foreach (var c in counts.Where(c => c.Train == 0)) warnings.Add($"class '{c.Class}' has no training images");
        if (valid.Count == 0) warnings.Add(validByHash ? $"no validation images (--valid-pct {options.ValidPercent:0.##})" : "the valid/ folder has no images");
        else foreach (var c in counts.Where(c => c.Valid == 0 && c.Train > 0)) warnings.Add($"class '{c.Class}' has no validation images");
        if (imbalance > 10) warnings.Add($"classes are imbalanced ({(double.IsInfinity(imbalance) ? "∞" : imbalance.ToString("0.#", CultureInfo.InvariantCulture))}×): accuracy hides errors on the small classes");
        if (validCopies + testCopies > 0) warnings.Add($"{validCopies + testCopies} validation/test images are exact copies of training images: their accuracy is flattered");
        if (conflicting.Count > 0) warnings.Add($"{conflicting.Count} image(s) are filed under two classes (identical bytes): their labels contradict each other");
        if (sizes.Count > 1 && actions[nameof(ResizeAction.Cropped)] > 0 && options.Resize == ResizeMode.Crop)
            warnings.Add($"{actions[nameof(ResizeAction.Cropped)]} images of another aspect ratio lost their edges to the centre crop (--resize pad keeps them whole)");

        int sampleClasses = Math.Min(classes.Length, 16);
        return new ImageFolderReport
        {
            Folder = dir,
            Layout = layout,
            ValidChosenByHash = validByHash,
            ValidPercent = options.ValidPercent,
            Classes = counts,
            FilesFound = filesFound,
            ImagesUsed = decoded.Count,
            SizesFound = sizes.Take(10).ToList(),
            DistinctSizes = sizes.Count,
            Formats = decoded.GroupBy(d => d.Format).OrderByDescending(g => g.Count()).ToDictionary(g => g.Key, g => g.Count()),
            GreySources = decoded.Count(d => d.SourceGrey),
            ColourSources = decoded.Count(d => !d.SourceGrey),
            Target = $"{options.Channels}×{options.Height}×{options.Width} (C×H×W)",
            Rule = options.Rule,
            ResizeActions = actions,
            CrossSplitDuplicates = cross.Count,
            ValidCopiesOfTrain = validCopies,
            TestCopiesOfTrain = testCopies,
            WithinSplitDuplicates = within,
            ConflictingLabels = conflicting.Count,
            DuplicateExamples = cross.Take(5).Concat(conflicting.Take(5)).Distinct().Select(Group).ToList(),
            ImbalanceRatio = imbalance,
            Baseline = baseline,
            Skipped = skipped,
            IgnoredFiles = ignoredFiles.Count,
            IgnoredExamples = ignoredFiles.Take(5).ToList(),
            IgnoredFolders = ignoredFolders,
            Warnings = warnings,
            LoadSeconds = seconds,
            ImagesPerSecond = seconds > 0 ? filesFound / seconds : 0,
            Cache = cache,
            SampleRows = classes.Take(sampleClasses).ToList(),
            SamplesPng = SampleGrid(train, sampleClasses, perClass: 8),
        };
    }

    /// <summary>
    /// A PNG of the first <paramref name="perClass"/> training images of each of the first <paramref name="classes"/>
    /// classes, one row per class, on a mid-grey background; small images are enlarged by whole pixels to at least 48 px.
    /// </summary>
    /// <returns>PNG bytes (grey or RGB as the set).</returns>
    public static byte[] SampleGrid(ImageSet set, int classes, int perClass)
    {
        int c = set.Channels, h = set.Height, w = set.Width;
        int scale = Math.Max(1, (int)Math.Ceiling(48.0 / Math.Min(h, w)));
        if (Math.Max(h, w) * scale > 256) scale = Math.Max(1, 256 / Math.Max(h, w));
        const int gap = 2;
        int rows = Math.Max(1, classes), cols = Math.Max(1, perClass);
        int gw = cols * w * scale + (cols + 1) * gap, gh = rows * h * scale + (rows + 1) * gap;
        var grid = new byte[c * gh * gw];
        Array.Fill(grid, (byte)96);
        int plane = h * w, gplane = gh * gw;
        for (int row = 0; row < rows; row++)
        {
            var members = Enumerable.Range(0, set.Count).Where(i => set.Labels[i] == row).Take(cols).ToArray();
            for (int col = 0; col < members.Length; col++)
            {
                var image = set.Image(members[col]);
                int top = gap + row * (h * scale + gap), left = gap + col * (w * scale + gap);
                for (int ch = 0; ch < c; ch++)
                    for (int y = 0; y < h * scale; y++)
                        for (int x = 0; x < w * scale; x++)
                            grid[ch * gplane + (top + y) * gw + left + x] = image[ch * plane + (y / scale) * w + x / scale];
            }
        }
        return ImageDecoding.EncodePng(grid, gh, gw, c);
    }
}
