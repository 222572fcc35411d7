// Transformer experiment, top to bottom: options → Multi30k de→en (or your own pairs) → model → the training step → decoding →
// BLEU → run folder. The model is in Transformer.cs, decoding in Decoding.cs, the tokenisation in Tokenisation.cs.

using System.Diagnostics;
using System.Text.Json;
using PaperLab.Cli;
using PaperLab.Data;
using PaperLab.Data.Sources;
using PaperLab.Runs;
using PaperLab.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace PaperLab.Papers.Transformer;

/// <summary>Hyperparameters of a Transformer run: each property is a command-line option (--kebab-case) and a field of config.json.</summary>
public sealed record TransformerOptions : ICheckedOptions
{
    /// <summary>What to train on: multi30k (German→English, the default), pairs:FILE (source TAB target per line) or pairs:SRC,TGT (two files aligned line by line).</summary>
    public string Dataset { get; init; } = "multi30k";
    /// <summary>pairs: only. Percentage of the pairs held out for validation and the final translations, chosen by content hash.</summary>
    [Option(Min = 0, MinExclusive = true, Max = 100, MaxExclusive = true)] public double ValidPct { get; init; } = 10;
    /// <summary>pairs: only. How the files' bytes are read: utf8 (strict: a bad byte is an error naming its offset) or latin1.</summary>
    [Option(OneOf = new[] { "utf8", "latin1" })] public string Encoding { get; init; } = "utf8";
    /// <summary>pairs: only. Unicode normalisation of both sides: none, nfc or nfkc (the tokeniser lower-cases anyway).</summary>
    [Option(OneOf = new[] { "none", "nfc", "nfkc" })] public string Normalize { get; init; } = "none";
    /// <summary>pairs: only. Drop pairs with a side longer than this many characters; none: keep all.</summary>
    [Option(Min = 1, Max = 1_000_000)] public int? MaxLength { get; init; }

    /// <summary>Passes over the training pairs.</summary>
    [Option(Min = 1, Max = 10_000)] public int Epochs { get; init; } = 11;
    /// <summary>Stop after this many optimizer steps instead of --epochs epochs (for sizing runs); none: epochs.</summary>
    [Option(Min = 1, Max = 100_000_000)] public int? Steps { get; init; }
    /// <summary>Bound on pairs × padded length per batch (the paper: about 25,000 source + 25,000 target tokens).</summary>
    [Option(Min = 1, Max = 1_000_000)] public int BatchTokens { get; init; } = 3000;
    /// <summary>Multiplier of the Eq. 3 learning rate (the paper: 1).</summary>
    [Option(Min = 0, MinExclusive = true, Max = 100)] public double LrFactor { get; init; } = 0.5;
    /// <summary>warmup_steps of Eq. 3 (the paper: 4000 of 100,000 steps).</summary>
    [Option(Min = 1, Max = 10_000_000)] public int Warmup { get; init; } = 600;
    /// <summary>N, layers per stack.</summary>
    [Option(Name = "layers", Min = 1, Max = 48)] public int N { get; init; } = 3;
    /// <summary>d_model (even, divisible by --heads).</summary>
    [Option(Min = 2, Max = 8192)] public int DModel { get; init; } = 256;
    /// <summary>h, attention heads (must divide --d-model).</summary>
    [Option(Name = "heads", Min = 1, Max = 128)] public int H { get; init; } = 8;
    /// <summary>d_ff, the feed-forward inner width.</summary>
    [Option(Min = 1, Max = 65_536)] public int DFf { get; init; } = 512;
    /// <summary>P_drop, dropout on sub-layer outputs and embeddings.</summary>
    [Option(Name = "dropout", Min = 0, Max = 1, MaxExclusive = true)] public double PDrop { get; init; } = 0.1;
    /// <summary>ε_ls, label smoothing.</summary>
    [Option(Min = 0, Max = 1, MaxExclusive = true)] public double LabelSmoothing { get; init; } = 0.1;
    /// <summary>Pre-LN residual blocks instead of the paper's post-LN.</summary>
    [Option(Name = "pre-ln")] public bool PreLayerNorm { get; init; }
    /// <summary>Training occurrences a word needs to get its own id (rarer: &lt;unk&gt;).</summary>
    [Option(Name = "min-freq", Min = 1, Max = 1_000_000)] public int MinFrequency { get; init; } = 2;
    /// <summary>Use only the first N training pairs; none: all 29,000.</summary>
    [Option(Min = 1, Max = 100_000_000)] public int? TrainLimit { get; init; }

