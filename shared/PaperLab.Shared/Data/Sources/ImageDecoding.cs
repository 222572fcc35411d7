// Decoding and resizing images of one's own, through SkiaSharp (Google's Skia): PNG, JPEG, BMP, GIF (first
// frame), WebP. Nothing here decodes a file format by hand.
//
// The rule, applied to every image (and recorded in config.json through ImageFolderOptions):
//   1. decode to 8-bit RGBA, alpha premultiplied: a transparent pixel counts as black (as if composited
//      over a black background);
//   2. an image already of the target size is used as decoded, pixel for pixel (no resampling);
//   3. otherwise it is scaled, keeping its aspect ratio, by Skia's bilinear filter with linear mipmaps
//      (trilinear: large reductions average every source pixel instead of skipping most of them):
//        Crop (default): scaled so that it covers the target (shorter side → target), then centre-cropped;
//        Pad:  scaled so that it fits inside the target (longer side → target), centred on black;
//   4. to grey with ITU-R BT.601 luma weights in 16-bit fixed point, Y = (19595 R + 38470 G + 7471 B + 2^15) >> 16,
//      which is exactly what Pillow's Image.convert("L") computes (and leaves grey pixels, R = G = B, unchanged);
//      or to RGB, grey images repeated on the three channels;
//   5. stored channel-first, C·H·W bytes, 0 = black, 255 = full intensity.
// EXIF orientation tags of camera JPEGs are not applied (Pillow and torchvision do not apply them either
// without being asked): a photo stored sideways stays sideways.

using System.Text.Json.Serialization;
using SkiaSharp;

namespace PaperLab.Data.Sources;

/// <summary>How an image of another size or aspect ratio is brought to the target size (see <see cref="ImageDecoding"/>).</summary>
[JsonConverter(typeof(JsonStringEnumConverter<ResizeMode>))]
public enum ResizeMode
{
    /// <summary>Scale the shorter side to the target, then cut the centre: fills the frame, loses the edges of oblong images.</summary>
    Crop,
    /// <summary>Scale the longer side to the target, then centre on black: keeps the whole image, adds black bars.</summary>
    Pad,
}

/// <summary>What happened to one image on its way to the target size.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<ResizeAction>))]
public enum ResizeAction
{
    /// <summary>Already the target size: used pixel for pixel.</summary>
    None,
    /// <summary>Scaled (up or down) with the aspect ratio of the target: nothing cut, nothing padded.</summary>
    Scaled,
    /// <summary>Scaled, then its centre cut (<see cref="ResizeMode.Crop"/>).</summary>
    Cropped,
    /// <summary>Scaled, then centred on black (<see cref="ResizeMode.Pad"/>).</summary>
    Padded,
}

/// <summary>One decoded image at the target size, with what it was.</summary>
/// <param name="Pixels">C·H·W bytes, channel-first, row-major.</param>
/// <param name="SourceWidth">Width of the file's image in pixels.</param>
/// <param name="SourceHeight">Height of the file's image in pixels.</param>
/// <param name="SourceGrey">True when the file stores a grey image (Skia reports it as 8-bit grey).</param>
/// <param name="Format">The file's format as Skia detected it from its content (Png, Jpeg, Bmp, Gif, Webp...).</param>
/// <param name="Action">How it was brought to the target size.</param>
public sealed record DecodedImage(byte[] Pixels, int SourceWidth, int SourceHeight, bool SourceGrey, string Format, ResizeAction Action);

/// <summary>Image decoding, resizing and channel conversion through SkiaSharp; the rule is in the file header.</summary>
public static class ImageDecoding
{
    /// <summary>File extensions taken as images (lower case, with the dot).</summary>
    public static IReadOnlyList<string> Extensions { get; } = [".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp"];

    /// <summary>True when <paramref name="path"/> ends in one of <see cref="Extensions"/> (any case).</summary>
    public static bool IsImageFile(string path) =>
        Extensions.Contains(System.IO.Path.GetExtension(path).ToLowerInvariant());

