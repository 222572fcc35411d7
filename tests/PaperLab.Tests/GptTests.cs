using PaperLab.Runs;
using System.Text.Json;
using PaperLab.Cli;
using PaperLab.Data;
using PaperLab.Papers.Gpt;
using PaperLab.Training;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace PaperLab.Tests;

/// <summary>Tiny Shakespeare characters, loaded once for the GPT tests (found like the experiment finds it).</summary>
public sealed class ShakespeareFixture
{
    public ShakespeareChars Data { get; } = ShakespeareChars.Load(null);
    public string Dir => Path.GetDirectoryName(Data.Source)!;
}

[CollectionDefinition("shakespeare")]
public sealed class ShakespeareCollection : ICollectionFixture<ShakespeareFixture> { }

[Collection("shakespeare")]
public class GptTests(ShakespeareFixture shakespeare)
{
    static readonly GptConfig Tiny = new(VocabSize: 65, BlockSize: 16, NLayer: 2, NHead: 2, NEmbd: 32, Dropout: 0.0);

    static Gpt NewModel(GptConfig config, int seed = 0)
    {
        torch.manual_seed(seed);
        return new Gpt(config);
    }

    [Fact]
    public void Split_and_vocabulary_are_nanoGPTs()
    {
        Assert.Equal(65, shakespeare.Data.Vocabulary.Size);
        Assert.Equal(1_003_854, shakespeare.Data.Train.Length);
        Assert.Equal(111_540, shakespeare.Data.Val.Length);
        Assert.Equal('\n', shakespeare.Data.Vocabulary.Chars[0]);
        Assert.Equal("First Citizen", shakespeare.Data.Vocabulary.Decode(shakespeare.Data.Train[..13].Select(i => (long)i)));
    }

    [Fact]
    public void Attention_equals_torch_scaled_dot_product_attention_with_causal_mask()
    {
        using var attention = new CausalSelfAttention(Tiny with { BlockSize = 24 });
        torch.manual_seed(3);
        using var q = randn(2, 3, 24, 8);
        using var k = randn(2, 3, 24, 8);
        using var v = randn(2, 3, 24, 8);
        using var ours = attention.Attend(q, k, v);
        using var reference = nn.functional.scaled_dot_product_attention(q, k, v, is_casual: true);
        Assert.Equal(reference.shape, ours.shape);
        Assert.True((ours - reference).abs().max().item<float>() < 1e-5f);
        // and it is not the unmasked attention
        using var unmasked = nn.functional.scaled_dot_product_attention(q, k, v, is_casual: false);
        Assert.True((ours - unmasked).abs().max().item<float>() > 1e-2f);
    }

    [Fact]
    public void Changing_a_later_token_does_not_change_earlier_logits()
    {
        using var model = NewModel(Tiny, seed: 1);
        model.eval();
        using var _ = no_grad();
        var ids = Enumerable.Range(0, 16).Select(i => (long)(i * 7 % 65)).ToArray();
        using var a = tensor(ids).reshape(1, 16);
        ids[10] = (ids[10] + 1) % 65;
        using var b = tensor(ids).reshape(1, 16);
        using var la = model.forward(a);
        using var lb = model.forward(b);
        using var diff = (la - lb).abs().amax(new long[] { 0, 2 });   // (T): largest change at each position
        var perPosition = diff.data<float>().ToArray();
        Assert.All(perPosition[..10], d => Assert.Equal(0f, d));
        Assert.All(perPosition[10..], d => Assert.True(d > 0f));
    }

    [Fact]
    public void Loss_at_initialisation_is_that_of_the_uniform_distribution()
    {
        var config = new GptOptions().Model(65);
        using var model = NewModel(config);
        model.eval();
        var loader = new BatchLoader(new TokenWindowDataset(shakespeare.Data.Val, config.BlockSize), 12, Sampling.WithReplacement, seed: 5);
        double loss = Experiment.EstimateLoss(model, loader, 4);
        Assert.InRange(loss, Math.Log(65) - 0.1, Math.Log(65) + 0.1);
    }