    /// <summary>Beam size for the test translations (the paper: 4; 1 = greedy).</summary>
    [Option(Min = 1, Max = 64, MayChangeOnResume = true)] public int Beam { get; init; } = 4;
    /// <summary>α of the GNMT length penalty ((5 + |Y|)/6)^α (the paper: 0.6).</summary>
    [Option(Min = 0, Max = 10, MayChangeOnResume = true)] public double LengthPenalty { get; init; } = 0.6;
    /// <summary>Decoded outputs may be up to source length + this many tokens (§6.1: 50).</summary>
    [Option(Min = 1, Max = 1000, MayChangeOnResume = true)] public int MaxExtraLength { get; init; } = 50;
    /// <summary>Use only the first N validation pairs; none: all 1,014.</summary>
    [Option(Min = 1, Max = 100_000_000, MayChangeOnResume = true)] public int? ValLimit { get; init; }
    /// <summary>Use only the first N test pairs; none: all 1,000.</summary>
    [Option(Min = 1, Max = 100_000_000, MayChangeOnResume = true)] public int? TestLimit { get; init; }

    /// <summary>Gradient checkpointing (Chen et al. 2016) of the encoder and decoder stacks: same gradients, less memory, more time (papers/Gpt/CHECKPOINTING.md).</summary>
    [Option(MayChangeOnResume = true)] public bool GradCheckpoint { get; init; }
    /// <summary>Segments per stack for --grad-checkpoint, 1 … --layers; 0: ⌈√N⌉, the paper's choice.</summary>
    [Option(Min = 0, Max = 48, MayChangeOnResume = true)] public int CheckpointSegments { get; init; }

    /// <summary>Time N training steps on a fixed synthetic batch (after a warm-up) and print target tokens/s as one JSON line, instead of a run; no run folder (Bench.cs, bench/compare.sh).</summary>
    [Option(Min = 1, Max = 1_000_000, MayChangeOnResume = true)] public int? Bench { get; init; }

    /// <summary>The model sizes for vocabularies of the given sizes.</summary>
    public ModelConfig Model(int sourceVocab, int targetVocab) => new(sourceVocab, targetVocab, N, DModel, H, DFf, PDrop, PreLayerNorm,
                                                                      GradientCheckpointing: GradCheckpoint, CheckpointSegments: CheckpointSegments);

    /// <summary>The reading and clean-up choices for pairs: (the defaults keep the text as it is).</summary>
    public TextSourceOptions SourceOptions() => new()
    {
        Encoding = Encoding == "latin1" ? TextEncodingChoice.Latin1 : TextEncodingChoice.Utf8,
        ValidPercent = ValidPct,
        Cleanup = new TextCleanupOptions { Normalization = Enum.Parse<UnicodeNormalization>(Normalize, ignoreCase: true), MaxLength = MaxLength },
    };

    /// <inheritdoc/>
    public IEnumerable<string> Problems()
    {
        DatasetArgument? source = null;
        string? bad = null;
        try
        {
            source = DatasetArgument.Parse(Dataset);
            source.Require("The Transformer", ["multi30k"], DataSourceKind.Pairs);
        }
        catch (ArgumentException e) { bad = e.Message; }
        if (bad != null) yield return bad;
        else if (source!.Kind == DataSourceKind.BuiltIn && (SourceOptions() != new TextSourceOptions() || source.Name != Dataset))
            yield return $"--valid-pct, --encoding, --normalize and --max-length apply to pairs: datasets; {Dataset} has its own splits";
        if (CheckpointSegments > N) yield return $"--checkpoint-segments {CheckpointSegments} is more than --layers {N}: give 1 … {N}, or 0 for √N";
        if (CheckpointSegments > 0 && !GradCheckpoint) yield return "--checkpoint-segments applies only with --grad-checkpoint";
        if (DModel % H != 0 || DModel % 2 != 0) yield return $"--d-model {DModel} must be even and divisible by --heads {H}";
    }

