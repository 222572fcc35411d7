// Executes a Polyglot (.NET Interactive) notebook top to bottom in the kernel VS Code uses, and reports
// per cell whether it failed. The kernel is `dotnet-interactive stdio` from the repository's tool
// manifest (.config/dotnet-tools.json), driven over its JSON command protocol: one SubmitCode command
// per code cell, each answered by CommandSucceeded or CommandFailed carrying the compile diagnostics or
// the exception. Protocol: https://github.com/dotnet/interactive/blob/main/docs/kernel-protocol.md
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using System.Threading.Channels;

namespace PaperLab.Tests;

/// <summary>Outcome of one code cell.</summary>
/// <param name="Number">1-based position of the cell in the notebook, counting markdown cells too.</param>
/// <param name="FirstLine">First non-empty line of the cell's source, to recognise it in messages.</param>
/// <param name="Succeeded">True when the kernel answered CommandSucceeded.</param>
/// <param name="Error">Compile diagnostics or exception text when the cell failed; null otherwise.</param>
/// <param name="Elapsed">Wall time of the cell.</param>
public sealed record CellRun(int Number, string FirstLine, bool Succeeded, string? Error, TimeSpan Elapsed);

/// <summary>Outcome of running a whole notebook.</summary>
public sealed class NotebookRun
{
    /// <summary>The notebook that ran.</summary>
    public required string NotebookPath { get; init; }
    /// <summary>Where the executed copy (with outputs) was written.</summary>
    public required string ExecutedPath { get; init; }
    /// <summary>Cells that ran, in order; execution stops at the first failed cell.</summary>
    public required IReadOnlyList<CellRun> Cells { get; init; }
    /// <summary>Time from launching the kernel to its KernelReady event.</summary>
    public required TimeSpan KernelStartup { get; init; }
    /// <summary>Wall time of the whole run, kernel start-up included.</summary>
    public required TimeSpan Elapsed { get; init; }
    /// <summary>Set when the run was stopped: timeout or kernel exit. Names the cell that was running.</summary>
    public string? Aborted { get; init; }

    /// <summary>The first failed cell, if any.</summary>
    public CellRun? FirstFailure => Cells.FirstOrDefault(c => !c.Succeeded);

    /// <summary>True when every code cell succeeded and the run was not aborted.</summary>
    public bool Succeeded => Aborted is null && FirstFailure is null;

    /// <summary>A message naming the notebook, the failing cell and its error; null on success.</summary>
    public string? FailureMessage
    {
        get
        {
            var name = Path.GetFileName(NotebookPath);
            if (Aborted is not null) return $"{name}: {Aborted}\nExecuted copy: {ExecutedPath}";
            if (FirstFailure is { } f)
                return $"{name}: cell {f.Number} (\"{f.FirstLine}\") failed:\n{f.Error}\nExecuted copy: {ExecutedPath}";
            return null;
        }
    }
}

