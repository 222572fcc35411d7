using PaperLab.Papers.Gpt;
using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.PyBridge;
using Xunit;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace PaperLab.Tests;

/// <summary>
/// model.nanogpt.pt (NanoGptExport) loads, strictly, into a module laid out as nanoGPT's GPT (model.py: a
/// `transformer` ModuleDict of wte, wpe, h.N, ln_f, and a bias-free lm_head tied to wte, no mask buffer when
/// PyTorch has flash attention) and gives the same logits as the Gpt that wrote it.
/// </summary>
public class NanoGptExportTests : IDisposable
{
    readonly string _dir = Path.Combine(Path.GetTempPath(), "paperlab-nanogpt-" + Guid.NewGuid().ToString("N"));

    public NanoGptExportTests() => Directory.CreateDirectory(_dir);

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    /// <summary>nanoGPT's state-dict keys for n_layer layers, in its order (model.py, PyTorch ≥ 2.0, bias=True).</summary>
    static List<string> NanoGptKeys(int nLayer)
    {
        var keys = new List<string> { "transformer.wte.weight", "transformer.wpe.weight" };
        for (int i = 0; i < nLayer; i++)
            foreach (string part in new[] { "ln_1.weight", "ln_1.bias", "attn.c_attn.weight", "attn.c_attn.bias", "attn.c_proj.weight", "attn.c_proj.bias",
                                            "ln_2.weight", "ln_2.bias", "mlp.c_fc.weight", "mlp.c_fc.bias", "mlp.c_proj.weight", "mlp.c_proj.bias" })
                keys.Add($"transformer.h.{i}.{part}");
        keys.AddRange(["transformer.ln_f.weight", "transformer.ln_f.bias", "lm_head.weight"]);
        return keys;
    }

    // A module with nanoGPT's layout and forward pass, written here independently of papers/Gpt.
    sealed class NanoLayerNorm(long c) : Module<Tensor, Tensor>("LayerNorm")
    {
        readonly Parameter weight = new(ones(c)), bias = new(zeros(c));
        readonly long[] shape = [c];
        public NanoLayerNorm Init() { RegisterComponents(); return this; }
        public override Tensor forward(Tensor x) => functional.layer_norm(x, shape, weight, bias, 1e-5);
    }

    sealed class NanoAttention : Module<Tensor, Tensor>
    {
        readonly Linear c_attn, c_proj;
        readonly long nHead, nEmbd;
        public NanoAttention(long c, long heads) : base("CausalSelfAttention")
        {
            c_attn = Linear(c, 3 * c);
            c_proj = Linear(c, c);
            (nHead, nEmbd) = (heads, c);
            RegisterComponents();
        }
        public override Tensor forward(Tensor x)
        {
            long B = x.shape[0], T = x.shape[1];
            var qkv = c_attn.forward(x).split(nEmbd, 2);
            Tensor Heads(Tensor t) => t.view(B, T, nHead, nEmbd / nHead).transpose(1, 2);
            var y = functional.scaled_dot_product_attention(Heads(qkv[0]), Heads(qkv[1]), Heads(qkv[2]), is_casual: true);
            return c_proj.forward(y.transpose(1, 2).contiguous().view(B, T, nEmbd));
        }
    }

    sealed class NanoBlock : Module<Tensor, Tensor>
    {
        readonly NanoLayerNorm ln_1, ln_2;
        readonly NanoAttention attn;
        readonly Sequential mlp;
        public NanoBlock(long c, long heads) : base("Block")
        {
            ln_1 = new NanoLayerNorm(c).Init();
            attn = new NanoAttention(c, heads);
            ln_2 = new NanoLayerNorm(c).Init();
            mlp = Sequential(("c_fc", Linear(c, 4 * c)), ("gelu", GELU()), ("c_proj", Linear(4 * c, c)));
            RegisterComponents();
        }
        public override Tensor forward(Tensor x)
        {
            x = x + attn.forward(ln_1.forward(x));
            return x + mlp.forward(ln_2.forward(x));
        }
    }

