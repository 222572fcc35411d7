using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using PaperLab.Runs;
using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace PaperLab.Training;

/// <summary>A checkpoint is missing, damaged, from another run, or does not fit the model it is loaded into.</summary>
public sealed class CheckpointException(string message, Exception? inner = null, int exitCode = ExitCodes.RuntimeFailure)
    : Exception(message, inner), IFailureMessage
{
    /// <inheritdoc/>
    public int ExitCode { get; } = exitCode;
}

/// <summary>Extra run state a paper keeps in its checkpoint besides modules and optimizers (a weight average, a replay buffer, an RNG).</summary>
public interface ICheckpointState
{
    /// <summary>Writes the state.</summary>
    void Save(BinaryWriter writer);
    /// <summary>Reads what <see cref="Save"/> wrote; throws (any exception) when it does not fit.</summary>
    void Load(BinaryReader reader);
}

/// <summary>Where a run stands, as recorded in a checkpoint's header.</summary>
/// <param name="Paper">The paper's short name ("lenet5").</param>
/// <param name="Step">Optimizer steps done.</param>
/// <param name="TotalSteps">Steps the run was set to take.</param>
/// <param name="TrainSeconds">Seconds spent in training steps so far, over every process of the run.</param>
/// <param name="Items">Samples (or tokens) trained on so far.</param>
/// <param name="WallSeconds">The run's wall clock at the checkpoint.</param>
/// <param name="Fingerprint">option name → value of every setting that changes the training trajectory, and the seed.</param>
/// <param name="LossWindow">The training losses since the last log point (their sum and count), so a resumed run logs the same means.</param>
/// <param name="FirstLoggedLoss">The first logged mean loss (the divergence check's reference), if any.</param>
public sealed record CheckpointHeader(string Paper, long Step, long TotalSteps, double TrainSeconds, long Items, double WallSeconds,
                                      SortedDictionary<string, string> Fingerprint, LossWindow? LossWindow = null, double? FirstLoggedLoss = null);

/// <summary>A running sum of training losses between two log points.</summary>
/// <param name="Sum">Sum of the losses.</param>
/// <param name="Count">How many.</param>
public sealed record LossWindow(double Sum, long Count);

/// <summary>
/// All the state of a run in one file: the header (<see cref="CheckpointHeader"/>), then named sections —
/// modules (TorchSharp's <c>Module.save</c> format), optimizers (<c>save_state_dict</c>), any
/// <see cref="ICheckpointState"/>, and the metrics history — then the SHA-256 of everything before it.
/// </summary>
/// <remarks>
/// <para>Layout: <c>"PAPERLAB-CHECKPOINT"</c>, format version (int32), header length (int32), header (UTF-8
/// JSON: the header record and the section table), the sections back to back, 32 bytes of SHA-256.</para>
/// <para>Reading verifies the digest before parsing anything, so a damaged file (a flipped byte in the
/// weights, the optimizer state, the header or the step) is refused naming the file, and no parser ever
/// sees bytes that were not written by <see cref="Write"/>. Writing is atomic (temp file, then rename).</para>
/// </remarks>
public static class Checkpoint
{
    const string Magic = "PAPERLAB-CHECKPOINT";
    const int Version = 2;
    const int MaxHeaderBytes = 1 << 20;

    /// <summary>One named part of a checkpoint.</summary>
    public sealed record Section(string Name, string Kind, byte[] Bytes);

    sealed record HeaderJson(CheckpointHeader Run, List<SectionEntry> Sections);
    sealed record SectionEntry(string Name, string Kind, long Bytes);

    /// <summary>Serialises a module's weights (TorchSharp format).</summary>
    public static Section Of(string name, nn.Module module) => new(name, "module", Bytes(w => module.save(w)));

    /// <summary>Serialises an optimizer's state (moments, step counts).</summary>
    public static Section Of(string name, optim.Optimizer optimizer) => new(name, "optimizer", Bytes(w => ((OptimizerHelper)optimizer).save_state_dict(w)));

    /// <summary>Serialises extra state.</summary>
    public static Section Of(string name, ICheckpointState state) => new(name, "state", Bytes(state.Save));

    /// <summary>Serialises the metrics history.</summary>
    public static Section Of(IReadOnlyList<MetricRow> rows) => new("metrics", "metrics", Bytes(w =>
    {
        w.Write(rows.Count);
        foreach (var r in rows) { w.Write(r.Step); w.Write(r.Split); w.Write(r.Name); w.Write(r.Value); w.Write(r.WallSeconds); }
    }));