    /// <summary>The configuration of the reported result; --smoke: a tiny model on 2,000 pairs for 5 epochs, seconds.</summary>
    public static TransformerOptions Defaults(TransformerOptions given, RunOptions run) => run.Smoke
        ? new() { Dataset = given.Dataset, Epochs = 5, BatchTokens = 1500, Warmup = 30, Beam = 2, N = 2, DModel = 64, H = 4, DFf = 128, TrainLimit = 2000, ValLimit = 50, TestLimit = 50, MaxExtraLength = 10 }
        : new() { Dataset = given.Dataset };
}

/// <summary>summary.json of a Transformer run.</summary>
public sealed record TransformerSummary : RunSummary
{
    /// <summary>Corpus BLEU of the beam-search translations of the test set.</summary>
    public double Bleu { get; init; }
    /// <summary>The same with greedy decoding.</summary>
    public double BleuGreedy { get; init; }
    /// <summary>n-gram precisions 1…4 of <see cref="Bleu"/>.</summary>
    public required double[] BleuPrecisions { get; init; }
    /// <summary>Brevity penalty of <see cref="Bleu"/>.</summary>
    public double BleuBrevityPenalty { get; init; }
    /// <summary>Hypothesis length / reference length.</summary>
    public double BleuLengthRatio { get; init; }
    /// <summary>How the text was tokenised for BLEU.</summary>
    public required string BleuTokenisation { get; init; }
    /// <summary>Mean test NLL per target token (teacher forcing, no label smoothing).</summary>
    public double TestNll { get; init; }
    /// <summary>exp(test NLL).</summary>
    public double TestPerplexity { get; init; }
    /// <summary>Greedy BLEU of the last validation evaluation.</summary>
    public double? ValBleuGreedy { get; init; }
    /// <summary>Perplexity of the last validation evaluation.</summary>
    public double? ValPerplexity { get; init; }
    /// <summary>Passes over the training pairs.</summary>
    public int Epochs { get; init; }
    /// <summary>Seconds decoding the test set with beam search.</summary>
    public double TestDecodeSeconds { get; init; }
    /// <summary>Target tokens predicted per second of training in this process; null when it trained nothing.</summary>
    public double? TokensPerSecond { get; init; }
    /// <summary>Source plus target tokens per second of training in this process.</summary>
    public double? SourcePlusTargetTokensPerSecond { get; init; }
    /// <summary>Steps trained by this process.</summary>
    public long StepsThisProcess { get; init; }
    /// <summary>German vocabulary size.</summary>
    public int VocabSource { get; init; }
    /// <summary>English vocabulary size.</summary>
    public int VocabTarget { get; init; }
    /// <summary>The step this process started at (0 unless resumed).</summary>
    public long ResumedFromStep { get; init; }
    /// <summary>Which pairs the test figures are of: "test" (Multi30k's test_2016_flickr) or "valid" (your pairs: the held-out ones).</summary>
    public string EvalSplit { get; init; } = "test";
    /// <summary>Your own pairs: NLL per target token of unigram counts of the training targets (add-one smoothing), in the model's tokens; Multi30k: null.</summary>
    public double? UnigramNll { get; init; }
}

