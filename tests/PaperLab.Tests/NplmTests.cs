using PaperLab.Papers.Nplm;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace PaperLab.Tests;

/// <summary>The network of Bengio et al. 2003 (§2, Eq. 1), its perplexity and its training loop.</summary>
public class NplmTests
{
    static Nplm NewModel(NplmConfig config, int seed = 0)
    {
        torch.manual_seed(seed);
        return new Nplm(config);
    }

    /// <summary>Random (context, next word) examples over a vocabulary of <paramref name="vocab"/>.</summary>
    static NgramExamples RandomExamples(int count, int contextLength, int vocab, int seed)
    {
        var g = new Generator((ulong)seed);
        using var scope = NewDisposeScope();
        return new NgramExamples(randint(0, vocab, new long[] { count, contextLength }, generator: g),
                                 randint(0, vocab, new long[] { count }, generator: g));
    }

    [Fact]
    public void Loss_at_initialisation_is_that_of_the_uniform_distribution()
    {
        foreach (var config in new[] { NplmConfig.Mlp1(16_383), NplmConfig.Mlp9(16_383), NplmConfig.Makemore })
        {
            using var model = NewModel(config, seed: 1);
            using var examples = RandomExamples(512, config.ContextLength, config.VocabSize, seed: 2);
            double nll = NplmTraining.MeanNll(model, examples);
            Assert.InRange(nll, Math.Log(config.VocabSize) - 0.02, Math.Log(config.VocabSize) + 0.02);
        }
    }

    [Fact]
    public void Forward_is_equation_1_written_out()
    {
        var config = new NplmConfig(VocabSize: 40, Order: 4, Features: 5, Hidden: 7, Direct: true);
        using var model = NewModel(config, seed: 3);
        var p = model.named_parameters().ToDictionary(kv => kv.name, kv => kv.parameter);
        using (no_grad()) foreach (var t in p.Values) t.normal_(0, 0.5);   // no zero biases, no tiny output weights
        using var context = tensor(new long[] { 3, 17, 3, 39, 0, 8 }).view(2, 3);
        // x = (C(w_{t−3}), C(w_{t−2}), C(w_{t−1})), oldest first; y = b + W·x + U·tanh(d + H·x)
        using var x = cat(Enumerable.Range(0, 3).Select(i => p["C.weight"].index_select(0, context[TensorIndex.Colon, i])).ToArray(), 1);
        using var expected = p["b"] + x.matmul(p["W.weight"].t()) + (p["d"] + x.matmul(p["H.weight"].t())).tanh().matmul(p["U.weight"].t());
        using var y = model.forward(context);
        Assert.Equal(new long[] { 2, 40 }, y.shape);
        Assert.True((y - expected).abs().max().item<float>() < 1e-5f);
    }

    [Fact]
    public void State_dict_keys_are_the_papers_symbols()
    {
        using var direct = NewModel(NplmConfig.Mlp1(100));
        Assert.Equal(new[] { "C.weight", "H.weight", "U.weight", "W.weight", "b", "d" }, direct.state_dict().Keys.Order(StringComparer.Ordinal));
        using var noDirect = NewModel(NplmConfig.Mlp9(100));
        Assert.Equal(new[] { "C.weight", "H.weight", "U.weight", "b", "d" }, noDirect.state_dict().Keys.Order(StringComparer.Ordinal));
        using var noHidden = NewModel(new NplmConfig(100, Order: 5, Features: 60, Hidden: 0, Direct: true));   // Table 1's MLP3
        Assert.Equal(new[] { "C.weight", "W.weight", "b" }, noHidden.state_dict().Keys.Order(StringComparer.Ordinal));
        var (decay, noDecay) = direct.WeightDecayGroups();
        Assert.Equal(4, decay.Count);                                   // C, H, U, W
        Assert.Equal(new long[] { 100 + 50 }, new[] { noDecay.Sum(t => t.numel()) });   // b (|V|) and d (h)
    }

