// The GPT's weights under nanoGPT's state-dict keys (https://github.com/karpathy/nanoGPT, model.py), so that a
// run's model.nanogpt.pt loads into nanoGPT's GPT with `model.load_state_dict(torch.load(path))`.
using TorchSharp;
using TorchSharp.PyBridge;
using PaperLab.Runs;
using static TorchSharp.torch;

namespace PaperLab.Papers.Gpt;

/// <summary>
/// Renames <see cref="Gpt"/>'s state dict to nanoGPT's: every key gains the <c>transformer.</c> prefix
/// (<c>wte.weight</c> → <c>transformer.wte.weight</c>, <c>h.0.attn.c_attn.weight</c> →
/// <c>transformer.h.0.attn.c_attn.weight</c>), the tied output layer is written as <c>lm_head.weight</c> (the
/// same values as <c>transformer.wte.weight</c>), and the (T, T) causal-mask buffers <c>h.N.attn.bias</c> are
/// left out (nanoGPT registers that buffer only when PyTorch lacks flash attention, i.e. before 2.0; load
/// with <c>strict=False</c> there). Shapes and layouts are the same in both: nn.Linear weights are (out, in).
/// </summary>
public static class NanoGptExport
{
    /// <summary>The file name written beside model.pt.</summary>
    public const string FileName = "model.nanogpt.pt";

    /// <summary>The nanoGPT key of one of <see cref="Gpt"/>'s state-dict keys; null for a key nanoGPT does not have (the mask buffers).</summary>
    public static string? KeyOf(string key) =>
        key.StartsWith("h.", StringComparison.Ordinal) && key.EndsWith(".attn.bias", StringComparison.Ordinal) ? null : "transformer." + key;

    /// <summary>
    /// <paramref name="model"/>'s weights under nanoGPT's keys, in nanoGPT's order (transformer.*, then lm_head.weight).
    /// The tensors are the model's own (not copies): do not dispose them.
    /// </summary>
    public static Dictionary<string, Tensor> StateDict(Gpt model)
    {
        var dict = new Dictionary<string, Tensor>();
        foreach (var (key, value) in model.state_dict())
            if (KeyOf(key) is { } renamed) dict[renamed] = value;
        dict["lm_head.weight"] = dict["transformer.wte.weight"]; // tied, as in nanoGPT (lm_head.weight is wte.weight)
        return dict;
    }

    /// <summary>
    /// Writes <see cref="StateDict"/> to <paramref name="path"/> in PyTorch's format (a pickled dict, as
    /// <c>torch.save(model.state_dict())</c> writes), atomically.
    /// </summary>
    /// <exception cref="FileAccessFailure">The file cannot be written.</exception>
    public static void Save(Gpt model, string path)
    {
        var dict = StateDict(model);
        // lm_head.weight gets storage of its own: PyTorch shares it between the two keys, but TorchSharp.PyBridge's
        // reader cannot load one storage twice; nanoGPT's load_state_dict copies both into its one tied tensor.
        using var lmHead = dict["lm_head.weight"].detach().clone();
        dict["lm_head.weight"] = lmHead;
        AtomicFile.Write(path, stream => PyTorchPickler.PickleStateDict(stream, dict, leaveOpen: true));
    }
}