/// <summary>The corpus, tokenised and encoded.</summary>
/// <param name="Source">German vocabulary.</param>
/// <param name="Target">English vocabulary.</param>
/// <param name="Train">Training pairs.</param>
/// <param name="Val">Validation pairs.</param>
/// <param name="Test">Test pairs (test_2016_flickr).</param>
public sealed record Corpus(Vocabulary Source, Vocabulary Target, EncodedSplit Train, EncodedSplit Val, EncodedSplit Test);

/// <summary>One split, raw and encoded.</summary>
/// <param name="Pairs">Raw text.</param>
/// <param name="SourceIds">Source ids ending in EOS.</param>
/// <param name="TargetIds">Target ids, BOS … EOS.</param>
/// <param name="References">Tokenised target sentences (unknown words kept as they are): what BLEU compares with.</param>
public sealed record EncodedSplit(IReadOnlyList<TranslationPair> Pairs, int[][] SourceIds, int[][] TargetIds, string[][] References);

/// <summary>The Transformer experiment.</summary>
public static class Experiment
{
    /// <summary>The paper, for run folders and --help.</summary>
    public static readonly PaperInfo Paper = new("transformer", "Transformer (Vaswani et al. 2017) on Multi30k German→English or your own sentence pairs");

    /// <summary>Multi30k test 2016 de→en, small re-implementations of the base architecture on one GPU.</summary>
    public static readonly Published Multi30k = new("bleu", 35.0,
        "small public re-implementations (3 layers, d_model 256) on Multi30k test 2016 de→en report 30.6–35 BLEU; " +
        "the paper itself reports WMT 2014 en→de 27.3 (base) / 28.4 (big), Table 2", LowerIsBetter: false);

    /// <summary>
    /// The smallest label-smoothed cross-entropy a model can reach: the entropy of the smoothed target
    /// (1 − ε + ε/V on the gold token, ε/V on each of the others; torch's label_smoothing), in nats per token.
    /// </summary>
    public static double SmoothedTargetEntropy(double epsilon, int vocab)
    {
        if (epsilon <= 0) return 0;
        double gold = 1 - epsilon + epsilon / vocab, other = epsilon / vocab;
        return -gold * Math.Log(gold) - (vocab - 1) * other * Math.Log(other);
    }

    /// <summary>Parses the command line, runs, prints the run folder last. Exit 0, 1 (failure), 2 (usage), 130 (Ctrl-C).</summary>
    public static int Main(string[] args) => PaperProgram.Main<TransformerOptions>(args, Paper, TransformerOptions.Defaults, Run);