    [Fact]
    public void Parameter_count_is_the_papers_formula_and_direct_connections_add_V_times_n_minus_1_times_m()
    {
        const long V = 16_383;
        var mlp1 = NplmConfig.Mlp1((int)V);   // n 5, m 60, h 50, direct
        long paper = V * (1 + 5 * 60 + 50) + 50 * (1 + 4 * 60);   // §2: |V|(1 + nm + h) + h(1 + (n−1)m)
        Assert.Equal(paper, Nplm.ExpectedParameters(mlp1));
        Assert.Equal(5_762_483L, paper);
        using var withW = NewModel(mlp1);
        using var withoutW = NewModel(mlp1 with { Direct = false });
        long a = withW.parameters().Sum(t => t.numel()), b = withoutW.parameters().Sum(t => t.numel());
        Assert.Equal(Nplm.ExpectedParameters(mlp1), a);
        Assert.Equal(Nplm.ExpectedParameters(mlp1 with { Direct = false }), b);
        Assert.Equal(V * 4 * 60, a - b);                                 // W is |V| × (n−1)m
        var makemore = NplmConfig.Makemore;                              // makemore part 2: 11,897 parameters
        using var small = NewModel(makemore);
        Assert.Equal(11_897L, small.parameters().Sum(t => t.numel()));
        Assert.Equal(11_897L, Nplm.ExpectedParameters(makemore));
    }

    [Fact]
    public void Perplexity_of_a_hand_computed_example()
    {
        // A model whose weights are zero predicts softmax(b) whatever the context: with b = ln(1, 2, 1),
        // P = (1/4, 1/2, 1/4). Targets 0, 1, 1, 2: mean NLL = (ln 4 + ln 2 + ln 2 + ln 4)/4 = 1.5 ln 2, perplexity 2^1.5.
        using var model = NewModel(new NplmConfig(VocabSize: 3, Order: 3, Features: 2, Hidden: 4, Direct: true));
        using (no_grad())
        {
            foreach (var (name, t) in model.named_parameters()) t.zero_();
            model.get_parameter("b")!.copy_(tensor(new[] { 1f, 2f, 1f }).log());
        }
        using var examples = new NgramExamples(tensor(new long[] { 0, 1, 2, 2, 1, 0, 1, 1 }).view(4, 2), tensor(new long[] { 0, 1, 1, 2 }));
        double nll = NplmTraining.MeanNll(model, examples, batchSize: 3);   // two batches: 3 + 1
        Assert.Equal(1.5 * Math.Log(2), nll, 6);
        Assert.Equal(Math.Pow(2, 1.5), Perplexity.FromMeanNll(nll), 5);
        Assert.Equal(new[] { 0.25, 0.5, 0.5, 0.25 }, NplmTraining.TargetProbabilities(model, examples).Select(p => Math.Round(p, 6)));
        // the same from the probabilities, and Table 1's 50/50 mixture of two models
        Assert.Equal(Math.Pow(2, 1.5), Perplexity.Of(new[] { 0.25, 0.5, 0.5, 0.25 }), 12);
        Assert.Equal(-Math.Log(0.375), Perplexity.MixtureMeanNll(new[] { 0.5 }, new[] { 0.25 }), 12);
        Assert.Throws<ArgumentException>(() => Perplexity.Of(new[] { 0.5, 0.0 }));
    }

    [Fact]
    public void Gradients_match_finite_differences()
    {
        var config = new NplmConfig(VocabSize: 11, Order: 3, Features: 3, Hidden: 4, Direct: true);
        using var model = NewModel(config, seed: 5);
        model.to(float64);
        using var examples = RandomExamples(6, 2, 11, seed: 6);
        Diagnostics.GradientCheck.MatchesFiniteDifferences(model, () => model.Loss(examples.Contexts, examples.Targets), absTolerance: 1e-7,
                                               firstIndex: examples.Contexts[0, 0].item<long>() * config.Features);   // a row of C that is used
    }

    [Fact]
    public void Overfits_one_batch()
    {
        var config = new NplmConfig(VocabSize: 200, Order: 4, Features: 16, Hidden: 64, Direct: true);
        using var model = NewModel(config, seed: 7);
        using var batch = RandomExamples(32, 3, 200, seed: 8);
        var result = NplmTraining.Train(model, batch, null,
            new NplmTrainOptions { BatchSize = 32, Epochs = 300, LearningRate = 1e-2, WeightDecay = 0 }, seed: 9);
        Assert.Equal(300, result.Steps);
        Assert.InRange(result.Losses[0], Math.Log(200) - 0.05, Math.Log(200) + 0.05);
        Assert.True(result.Losses[^1] < 0.05f, $"loss after 300 updates on one batch: {result.Losses[^1]}");
    }

