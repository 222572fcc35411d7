using PaperLab.Cli;
using PaperLab.Data;
using PaperLab.Papers.Transformer;
using PaperLab.Training;
using System.Text.Json;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;
using TransformerModel = PaperLab.Papers.Transformer.Transformer;

namespace PaperLab.Tests;

public class TransformerTests
{
    static TransformerModel Tiny(int vocab = 11, int n = 2, int dModel = 32, int h = 4, int dFf = 64, double pDrop = 0.0, int seed = 0, bool preLn = false)
    {
        torch.manual_seed(seed);
        return new TransformerModel(new ModelConfig(vocab, vocab, n, dModel, h, dFf, pDrop, preLn, MaxLength: 64));
    }

    [Fact]
    public void Multi_head_attention_equals_torch_nn_MultiheadAttention_with_the_same_weights()
    {
        torch.manual_seed(7);
        const int d = 16, h = 4, b = 3, lq = 5, lk = 6;
        using var ours = new MultiHeadAttention(d, h);
        using var theirs = nn.MultiheadAttention(d, h);
        var (inW, inB, outW, outB) = ours.AsPyTorch();
        var p = theirs.named_parameters().ToDictionary(x => x.name, x => x.parameter);
        using (no_grad())
        {
            p["in_proj_weight"].copy_(inW);
            p["in_proj_bias"].copy_(inB);
            p["out_proj.weight"].copy_(outW);
            p["out_proj.bias"].copy_(outB);
        }
        var q = randn(b, lq, d);
        var kv = randn(b, lk, d);
        // key padding: the last two keys of sentence 0 and the last key of sentence 2 are padding
        var pad = zeros(b, lk, ScalarType.Bool);
        pad[0, 4] = true; pad[0, 5] = true; pad[2, 5] = true;
        ours.eval(); theirs.eval();
        using var _ = no_grad();
        var mine = ours.forward(q, kv, kv, pad.unsqueeze(1).unsqueeze(2));
        // PyTorch's module takes (L, B, E) and key_padding_mask (B, L_k) with true = ignore
        var (reference, weights) = theirs.forward(q.transpose(0, 1), kv.transpose(0, 1), kv.transpose(0, 1), pad, true, null);
        double diff = (mine - reference.transpose(0, 1)).abs().max().item<float>();
        Assert.True(diff < 1e-5, $"max |difference| {diff}");
        // and the same without a mask
        var (plain, _) = theirs.forward(q.transpose(0, 1), kv.transpose(0, 1), kv.transpose(0, 1), null, false, null);
        Assert.True((ours.forward(q, kv, kv, null) - plain.transpose(0, 1)).abs().max().item<float>() < 1e-5);
    }

    [Fact]
    public void Scaled_dot_product_attention_is_equation_1_and_masked_keys_get_weight_0()
    {
        torch.manual_seed(1);
        var q = randn(2, 3, 8); var k = randn(2, 4, 8); var v = randn(2, 4, 5);
        var mask = zeros(1, 1, 4, ScalarType.Bool); mask[0, 0, 3] = true;
        var (output, weights) = Attention.ScaledDotProduct(q, k, v, mask);
        var scores = matmul(q, k.transpose(1, 2)) / Math.Sqrt(8);
        scores[TensorIndex.Colon, TensorIndex.Colon, 3] = double.NegativeInfinity;
        var expected = matmul(nn.functional.softmax(scores, -1), v);
        Assert.True((output - expected).abs().max().item<float>() < 1e-6);
        Assert.Equal(0f, weights[TensorIndex.Colon, TensorIndex.Colon, 3].abs().max().item<float>());
        Assert.True((weights.sum(-1) - 1).abs().max().item<float>() < 1e-6);
    }