    [Fact]
    public void Parameter_count_equals_the_formula()
    {
        var cpu = new GptOptions().Model(65);
        Assert.Equal(809_856L, Gpt.ExpectedParameters(cpu));   // 65·128 + 64·128 + 4·(12·128² + 13·128) + 2·128
        using var model = NewModel(cpu);
        Assert.Equal(Gpt.ExpectedParameters(cpu), model.parameters().Sum(p => p.numel()));
        var other = new GptConfig(VocabSize: 50, BlockSize: 20, NLayer: 3, NHead: 3, NEmbd: 48);
        using var otherModel = NewModel(other);
        Assert.Equal(Gpt.ExpectedParameters(other), otherModel.parameters().Sum(p => p.numel()));
    }

    [Fact]
    public void Weight_decay_reaches_the_linear_matrices_only()
    {
        using var model = NewModel(Tiny);
        var (decay, noDecay) = model.WeightDecayGroups();
        Assert.Equal(4 * Tiny.NLayer, decay.Count);                 // c_attn, attn c_proj, c_fc, mlp c_proj per block
        Assert.All(decay, p => Assert.Equal(2, p.dim()));
        long total = model.parameters().Sum(p => p.numel());
        Assert.Equal(total, decay.Sum(p => p.numel()) + noDecay.Sum(p => p.numel()));
        Assert.Contains(noDecay, p => p.shape.SequenceEqual(new long[] { 65, 32 }));   // wte (tied output layer)
        Assert.Contains(noDecay, p => p.shape.SequenceEqual(new long[] { 16, 32 }));   // wpe
    }

    [Fact]
    public void Residual_projections_start_smaller_by_one_over_sqrt_two_n_layer()
    {
        var config = new GptConfig(VocabSize: 65, BlockSize: 16, NLayer: 8, NHead: 4, NEmbd: 256);
        using var model = NewModel(config);
        var std = model.named_parameters().ToDictionary(p => p.name, p => p.parameter.std().item<float>());
        Assert.InRange(std["h.0.attn.c_attn.weight"], 0.019, 0.021);
        Assert.InRange(std["h.0.attn.c_proj.weight"], 0.02 / 4 * 0.95, 0.02 / 4 * 1.05);   // √(2·8) = 4
        Assert.InRange(std["h.7.mlp.c_proj.weight"], 0.02 / 4 * 0.95, 0.02 / 4 * 1.05);
        Assert.InRange(std["wte.weight"], 0.018, 0.022);
    }

    [Fact]
    public void Learning_rate_warms_up_then_decays_by_a_cosine_to_a_tenth()
    {
        var c = new GptOptions();
        var lr = Schedules.WarmupCosine(c.Lr, c.Warmup, c.DecayEnd, c.MinLrInEffect);
        Assert.Equal(c.Lr / 101, lr(0), 12);
        Assert.Equal(c.Lr, lr(c.Warmup), 12);
        Assert.Equal(0.55 * c.Lr, lr((c.Warmup + c.DecayEnd) / 2), 12);  // halfway: (1 + 0.1) / 2, min lr = lr / 10
        Assert.Equal(0.1 * c.Lr, lr(c.DecayEnd), 12);
        Assert.Equal(0.1 * c.Lr, lr(c.DecayEnd + 500), 12);
        var shortRun = GptOptions.Defaults(new(), new RunOptions()) with { MaxIters = 50 };
        Assert.Equal(50, shortRun.Warmup);   // warm-up never outlasts the run
    }

    [Fact]
    public void Overfits_one_batch()
    {
        using var model = NewModel(Tiny, seed: 2);
        var loader = new BatchLoader(new TokenWindowDataset(shakespeare.Data.Train, Tiny.BlockSize), 4, Sampling.WithReplacement, seed: 9);
        var (x, y) = loader.Batch(0);
        var optimizer = optim.AdamW(model.parameters(), lr: 3e-3);
        float first = 0, last = 0;
        for (int step = 0; step < 250; step++)
        {
            using var scope = NewDisposeScope();
            optimizer.zero_grad();
            var loss = model.Loss(x, y);
            if (step == 0) first = loss.item<float>();
            last = loss.item<float>();
            loss.backward();
            optimizer.step();
        }
        Assert.True(first > 4.0f, $"initial loss {first}");
        Assert.True(last < 0.1f, $"loss after 250 steps on one batch: {last}");
    }