    [Fact]
    public void Same_seed_gives_the_same_losses_and_another_seed_does_not()
    {
        torch.set_num_threads(1);
        var config = new NplmConfig(VocabSize: 60, Order: 3, Features: 8, Hidden: 16, Direct: false);
        using var train = RandomExamples(300, 2, 60, seed: 10);
        IReadOnlyList<float> Losses(int seed, NplmSampling sampling)
        {
            using var model = NewModel(config, seed);
            return NplmTraining.Train(model, train, null,
                new NplmTrainOptions { BatchSize = 32, Epochs = 2, Sampling = sampling, Optimizer = NplmOptimizer.Sgd, LearningRate = 0.1 }, seed).Losses;
        }
        foreach (var sampling in new[] { NplmSampling.Epochs, NplmSampling.WithReplacement })
        {
            var a = Losses(11, sampling);
            Assert.Equal(20, a.Count);                              // ⌈300/32⌉ = 10 updates per epoch
            Assert.Equal(a, Losses(11, sampling));
            Assert.NotEqual(a, Losses(12, sampling));
        }
    }

    [Fact]
    public void Early_stopping_keeps_the_parameters_of_the_best_validation_loss()
    {
        // Training on noise overfits: the validation loss falls below ln|V| only by chance, then rises.
        var config = new NplmConfig(VocabSize: 30, Order: 3, Features: 8, Hidden: 32, Direct: true);
        using var model = NewModel(config, seed: 13);
        using var train = RandomExamples(256, 2, 30, seed: 14);
        using var valid = RandomExamples(256, 2, 30, seed: 15);
        var evaluations = new List<NplmEvaluation>();
        var result = NplmTraining.Train(model, train, valid,
            new NplmTrainOptions { BatchSize = 64, Epochs = 60, LearningRate = 1e-2, WeightDecay = 0, Patience = 3 }, seed: 16,
            onEvaluation: evaluations.Add);
        Assert.True(result.StoppedEarly, "60 epochs of noise should trigger early stopping");
        Assert.Equal(evaluations, result.Evaluations);
        var best = result.Best!.Value;
        Assert.Equal(evaluations.Min(e => e.ValidNll), best.ValidNll);
        Assert.Equal(3, evaluations.Count(e => e.Step > best.Step));   // patience 3: three worse evaluations, then stop
        Assert.Equal(best.ValidNll, NplmTraining.MeanNll(model, valid), 5);   // the best parameters were put back
        Assert.True(result.Steps < 60 * 4);
    }

    [Fact]
    public void Learning_rate_follows_the_papers_inverse_time_decay_and_makemores_drop()
    {
        var paper = new NplmTrainOptions { LearningRate = 1e-3, LrDecay = 1e-8 };   // §4: ε_t = ε_0 / (1 + r·t)
        Assert.Equal(1e-3, paper.LearningRateAt(0), 15);
        Assert.Equal(1e-3 / 1.16, paper.LearningRateAt(16_000_000), 15);              // 20 epochs of 800,000 one-word updates
        var makemore = new NplmTrainOptions { LearningRate = 0.1, LrDropStep = 100_000 };
        Assert.Equal(0.1, makemore.LearningRateAt(99_999), 15);
        Assert.Equal(0.01, makemore.LearningRateAt(100_000), 15);
    }

    [Fact]
    public void Bad_shapes_and_options_are_rejected_with_the_field_named()
    {
        var e = Assert.Throws<ArgumentException>(() => new Nplm(new NplmConfig(100, Hidden: 0, Direct: false)));
        Assert.Contains("Direct", e.Message);
        Assert.Contains("order n", Assert.Throws<ArgumentException>(() => new Nplm(new NplmConfig(100, Order: 1))).Message);
        using var model = NewModel(new NplmConfig(100, Order: 5, Features: 4, Hidden: 4));
        var shape = Assert.Throws<ArgumentException>(() => model.forward(zeros(2, 3, dtype: int64)));
        Assert.Contains("(B, 4)", shape.Message);
        using var threeWords = RandomExamples(10, 3, 100, seed: 0);
        Assert.Contains("context", Assert.Throws<ArgumentException>(() => NplmTraining.Train(model, threeWords, null, new NplmTrainOptions(), 0)).Message);
        Assert.Contains("batch size", Assert.Throws<ArgumentException>(() => new NplmTrainOptions { BatchSize = 0 }.Validate()).Message);
    }

