namespace PaperLab.Data;

/// <summary>One file a run read, as config.json records it.</summary>
/// <param name="Name">File name.</param>
/// <param name="Bytes">Size on disk.</param>
/// <param name="Sha256">Sha256 of its content (after gunzip), 64 lowercase hex digits.</param>
public sealed record DataFileRecord(string Name, long Bytes, string Sha256);

/// <summary>
/// The data a run used, for config.json: which dataset, the folder it was read from, and each file with
/// its sha256, so that a run can be repeated on exactly the same data (or a difference noticed).
/// </summary>
/// <param name="Dataset">The dataset's name or source (e.g. "mnist", "folder:/home/me/cats").</param>
/// <param name="Folder">The folder the files were read from.</param>
/// <param name="Files">The files read.</param>
/// <param name="Description">What was used of it, in words (e.g. "train 60,000 / test 10,000 images").</param>
public sealed record DataRecord(string Dataset, string Folder, IReadOnlyList<DataFileRecord> Files, string Description)
{
    /// <summary>The record of <paramref name="paths"/> in <paramref name="folder"/> (hashing each file's content once per process).</summary>
    public static DataRecord Of(string dataset, string folder, IEnumerable<string> paths, string description) =>
        new(dataset, Path.GetFullPath(folder),
            paths.Select(p => new DataFileRecord(Path.GetFileName(p), new FileInfo(p).Length, FileContent.Sha256(p))).ToList(), description);
}