    /// <summary>Trains the Transformer, translates the test set and writes the run folder (config.json, metrics.csv,
    /// checkpoint.bin, model.pt, model.weights, vocabularies, translations.tsv, summary.json, report.html).</summary>
    /// <exception cref="DatasetNotFoundException">Multi30k is nowhere to be found and cannot be downloaded.</exception>
    /// <returns>The summary; null in --bench mode (which prints its measurements and writes no run folder).</returns>
    /// <exception cref="NonFiniteLossException">The loss became NaN or infinite.</exception>
    public static TransformerSummary? Run(TransformerOptions o, RunContext ctx)
    {
        if (o.Bench is int benchSteps)
        {
            Bench.Run(o, ctx.Threads, ctx.Common.Seed, benchSteps);
            return null;
        }
        var wall = Stopwatch.StartNew();
        var source = DatasetArgument.Parse(o.Dataset);
        Corpus corpus;
        object data;
        TextDataReport? dataReport = null;
        if (source.Kind == DataSourceKind.Pairs)
        {
            var pairs = PairsSource.Load(source.Paths, o.SourceOptions(), o.Dataset);
            dataReport = pairs.Report;
            ctx.Progress.Line(dataReport.ToText());   // before training, and before any run folder exists
            corpus = BuildCorpus(o, pairs.Train, pairs.Valid.Take(o.ValLimit ?? int.MaxValue).ToArray(), pairs.Valid.Take(o.TestLimit ?? int.MaxValue).ToArray());
            data = new { source = pairs.Source, options = o.SourceOptions() };
        }
        else (corpus, data) = LoadCorpus(o, ctx.Common.Data);
        string evalSplit = dataReport is null ? "test" : "valid";
        double? unigram = dataReport is null ? null : UnigramNll(corpus);
        var run = ctx.Start(o, data);
        if (dataReport is not null)
        {
            run.DataReport = dataReport.ToText() + $"  the Transformer's own tokens: unigram counts of the training targets score {unigram:F4} nats per target token on the validation pairs (the baseline to beat)\n";
            dataReport.WriteTo(run.Path);
        }
        corpus.Source.Save(run.File("vocab.de.txt"));   // source and target vocabularies (German and English for Multi30k)
        corpus.Target.Save(run.File("vocab.en.txt"));
        ctx.Progress.Line($"{(dataReport is null ? "Multi30k de→en" : o.Dataset)}: {corpus.Train.Pairs.Count:N0} train / {corpus.Val.Pairs.Count:N0} val / {corpus.Test.Pairs.Count:N0} {evalSplit} pairs; " +
                          $"vocabularies source {corpus.Source.Count:N0}, target {corpus.Target.Count:N0} (min frequency {o.MinFrequency})");
        if (corpus.Train.Pairs.Count == 0 || corpus.Test.Pairs.Count == 0)
            throw new UsageException($"--dataset {o.Dataset}: {corpus.Train.Pairs.Count} training and {corpus.Test.Pairs.Count} held-out pairs; give more pairs or another --valid-pct");

        var batches = new TokenBatches(corpus.Train.SourceIds, corpus.Train.TargetIds, o.BatchTokens);
        var valBatches = new TokenBatches(corpus.Val.SourceIds, corpus.Val.TargetIds, o.BatchTokens);
        torch.manual_seed(ctx.Common.Seed);
        var model = new Transformer(o.Model(corpus.Source.Count, corpus.Target.Count));
        foreach (var line in ParameterCounts.Lines(model)) ctx.Progress.Line(line);
        double tokensPerBatch = batches.PredictedTokens / (double)batches.Count;
        ctx.Progress.Line($"  {batches.Count} batches per epoch, {tokensPerBatch:F0} target tokens per batch");

        // Adam with β1 = 0.9, β2 = 0.98, ε = 1e−9 (§5.3); the learning rate is Eq. 3, set by the loop each step.
        var optimizer = optim.Adam(model.parameters(), lr: 1.0, beta1: 0.9, beta2: 0.98, eps: 1e-9);
        long totalSteps = o.Steps ?? (long)o.Epochs * batches.Count;
        var loop = new TrainingLoop(ctx, new LoopSettings
        {
            TotalSteps = totalSteps, StepsPerEpoch = batches.Count, EvalEvery = o.Steps is null ? 0 : totalSteps,
            LogEvery = Math.Max(1, batches.Count / 5), ItemsPerStep = (long)tokensPerBatch, ItemName = "tokens",
            // --overfit-batch: label smoothing keeps the loss above the entropy of the smoothed target, never near 0
            OverfitTarget = SmoothedTargetEntropy(o.LabelSmoothing, corpus.Target.Count) + 0.05,
        });
        loop.Add("model", model);
        loop.Add("optimizer", optimizer, Schedules.Noam(o.DModel, o.Warmup, o.LrFactor));

        // Greedy BLEU on the first 400 validation sentences at every evaluation: the trend, at a fraction of the cost of all 1,014.
        int valBleuCount = Math.Min(400, corpus.Val.Pairs.Count);
        var valBleuSources = corpus.Val.SourceIds.Take(valBleuCount).ToArray();
        var valBleuReferences = corpus.Val.References.Take(valBleuCount).ToArray();
        loop.Evaluate = _ =>
        {
            double nll = NegativeLogLikelihood(model, valBatches);
            var hyps = Decoding.Translate(model, valBleuSources, beam: 1, alpha: 0, o.MaxExtraLength);
            var bleu = Score(hyps, valBleuReferences, corpus.Target);
            return new Dictionary<string, double> { ["val/nll"] = nll, ["val/perplexity"] = Math.Exp(nll), ["val/bleu_greedy"] = bleu.Score };
        };

        foreach (var step in loop)
        {
            var (src, tgt) = batches.ForStep(step.Index, ctx.Common.Seed);     // (B, S) and (B, T): BOS … EOS
            var decoderInput = tgt.narrow(1, 0, tgt.shape[1] - 1);               // BOS … y_{T−1}
            var gold = tgt.narrow(1, 1, tgt.shape[1] - 1);                       // y_1 … EOS
            optimizer.zero_grad();
            var loss = TrainingRecipe.LabelSmoothedLoss(model.forward(src, decoderInput), gold, o.LabelSmoothing);
            step.Record(loss, items: gold.ne(Vocabulary.PadId).sum().item<long>());
            loss.backward();
            optimizer.step();
        }
        PyTorchExport.Save(model, run.File("model.pt"));
        model.save(run.File("model.weights")); // TorchSharp's own format, for LoadRun (no PyTorch bridge needed)

        ctx.Progress.Line($"translating the {evalSplit} pairs (beam {o.Beam}, α {o.LengthPenalty})…");
        var decodeClock = Stopwatch.StartNew();
        var testHyps = Decoding.Translate(model, corpus.Test.SourceIds, o.Beam, o.LengthPenalty, o.MaxExtraLength);
        double decodeSeconds = decodeClock.Elapsed.TotalSeconds;
        var testBleu = Score(testHyps, corpus.Test.References, corpus.Target);
        var greedyHyps = Decoding.Translate(model, corpus.Test.SourceIds, 1, 0, o.MaxExtraLength);
        var greedyBleu = Score(greedyHyps, corpus.Test.References, corpus.Target);
        double testNll = NegativeLogLikelihood(model, new TokenBatches(corpus.Test.SourceIds, corpus.Test.TargetIds, o.BatchTokens));
        ctx.Progress.Line($"test {testBleu} (beam {o.Beam}); greedy {greedyBleu.Score:F2}; decoding took {decodeSeconds:F0} s");
        WriteTranslations(run.File("translations.tsv"), corpus.Test, testHyps, corpus.Target);

        var result = loop.Result;
        long stepsHere = result.Losses.Count;
        double seconds = result.TrainSeconds;
        double? PerSecond(double perStep) => stepsHere > 0 && double.IsFinite(result.ItemsPerSecond) ? result.ItemsPerSecond / tokensPerBatch * perStep : null;
        var summary = new TransformerSummary
        {
            Paper = "Transformer (Vaswani et al. 2017)",
            Dataset = dataReport is null ? "Multi30k task 1 de→en, test_2016_flickr" : o.Dataset,
            Published = unigram is double u
                ? new("test_nll", u, "no published figure for your own pairs; shown instead: unigram counts of the training targets (NLL per target token on the held-out pairs), the trivial baseline to beat", Comparable: false)
                : Multi30k,
            Bleu = testBleu.Score,
            BleuGreedy = greedyBleu.Score,
            BleuPrecisions = testBleu.Precisions.ToArray(),
            BleuBrevityPenalty = testBleu.BrevityPenalty,
            BleuLengthRatio = testBleu.LengthRatio,
            BleuTokenisation = "lower-cased words and punctuation (Microsoft.ML.Tokenizers word-or-punctuation pre-tokenizer); references keep words unknown to the model",
            TestNll = testNll,
            TestPerplexity = Math.Exp(testNll),
            // the last evaluation, of this process or (resumed at the end) carried over in the checkpoint's history
            ValBleuGreedy = run.Metrics.Series("val", "bleu_greedy").Values.Cast<double?>().LastOrDefault(),
            ValPerplexity = run.Metrics.Series("val", "perplexity").Values.Cast<double?>().LastOrDefault(),
            Epochs = o.Epochs,
            Steps = result.Steps,
            TrainSeconds = seconds,
            WallSeconds = wall.Elapsed.TotalSeconds,
            TestDecodeSeconds = decodeSeconds,
            TokensPerSecond = stepsHere > 0 && double.IsFinite(result.ItemsPerSecond) ? result.ItemsPerSecond : null,
            SourcePlusTargetTokensPerSecond = PerSecond(tokensPerBatch + batches.SourceTokens / (double)batches.Count),
            StepsThisProcess = stepsHere,
            Threads = ctx.Threads,
            Parameters = ParameterCounts.Total(model),
            VocabSource = corpus.Source.Count,
            VocabTarget = corpus.Target.Count,
            ResumedFromStep = result.StartStep,
            EvalSplit = evalSplit,
            UnigramNll = unigram,
        };
        run.WriteSummary(summary);
        Report.Write(run, o, corpus, model, testHyps, testBleu, greedyBleu, summary);
        return summary;
    }