    [Fact]
    public void Cached_forward_gives_the_logits_of_the_full_forward()
    {
        using var model = NewModel(Tiny, seed: 4);
        model.eval();
        using var _ = no_grad();
        using var idx = randint(0, 65, new long[] { 2, 16 });
        using var full = model.forward(idx);
        var caches = Enumerable.Range(0, Tiny.NLayer).Select(_ => new KeyValueCache()).ToArray();
        using var prefix = model.forward(idx[TensorIndex.Colon, TensorIndex.Slice(0, 5)], caches);   // a 5-token prompt at once
        var steps = new List<Tensor> { prefix };
        for (int t = 5; t < 16; t++) steps.Add(model.forward(idx[TensorIndex.Colon, TensorIndex.Slice(t, t + 1)], caches));
        Assert.Equal(16, caches[0].Length);
        using var incremental = cat(steps, 1);
        Assert.True((incremental - full).abs().max().item<float>() < 1e-5f);
        foreach (var c in caches) c.Dispose();
    }

    [Fact]
    public void Cached_and_uncached_generation_give_the_same_tokens()
    {
        using var model = NewModel(Tiny with { BlockSize = 32 }, seed: 5);
        using var prompt = tensor(new long[] { 0, 18, 47, 56, 57, 1, 0, 1, 2, 3 }).reshape(2, 5);
        // greedy
        using var greedyCached = model.Generate(prompt, 27, topK: 1, useCache: true);
        using var greedyFull = model.Generate(prompt, 27, topK: 1, useCache: false);
        Assert.Equal(greedyFull.data<long>().ToArray(), greedyCached.data<long>().ToArray());
        // sampled, same random stream
        using var sampledCached = model.Generate(prompt, 27, temperature: 1.5, topK: 20, generator: new Generator(11), useCache: true);
        using var sampledFull = model.Generate(prompt, 27, temperature: 1.5, topK: 20, generator: new Generator(11), useCache: false);
        Assert.Equal(sampledFull.data<long>().ToArray(), sampledCached.data<long>().ToArray());
        Assert.Equal(new long[] { 2, 32 }, sampledCached.shape);
        Assert.NotEqual(greedyCached.data<long>().ToArray(), sampledCached.data<long>().ToArray());
        // past the window the cached generator keeps going (restarting its cache)
        using var longer = model.Generate(prompt, 80, generator: new Generator(1));
        Assert.Equal(new long[] { 2, 85 }, longer.shape);
    }

    [Fact]
    public void Top_k_sampling_draws_only_among_the_k_largest_logits()
    {
        using var logits = tensor(new float[] { 0f, 5f, 1f, 4f, 3f, -2f }).reshape(1, 6).expand(200, 6).contiguous();
        using var draws = Gpt.Sample(logits, 10.0, 2, new Generator(0));
        var seen = draws.data<long>().ToArray().Distinct().Order().ToArray();
        Assert.Equal(new long[] { 1, 3 }, seen);
    }

    static GptOptions Smoke => GptOptions.Defaults(new(), new RunOptions { Smoke = true });

    [Fact]
    public void Same_seed_gives_the_same_losses_and_another_seed_does_not()
    {
        using var dir = new TempDir();
        var o = Smoke with { MaxIters = 15, Dropout = 0.1, EvalInterval = 15, EvalIters = 2, FinalEvalIters = 2, SampleTokens = 10 };
        string[] Losses(string name, int seed)
        {
            PaperRun.Run(Experiment.Run, o, PaperRun.Context(Experiment.Paper, dir.File(name), shakespeare.Dir, seed: seed));
            return File.ReadAllLines(dir.File(name, "metrics.csv")).Where(l => l.Contains(",train,loss,")).Select(l => l.Split(',')[3]).ToArray();
        }
        var a = Losses("a", 7);
        Assert.Equal(a, Losses("b", 7));
        Assert.NotEqual(a, Losses("c", 8));
    }

