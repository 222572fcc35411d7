using System.Buffers.Binary;

namespace PaperLab.Data;

/// <summary>
/// An n-dimensional array of unsigned bytes read from an IDX file.
/// </summary>
/// <param name="Shape">The dimensions, outermost first (e.g. <c>[60000, 28, 28]</c> for MNIST's training images).</param>
/// <param name="Data">The elements in row-major order; its length is the product of <paramref name="Shape"/>.</param>
public sealed record IdxArray(int[] Shape, byte[] Data)
{
    /// <summary>The outermost dimension: the number of items (images, labels).</summary>
    public int Count => Shape[0];
}

/// <summary>
/// Reader of the IDX format of LeCun et al.'s MNIST distribution (http://yann.lecun.com/exdb/mnist/):
/// a 4-byte magic number <c>00 00 type ndim</c>, then <c>ndim</c> big-endian int32 dimensions, then the
/// elements in row-major order. Gzip-compressed files are read transparently (detected by their magic
/// bytes, not their name). Only element type <c>0x08</c> (unsigned byte), the type of every
/// MNIST-family file, is supported.
/// </summary>
public static class Idx
{
    /// <summary>The type code of unsigned-byte elements.</summary>
    public const byte UnsignedByte = 0x08;

    static string TypeName(byte code) => code switch
    {
        0x08 => "unsigned byte",
        0x09 => "signed byte",
        0x0B => "int16",
        0x0C => "int32",
        0x0D => "float32",
        0x0E => "float64",
        _ => "not an IDX type",
    };

    /// <summary>Reads the IDX file at <paramref name="path"/>, plain or gzip-compressed.</summary>
    /// <returns>The array; its <c>Data.Length</c> equals the product of its shape.</returns>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="DataFormatException">
    /// The file is not a valid unsigned-byte IDX file: bad magic number, unsupported element type,
    /// bad dimensions, fewer or more data bytes than the dimensions say, or corrupt gzip data.
    /// The message names the file and the problem.
    /// </exception>
    public static IdxArray Read(string path)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"{path}: IDX file not found", path);
        using var content = FileContent.OpenRead(path);
        try
        {
            return Read(content, path);
        }
        catch (InvalidDataException e)
        {
            throw FileContent.CorruptGzip(path, e);
        }
    }

    /// <summary>Reads an (already decompressed) IDX stream to its end.</summary>
    /// <param name="content">The IDX bytes, from the magic number on.</param>
    /// <param name="source">The file name to put in error messages.</param>
    /// <exception cref="DataFormatException">As for <see cref="Read(string)"/>.</exception>
    public static IdxArray Read(Stream content, string source)
    {
        Span<byte> magic = stackalloc byte[4];
        int got = content.ReadAtLeast(magic, 4, throwOnEndOfStream: false);
        if (got < 4)
            throw new DataFormatException(source, $"too short for an IDX file: {got} bytes, an IDX header alone is at least 8");
        if (magic[0] != 0 || magic[1] != 0)
            throw new DataFormatException(source,
                $"bad magic number {Convert.ToHexString(magic)}: an IDX file starts with 00 00 <type> <ndim> " +
                "(e.g. 00000803 for images, 00000801 for labels); this is not an IDX file");
        byte type = magic[2];
        int ndim = magic[3];
        if (type != UnsignedByte)
            throw new DataFormatException(source,
                $"unsupported IDX element type 0x{type:X2} ({TypeName(type)}); only 0x08 (unsigned byte), " +
                "the type of MNIST-family files, is supported");
        if (ndim == 0)
            throw new DataFormatException(source, "IDX header says 0 dimensions; expected at least 1");

        var dimBytes = new byte[4 * ndim];
        got = content.ReadAtLeast(dimBytes, dimBytes.Length, throwOnEndOfStream: false);
        if (got < dimBytes.Length)
            throw new DataFormatException(source,
                $"truncated IDX header: {ndim} dimensions need {dimBytes.Length} bytes after the magic number, found {got}");
        var shape = new int[ndim];
        long count = 1;
        for (int d = 0; d < ndim; d++)
        {
            shape[d] = BinaryPrimitives.ReadInt32BigEndian(dimBytes.AsSpan(4 * d));
            if (shape[d] < 0)
                throw new DataFormatException(source, $"IDX dimension {d} is negative ({shape[d]})");
            count *= shape[d];
            if (count > Array.MaxLength)
                throw new DataFormatException(source,
                    $"IDX dimensions {string.Join('x', shape[..(d + 1)])} exceed the largest array .NET can hold");
        }

        int header = 4 + dimBytes.Length;
        var data = new byte[count];
        got = content.ReadAtLeast(data, data.Length, throwOnEndOfStream: false);
        if (got < data.Length)
            throw new DataFormatException(source,
                $"truncated: dimensions {string.Join('x', shape)} need {count} data bytes after the {header}-byte header, " +
                $"found {got} ({count - got} missing); delete the file and get it again");

        long extra = 0;
        var scratch = new byte[1 << 16];
        for (int n; (n = content.Read(scratch)) > 0;)
            extra += n;
        if (extra > 0)
            throw new DataFormatException(source,
                $"{extra} bytes more than dimensions {string.Join('x', shape)} say: expected {header + count} bytes in all, " +
                $"found {header + count + extra}; the header does not match the data");
        return new IdxArray(shape, data);
    }
}