    /// <summary>
    /// Decodes an encoded image and brings it to <paramref name="channels"/>·<paramref name="height"/>·<paramref name="width"/>
    /// by the rule of the file header.
    /// </summary>
    /// <param name="encoded">The file's bytes.</param>
    /// <param name="height">Target height H ≥ 1.</param>
    /// <param name="width">Target width W ≥ 1.</param>
    /// <param name="channels">1 (grey) or 3 (RGB).</param>
    /// <param name="mode">Crop or pad when the aspect ratio differs.</param>
    /// <param name="error">Why decoding failed (unknown format, truncated or corrupt data), else null.</param>
    /// <returns>The image, or null when it could not be decoded.</returns>
    /// <exception cref="ArgumentOutOfRangeException">A size below 1 or channels not 1 or 3.</exception>
    public static DecodedImage? TryDecode(byte[] encoded, int height, int width, int channels, ResizeMode mode, out string? error)
    {
        ArgumentNullException.ThrowIfNull(encoded);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        if (channels is not (1 or 3)) throw new ArgumentOutOfRangeException(nameof(channels), channels, "channels must be 1 (grey) or 3 (RGB)");
        error = null;
        if (encoded.Length == 0) { error = "empty file"; return null; }

        using var data = SKData.CreateCopy(encoded);
        using var codec = SKCodec.Create(data);
        if (codec is null) { error = "not an image Skia can read (unknown format or damaged header)"; return null; }
        var info = codec.Info;
        if (info.Width < 1 || info.Height < 1) { error = $"image of size {info.Width}×{info.Height}"; return null; }
        bool grey = info.ColorType == SKColorType.Gray8;
        if (grey && channels == 1 && info.Width == width && info.Height == height)
        {
            // The common case of MNIST-like data: a grey file already at the target size, decoded straight into the
            // result (the general path would give the same bytes: R = G = B = v has luma v).
            var direct = new byte[width * height];
            var handle = System.Runtime.InteropServices.GCHandle.Alloc(direct, System.Runtime.InteropServices.GCHandleType.Pinned);
            SKCodecResult r;
            try { r = codec.GetPixels(new SKImageInfo(width, height, SKColorType.Gray8, SKAlphaType.Opaque), handle.AddrOfPinnedObject()); }
            finally { handle.Free(); }
            if (r != SKCodecResult.Success)
            {
                error = r == SKCodecResult.IncompleteInput ? "truncated image data" : $"cannot decode ({r})";
                return null;
            }
            return new DecodedImage(direct, width, height, true, codec.EncodedFormat.ToString(), ResizeAction.None);
        }
        var rgbaInfo = new SKImageInfo(info.Width, info.Height, SKColorType.Rgba8888, SKAlphaType.Premul);
        using var decoded = new SKBitmap(rgbaInfo);
        var result = codec.GetPixels(rgbaInfo, decoded.GetPixels());
        if (result != SKCodecResult.Success)
        {
            error = result == SKCodecResult.IncompleteInput ? "truncated image data" : $"cannot decode ({result})";
            return null;
        }

        ResizeAction action;
        SKBitmap target;
        if (info.Width == width && info.Height == height)
        {
            action = ResizeAction.None;
            target = decoded;
        }
        else
        {
            target = Resize(decoded, height, width, mode);
            action = SameAspect(info.Width, info.Height, width, height) ? ResizeAction.Scaled
                   : mode == ResizeMode.Crop ? ResizeAction.Cropped : ResizeAction.Padded;
        }
        try
        {
            byte[] pixels = ToPlanar(target, channels);
            return new DecodedImage(pixels, info.Width, info.Height, grey,
                                    codec.EncodedFormat.ToString(), action);
        }
        finally
        {
            if (!ReferenceEquals(target, decoded)) target.Dispose();
        }
    }

    static bool SameAspect(int w, int h, int width, int height) => (long)w * height == (long)h * width;

    static readonly SKSamplingOptions Trilinear = new(SKFilterMode.Linear, SKMipmapMode.Linear);