    static byte[] Bytes(Action<BinaryWriter> write)
    {
        using var ms = new MemoryStream();
        using (var w = new BinaryWriter(ms, Encoding.UTF8, leaveOpen: true)) write(w);
        return ms.ToArray();
    }

    /// <summary>Writes a checkpoint atomically to <paramref name="path"/>.</summary>
    /// <exception cref="FileAccessFailure">The file cannot be written (the previous checkpoint is then intact).</exception>
    public static void Write(string path, CheckpointHeader header, IReadOnlyList<Section> sections)
    {
        byte[] headerBytes = JsonSerializer.SerializeToUtf8Bytes(
            new HeaderJson(header, sections.Select(s => new SectionEntry(s.Name, s.Kind, s.Bytes.LongLength)).ToList()), RunFolder.SnakeCase);
        AtomicFile.Write(path, stream =>
        {
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            using var ms = new MemoryStream();
            using (var w = new BinaryWriter(ms, Encoding.UTF8, leaveOpen: true))
            {
                w.Write(Magic);
                w.Write(Version);
                w.Write(headerBytes.Length);
                w.Write(headerBytes);
            }
            void Put(byte[] bytes) { hash.AppendData(bytes); stream.Write(bytes); }
            Put(ms.ToArray());
            foreach (var s in sections) Put(s.Bytes);
            stream.Write(hash.GetHashAndReset());
        });
    }

    /// <summary>
    /// Reads and verifies a checkpoint: exists, is a PaperLab checkpoint of this format, and its SHA-256
    /// matches its content. Nothing is loaded into any model.
    /// </summary>
    /// <exception cref="CheckpointException">Missing, unreadable, not a checkpoint, another format, damaged, or truncated.</exception>
    public static (CheckpointHeader Header, IReadOnlyList<Section> Sections) Read(string path)
    {
        if (Directory.Exists(path)) path = Path.Combine(path, "checkpoint.bin");
        if (!File.Exists(path)) throw new CheckpointException($"checkpoint {path} does not exist; give the checkpoint.bin of a run folder (or the folder)", exitCode: ExitCodes.RuntimeFailure);
        byte[] all = FileAccessFailure.Guard(path, "the checkpoint", writing: false, () => File.ReadAllBytes(path));
        string Damaged(string what) => $"checkpoint {path} is damaged ({what}); it cannot be used: resume from another checkpoint or start again";
        if (all.Length < 32 + Magic.Length + 9) throw new CheckpointException($"{path} is not a PaperLab checkpoint (only {all.Length} bytes)");
        using var reader = new BinaryReader(new MemoryStream(all, 0, all.Length - 32, writable: false), Encoding.UTF8);
        string magic;
        try { magic = reader.ReadString(); } catch (Exception e) when (e is EndOfStreamException or IOException or FormatException) { magic = ""; }
        if (magic != Magic) throw new CheckpointException($"{path} is not a PaperLab checkpoint (it does not start with {Magic})");
        int version = reader.ReadInt32();
        if (version != Version)
            throw new CheckpointException(version == 1
                ? $"{path} is a checkpoint of an earlier PaperLab (format 1, without a checksum or the run's settings); it cannot be resumed by this version: start the run again"
                : $"{path} has checkpoint format {version}; this version reads format {Version}");
        byte[] digest = SHA256.HashData(all.AsSpan(0, all.Length - 32));
        if (!digest.AsSpan().SequenceEqual(all.AsSpan(all.Length - 32)))
            throw new CheckpointException(Damaged("its SHA-256 does not match its content: bytes were changed, or the file was cut short"));

        // From here on the bytes are exactly what Write produced; the checks below guard against a
        // checkpoint written by a different program that happens to carry a valid digest.
        int headerLength = reader.ReadInt32();
        if (headerLength is <= 0 or > MaxHeaderBytes || headerLength > all.Length) throw new CheckpointException(Damaged("header length"));
        HeaderJson header;
        try
        {
            header = JsonSerializer.Deserialize<HeaderJson>(reader.ReadBytes(headerLength), RunFolder.SnakeCase)
                     ?? throw new JsonException("empty header");
        }
        catch (JsonException e) { throw new CheckpointException(Damaged("header: " + e.Message), e); }
        if (header.Run is null || header.Sections is null || header.Run.Fingerprint is null) throw new CheckpointException(Damaged("header fields missing"));
        long offset = reader.BaseStream.Position, end = all.Length - 32;
        var sections = new List<Section>();
        foreach (var s in header.Sections)
        {
            if (s.Bytes < 0 || offset + s.Bytes > end || string.IsNullOrEmpty(s.Name)) throw new CheckpointException(Damaged($"section table ({s.Name})"));
            sections.Add(new Section(s.Name, s.Kind, all.AsSpan((int)offset, (int)s.Bytes).ToArray()));
            offset += s.Bytes;
        }
        if (offset != end) throw new CheckpointException(Damaged("sections do not add up to the file"));
        return (header.Run, sections);
    }

