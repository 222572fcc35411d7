// A real browser for the tests of HTML output: Debian's chromium-headless-shell (apt), run with no network.
using System.Diagnostics;

namespace PaperLab.Tests;

/// <summary>Loads a local page in headless Chromium with the network off and returns its DOM after the scripts ran.</summary>
public static class HeadlessBrowser
{
    static readonly string[] Candidates = ["chromium-headless-shell", "chromium", "chromium-browser", "google-chrome"];

    /// <summary>
    /// The browser: <c>PAPERLAB_CHROMIUM</c> if set, else the first of chromium-headless-shell, chromium,
    /// chromium-browser, google-chrome on PATH (.ci/setup installs chromium-headless-shell); null if none.
    /// </summary>
    public static string? Executable { get; } = Find();

    static string? Find()
    {
        if (Environment.GetEnvironmentVariable("PAPERLAB_CHROMIUM") is { Length: > 0 } given) return File.Exists(given) ? given : null;
        foreach (string dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
            foreach (string name in Candidates)
                if (File.Exists(Path.Combine(dir, name))) return Path.Combine(dir, name);
        return null;
    }

    /// <summary>True when <c>unshare -rn</c> works here: the browser then runs in a network namespace with no interfaces but loopback (down).</summary>
    public static bool NetworkNamespace { get; } = OperatingSystem.IsLinux() && Succeeds("unshare", ["-rn", "true"]);

    static bool Succeeds(string file, string[] args)
    {
        try
        {
            using var p = Process.Start(new ProcessStartInfo(file, args) { RedirectStandardError = true, RedirectStandardOutput = true })!;
            p.WaitForExit(10_000);
            return p.HasExited && p.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception) { return false; }
    }

    /// <summary>
    /// Opens <paramref name="page"/> (a local file), lets its scripts run for up to <paramref name="virtualMs"/>
    /// of virtual time, saves a screenshot of the first <paramref name="width"/>×<paramref name="height"/> CSS
    /// pixels to <paramref name="screenshot"/> (at <paramref name="scale"/> device pixels per CSS pixel: 0.5 shows
    /// a long page whole at half the pixels) and returns the serialised DOM. The network is off: a network
    /// namespace where available, and in any case every host name resolves to nothing and every proxy is dead.
    /// </summary>
    /// <exception cref="InvalidOperationException">No browser, or it failed or timed out (90 s); the message has its stderr.</exception>
    public static async Task<string> LoadAsync(string page, string screenshot, int width = 1280, int height = 3000, double scale = 1, int virtualMs = 8000)
    {
        string browser = Executable ?? throw new InvalidOperationException("No headless Chromium: install it with `apt-get install chromium-headless-shell` (see .ci/setup).");
        var args = new List<string>();
        if (NetworkNamespace) args.AddRange(["-rn", browser]);
        args.AddRange([
            "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--hide-scrollbars",
            "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=http://127.0.0.1:9",
            $"--virtual-time-budget={virtualMs}", $"--window-size={width},{height}",
            $"--force-device-scale-factor={scale.ToString(System.Globalization.CultureInfo.InvariantCulture)}",
            $"--screenshot={Path.GetFullPath(screenshot)}", "--dump-dom", new Uri(Path.GetFullPath(page)).AbsoluteUri,
        ]);
        var psi = new ProcessStartInfo(NetworkNamespace ? "unshare" : browser, args)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        psi.Environment["HOME"] = Path.GetTempPath(); // the browser's profile and crash folders, never the user's
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        try { await p.WaitForExitAsync(timeout.Token); }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            throw new InvalidOperationException($"{browser} did not finish loading {page} within 90 s.");
        }
        string dom = await stdout;
        if (p.ExitCode != 0 || dom.Length == 0)
            throw new InvalidOperationException($"{browser} failed on {page} (exit {p.ExitCode}):\n{await stderr}");
        return dom;
    }
}