    [Fact]
    public void Causal_mask_blocks_the_future()
    {
        var m = SequenceMasks.Causal(4);
        Assert.Equal(new long[] { 1, 1, 4, 4 }, m.shape);
        bool[] expected =
        [
            false, true, true, true,
            false, false, true, true,
            false, false, false, true,
            false, false, false, false,
        ];
        Assert.Equal(expected, m.flatten().data<bool>().ToArray());

        // In the model: the logits at positions ≤ t do not change when the tokens after t do.
        using var model = Tiny(seed: 3);
        model.eval();
        using var _ = no_grad();
        var src = tensor(new long[] { 5, 6, 7, 3 }).unsqueeze(0);
        var a = tensor(new long[] { 2, 4, 5, 6, 7, 8 }).unsqueeze(0);
        var b = tensor(new long[] { 2, 4, 5, 10, 9, 4 }).unsqueeze(0);
        var la = model.forward(src, a); var lb = model.forward(src, b);
        Assert.True((la.narrow(1, 0, 3) - lb.narrow(1, 0, 3)).abs().max().item<float>() < 1e-6, "past positions saw the future");
        Assert.True((la.narrow(1, 3, 3) - lb.narrow(1, 3, 3)).abs().max().item<float>() > 1e-3, "later positions ignore their own input");
    }

    [Fact]
    public void Source_padding_does_not_change_the_output()
    {
        using var model = Tiny(seed: 4);
        model.eval();
        using var _ = no_grad();
        var tgt = tensor(new long[] { 2, 4, 5 }).unsqueeze(0);
        var short_ = model.forward(tensor(new long[] { 5, 6, 3 }).unsqueeze(0), tgt);
        var padded = model.forward(tensor(new long[] { 5, 6, 3, 0, 0 }).unsqueeze(0), tgt);
        Assert.True((short_ - padded).abs().max().item<float>() < 1e-5);
    }

    [Fact]
    public void Positional_encodings_match_the_formula_of_section_3_5()
    {
        const int d = 16;
        var pe = PositionalEncoding.Table(50, d, ScalarType.Float64);
        foreach (int pos in new[] { 0, 1, 7, 49 })
            for (int i = 0; i < d / 2; i++)
            {
                double angle = pos / Math.Pow(10000, 2.0 * i / d);
                Assert.Equal(Math.Sin(angle), pe[pos, 2 * i].item<double>(), 12);
                Assert.Equal(Math.Cos(angle), pe[pos, 2 * i + 1].item<double>(), 12);
            }
    }

