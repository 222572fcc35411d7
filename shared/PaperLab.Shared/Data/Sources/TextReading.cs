using System.Buffers;
using System.Text;
using System.Text.Json.Serialization;
using System.Text.Unicode;

namespace PaperLab.Data.Sources;

/// <summary>How the bytes of a text file are read as characters.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<TextEncodingChoice>))]
public enum TextEncodingChoice
{
    /// <summary>UTF-8, strictly: an invalid byte is an error naming its offset (default).</summary>
    Utf8,
    /// <summary>Latin-1 (ISO-8859-1): every byte is the code point of the same value; never fails.</summary>
    Latin1,
}

/// <summary>A text file's characters and what was found on the way.</summary>
/// <param name="Text">The decoded text (a UTF-8 byte-order mark removed).</param>
/// <param name="Bytes">Size of the content in bytes (after gunzip).</param>
/// <param name="Sha256">Sha256 of the content bytes, hex.</param>
/// <param name="ByteOrderMark">True when a UTF-8 byte-order mark was removed.</param>
public sealed record TextFileContent(string Text, long Bytes, string Sha256, bool ByteOrderMark);

/// <summary>Reads text files for <c>text:</c>, <c>lines:</c> and <c>pairs:</c>, plain or gzip-compressed.</summary>
public static class TextReading
{
    /// <summary>
    /// Reads and decodes a whole file (gunzipped when it starts with the gzip magic bytes).
    /// </summary>
    /// <param name="path">The file.</param>
    /// <param name="encoding">UTF-8 (strict) or Latin-1.</param>
    /// <exception cref="DataSourceException">No such file; empty; UTF-16/32 (by its byte-order mark); NUL bytes (a binary
    /// file or UTF-16 without a mark); or, under UTF-8, an invalid byte — the message gives its line and byte offset and
    /// suggests <c>--encoding latin1</c>.</exception>
    public static TextFileContent Read(string path, TextEncodingChoice encoding = TextEncodingChoice.Utf8)
    {
        if (!File.Exists(path))
            throw new DataSourceException(path, Directory.Exists(path) ? "is a folder, not a text file" : "no such file",
                                          "give the path of a text file");
        byte[] bytes;
        try
        {
            using var content = FileContent.OpenRead(path);
            using var memory = new MemoryStream();
            content.CopyTo(memory);
            bytes = memory.ToArray();
        }
        catch (InvalidDataException e) { throw FileContent.CorruptGzip(path, e); }

        string hash = ContentHash.Of(bytes);
        if (bytes.Length == 0) throw new DataSourceException(path, "the file is empty", "give a file with text in it");
        if (bytes is [0xFF, 0xFE, ..] or [0xFE, 0xFF, ..])
            throw new DataSourceException(path, $"the file is UTF-16 or UTF-32 (byte-order mark {bytes[0]:X2} {bytes[1]:X2})",
                                          "re-save it as UTF-8 (e.g. iconv -f UTF-16 -t UTF-8)");
        int nul = Array.IndexOf(bytes, (byte)0);
        if (nul >= 0)
            throw new DataSourceException(path, $"NUL byte at byte offset {nul:N0}: a binary file, or UTF-16 without a byte-order mark",
                                          "give a plain-text file, saved as UTF-8", LineOf(bytes, nul));
        bool bom = bytes is [0xEF, 0xBB, 0xBF, ..];
        var body = bom ? bytes.AsSpan(3) : bytes.AsSpan();
        if (body.Length == 0) throw new DataSourceException(path, "the file is empty (only a byte-order mark)", "give a file with text in it");

        string text;
        if (encoding == TextEncodingChoice.Latin1) text = Encoding.Latin1.GetString(body);
        else
        {
            char[] chars = ArrayPool<char>.Shared.Rent(body.Length);
            try
            {
                var status = Utf8.ToUtf16(body, chars, out int read, out int written, replaceInvalidSequences: false);
                if (status != OperationStatus.Done)
                {
                    int offset = read + (bom ? 3 : 0);
                    string what = status == OperationStatus.NeedMoreData ? "the file ends inside a UTF-8 sequence" : $"byte 0x{bytes[offset]:X2} is not valid UTF-8";
                    throw new DataSourceException(path, $"{what} (byte offset {offset:N0})",
                                                  "re-save the file as UTF-8, or pass --encoding latin1 if it is Latin-1 (ISO-8859-1)", LineOf(bytes, offset));
                }
                text = new string(chars, 0, written);
            }
            finally { ArrayPool<char>.Shared.Return(chars); }
        }
        return new TextFileContent(text, bytes.Length, hash, bom);
    }

    /// <summary>1-based line of byte <paramref name="offset"/>: one more than the '\n' bytes before it.</summary>
    static int LineOf(byte[] bytes, int offset) => bytes.AsSpan(0, Math.Min(offset, bytes.Length)).Count((byte)'\n') + 1;

    /// <summary>
    /// Splits text into lines at '\n', removing one '\r' before each '\n' (Windows line endings are not content);
    /// a final '\n' ends the last line rather than starting an empty one.
    /// </summary>
    /// <param name="text">The text.</param>
    /// <param name="crlf">How many lines ended in "\r\n".</param>
    public static string[] SplitLines(string text, out int crlf)
    {
        var parts = text.Split('\n');
        int n = parts.Length;
        if (n > 0 && parts[^1].Length == 0) n--;
        var lines = new string[n];
        crlf = 0;
        for (int i = 0; i < n; i++)
        {
            string line = parts[i];
            if (line.EndsWith('\r') && (i < parts.Length - 1)) { line = line[..^1]; crlf++; }
            lines[i] = line;
        }
        return lines;
    }
}