    /// <summary>
    /// Reads, tokenises and encodes Multi30k de→en; the vocabularies come from the training pairs only.
    /// Returns the corpus and a record of the files read (for config.json).
    /// </summary>
    /// <exception cref="DatasetNotFoundException">Multi30k cannot be found (or is not in --data) or downloaded.</exception>
    /// <exception cref="DataFormatException">A file is damaged or the two sides of a split do not align.</exception>
    public static (Corpus Corpus, DataRecord Record) LoadCorpus(TransformerOptions config, string? dataDir)
    {
        string dir = DatasetLocator.Locate(DatasetCatalog.Multi30k, dataDir);
        var train = TranslationPairs.Load(dir, "train", "de", "en", config.TrainLimit);
        var val = TranslationPairs.Load(dir, "val", "de", "en", config.ValLimit);
        var test = TranslationPairs.Load(dir, "test_2016_flickr", "de", "en", config.TestLimit);
        var files = new[] { "train", "val", "test_2016_flickr" }.SelectMany(s => new[] { $"{s}.de", $"{s}.en" }).Select(f => FileContent.Find(dir, f, "multi30k"));
        return (BuildCorpus(config, train, val, test),
                DataRecord.Of("multi30k", dir, files, $"de→en: train {train.Count:N0} / val {val.Count:N0} / test {test.Count:N0} pairs"));
    }