    sealed class NanoGpt : Module<Tensor, Tensor>
    {
        readonly ModuleDict<Module> transformer;
        readonly Linear lm_head;
        readonly Embedding wte, wpe;
        readonly ModuleList<NanoBlock> h;
        readonly NanoLayerNorm ln_f;
        public NanoGpt(GptConfig config) : base("GPT")
        {
            wte = Embedding(config.VocabSize, config.NEmbd);
            wpe = Embedding(config.BlockSize, config.NEmbd);
            h = new ModuleList<NanoBlock>(Enumerable.Range(0, config.NLayer).Select(_ => new NanoBlock(config.NEmbd, config.NHead)).ToArray());
            ln_f = new NanoLayerNorm(config.NEmbd).Init();
            transformer = ModuleDict<Module>(("wte", wte), ("wpe", wpe), ("h", h), ("ln_f", ln_f));
            lm_head = Linear(config.NEmbd, config.VocabSize, hasBias: false);
            lm_head.weight = wte.weight; // weight tying, as nanoGPT
            register_module("transformer", transformer);
            register_module("lm_head", lm_head);
        }
        public override Tensor forward(Tensor idx)
        {
            var x = wte.forward(idx) + wpe.forward(arange(idx.shape[1], dtype: int64));
            foreach (var block in h) x = block.forward(x);
            return lm_head.forward(ln_f.forward(x));
        }
    }

    [Fact]
    public void Export_loads_into_nanoGPTs_layout_and_gives_the_same_logits()
    {
        var config = new GptConfig(VocabSize: 23, BlockSize: 12, NLayer: 2, NHead: 2, NEmbd: 16);
        torch.manual_seed(3);
        using var gpt = new Gpt(config);
        string path = Path.Combine(_dir, NanoGptExport.FileName);
        NanoGptExport.Save(gpt, path);

        // the file's keys are nanoGPT's: no names without "transformer.", no mask buffers, lm_head.weight present
        Assert.Equal(NanoGptKeys(2), NanoGptExport.StateDict(gpt).Keys);
        using (var file = File.OpenRead(path))
            Assert.Equal(NanoGptKeys(2).Order(), PyTorchUnpickler.UnpickleStateDict(file).Keys.Cast<string>().Order());
        torch.manual_seed(99);                       // different weights before loading
        using var nano = new NanoGpt(config);
        Assert.Equal(NanoGptKeys(2).Order(), nano.state_dict().Keys.Order()); // the module really has nanoGPT's keys
        nano.load_py(path, strict: true);

        Assert.Equal(0f, (nano.get_parameter("lm_head.weight") - nano.get_parameter("transformer.wte.weight")).abs().max().item<float>());
        gpt.eval();
        nano.eval();
        using var _ = no_grad();
        var idx = randint(0, config.VocabSize, [3, config.BlockSize], dtype: int64);
        var expected = gpt.forward(idx);
        var actual = nano.forward(idx);
        Assert.Equal(expected.shape, actual.shape);
        Assert.True(expected.allclose(actual, rtol: 1e-5, atol: 1e-5),
            $"logits differ by up to {(expected - actual).abs().max().item<float>():G3}");
    }

    [Fact]
    public void Mask_buffers_are_dropped_and_every_other_key_gains_the_transformer_prefix()
    {
        Assert.Null(NanoGptExport.KeyOf("h.3.attn.bias"));
        Assert.Equal("transformer.h.3.attn.c_proj.bias", NanoGptExport.KeyOf("h.3.attn.c_proj.bias"));
        Assert.Equal("transformer.wte.weight", NanoGptExport.KeyOf("wte.weight"));
        Assert.Equal("transformer.ln_f.bias", NanoGptExport.KeyOf("ln_f.bias"));
    }
}