    [Fact]
    public void Output_projection_is_the_target_embedding()
    {
        using var model = Tiny();
        var p = model.named_parameters().ToDictionary(x => x.name, x => x.parameter);
        Assert.DoesNotContain(p.Keys, k => k.Contains("generator") || k.Contains("proj"));
        model.eval();
        using var _ = no_grad();
        var src = tensor(new long[] { 5, 3 }).unsqueeze(0);
        var tgt = tensor(new long[] { 2 }).unsqueeze(0);   // the decoder reads only BOS, so its state does not depend on row 7
        var before = model.forward(src, tgt).squeeze().clone();
        torch.manual_seed(1);
        p["tgt_embed.lut.weight"][7].add_(randn(32));      // moving row 7 of E moves the logit of token 7 only
        var delta = (model.forward(src, tgt).squeeze() - before).abs();
        Assert.True(delta[7].item<float>() > 1e-3);
        delta[7] = 0;
        Assert.Equal(0f, delta.max().item<float>());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Gradients_match_finite_differences(bool preLn)
    {
        using var model = Tiny(vocab: 9, n: 1, dModel: 8, h: 2, dFf: 16, seed: 5, preLn: preLn);
        model.to(float64);
        var src = tensor(new long[] { 4, 5, 6, 3, 7, 8, 3, 0 }, new long[] { 2, 4 });
        var tgt = tensor(new long[] { 2, 6, 4, 3, 2, 8, 3, 0 }, new long[] { 2, 4 });
        var tgtIn = tgt.narrow(1, 0, 3); var gold = tgt.narrow(1, 1, 3);
        Tensor Loss() => TrainingRecipe.LabelSmoothedLoss(model.forward(src, tgtIn), gold, 0.1);
        Diagnostics.GradientCheck.MatchesFiniteDifferences(model, Loss, h: 1e-6, absTolerance: 1e-7, firstIndex: 5);
    }

    [Fact]
    public void Overfits_one_batch()
    {
        using var model = Tiny(vocab: 20, dModel: 32, seed: 6);
        var rng = new Random(1);
        int[][] Sentences() => Enumerable.Range(0, 8).Select(_ => Enumerable.Range(0, rng.Next(3, 7)).Select(_ => rng.Next(4, 20)).ToArray()).ToArray();
        var srcs = Sentences(); var tgts = Sentences();
        var src = SequenceMasks.Pad(srcs.Select(s => s.Append(3).ToArray()).ToArray(), 0);
        var tgt = SequenceMasks.Pad(tgts.Select(t => t.Prepend(2).Append(3).ToArray()).ToArray(), 0);
        var tgtIn = tgt.narrow(1, 0, tgt.shape[1] - 1); var gold = tgt.narrow(1, 1, tgt.shape[1] - 1);
        var opt = optim.Adam(model.parameters(), lr: 5e-3);
        double loss = double.NaN;
        for (int i = 0; i < 100; i++)
        {
            using var scope = NewDisposeScope();
            opt.zero_grad();
            var l = TrainingRecipe.LabelSmoothedLoss(model.forward(src, tgtIn), gold, 0.0);
            l.backward();
            opt.step();
            loss = l.item<float>();
        }
        Assert.True(loss < 0.05, $"loss after 100 steps on one batch: {loss}");
    }

    [Fact]
    public void Copy_task_greedy_and_beam_decoding_return_the_input()
    {
        // The Annotated Transformer's sanity check: vocabulary of 11 (here 4 specials + 7 symbols), 2 layers,
        // learn to copy random sequences; greedy decoding must then return the input.
        using var model = Tiny(vocab: 11, n: 2, dModel: 32, h: 4, dFf: 64, seed: 8);
        var opt = optim.Adam(model.parameters(), lr: 1.0, beta1: 0.9, beta2: 0.98, eps: 1e-9);
        var noam = Schedules.Noam(32, 100);
        var rng = new Random(2);
        for (int step = 0; step < 500; step++)
        {
            using var scope = NewDisposeScope();
            var seqs = Enumerable.Range(0, 32).Select(_ => Enumerable.Range(0, rng.Next(3, 9)).Select(_ => rng.Next(4, 11)).ToArray()).ToArray();
            var src = SequenceMasks.Pad(seqs.Select(s => s.Append(3).ToArray()).ToArray(), 0);
            var tgt = SequenceMasks.Pad(seqs.Select(s => s.Prepend(2).Append(3).ToArray()).ToArray(), 0);
            opt.zero_grad();
            TrainingRecipe.LabelSmoothedLoss(model.forward(src, tgt.narrow(1, 0, tgt.shape[1] - 1)), tgt.narrow(1, 1, tgt.shape[1] - 1), 0.0).backward();
            foreach (var group in opt.ParamGroups) group.LearningRate = noam(step);
            opt.step();
        }
        int[][] inputs = [[4, 5, 6, 7, 8, 9, 10], [10, 9, 8, 7], [5, 5, 6, 6, 7]];
        var sources = inputs.Select(s => s.Append(3).ToArray()).ToArray();
        var greedy = Decoding.Translate(model, sources, beam: 1, alpha: 0, extraLength: 5);
        var beam = Decoding.Translate(model, sources, beam: 3, alpha: 0.6, extraLength: 5);
        for (int i = 0; i < inputs.Length; i++)
        {
            Assert.Equal(sources[i], greedy[i]);
            Assert.Equal(sources[i], beam[i]);
        }
    }

    [Fact]
    public void Beam_search_of_size_1_is_greedy_and_larger_beams_score_at_least_as_well()
    {
        using var model = Tiny(vocab: 11, seed: 9);
        model.eval();
        var src = SequenceMasks.Pad(new[] { new[] { 4, 5, 6, 3 }, new[] { 7, 3 } }, 0);
        var greedy = Decoding.Greedy(model, src, 6);
        var beam1 = Decoding.Beam(model, src, 6, beam: 1, alpha: 0);
        Assert.Equal(greedy, beam1);
        var beam4 = Decoding.Beam(model, src, 6, beam: 4, alpha: 0);
        for (int i = 0; i < 2; i++)
            Assert.True(LogProb(model, src.narrow(0, i, 1), beam4[i]) >= LogProb(model, src.narrow(0, i, 1), greedy[i]) - 1e-4);
    }

    static double LogProb(TransformerModel model, Tensor src, int[] output)
    {
        using var _ = no_grad();
        var tgt = tensor(output.Prepend(2).Select(x => (long)x).ToArray()).unsqueeze(0);
        var logp = nn.functional.log_softmax(model.forward(src, tgt.narrow(1, 0, tgt.shape[1] - 1)), -1);
        return logp.gather(2, tgt.narrow(1, 1, tgt.shape[1] - 1).unsqueeze(2)).sum().item<float>();
    }

    [Fact]
    public void Tokenisation_lower_cases_and_splits_words_from_punctuation()
    {
        Assert.Equal(new[] { "zwei", "männer", ",", "die", "am", "strand", "fußball", "spielen", "." },
                     Tokenisation.Tokenize("Zwei Männer, die am Strand Fußball spielen."));
        Assert.Equal(new[] { "a", "man", "'", "s", "hat", "." }, Tokenisation.Tokenize("A man's hat ."));
    }

    [Fact]
    public void Vocabulary_keeps_words_of_minimum_frequency_after_the_specials()
    {
        var v = Vocabulary.Build(new[] { new[] { "b", "a", "c" }, new[] { "a", "b" }, new[] { "a" } }, minFrequency: 2);
        Assert.Equal(new[] { "<pad>", "<unk>", "<s>", "</s>", "a", "b" }, v.Tokens);
        Assert.Equal(new[] { 2, 4, 1, 5, 3 }, v.Encode(new[] { "a", "c", "b" }, addBos: true, addEos: true));
        Assert.Equal(new[] { "a", "<unk>", "b" }, v.Decode(new[] { 2, 4, 1, 5, 3, 4 }));
        string path = Path.GetTempFileName();
        v.Save(path);
        Assert.Equal(v.Tokens, Vocabulary.Load(path).Tokens);
        File.Delete(path);
    }

    [Fact]
    public void Token_batches_hold_every_pair_once_within_the_token_bound()
    {
        var rng = new Random(3);
        var src = Enumerable.Range(0, 200).Select(_ => Enumerable.Repeat(5, rng.Next(1, 30)).ToArray()).ToArray();
        var tgt = Enumerable.Range(0, 200).Select(_ => Enumerable.Repeat(6, rng.Next(2, 30)).ToArray()).ToArray();
        var batches = new TokenBatches(src, tgt, maxTokens: 120);
        Assert.Equal(Enumerable.Range(0, 200), batches.Batches.SelectMany(b => b).Order());
        foreach (var b in batches.Batches)
            Assert.True(b.Length * b.Max(i => Math.Max(src[i].Length, tgt[i].Length - 1)) <= 120);
        var (s, t) = batches.Batch(0);
        Assert.Equal(batches.Batches[0].Length, (int)s.shape[0]);
        Assert.Equal(batches.Batches[0].Max(i => tgt[i].Length), (int)t.shape[1]);
        // training visits every batch once per epoch, in an order that depends on (seed, epoch) only
        var firstEpoch = Enumerable.Range(0, (int)batches.Count).Select(step => batches.ForStep(step, seed: 4).Source.shape[0]).ToArray();
        Assert.Equal(batches.Batches.Select(b => (long)b.Length).Order(), firstEpoch.Order());
        Assert.Equal(firstEpoch, Enumerable.Range(0, (int)batches.Count).Select(step => batches.ForStep(step, seed: 4).Source.shape[0]));
    }

    [Theory]
    [InlineData("--epochs: expected an integer in [1, 10000], got '0'", "--epochs", "0")]
    [InlineData("--beam: expected an integer in [1, 64], got 'zero'", "--beam", "zero")]
    [InlineData("--lr-factor: expected a number in (0, 100], got '-1'", "--lr-factor", "-1")]
    [InlineData("--dropout: expected a number in [0, 1), got '1.5'", "--dropout", "1.5")]
    [InlineData("--dropout: expected a number in [0, 1), got 'x'", "--dropout", "x")]
    [InlineData("--length-penalty: expected a number in [0, 10], got 'abc'", "--length-penalty", "abc")]
    [InlineData("--length-penalty: expected a number in [0, 10], got '-0.5'", "--length-penalty", "-0.5")]
    [InlineData("--d-model 100 must be even and divisible by --heads 8", "--d-model", "100")]
    public void Bad_flags_exit_2_naming_the_option(string message, params string[] args)
    {
        var (exit, stderr) = PaperMain.Run(Experiment.Main, args);
        Assert.Equal(2, exit);
        Assert.Contains(message, stderr);
    }

    static string Data => Environment.GetEnvironmentVariable("PAPERLAB_DATA") ?? Path.GetFullPath("../../shared/data");
    static TransformerOptions Smoke => TransformerOptions.Defaults(new(), new RunOptions { Smoke = true });

    [Fact]
    public void Smoke_run_on_real_multi30k_learns_and_writes_the_run_folder()
    {
        using var dir = new TempDir();
        var summary = PaperRun.Run(Experiment.Run, Smoke, PaperRun.Context(Experiment.Paper, dir.File("run"), Data));
        Assert.InRange(summary.Bleu, 0, 100);
        Assert.True(summary.TokensPerSecond > 0);
        Assert.Equal("bleu", summary.Published.Metric);
        // learning happened: validation perplexity far below the uniform guess over the English vocabulary
        Assert.True(summary.ValPerplexity < summary.VocabTarget / 4.0, $"val perplexity {summary.ValPerplexity} with {summary.VocabTarget} words");
        foreach (var f in new[] { "config.json", "metrics.csv", "checkpoint.bin", "model.pt", "model.weights", "report.html", "translations.tsv", "vocab.de.txt", "vocab.en.txt" })
            Assert.True(File.Exists(dir.File("run", f)), $"{f} missing from the run folder");
    }

    [Fact]
    public void Resuming_gives_exactly_the_uninterrupted_run() =>
        PaperRun.ResumesBitIdentically(Experiment.Paper, Experiment.Run,
            Smoke with { Epochs = 2, TrainLimit = 600, ValLimit = 20, TestLimit = 5, Beam = 1 }, stopAfter: 7, data: Data);
}

public class TransformerLossFloorTests
{
    [Theory]
    [InlineData(0.1, 1303)]
    [InlineData(0.3, 7)]
    public void Smoothed_target_entropy_is_the_loss_of_the_best_possible_logits(double epsilon, int vocab)
    {
        // the best logits are log q of the smoothed target q itself; torch's label-smoothed loss of them is H(q)
        var q = Enumerable.Repeat(epsilon / vocab, vocab).ToArray();
        q[3] += 1 - epsilon;
        using var logits = tensor(q.Select(v => Math.Log(v)).ToArray()).reshape(1, vocab);
        using var gold = tensor(new long[] { 3 });
        double loss = nn.functional.cross_entropy(logits, gold, label_smoothing: epsilon).item<double>();
        Assert.Equal(loss, Experiment.SmoothedTargetEntropy(epsilon, vocab), 10);
        Assert.Equal(0, Experiment.SmoothedTargetEntropy(0, vocab));
    }
}