    [Fact]
    public void Retaining_freed_memory_stops_large_tensors_from_faulting_in_again()
    {
        // A step-like pattern: tensors of 18 MB and 40 MB, written, freed, allocated again. glibc maps blocks
        // above its mmap threshold (at most 32 MB) afresh each time, and the kernel faults in and zeroes
        // every page: about 150,000 minor faults for these 10 steps when measured without the setting, against
        // about 20,000 with it. (The setting stays on for the rest of this test process; it only keeps memory.)
        static long MinorFaults() => long.Parse(File.ReadAllText("/proc/self/stat").Split(')')[1].Split(' ', StringSplitOptions.RemoveEmptyEntries)[7]);
        static void Step()
        {
            using var scope = NewDisposeScope();
            var a = ones(4_500_000);
            var b = ones(10_000_000);
            var c = a * 2;
        }
        Assert.True(PaperLab.Torch.TorchRuntime.RetainFreedMemory(), "mallopt is glibc's: this test expects Linux with glibc");
        Step();
        long before = MinorFaults();
        for (int i = 0; i < 10; i++) Step();
        long faults = MinorFaults() - before;
        Assert.True(faults < 60_000, $"{faults} minor page faults over 10 steps with freed memory retained");
    }

    [Fact]
    public void Table_1_as_transcribed_agrees_with_the_papers_own_summary()
    {
        // §4.2 and Table 1's caption: the best n-gram (class-based, 500 classes) is 24% above the network with the
        // lowest validation perplexity (MLP10), the deleted-interpolation trigram 33% above it.
        Assert.Equal(21, Published.Table1.Count);
        var best = Published.Table1.Where(r => r.Model.StartsWith("MLP")).MinBy(r => r.Valid)!;
        Assert.Equal(Published.BestMlp, best);
        Assert.Equal(Published.BestNgram, Published.Table1.Where(r => !r.Model.StartsWith("MLP")).MinBy(r => r.Valid));
        Assert.Equal(0.24, (double)Published.BestNgram.Test / best.Test - 1, 2);
        Assert.Equal(0.33, (double)Published.Row("Del. Int.").Test / best.Test - 1, 2);
        Assert.Equal((252, 276, 312, 323), (Published.BestMlp.Test, Published.BestUnmixedMlp.Test, Published.BestNgram.Test, Published.KneserNeyTrigram.Test));
        // every mixed network beats its unmixed twin (§4.2: "mixing … always helps")
        foreach (var mixed in Published.Table1.Where(r => r.Mix == true))
        {
            var alone = Published.Table1.Single(r => r.Mix == false && (r.N, r.Hidden, r.Features, r.Direct) == (mixed.N, mixed.Hidden, mixed.Features, mixed.Direct));
            Assert.True(mixed.Test < alone.Test, mixed.Model);
        }
    }

    [Fact]
    public void Stream_examples_predict_each_word_from_the_words_before_it()
    {
        int[] stream = { 5, 6, 7, 8, 9, 10, 11 };
        using var all = NgramExamples.FromStream(stream, 2, 0, 7);           // the first 2 words have no full context
        Assert.Equal(5, all.Count);
        Assert.Equal(new long[] { 5, 6, 6, 7, 7, 8, 8, 9, 9, 10 }, all.Contexts.data<long>().ToArray());
        Assert.Equal(new long[] { 7, 8, 9, 10, 11 }, all.Targets.data<long>().ToArray());
        using var tail = NgramExamples.FromStream(stream, 3, 5, 7);           // context reaches back before position 5
        Assert.Equal(new long[] { 7, 8, 9, 8, 9, 10 }, tail.Contexts.data<long>().ToArray());
        Assert.Equal(new long[] { 10, 11 }, tail.Targets.data<long>().ToArray());
        Assert.Throws<ArgumentOutOfRangeException>(() => NgramExamples.FromStream(stream, 2, 5, 8));
    }
}
