using System.Buffers.Binary;
using System.IO.Compression;
using PaperLab.Data;
using Xunit;

namespace PaperLab.Tests;

/// <summary>A temporary folder, deleted on dispose.</summary>
sealed class TempDir : IDisposable
{
    public TempDir() => Directory.CreateDirectory(Path);
    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "paperlab-test-" + Guid.NewGuid().ToString("N"));
    public string File(params string[] parts) => System.IO.Path.Combine([Path, .. parts]);
    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
    }
}

/// <summary>Builds small IDX files by hand.</summary>
static class IdxBytes
{
    /// <summary>Magic 00 00 type ndim, big-endian dims, then the data.</summary>
    public static byte[] Make(int[] dims, byte[] data, byte type = 0x08)
    {
        var bytes = new byte[4 + 4 * dims.Length + data.Length];
        bytes[2] = type;
        bytes[3] = (byte)dims.Length;
        for (int d = 0; d < dims.Length; d++)
            BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4 + 4 * d), dims[d]);
        data.CopyTo(bytes, 4 + 4 * dims.Length);
        return bytes;
    }

    public static byte[] Gzip(byte[] content)
    {
        using var output = new MemoryStream();
        using (var gz = new GZipStream(output, CompressionLevel.Optimal))
            gz.Write(content);
        return output.ToArray();
    }

    public static byte[] Ramp(int n) => Enumerable.Range(0, n).Select(i => (byte)(i * 7)).ToArray();
}

public class IdxTests
{
    [Fact]
    public void Reads_shape_and_data_of_a_plain_file()
    {
        using var tmp = new TempDir();
        string path = tmp.File("tiny-idx3-ubyte");
        File.WriteAllBytes(path, IdxBytes.Make([2, 2, 3], IdxBytes.Ramp(12)));

        var array = Idx.Read(path);

        Assert.Equal([2, 2, 3], array.Shape);
        Assert.Equal(IdxBytes.Ramp(12), array.Data);
        Assert.Equal(2, array.Count);
    }

    [Fact]
    public void Detects_gzip_by_magic_bytes_not_by_name()
    {
        using var tmp = new TempDir();
        string path = tmp.File("no-gz-suffix-idx1-ubyte");
        File.WriteAllBytes(path, IdxBytes.Gzip(IdxBytes.Make([5], [5, 0, 4, 1, 9])));

        Assert.True(FileContent.IsGzip(path));
        var array = Idx.Read(path);

        Assert.Equal([5], array.Shape);
        Assert.Equal(new byte[] { 5, 0, 4, 1, 9 }, array.Data);
    }

    [Fact]
    public void Content_sha256_is_the_same_plain_and_gzipped()
    {
        using var tmp = new TempDir();
        byte[] content = IdxBytes.Make([3], [1, 2, 3]);
        File.WriteAllBytes(tmp.File("a"), content);
        File.WriteAllBytes(tmp.File("a.gz"), IdxBytes.Gzip(content));

        string expected = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(content));
        Assert.Equal(expected, FileContent.Sha256(tmp.File("a")));
        Assert.Equal(expected, FileContent.Sha256(tmp.File("a.gz")));
    }

    static DataFormatException ReadFails(TempDir tmp, byte[] bytes, string name = "bad-idx3-ubyte")
    {
        string path = tmp.File(name);
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<DataFormatException>(() => Idx.Read(path));
        Assert.Contains(path, e.Message);
        Assert.Equal(path, e.Path);
        return e;
    }

    [Fact]
    public void Bad_magic_is_reported_with_the_file()
    {
        using var tmp = new TempDir();
        var bytes = IdxBytes.Make([3], [1, 2, 3]);
        bytes[0] = 0x12;
        bytes[1] = 0x34;
        var e = ReadFails(tmp, bytes);
        Assert.Contains("bad magic number 12340801", e.Message);
    }

    [Fact]
    public void Unsupported_element_type_names_the_type_and_what_is_supported()
    {
        using var tmp = new TempDir();
        var e = ReadFails(tmp, IdxBytes.Make([1], [0, 0, 0, 0], type: 0x0D));
        Assert.Contains("unsupported IDX element type 0x0D (float32)", e.Message);
        Assert.Contains("only 0x08 (unsigned byte)", e.Message);
    }

    [Fact]
    public void Truncated_data_reports_expected_and_actual_bytes()
    {
        using var tmp = new TempDir();
        var e = ReadFails(tmp, IdxBytes.Make([2, 5], IdxBytes.Ramp(7)));
        Assert.Contains("truncated", e.Message);
        Assert.Contains("dimensions 2x5 need 10 data bytes", e.Message);
        Assert.Contains("found 7 (3 missing)", e.Message);
    }

    [Fact]
    public void Truncated_data_inside_gzip_is_reported_the_same()
    {
        using var tmp = new TempDir();
        var e = ReadFails(tmp, IdxBytes.Gzip(IdxBytes.Make([4, 3], IdxBytes.Ramp(5))), "bad-idx3-ubyte.gz");
        Assert.Contains("need 12 data bytes", e.Message);
        Assert.Contains("found 5", e.Message);
    }

    [Fact]
    public void Truncated_header_is_reported()
    {
        using var tmp = new TempDir();
        var e = ReadFails(tmp, IdxBytes.Make([60000, 28, 28], [])[..10]);
        Assert.Contains("truncated IDX header", e.Message);
    }

    [Fact]
    public void More_data_than_the_dimensions_say_is_reported()
    {
        using var tmp = new TempDir();
        var e = ReadFails(tmp, IdxBytes.Make([3], [1, 2, 3, 4, 5]));
        Assert.Contains("2 bytes more than dimensions 3 say", e.Message);
    }

    [Fact]
    public void Corrupt_gzip_is_reported_as_such()
    {
        using var tmp = new TempDir();
        // a valid gzip header (RFC 1952), then a deflate block of the reserved type 11: undecodable
        byte[] bytes = [0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 0xff, .. Enumerable.Repeat((byte)0xff, 32)];
        var e = ReadFails(tmp, bytes, "corrupt-idx1-ubyte.gz");
        Assert.Contains("corrupt gzip data", e.Message);
        Assert.Throws<DataFormatException>(() => FileContent.Sha256(tmp.File("corrupt-idx1-ubyte.gz")));
    }

    [Fact]
    public void Gzip_file_cut_short_is_an_error_naming_the_file()
    {
        using var tmp = new TempDir();
        byte[] whole = IdxBytes.Gzip(IdxBytes.Make([100, 10], IdxBytes.Ramp(1000)));
        var e = ReadFails(tmp, whole[..(whole.Length / 2)], "cut-idx3-ubyte.gz");
        Assert.True(e.Message.Contains("corrupt gzip") || e.Message.Contains("truncated"), e.Message);
    }

    [Fact]
    public void Missing_file_is_reported_with_its_path()
    {
        using var tmp = new TempDir();
        var e = Assert.Throws<FileNotFoundException>(() => Idx.Read(tmp.File("absent")));
        Assert.Contains(tmp.File("absent"), e.Message);
    }
}
