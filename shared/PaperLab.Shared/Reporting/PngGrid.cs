using System.Buffers.Binary;
using System.IO.Compression;
using PaperLab.Runs;

namespace PaperLab.Reporting;

/// <summary>
/// Grayscale images tiled into one PNG file (a file beside the report; <see cref="Html"/> makes the images of
/// <see cref="Charts.ImageGrid"/>). 8-bit grayscale, no interlacing, filter 0, zlib from System.IO.Compression
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

    /// <summary>The start of every fragment <see cref="Html"/> makes.</summary>
    public const string HtmlMarker = "<figure class=\"image-grid\"";

    /// <summary>
    /// Grayscale images as an HTML fragment: a titled grid of &lt;img&gt; elements, each a PNG data URI at the
    /// image's own resolution drawn <paramref name="cellPixels"/> CSS pixels per image pixel (no smoothing),
    /// with its caption below. No script: it shows wherever HTML does (reports, notebooks, offline).
    /// </summary>
    /// <param name="title">Caption of the whole grid.</param>
    /// <param name="images">N images of height·width values in [0, 1] (clipped), row-major; 0 = black, 1 = white.</param>
    /// <param name="height">Image height in pixels.</param>
    /// <param name="width">Image width in pixels.</param>
    /// <param name="captions">N captions, or null/empty for none.</param>
    /// <param name="columns">Images per row (&gt;= 1).</param>
    /// <param name="cellPixels">CSS pixels per image pixel (&gt;= 1).</param>
    /// <exception cref="ArgumentException">An image of the wrong size, captions not one per image, or columns/cellPixels below 1.</exception>
    public static string Html(string title, IReadOnlyList<float[]> images, int height, int width,
        IReadOnlyList<string>? captions = null, int columns = 8, int cellPixels = 3)
    {
        if (columns < 1) throw new ArgumentException($"columns must be at least 1, got {columns}.", nameof(columns));
        if (cellPixels < 1) throw new ArgumentException($"cellPixels must be at least 1, got {cellPixels}.", nameof(cellPixels));
        if (height < 1 || width < 1) throw new ArgumentException($"Image size must be positive, got {height}x{width}.");
        captions = captions is { Count: > 0 } ? captions : null;
        if (captions is not null && captions.Count != images.Count)
            throw new ArgumentException($"{images.Count} images but {captions.Count} captions: give one caption per image, or none.", nameof(captions));
        for (int i = 0; i < images.Count; i++)
            if (images[i].Length != height * width)
                throw new ArgumentException($"Image {i} has {images[i].Length} values, expected height*width = {height}*{width} = {height * width}.", nameof(images));
        var html = new System.Text.StringBuilder();
        html.Append(HtmlMarker).Append(" style=\"margin: 1em 0\">")
            .Append("<figcaption style=\"font: 600 14px sans-serif; margin-bottom: 0.4em\">").Append(HtmlPage.Encode(title)).Append("</figcaption>")
            .Append($"<div style=\"display: grid; grid-template-columns: repeat({Math.Min(columns, Math.Max(1, images.Count))}, max-content); gap: 6px 8px\">");
        for (int i = 0; i < images.Count; i++)
        {
            var pixels = new byte[height * width];
            for (int k = 0; k < pixels.Length; k++) pixels[k] = (byte)Math.Round(Math.Clamp(images[i][k], 0f, 1f) * 255);
            string caption = captions is null ? "" : HtmlPage.Encode(captions[i]);
            html.Append("<figure style=\"margin: 0; text-align: center\">")
                .Append("<img src=\"").Append(DataUri(pixels, width, height)).Append("\" width=\"").Append(width * cellPixels)
                .Append("\" height=\"").Append(height * cellPixels).Append("\" alt=\"").Append(caption.Length > 0 ? caption : $"image {i}")
                .Append("\" style=\"image-rendering: pixelated; display: block\">");
            if (caption.Length > 0) html.Append("<figcaption style=\"font: 11px sans-serif\">").Append(caption).Append("</figcaption>");
            html.Append("</figure>");
        }
        return html.Append("</div></figure>").ToString();
    }

    /// <summary>An 8-bit grayscale PNG of <paramref name="pixels"/> (h·w bytes, row-major) as a <c>data:image/png;base64,</c> URI.</summary>
    public static string DataUri(byte[] pixels, int w, int h)
    {
        using var png = new MemoryStream();
        Encode(png, pixels, w, h);
        return "data:image/png;base64," + Convert.ToBase64String(png.GetBuffer(), 0, (int)png.Length);
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
