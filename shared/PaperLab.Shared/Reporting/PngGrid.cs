using System.Buffers.Binary;
using System.IO.Compression;
using PaperLab.Runs;

namespace PaperLab.Reporting;

/// <summary>
/// Grayscale images tiled into one PNG file (a static companion of <see cref="Charts.ImageGrid"/>, viewable
/// without a browser). 8-bit grayscale, no interlacing, filter 0, zlib from System.IO.Compression
/// (PNG specification, ISO/IEC 15948, §11–12).
/// </summary>
public static class PngGrid
{
    /// <summary>Writes the images as a grid of <paramref name="columns"/> columns, separated by <paramref name="gap"/> black pixels; atomic.</summary>
    /// <param name="path">The .png file.</param>
    /// <param name="images">N images of height·width values in [0, 1] (clipped), row-major; 0 = black.</param>
    /// <param name="height">Image height in pixels.</param>
    /// <param name="width">Image width in pixels.</param>
    /// <param name="columns">Images per row.</param>
    /// <param name="scale">Each image pixel becomes scale × scale file pixels.</param>
    /// <param name="gap">Pixels between images (file pixels).</param>
    /// <exception cref="ArgumentException">No images, an image of the wrong size, or columns/scale below 1.</exception>
    public static void Save(string path, IReadOnlyList<float[]> images, int height, int width, int columns = 8, int scale = 2, int gap = 2)
    {
        if (images.Count == 0) throw new ArgumentException("no images to write", nameof(images));
        if (columns < 1 || scale < 1 || gap < 0) throw new ArgumentException("columns and scale must be at least 1, gap at least 0");
        int bad = images.ToList().FindIndex(im => im.Length != height * width);
        if (bad >= 0) throw new ArgumentException($"image {bad} has {images[bad].Length} values, expected {height}×{width}", nameof(images));
        int cols = Math.Min(columns, images.Count), rows = (images.Count + cols - 1) / cols;
        int w = cols * width * scale + (cols + 1) * gap, h = rows * height * scale + (rows + 1) * gap;
        var pixels = new byte[h * w];
        for (int k = 0; k < images.Count; k++)
        {
            int top = gap + (k / cols) * (height * scale + gap), left = gap + (k % cols) * (width * scale + gap);
            for (int y = 0; y < height * scale; y++)
                for (int x = 0; x < width * scale; x++)
                    pixels[(top + y) * w + left + x] = (byte)Math.Round(Math.Clamp(images[k][(y / scale) * width + x / scale], 0f, 1f) * 255);
        }
        AtomicFile.Write(path, s => Encode(s, pixels, w, h));
    }

    /// <summary>Writes an 8-bit grayscale PNG of <paramref name="pixels"/> (h·w bytes, row-major) to <paramref name="output"/>.</summary>
    public static void Encode(Stream output, byte[] pixels, int w, int h)
    {
        output.Write([137, 80, 78, 71, 13, 10, 26, 10]);
        var header = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(header, w);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), h);
        header[8] = 8;  // bit depth
        header[9] = 0;  // grayscale
        Chunk(output, "IHDR", header);
        using var raw = new MemoryStream();
        using (var z = new ZLibStream(raw, CompressionLevel.Optimal, leaveOpen: true))
            for (int y = 0; y < h; y++)
            {
                z.WriteByte(0); // filter: none
                z.Write(pixels, y * w, w);
            }
        Chunk(output, "IDAT", raw.ToArray());
        Chunk(output, "IEND", []);
    }

    static void Chunk(Stream s, string type, byte[] data)
    {
        Span<byte> four = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(four, data.Length);
        s.Write(four);
        byte[] typeBytes = System.Text.Encoding.ASCII.GetBytes(type);
        s.Write(typeBytes);
        s.Write(data);
        uint crc = Crc32(Crc32(0xFFFFFFFFu, typeBytes), data) ^ 0xFFFFFFFFu;
        BinaryPrimitives.WriteUInt32BigEndian(four, crc);
        s.Write(four);
    }

    static readonly uint[] Table = Enumerable.Range(0, 256).Select(n =>
    {
        uint c = (uint)n;
        for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        return c;
    }).ToArray();

    /// <summary>Running CRC-32 (PNG §D, polynomial 0xEDB88320), without the final inversion.</summary>
    static uint Crc32(uint crc, byte[] data)
    {
        foreach (byte b in data) crc = Table[(crc ^ b) & 0xFF] ^ (crc >> 8);
        return crc;
    }
}
