using PaperLab.Runs;
using TorchSharp;
using TorchSharp.PyBridge;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PaperLab.Training;

/// <summary>A checkpoint is missing, corrupt, or does not fit the model it is loaded into.</summary>
public sealed class CheckpointException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// Model weights + optimizer state + step count in one file, written atomically (temp file then rename:
/// a crash mid-write leaves the previous checkpoint intact).
/// </summary>
/// <remarks>
/// Layout: the string "PAPERLAB-CHECKPOINT", format version (int32), step (int64), then TorchSharp's
/// <c>Module.save</c> stream of the weights, then the optimizer's <c>save_state_dict</c> stream.
/// For PyTorch, export the weights with <see cref="PyTorchExport"/>.
/// </remarks>
public static class Checkpoint
{
    const string Magic = "PAPERLAB-CHECKPOINT";
    const int Version = 1;

    /// <summary>Writes <paramref name="model"/>, <paramref name="optimizer"/> and <paramref name="step"/> to <paramref name="path"/>.</summary>
    public static void Save(string path, nn.Module model, optim.Optimizer optimizer, long step)
    {
        AtomicFile.Write(path, stream =>
        {
            using var w = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true);
            w.Write(Magic);
            w.Write(Version);
            w.Write(step);
            model.save(w);
            ((OptimizerHelper)optimizer).save_state_dict(w);
        });
    }

    /// <summary>Loads weights and optimizer state from <paramref name="path"/>; returns the step it was saved at.</summary>
    /// <exception cref="CheckpointException">Missing file, not a checkpoint, truncated, or shapes that do not fit.</exception>
    public static long Load(string path, nn.Module model, optim.Optimizer optimizer)
    {
        if (!File.Exists(path)) throw new CheckpointException($"checkpoint {path} does not exist");
        try
        {
            using var r = new BinaryReader(File.OpenRead(path));
            if (!HasMagic(r)) throw new CheckpointException($"{path} is not a PaperLab checkpoint");
            int version = r.ReadInt32();
            if (version != Version) throw new CheckpointException($"{path} has checkpoint format {version}; this build reads {Version}");
            long step = r.ReadInt64();
            model.load(r);
            ((OptimizerHelper)optimizer).load_state_dict(r);
            return step;
        }
        catch (Exception e) when (e is EndOfStreamException or IOException or ArgumentException or InvalidOperationException)
        {
            throw new CheckpointException($"checkpoint {path} is corrupt or does not fit this model: {e.Message}", e);
        }
    }

    static bool HasMagic(BinaryReader r)
    {
        try { return r.ReadString() == Magic; }
        catch (Exception e) when (e is EndOfStreamException or IOException) { return false; }
    }
}

/// <summary>Exports weights in PyTorch's format (a pickled state dict), via TorchSharp.PyBridge.</summary>
public static class PyTorchExport
{
    /// <summary>
    /// Writes <paramref name="model"/>'s state dict to <paramref name="path"/> so that
    /// <c>torch.load(path)</c> in Python returns it (keys are the module's field names). Atomic.
    /// </summary>
    public static void Save(nn.Module model, string path) =>
        AtomicFile.Write(path, stream => model.save_py(stream, skip: null, leaveOpen: true));

    /// <summary>Loads a PyTorch state dict file into <paramref name="model"/> (strict: every key must match).</summary>
    public static void Load(nn.Module model, string path) =>
        model.load_py(path, strict: true);
}