    /// <summary>
    /// Tokenises and encodes the three splits; the vocabularies come from the training pairs only (the first
    /// --train-limit of them when given).
    /// </summary>
    public static Corpus BuildCorpus(TransformerOptions config, IReadOnlyList<TranslationPair> train, IReadOnlyList<TranslationPair> val, IReadOnlyList<TranslationPair> test)
    {
        if (config.TrainLimit is int limit && train.Count > limit) train = train.Take(limit).ToArray();
        var trainDe = train.Select(p => Tokenisation.Tokenize(p.Source)).ToArray();
        var trainEn = train.Select(p => Tokenisation.Tokenize(p.Target)).ToArray();
        var de = Vocabulary.Build(trainDe, config.MinFrequency);
        var en = Vocabulary.Build(trainEn, config.MinFrequency);
        EncodedSplit Encode(IReadOnlyList<TranslationPair> pairs)
        {
            var src = pairs.Select(p => Tokenisation.Tokenize(p.Source)).ToArray();
            var tgt = pairs.Select(p => Tokenisation.Tokenize(p.Target)).ToArray();
            return new EncodedSplit(pairs, src.Select(s => de.Encode(s, addBos: false, addEos: true)).ToArray(),
                                    tgt.Select(t => en.Encode(t, addBos: true, addEos: true)).ToArray(), tgt);
        }
        return new Corpus(de, en, Encode(train), Encode(val), Encode(test));
    }