    /// <summary>Scales <paramref name="source"/> into a new height×width RGBA bitmap, cropping or padding (rule 3).</summary>
    static SKBitmap Resize(SKBitmap source, int height, int width, ResizeMode mode)
    {
        var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Premul));
        using var canvas = new SKCanvas(bitmap);
        canvas.Clear(SKColors.Black);
        using var image = SKImage.FromBitmap(source);
        double w = source.Width, h = source.Height;
        if (mode == ResizeMode.Crop)
        {
            // Scale s so that both sides cover the target; the target then sees a (W/s)×(H/s) window of the source's centre.
            double s = Math.Max(width / w, height / h);
            double cw = width / s, ch = height / s;
            var src = SKRect.Create((float)((w - cw) / 2), (float)((h - ch) / 2), (float)cw, (float)ch);
            canvas.DrawImage(image, src, SKRect.Create(0, 0, width, height), Trilinear, null);
        }
        else
        {
            // Scale s so that both sides fit; whole pixels for the placed image, so its edges stay sharp.
            double s = Math.Min(width / w, height / h);
            int dw = Math.Clamp((int)Math.Round(w * s), 1, width), dh = Math.Clamp((int)Math.Round(h * s), 1, height);
            var dst = SKRect.Create((width - dw) / 2, (height - dh) / 2, dw, dh);
            canvas.DrawImage(image, SKRect.Create(0, 0, (float)w, (float)h), dst, Trilinear, null);
        }
        canvas.Flush();
        return bitmap;
    }

    /// <summary>RGBA (premultiplied) → C·H·W bytes: grey by Pillow's BT.601 fixed-point luma (rule 4), or R, G, B planes.</summary>
    static byte[] ToPlanar(SKBitmap rgba, int channels)
    {
        int h = rgba.Height, w = rgba.Width, plane = h * w;
        ReadOnlySpan<byte> src = rgba.GetPixelSpan();
        int stride = rgba.RowBytes;
        var dst = new byte[channels * plane];
        for (int y = 0; y < h; y++)
        {
            var row = src.Slice(y * stride, 4 * w);
            for (int x = 0; x < w; x++)
            {
                int r = row[4 * x], g = row[4 * x + 1], b = row[4 * x + 2];
                int o = y * w + x;
                if (channels == 1)
                    dst[o] = (byte)((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16);
                else
                {
                    dst[o] = (byte)r;
                    dst[plane + o] = (byte)g;
                    dst[2 * plane + o] = (byte)b;
                }
            }
        }
        return dst;
    }

    /// <summary>
    /// Encodes C·H·W bytes as a PNG through SkiaSharp (8-bit grey for one channel, RGB for three).
    /// </summary>
    /// <param name="pixels">channels·height·width bytes, channel-first.</param>
    /// <param name="height">H.</param>
    /// <param name="width">W.</param>
    /// <param name="channels">1 or 3.</param>
    /// <returns>The PNG file's bytes.</returns>
    /// <exception cref="ArgumentException">The byte count disagrees with the shape, or channels is not 1 or 3.</exception>
    public static byte[] EncodePng(ReadOnlySpan<byte> pixels, int height, int width, int channels) =>
        Encode(pixels, height, width, channels, SKEncodedImageFormat.Png, 100);

    /// <summary>Encodes C·H·W bytes as a JPEG of <paramref name="quality"/> (0..100) through SkiaSharp.</summary>
    /// <exception cref="ArgumentException">The byte count disagrees with the shape, or channels is not 1 or 3.</exception>
    public static byte[] EncodeJpeg(ReadOnlySpan<byte> pixels, int height, int width, int channels, int quality = 95) =>
        Encode(pixels, height, width, channels, SKEncodedImageFormat.Jpeg, quality);

    /// <summary>Encodes C·H·W bytes in <paramref name="format"/> (Png, Jpeg, Webp; Skia has no BMP or GIF encoder).</summary>
    /// <exception cref="ArgumentException">The byte count disagrees with the shape, channels is not 1 or 3, or Skia cannot encode the format.</exception>
    public static byte[] Encode(ReadOnlySpan<byte> pixels, int height, int width, int channels, SKEncodedImageFormat format, int quality)
    {
        if (channels is not (1 or 3)) throw new ArgumentException($"channels must be 1 or 3, got {channels}", nameof(channels));
        if (pixels.Length != channels * height * width)
            throw new ArgumentException($"{pixels.Length} bytes are not {channels}×{height}×{width}", nameof(pixels));
        int plane = height * width;
        using var bitmap = channels == 1
            ? new SKBitmap(new SKImageInfo(width, height, SKColorType.Gray8, SKAlphaType.Opaque))
            : new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Opaque));
        Span<byte> dst = bitmap.GetPixelSpan();
        int stride = bitmap.RowBytes;
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                int o = y * width + x;
                if (channels == 1) dst[y * stride + x] = pixels[o];
                else
                {
                    int d = y * stride + 4 * x;
                    dst[d] = pixels[o];
                    dst[d + 1] = pixels[plane + o];
                    dst[d + 2] = pixels[2 * plane + o];
                    dst[d + 3] = 255;
                }
            }
        using var image = SKImage.FromBitmap(bitmap);
        using var data = image.Encode(format, quality)
            ?? throw new ArgumentException($"Skia cannot encode {format}", nameof(format));
        return data.ToArray();
    }
}