    [Fact]
    public void Grad_checkpoint_trains_the_same_losses_and_fused_attention_nearly_the_same()
    {
        using var dir = new TempDir();
        var o = Smoke with { MaxIters = 40, NLayer = 4, Dropout = 0.1, EvalInterval = 40, EvalIters = 2, FinalEvalIters = 2, SampleTokens = 10 };
        double[] Losses(string name, GptOptions options)
        {
            PaperRun.Run(Experiment.Run, options, PaperRun.Context(Experiment.Paper, dir.File(name), shakespeare.Dir));
            return MetricsLog.Read(dir.File(name, "metrics.csv")).Where(r => r.Split == "train" && r.Name == "loss").Select(r => r.Value).ToArray();
        }
        var plain = Losses("plain", o);
        var checkpointed = Losses("checkpointed", o with { GradCheckpoint = true });   // √4 = 2 segments, dropout masks replayed
        var fused = Losses("fused", o with { FusedAttention = true });
        Assert.True(plain.Length >= 2);
        for (int i = 0; i < plain.Length; i++)
        {
            Assert.True(Math.Abs(plain[i] - checkpointed[i]) <= 1e-6 * plain[i], $"log point {i}: {plain[i]:R} plain vs {checkpointed[i]:R} with --grad-checkpoint (recomputation must give the same gradients)");
            Assert.True(Math.Abs(plain[i] - fused[i]) <= 2e-3 * plain[i], $"log point {i}: {plain[i]:R} plain vs {fused[i]:R} with --fused-attention");
        }
        Assert.Equal(2, PaperMain.Run(Experiment.Main, ["--checkpoint-segments", "9", "--grad-checkpoint"]).Exit);   // more segments than layers
    }

    [Fact]
    public void Resuming_gives_exactly_the_uninterrupted_run() =>
        PaperRun.ResumesBitIdentically(Experiment.Paper, Experiment.Run,
            Smoke with { MaxIters = 60, Dropout = 0.1, EvalInterval = 20, EvalIters = 2, FinalEvalIters = 2, SampleTokens = 20 }, stopAfter: 31, data: shakespeare.Dir);

    [Fact]
    public void Smoke_run_beats_the_uniform_baseline_clearly_and_writes_the_run_folder()
    {
        using var dir = new TempDir();
        var summary = PaperRun.Run(Experiment.Run, Smoke, PaperRun.Context(Experiment.Paper, dir.File("run"), shakespeare.Dir))!;
        foreach (var f in new[] { "config.json", "metrics.csv", "summary.json", "report.html", "sample.txt", "checkpoint.bin", "model.pt", NanoGptExport.FileName })
            Assert.True(File.Exists(dir.File("run", f)), f);
        Assert.True(summary.ValLoss < Math.Log(65) - 1.5, $"val loss {summary.ValLoss} against uniform {Math.Log(65):F3}");
        Assert.True(summary.TokensPerSecond > 0);
        Assert.Equal(summary.Parameters, summary.ParametersFormula);
        using var json = JsonDocument.Parse(File.ReadAllText(dir.File("run", "summary.json")));
        Assert.Equal("val_loss", json.RootElement.GetProperty("published").GetProperty("metric").GetString());
        Assert.Equal(summary.ValLoss, json.RootElement.GetProperty("val_loss").GetDouble());
        Assert.Equal(Smoke.SampleTokens + 1, File.ReadAllText(dir.File("run", "sample.txt")).Length);
        Assert.Contains("Learning rate", File.ReadAllText(dir.File("run", "report.html")));
    }

    [Fact]
    public void Bad_model_shapes_are_rejected_with_the_field_named()
    {
        var e = Assert.Throws<ArgumentException>(() => new Gpt(Tiny with { NHead = 3 }));
        Assert.Contains("n_head", e.Message);
        using var model = NewModel(Tiny);
        var tooLong = Assert.Throws<ArgumentException>(() => model.forward(zeros(1, 17, dtype: int64)));
        Assert.Contains("block_size", tooLong.Message);
    }

    [Fact]
    public void Token_windows_pair_each_token_with_the_next()
    {
        var data = new TokenWindowDataset(Enumerable.Range(100, 20).ToArray(), blockSize: 4);
        Assert.Equal(16, data.Count);
        var (x, y) = data.Gather(new long[] { 0, 15 });
        Assert.Equal(new long[] { 2, 4 }, x.shape);
        Assert.Equal(new long[] { 100, 101, 102, 103, 115, 116, 117, 118 }, x.data<long>().ToArray());
        Assert.Equal(new long[] { 101, 102, 103, 104, 116, 117, 118, 119 }, y.data<long>().ToArray());
        Assert.Throws<ArgumentException>(() => new TokenWindowDataset(new int[4], 4));
    }
}
