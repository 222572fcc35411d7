using System.IO.Compression;
using PaperLab.Papers.Ddpm;
using PaperLab.Reporting;
using Xunit;
using static TorchSharp.torch;

namespace PaperLab.Tests;

/// <summary>The shared helpers the DDPM experiment added: image tensors for grids, and PNG grids.</summary>
public class DdpmSharedHelpersTests
{
    [Fact]
    public void Image_tensors_map_the_range_to_unit_and_interleave_trajectories()
    {
        using var x = tensor(new float[] { -1, 0, 1, 3, -1, -1, -1, -1 }).reshape(2, 1, 2, 2);
        var images = ImageTensors.ToUnitRange(x);
        Assert.Equal(new[] { 0f, 0.5f, 1f, 1f }, images[0]);   // 3 is clipped to white
        Assert.Equal(new[] { 0f, 0f, 0f, 0f }, images[1]);
        Assert.Throws<ArgumentException>(() => ImageTensors.ToUnitRange(zeros(2, 3, 2, 2)));
        var a = new List<float[]> { new[] { 1f }, new[] { 2f } };
        var b = new List<float[]> { new[] { 3f }, new[] { 4f } };
        var grid = ImageTensors.Trajectories(new[] { a, b });
        Assert.Equal(new[] { 1f, 3f, 2f, 4f }, grid.Select(g => g[0]));
    }

    [Fact]
    public void Png_grid_has_the_signature_size_and_pixels()
    {
        string path = Path.Combine(Path.GetTempPath(), $"grid-{Guid.NewGuid():N}.png");
        // two 1×2 images side by side, scale 1, gap 1: 7 × 3 pixels
        PngGrid.Save(path, new[] { new[] { 0f, 1f }, new[] { 0.5f, 1f } }, 1, 2, columns: 2, scale: 1, gap: 1);
        byte[] png = File.ReadAllBytes(path);
        File.Delete(path);
        Assert.Equal(new byte[] { 137, 80, 78, 71, 13, 10, 26, 10 }, png[..8]);
        Assert.Equal("IHDR", System.Text.Encoding.ASCII.GetString(png, 12, 4));
        Assert.Equal(7, System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(16)));
        Assert.Equal(3, System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(20)));
        int idat = png.AsSpan().IndexOf("IDAT"u8);
        int length = System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(idat - 4));
        using var z = new ZLibStream(new MemoryStream(png, idat + 4, length), CompressionMode.Decompress);
        using var raw = new MemoryStream();
        z.CopyTo(raw);
        byte[] rows = raw.ToArray();
        Assert.Equal(3 * (1 + 7), rows.Length);
        // middle row: filter byte, gap, 0, 255, gap, 128, 255, gap
        Assert.Equal(new byte[] { 0, 0, 0, 255, 0, 128, 255, 0 }, rows[8..16]);
    }
}