    /// <summary>
    /// The trivial baseline in the model's own target tokens: unigram counts over the training targets (each
    /// sentence's tokens and its end, add-one smoothing), scored as mean NLL per target token on the test split,
    /// the quantity <see cref="NegativeLogLikelihood"/> measures for the model.
    /// </summary>
    public static double UnigramNll(Corpus corpus)
    {
        static int[][] Inner(int[][] targets) => targets.Select(t => t[1..^1]).ToArray();   // without BOS and EOS: the baseline frames each sentence itself
        return NgramBaseline.SequenceUnigramLoss(Inner(corpus.Train.TargetIds), Inner(corpus.Test.TargetIds), corpus.Target.Count);
    }

    /// <summary>
    /// The trained model of a run folder, with its vocabularies: config.json's hyperparameters,
    /// vocab.de.txt / vocab.en.txt and model.weights (TorchSharp format), else model.pt (PyTorch state dict).
    /// For notebooks and later decoding.
    /// </summary>
    /// <exception cref="FileNotFoundException">One of the files is missing (the run did not finish).</exception>
    public static (Transformer Model, TransformerOptions Config, Vocabulary Source, Vocabulary Target) LoadRun(string runDir)
    {
        foreach (var f in new[] { "config.json", "vocab.de.txt", "vocab.en.txt" })
            if (!File.Exists(Path.Combine(runDir, f)))
                throw new FileNotFoundException($"{f} is missing from {runDir}; only a finished run folder can be loaded", Path.Combine(runDir, f));
        using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(runDir, "config.json")));
        var config = doc.RootElement.GetProperty("hyperparameters").Deserialize<TransformerOptions>()
                     ?? throw new InvalidDataException($"{runDir}/config.json has no hyperparameters");
        var de = Vocabulary.Load(Path.Combine(runDir, "vocab.de.txt"));
        var en = Vocabulary.Load(Path.Combine(runDir, "vocab.en.txt"));
        var model = new Transformer(config.Model(de.Count, en.Count));
        string weights = Path.Combine(runDir, "model.weights"), pt = Path.Combine(runDir, "model.pt");
        if (File.Exists(weights)) model.load(weights);
        else if (File.Exists(pt)) PyTorchExport.Load(model, pt);
        else throw new FileNotFoundException($"neither model.weights nor model.pt is in {runDir}; only a finished run folder can be loaded", weights);
        model.eval();
        return (model, config, de, en);
    }

    /// <summary>Corpus BLEU of decoded ids against tokenised references.</summary>
    public static BleuScore Score(int[][] hypotheses, string[][] references, Vocabulary target) =>
        Bleu.Corpus(hypotheses.Select(h => (IReadOnlyList<string>)target.Decode(h)).ToArray(), references.Select(r => (IReadOnlyList<string>)r).ToArray());

    /// <summary>Mean negative log-likelihood per target token (nats, no label smoothing) with teacher forcing.</summary>
    public static double NegativeLogLikelihood(Transformer model, TokenBatches batches)
    {
        double sum = 0;
        long count = 0;
        using (Evaluation.Mode(model))
            for (long i = 0; i < batches.Count; i++)
            {
                using var scope = NewDisposeScope();
                var (src, tgt) = batches.Batch(i);
                var logits = model.forward(src, tgt.narrow(1, 0, tgt.shape[1] - 1));
                var gold = tgt.narrow(1, 1, tgt.shape[1] - 1);
                sum += nn.functional.cross_entropy(logits.reshape(-1, logits.shape[^1]), gold.reshape(-1),
                                                   ignore_index: Vocabulary.PadId, reduction: nn.Reduction.Sum).item<float>();
                count += gold.ne(Vocabulary.PadId).sum().item<long>();
            }
        return sum / count;
    }

    static void WriteTranslations(string path, EncodedSplit split, int[][] hyps, Vocabulary target)
    {
        var lines = new List<string> { "source\treference\ttranslation" };
        for (int i = 0; i < hyps.Length; i++)
            lines.Add($"{split.Pairs[i].Source}\t{Tokenisation.Detokenize(split.References[i])}\t{Tokenisation.Detokenize(target.Decode(hyps[i]))}");
        AtomicFile.WriteAllText(path, string.Join('\n', lines) + "\n");
    }
}