    /// <summary>Loads a module section into <paramref name="module"/> (strict: every tensor must exist with the same shape).</summary>
    /// <exception cref="CheckpointException">The section does not fit the module.</exception>
    public static void Load(string path, Section section, nn.Module module) =>
        Guard(path, section, () => module.load(Reader(section), strict: true));

    /// <summary>Loads an optimizer section into <paramref name="optimizer"/>.</summary>
    /// <exception cref="CheckpointException">The section does not fit the optimizer.</exception>
    public static void Load(string path, Section section, optim.Optimizer optimizer) =>
        Guard(path, section, () => ((OptimizerHelper)optimizer).load_state_dict(Reader(section)));

    /// <summary>Loads an extra-state section into <paramref name="state"/>.</summary>
    /// <exception cref="CheckpointException">The section does not fit.</exception>
    public static void Load(string path, Section section, ICheckpointState state) => Guard(path, section, () => state.Load(Reader(section)));

    /// <summary>The metrics history of a metrics section.</summary>
    public static IReadOnlyList<MetricRow> LoadMetrics(string path, Section section)
    {
        var rows = new List<MetricRow>();
        Guard(path, section, () =>
        {
            var r = Reader(section);
            int n = r.ReadInt32();
            if (n < 0 || n > section.Bytes.Length) throw new InvalidDataException($"{n} rows");
            for (int i = 0; i < n; i++) rows.Add(new MetricRow(r.ReadInt64(), r.ReadString(), r.ReadString(), r.ReadDouble(), r.ReadDouble()));
        });
        return rows;
    }

    static BinaryReader Reader(Section s) => new(new MemoryStream(s.Bytes, writable: false), Encoding.UTF8);

    static void Guard(string path, Section section, Action load)
    {
        try { load(); }
        catch (Exception e) when (e is not OutOfMemoryException and not IFailureMessage)
        {
            throw new CheckpointException($"checkpoint {path}: its {section.Name} does not fit this run's {section.Kind} ({e.Message.Split('\n')[0]}); was it written with other settings?", e);
        }
    }
}

/// <summary>Exports and imports weights in PyTorch's format (a pickled state dict), via TorchSharp.PyBridge.</summary>
public static class PyTorchExport
{
    /// <summary>
    /// Writes <paramref name="model"/>'s state dict to <paramref name="path"/> so that <c>torch.load(path)</c>
    /// in Python returns it (keys are the module's field names). Atomic.
    /// </summary>
    public static void Save(nn.Module model, string path) =>
        AtomicFile.Write(path, stream => model.save_py(stream, skip: null, leaveOpen: true));

    /// <summary>
    /// Loads a PyTorch state dict file into <paramref name="model"/> (strict: every key must match). Any
    /// failure — missing, unreadable, not a state dict, another model's weights — is one line naming the file.
    /// </summary>
    /// <param name="model">The model to fill.</param>
    /// <param name="path">A model.pt written by <see cref="Save"/> (or by PyTorch's torch.save(model.state_dict())).</param>
    /// <param name="what">What the file should be, for the message: "LeNet-5 weights (model.pt of a papers/LeNet5 run)".</param>
    /// <exception cref="RunFailureException">The file cannot be used.</exception>
    public static void Load(nn.Module model, string path, string what = "PyTorch weights")
    {
        if (Directory.Exists(path)) throw new RunFailureException($"{path} is a folder; expected {what}");
        if (!File.Exists(path)) throw new RunFailureException($"{path} does not exist; expected {what}");
        try { model.load_py(path, strict: true); }
        catch (Exception e) when (e is not OutOfMemoryException and not IFailureMessage)
        {
            throw new RunFailureException($"{path} cannot be loaded as {what}: {e.Message.Split('\n')[0]}", e);
        }
    }
}
