using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using PaperLab.Data;
using Xunit;

namespace PaperLab.Tests;

/// <summary>What the local server answers to a path.</summary>
/// <param name="Status">HTTP status code.</param>
/// <param name="Body">The bytes actually sent.</param>
/// <param name="ContentLength">The Content-Length announced; the body's length when null. Larger than the body: the connection closes early.</param>
sealed record Reply(int Status, byte[] Body, long? ContentLength = null);

/// <summary>
/// A minimal HTTP/1.1 server on 127.0.0.1 and a free port, one request per connection, so tests control
/// exactly what goes on the wire (including bodies cut short).
/// </summary>
sealed class LocalHttpServer : IDisposable
{
    readonly TcpListener listener = new(IPAddress.Loopback, 0);
    readonly Func<string, Reply> handler;
    readonly CancellationTokenSource stop = new();

    public LocalHttpServer(Func<string, Reply> handler)
    {
        this.handler = handler;
        listener.Start();
        _ = Task.Run(AcceptLoop);
    }

    public string BaseUrl => $"http://127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}";

    /// <summary>The paths requested so far.</summary>
    public ConcurrentQueue<string> Requests { get; } = new();

    /// <summary>A client that ignores any proxy configured in the environment.</summary>
    public static HttpClient Client() => new(new SocketsHttpHandler { UseProxy = false }) { Timeout = TimeSpan.FromSeconds(20) };

    async Task AcceptLoop()
    {
        while (!stop.IsCancellationRequested)
        {
            TcpClient connection;
            try { connection = await listener.AcceptTcpClientAsync(stop.Token); }
            catch (Exception) { return; }
            _ = Task.Run(() => Serve(connection));
        }
    }

    async Task Serve(TcpClient connection)
    {
        using (connection)
        {
            var stream = connection.GetStream();
            var request = new StringBuilder();
            var buffer = new byte[4096];
            while (!request.ToString().Contains("\r\n\r\n"))
            {
                int n = await stream.ReadAsync(buffer);
                if (n == 0) return;
                request.Append(Encoding.ASCII.GetString(buffer, 0, n));
            }
            string path = request.ToString().Split(' ')[1];
            Requests.Enqueue(path);
            var reply = handler(path);
            string head = $"HTTP/1.1 {reply.Status} {(reply.Status == 200 ? "OK" : reply.Status == 404 ? "Not Found" : "Internal Server Error")}\r\n" +
                          $"Content-Length: {reply.ContentLength ?? reply.Body.Length}\r\n" +
                          "Content-Type: application/octet-stream\r\nConnection: close\r\n\r\n";
            await stream.WriteAsync(Encoding.ASCII.GetBytes(head));
            await stream.WriteAsync(reply.Body);
            await stream.FlushAsync();
            connection.Client.Shutdown(SocketShutdown.Both);
        }
    }

    public void Dispose()
    {
        stop.Cancel();
        listener.Stop();
    }
}

/// <summary>Downloads against a local server: verified, atomic, and clear about every failure.</summary>
public class DownloadTests
{
    static readonly byte[] Content = Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat("First Citizen: before we proceed any further, hear me speak.\n", 400)));
    static readonly string ContentSha = Convert.ToHexStringLower(SHA256.HashData(Content));

    static void Download(LocalHttpServer server, string destination, string sha = "", params string[] paths) =>
        DatasetDownloader.Download(paths.Select(p => server.BaseUrl + p).ToArray(), destination,
            sha == "" ? ContentSha : sha, LocalHttpServer.Client(), log: _ => { });

    /// <summary>Nothing but the expected files in the folder: no partial file under any name.</summary>
    static void AssertOnly(TempDir tmp, params string[] names) =>
        Assert.Equal(names.Order(), Directory.GetFiles(tmp.Path).Select(Path.GetFileName).Order()!);

    [Fact]
    public void Good_file_lands_verified_under_its_final_name()
    {
        using var tmp = new TempDir();
        using var server = new LocalHttpServer(_ => new Reply(200, Content));
        string destination = tmp.File("input.txt");

        Download(server, destination, ContentSha, "/input.txt");

        Assert.Equal(Content, File.ReadAllBytes(destination));
        Assert.Equal(["/input.txt"], server.Requests);
        AssertOnly(tmp, "input.txt");
    }

    [Fact]
    public void Gzipped_body_is_verified_by_its_content_and_kept_compressed()
    {
        using var tmp = new TempDir();
        byte[] gz = IdxBytes.Gzip(Content);
        using var server = new LocalHttpServer(_ => new Reply(200, gz));
        string destination = tmp.File("input.txt.gz");

        Download(server, destination, ContentSha, "/input.txt.gz");

        Assert.Equal(gz, File.ReadAllBytes(destination));
    }

    [Fact]
    public void Wrong_checksum_names_the_file_and_both_digests_and_leaves_nothing()
    {
        using var tmp = new TempDir();
        using var server = new LocalHttpServer(_ => new Reply(200, Content));
        string wanted = new('a', 64);

        var e = Assert.Throws<DownloadException>(() => Download(server, tmp.File("input.txt"), wanted, "/input.txt"));

        Assert.Contains("input.txt", e.Message);
        Assert.Contains($"expected {wanted}", e.Message);
        Assert.Contains($"sha256 of its content is {ContentSha}", e.Message);
        Assert.IsType<ChecksumMismatchException>(e.InnerException);
        AssertOnly(tmp);
    }

    [Fact]
    public void Server_error_is_reported_and_leaves_nothing()
    {
        using var tmp = new TempDir();
        using var server = new LocalHttpServer(_ => new Reply(500, Encoding.ASCII.GetBytes("boom")));

        var e = Assert.Throws<DownloadException>(() => Download(server, tmp.File("input.txt"), ContentSha, "/input.txt"));

        Assert.Contains($"{server.BaseUrl}/input.txt: HTTP 500", e.Message);
        Assert.Contains("nothing was written", e.Message);
        AssertOnly(tmp);
    }

    [Fact]
    public void Body_shorter_than_its_Content_Length_is_an_error_and_keeps_the_old_file()
    {
        using var tmp = new TempDir();
        using var server = new LocalHttpServer(_ => new Reply(200, Content[..1000], ContentLength: Content.Length));
        string destination = tmp.File("input.txt");
        File.WriteAllText(destination, "previous copy");

        var e = Assert.Throws<DownloadException>(() => Download(server, destination, ContentSha, "/input.txt"));

        Assert.Contains("input.txt", e.Message);
        Assert.Contains("truncated download: the connection closed after", e.Message);
        Assert.Equal("previous copy", File.ReadAllText(destination));
        AssertOnly(tmp, "input.txt");
    }

    [Fact]
    public void Next_mirror_is_tried_after_a_failure()
    {
        using var tmp = new TempDir();
        using var server = new LocalHttpServer(path => path.StartsWith("/bad/") ? new Reply(404, []) : new Reply(200, Content));

        Download(server, tmp.File("input.txt"), ContentSha, "/bad/input.txt", "/good/input.txt");

        Assert.Equal(["/bad/input.txt", "/good/input.txt"], server.Requests);
        Assert.Equal(Content, File.ReadAllBytes(tmp.File("input.txt")));
    }
}
