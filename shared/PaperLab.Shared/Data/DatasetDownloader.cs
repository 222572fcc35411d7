using System.Diagnostics;

namespace PaperLab.Data;

/// <summary>
/// Downloads one data file, verifies the sha256 of its content and only then gives it its final name.
/// The body is written to a temporary file in the destination's folder and renamed over the destination
/// once verified, so an interrupted, truncated or corrupt download never leaves a file under the final name.
/// </summary>
public static class DatasetDownloader
{
    static readonly Lazy<HttpClient> SharedClient = new(() =>
    {
        var client = new HttpClient { Timeout = TimeSpan.FromMinutes(30) };
        client.DefaultRequestHeaders.UserAgent.ParseAdd("PaperLab/1.0");
        return client;
    });

    /// <summary>The client used when none is given: the system proxy settings, a 30-minute timeout.</summary>
    public static HttpClient DefaultClient => SharedClient.Value;

    /// <summary>
    /// Downloads <paramref name="destination"/> from the first of <paramref name="urls"/> that serves it
    /// with the expected content, trying the next URL after any failure.
    /// </summary>
    /// <param name="urls">Mirrors, tried in order.</param>
    /// <param name="destination">The final path; its folder is created if needed. An existing file there is replaced only by verified content.</param>
    /// <param name="expectedSha256">Sha256 of the content (after gunzip when the body is gzip-compressed), lowercase hex.</param>
    /// <param name="client">The HTTP client; <see cref="DefaultClient"/> when null.</param>
    /// <param name="log">Receives plain progress lines (start, about every 10%, result); stderr when null.</param>
    /// <exception cref="DownloadException">
    /// Every URL failed (HTTP error, connection error, body shorter than its Content-Length, corrupt gzip,
    /// checksum mismatch); the message names the file and gives each URL's error.
    /// </exception>
    public static void Download(IReadOnlyList<string> urls, string destination, string expectedSha256,
        HttpClient? client = null, Action<string>? log = null)
    {
        ArgumentNullException.ThrowIfNull(urls);
        if (urls.Count == 0)
            throw new ArgumentException("no URL to download from", nameof(urls));
        client ??= DefaultClient;
        log ??= Console.Error.WriteLine;
        destination = Path.GetFullPath(destination);
        string dir = Path.GetDirectoryName(destination)!;
        Directory.CreateDirectory(dir);

        var errors = new List<string>();
        Exception? last = null;
        foreach (string url in urls)
        {
            string temp = Path.Combine(dir, $".{Path.GetFileName(destination)}.{Guid.NewGuid():N}.part");
            try
            {
                Fetch(client, url, temp, log);
                string actual = FileContent.Sha256(temp);
                if (!string.Equals(actual, expectedSha256, StringComparison.OrdinalIgnoreCase))
                    throw new ChecksumMismatchException(url, expectedSha256, actual, "the server sent different data");
                File.Move(temp, destination, overwrite: true);
                log($"  verified sha256 {expectedSha256[..12]}..., saved {destination}");
                return;
            }
            catch (Exception e) when (e is HttpRequestException or IOException or TaskCanceledException or UnauthorizedAccessException)
            {
                string error = e is TaskCanceledException ? $"timed out after {client.Timeout}" : e.Message;
                log($"  failed: {error}");
                errors.Add($"  {url}: {error}");
                last = e;
            }
            finally
            {
                try { File.Delete(temp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            }
        }
        throw new DownloadException(destination,
            $"could not download {Path.GetFileName(destination)} (expected content sha256 {expectedSha256}); " +
            $"nothing was written to {destination}. Tried:{Environment.NewLine}{string.Join(Environment.NewLine, errors)}",
            last);
    }

    static void Fetch(HttpClient client, string url, string temp, Action<string> log)
    {
        log($"downloading {url}");
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        using var response = client.Send(request, HttpCompletionOption.ResponseHeadersRead);
        if (!response.IsSuccessStatusCode)
            throw new HttpRequestException($"HTTP {(int)response.StatusCode} {response.ReasonPhrase}", null, response.StatusCode);
        long? length = response.Content.Headers.ContentLength;
        using var body = response.Content.ReadAsStream();
        using var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16);
        var buffer = new byte[1 << 16];
        long written = 0;
        int nextTenth = 1;
        var clock = Stopwatch.StartNew();
        while (true)
        {
            int n;
            try
            {
                n = body.Read(buffer);
            }
            catch (HttpIOException e) when (e.HttpRequestError == HttpRequestError.ResponseEnded)
            {
                throw new IOException(
                    $"truncated download: the connection closed after {written} of the {length?.ToString() ?? "?"} bytes announced", e);
            }
            if (n == 0)
                break;
            file.Write(buffer, 0, n);
            written += n;
            if (length > 0 && written * 10 >= nextTenth * length)
            {
                log($"  {100 * written / length}% ({Mb(written)} of {Mb(length.Value)}, {clock.Elapsed.TotalSeconds:F1} s)");
                nextTenth = (int)(written * 10 / length.Value) + 1;
            }
        }
        if (length.HasValue && written != length.Value)
            throw new IOException($"truncated download: the body ended after {written} of the {length} bytes announced (Content-Length)");
        if (!length.HasValue)
            log($"  {Mb(written)} in {clock.Elapsed.TotalSeconds:F1} s");
    }

    static string Mb(long bytes) => $"{bytes / 1e6:F1} MB";
}