/// <summary>
/// Runs .ipynb files in the repository's pinned .NET Interactive kernel (<c>dotnet tool run
/// dotnet-interactive -- stdio</c>, the command the Polyglot Notebooks extension of VS Code launches).
/// </summary>
public static class NotebookRunner
{
    /// <summary>Walks up from the test binaries to the folder holding PaperLab.sln.</summary>
    /// <exception cref="InvalidOperationException">No PaperLab.sln above the test assembly.</exception>
    public static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "PaperLab.sln"))) return dir.FullName;
        throw new InvalidOperationException($"PaperLab.sln not found above {AppContext.BaseDirectory}");
    }

    static readonly Lazy<string?> ToolRestoreError = new(RestoreTools);

    /// <summary>
    /// Runs <c>dotnet tool restore</c> at the repository root once per test process, so the kernel
    /// pinned in .config/dotnet-tools.json is installed.
    /// </summary>
    /// <exception cref="InvalidOperationException">The restore failed; the message says how to fix it.</exception>
    public static void EnsureKernelInstalled()
    {
        if (ToolRestoreError.Value is { } error) throw new InvalidOperationException(error);
    }

    static string? RestoreTools()
    {
        var psi = new ProcessStartInfo("dotnet", ["tool", "restore"])
        {
            WorkingDirectory = RepoRoot(),
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromMinutes(3))) { p.Kill(true); return "`dotnet tool restore` timed out (3 min)"; }
        return p.ExitCode == 0 ? null
            : $"`dotnet tool restore` failed (exit {p.ExitCode}); run it at the repository root to install " +
              $"the notebook kernel pinned in .config/dotnet-tools.json.\n{stdout.Result}{stderr.Result}";
    }

    /// <summary>
    /// Executes every code cell of <paramref name="notebookPath"/> in order, in a fresh kernel whose working
    /// directory is the notebook's folder (as in VS Code, so relative <c>#r</c> paths resolve the same),
    /// stops at the first failed cell, and writes a copy with outputs and execution counts to
    /// <paramref name="executedPath"/>.
    /// </summary>
    /// <param name="notebookPath">The .ipynb to run (nbformat 4, Polyglot metadata).</param>
    /// <param name="executedPath">Where to write the executed copy; its folder is created.</param>
    /// <param name="timeout">Limit for the whole notebook, kernel start-up included.</param>
    /// <exception cref="InvalidDataException">The file is not an nbformat-4 notebook.</exception>
    public static async Task<NotebookRun> RunAsync(string notebookPath, string executedPath, TimeSpan timeout)
    {
        EnsureKernelInstalled();
        notebookPath = Path.GetFullPath(notebookPath);
        var notebook = ReadNotebook(notebookPath);
        var cells = (JsonArray)notebook["cells"]!;
        var defaultKernel = notebook["metadata"]?["polyglot_notebook"]?["kernelInfo"]?["defaultKernelName"]
            ?.GetValue<string>() ?? "csharp";

        var total = Stopwatch.StartNew();
        using var deadline = new CancellationTokenSource(timeout);
        var psi = new ProcessStartInfo("dotnet",
            ["tool", "run", "dotnet-interactive", "--", "stdio", "--working-dir", Path.GetDirectoryName(notebookPath)!])
        {
            WorkingDirectory = RepoRoot(), // where `dotnet tool run` finds the manifest
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardOutputEncoding = Encoding.UTF8,
        };
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        psi.Environment["DOTNET_INTERACTIVE_CLI_TELEMETRY_OPTOUT"] = "1";
        psi.Environment["DOTNET_NOLOGO"] = "1";

        using var kernel = Process.Start(psi)!;
        var stderr = new StringBuilder();
        kernel.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (stderr) stderr.AppendLine(e.Data); };
        kernel.BeginErrorReadLine();
        var events = Channel.CreateUnbounded<JsonObject>();
        _ = PumpEventsAsync(kernel.StandardOutput, events.Writer);

        var runs = new List<CellRun>();
        string? aborted = null;
        TimeSpan startup = TimeSpan.Zero;
        int executionCount = 0;
        string running = "kernel start-up";
        try
        {
            await WaitForAsync(events.Reader, e => (string?)e["eventType"] == "KernelReady", deadline.Token);
            startup = total.Elapsed;

            for (int i = 0; i < cells.Count; i++)
            {
                var cell = (JsonObject)cells[i]!;
                if ((string?)cell["cell_type"] != "code") continue;
                var source = JoinSource(cell["source"]);
                var kernelName = cell["metadata"]?["polyglot_notebook"]?["kernelName"]?.GetValue<string>()
                                 ?? cell["metadata"]?["dotnet_interactive"]?["language"]?.GetValue<string>()
                                 ?? defaultKernel;
                var outputs = new JsonArray();
                cell["outputs"] = outputs;
                if (string.IsNullOrWhiteSpace(source)) continue;

                running = $"cell {i + 1}";
                var watch = Stopwatch.StartNew();
                var token = $"cell-{i + 1}";
                cell["execution_count"] = ++executionCount;
                var submit = new JsonObject
                {
                    ["token"] = token,
                    ["commandType"] = "SubmitCode",
                    ["command"] = new JsonObject { ["code"] = source, ["targetKernelName"] = kernelName },
                };
                await kernel.StandardInput.WriteLineAsync(submit.ToJsonString());
                await kernel.StandardInput.FlushAsync();

                string? error = null;
                var done = await WaitForAsync(events.Reader, e =>
                {
                    var eventToken = (string?)e["command"]?["token"];
                    if (eventToken is not null && eventToken != token && !eventToken.StartsWith(token + "."))
                        return false; // another command's event (the kernel's own start-up submission)
                    AddOutput(outputs, e, executionCount);
                    var type = (string?)e["eventType"];
                    if (eventToken != token) return false;
                    if (type == "CommandFailed") error = (string?)e["event"]?["message"] ?? "(no message)";
                    return type is "CommandSucceeded" or "CommandFailed";
                }, deadline.Token);

                runs.Add(new CellRun(i + 1, FirstLine(source), error is null, error, watch.Elapsed));
                if (error is not null)
                {
                    outputs.Add(new JsonObject
                    {
                        ["output_type"] = "error", ["ename"] = "Error", ["evalue"] = error, ["traceback"] = new JsonArray(),
                    });
                    break;
                }
            }
        }
        catch (OperationCanceledException)
        {
            aborted = $"timed out after {timeout.TotalSeconds:0} s while running {running}";
        }
        catch (EndOfStreamException)
        {
            string tail;
            lock (stderr) tail = stderr.ToString();
            aborted = $"the kernel exited while running {running}:\n{Tail(tail, 4000)}";
        }
        finally
        {
            // the kernel keeps running when its input closes (as it does under VS Code): end it and the
            // `dotnet tool run` process above it
            try { kernel.StandardInput.Close(); } catch (IOException) { }
            kernel.Kill(entireProcessTree: true);
            kernel.WaitForExit();
        }

        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(executedPath))!);
        await File.WriteAllTextAsync(executedPath,
            notebook.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");

        return new NotebookRun
        {
            NotebookPath = notebookPath,
            ExecutedPath = Path.GetFullPath(executedPath),
            Cells = runs,
            KernelStartup = startup,
            Elapsed = total.Elapsed,
            Aborted = aborted,
        };
    }

    /// <summary>Parses an .ipynb file; errors name the file.</summary>
    /// <exception cref="InvalidDataException">Not JSON, or no "cells" array.</exception>
    public static JsonObject ReadNotebook(string path)
    {
        JsonNode? node;
        try { node = JsonNode.Parse(File.ReadAllText(path)); }
        catch (JsonException e) { throw new InvalidDataException($"{path} is not valid JSON: {e.Message}", e); }
        if (node is not JsonObject nb || nb["cells"] is not JsonArray)
            throw new InvalidDataException($"{path} is not an nbformat-4 notebook (no \"cells\" array)");
        return nb;
    }

    /// <summary>
    /// What a notebook stores besides its sources: one entry per code cell with outputs or an execution
    /// count ("cell 3 has outputs"). Empty for a notebook saved after "Clear All Outputs".
    /// </summary>
    public static IReadOnlyList<string> StoredResults(JsonObject notebook)
    {
        var cells = (JsonArray)notebook["cells"]!;
        var found = new List<string>();
        for (int i = 0; i < cells.Count; i++)
        {
            var cell = cells[i]!;
            if ((string?)cell["cell_type"] != "code") continue;
            if (cell["outputs"] is JsonArray { Count: > 0 }) found.Add($"cell {i + 1} has outputs");
            if (cell["execution_count"] is JsonValue) found.Add($"cell {i + 1} has an execution count");
        }
        return found;
    }

    /// <summary>
    /// Files a notebook's <c>#r "….dll"</c> lines reference (relative to the notebook's folder) that do not
    /// exist; on Linux, also libLibTorchSharp.so when TorchSharp.dll is referenced without it beside.
    /// Full paths, in order of appearance.
    /// </summary>
    public static IReadOnlyList<string> MissingReferences(string notebookPath)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(notebookPath))!;
        var missing = new List<string>();
        foreach (var cell in (JsonArray)ReadNotebook(notebookPath)["cells"]!)
        {
            if ((string?)cell!["cell_type"] != "code") continue;
            foreach (Match m in Regex.Matches(JoinSource(cell["source"]), @"^\s*#r\s+""(?<path>[^""]+\.dll)""", RegexOptions.Multiline))
            {
                var full = Path.GetFullPath(Path.Combine(dir, m.Groups["path"].Value));
                var native = Path.Combine(Path.GetDirectoryName(full)!, "libLibTorchSharp.so");
                if (!File.Exists(full)) missing.Add(full);
                else if (OperatingSystem.IsLinux() && Path.GetFileName(full) == "TorchSharp.dll" && !File.Exists(native))
                    missing.Add(native);
            }
        }
        return missing.Distinct().ToList();
    }

    /// <summary>A cell's source, which nbformat stores as a string or as an array of lines.</summary>
    public static string JoinSource(JsonNode? source) => source switch
    {
        JsonArray lines => string.Concat(lines.Select(l => (string?)l)),
        JsonValue v => (string?)v ?? "",
        _ => "",
    };

    // Maps a kernel event to an nbformat output of the cell (display, result, stdout/stderr).
    static void AddOutput(JsonArray outputs, JsonObject e, int executionCount)
    {
        var type = (string?)e["eventType"];
        var values = e["event"]?["formattedValues"] as JsonArray;
        switch (type)
        {
            case "StandardOutputValueProduced":
            case "StandardErrorValueProduced":
                AddStream(outputs, type == "StandardOutputValueProduced" ? "stdout" : "stderr",
                    string.Concat(values?.Select(v => (string?)v?["value"]) ?? []));
                break;
            case "DisplayedValueProduced":
            case "DisplayedValueUpdated":
            case "ReturnValueProduced":
                var data = new JsonObject();
                foreach (var v in values ?? [])
                    if (v?["suppressDisplay"]?.GetValue<bool>() != true)
                        data[(string)v!["mimeType"]!] = Lines((string?)v["value"] ?? "");
                if (data.Count == 0) break;
                var output = type == "ReturnValueProduced"
                    ? new JsonObject { ["output_type"] = "execute_result", ["execution_count"] = executionCount }
                    : new JsonObject { ["output_type"] = "display_data" };
                output["data"] = data;
                output["metadata"] = new JsonObject();
                var valueId = (string?)e["event"]?["valueId"];
                if (type == "DisplayedValueUpdated" && valueId is not null)
                {
                    // an update replaces the display it refers to, as in VS Code
                    for (int k = 0; k < outputs.Count; k++)
                        if ((string?)outputs[k]?["metadata"]?["valueId"] == valueId)
                        {
                            output["metadata"]!["valueId"] = valueId;
                            outputs[k] = output;
                            return;
                        }
                }
                if (valueId is not null) output["metadata"]!["valueId"] = valueId;
                outputs.Add(output);
                break;
            case "ErrorProduced":
                AddStream(outputs, "stderr", ((string?)e["event"]?["message"] ?? "") + "\n");
                break;
        }
    }

    // Consecutive writes to the same stream make one output, as in Jupyter and VS Code.
    static void AddStream(JsonArray outputs, string name, string text)
    {
        if (outputs.Count > 0 && outputs[^1] is JsonObject last
            && (string?)last["output_type"] == "stream" && (string?)last["name"] == name)
        {
            last["text"] = Lines(JoinSource(last["text"]) + text);
            return;
        }
        outputs.Add(new JsonObject { ["output_type"] = "stream", ["name"] = name, ["text"] = Lines(text) });
    }

    // nbformat's multiline strings: an array of lines, each keeping its "\n".
    static JsonArray Lines(string text)
    {
        var lines = new JsonArray();
        int start = 0;
        for (int k = 0; k < text.Length; k++)
            if (text[k] == '\n') { lines.Add(text[start..(k + 1)]); start = k + 1; }
        if (start < text.Length) lines.Add(text[start..]);
        return lines;
    }

    static async Task PumpEventsAsync(StreamReader stdout, ChannelWriter<JsonObject> writer)
    {
        try
        {
            while (await stdout.ReadLineAsync() is { } line)
            {
                if (!line.StartsWith('{')) continue; // banner text before the protocol starts
                JsonObject? e;
                try { e = JsonNode.Parse(line) as JsonObject; }
                catch (JsonException) { continue; }
                if (e is not null) writer.TryWrite(e);
            }
        }
        finally { writer.TryComplete(); }
    }

    // Reads events until one satisfies the predicate; EndOfStreamException when the kernel exits first.
    static async Task<JsonObject> WaitForAsync(ChannelReader<JsonObject> reader, Func<JsonObject, bool> predicate,
        CancellationToken cancel)
    {
        while (await reader.WaitToReadAsync(cancel))
            while (reader.TryRead(out var e))
                if (predicate(e)) return e;
        throw new EndOfStreamException("kernel output ended");
    }

    static string FirstLine(string source)
    {
        var line = source.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.Length > 0) ?? "";
        return line.Length > 60 ? line[..57] + "..." : line;
    }

    static string Tail(string text, int max) => text.Length <= max ? text : "..." + text[^max..];
}
