// Transformer experiment: options → Multi30k de→en → model → shared training loop → decoding → BLEU → run folder.
// The model is in Transformer.cs, decoding in Decoding.cs, the tokenisation in Tokenisation.cs.

using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using PaperLab.Cli;
using PaperLab.Data;
using PaperLab.Metrics;
using PaperLab.Runs;
using PaperLab.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace PaperLab.Papers.Transformer;

/// <summary>Hyperparameters of a Transformer run; every field lands in config.json.</summary>
/// <param name="Epochs">Passes over the training pairs.</param>
/// <param name="BatchTokens">Bound on pairs × padded length per batch (the paper: ~25,000 source + 25,000 target tokens).</param>
/// <param name="LrFactor">Multiplier of the Eq. 3 learning rate (the paper: 1).</param>
/// <param name="Warmup">warmup_steps of Eq. 3 (the paper: 4000 of 100,000 steps).</param>
/// <param name="Beam">Beam size for the test translations (the paper: 4; 1 = greedy).</param>
/// <param name="LengthPenalty">α of the GNMT length penalty (the paper: 0.6).</param>
/// <param name="N">Layers per stack.</param>
/// <param name="DModel">d_model.</param>
/// <param name="H">Attention heads.</param>
/// <param name="DFf">d_ff.</param>
/// <param name="PDrop">Dropout.</param>
/// <param name="LabelSmoothing">ε_ls.</param>
/// <param name="PreLayerNorm">Pre-LN instead of the paper's post-LN.</param>
/// <param name="MinFrequency">Training-set occurrences a word needs to get its own id (rarer: &lt;unk&gt;).</param>
/// <param name="TrainLimit">Only the first N training pairs; null: all 29,000.</param>
/// <param name="MaxExtraLength">Decoded outputs may be up to source length + this many tokens (§6.1: 50).</param>
/// <param name="Steps">Stop after this many optimizer steps instead of <paramref name="Epochs"/> epochs (for sizing runs); null: epochs.</param>
/// <param name="ValLimit">Only the first N validation pairs; null: all 1,014.</param>
/// <param name="TestLimit">Only the first N test pairs; null: all 1,000.</param>
public sealed record TransformerConfig(
    int Epochs = 11, int BatchTokens = 3000, double LrFactor = 0.5, int Warmup = 600, int Beam = 4, double LengthPenalty = 0.6,
    int N = 3, int DModel = 256, int H = 8, int DFf = 512, double PDrop = 0.1, double LabelSmoothing = 0.1,
    bool PreLayerNorm = false, int MinFrequency = 2, int? TrainLimit = null, int? ValLimit = null, int? TestLimit = null, int? Steps = null, int MaxExtraLength = 50)
{
    /// <summary>The configuration of the reproduced result (see README's results table).</summary>
    public static TransformerConfig Default => new();

    /// <summary>A tiny model on 2,000 pairs for a few epochs: seconds of training, what CI runs.</summary>
    public static TransformerConfig Smoke => new(Epochs: 5, BatchTokens: 1500, LrFactor: 0.5, Warmup: 30, Beam: 2, N: 2, DModel: 64, H: 4,
                                                 DFf: 128, TrainLimit: 2000, ValLimit: 50, TestLimit: 50, MaxExtraLength: 10);

    /// <summary>The model sizes for vocabularies of the given sizes.</summary>
    public ModelConfig Model(int sourceVocab, int targetVocab) =>
        new(sourceVocab, targetVocab, N, DModel, H, DFf, PDrop, PreLayerNorm);
}

/// <summary>The figure a run is compared with.</summary>
/// <param name="Metric">summary.json key it corresponds to.</param>
/// <param name="Value">The published value.</param>
/// <param name="Source">Where it is published.</param>
public sealed record Published(string Metric, double Value, string Source)
{
    /// <summary>Multi30k test 2016 de→en, small re-implementations of the base architecture on one GPU.</summary>
    public static Published Multi30k { get; } = new("bleu", 35.0,
        "small public re-implementations (3 layers, d_model 256) on Multi30k test 2016 de→en report 30.6–35 BLEU; " +
        "the paper itself reports WMT 2014 en→de 27.3 (base) / 28.4 (big), Table 2");
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

/// <summary>Command-line entry of the Transformer experiment.</summary>
public static class Experiment
{
    /// <summary>Parses the command line, runs the experiment, prints the run folder last. Exit 0, 1 (failure) or 2 (usage).</summary>
    public static int Main(string[] args)
    {
        var cli = new PaperCommandLine("transformer", "Transformer (Vaswani et al. 2017) on Multi30k German→English");
        var epochs = cli.Add(new Option<int?>("--epochs") { Description = "passes over the training pairs" });
        var batchTokens = cli.Add(new Option<int?>("--batch-tokens") { Description = "bound on pairs × padded length per batch" });
        var lrFactor = cli.Add(new Option<double?>("--lr-factor") { Description = "multiplier of the Eq. 3 learning rate" });
        var warmup = cli.Add(new Option<int?>("--warmup") { Description = "warm-up steps of Eq. 3" });
        var beam = cli.Add(new Option<int?>("--beam") { Description = "beam size for the test translations (1: greedy)" });
        var lengthPenalty = cli.Add(new Option<double?>("--length-penalty") { Description = "alpha of the length penalty ((5+|Y|)/6)^alpha" });
        var layers = cli.Add(new Option<int?>("--layers") { Description = "N, layers per stack" });
        var dModel = cli.Add(new Option<int?>("--d-model") { Description = "d_model" });
        var heads = cli.Add(new Option<int?>("--heads") { Description = "h, attention heads (must divide d_model)" });
        var dFf = cli.Add(new Option<int?>("--d-ff") { Description = "d_ff, feed-forward inner width" });
        var dropout = cli.Add(new Option<double?>("--dropout") { Description = "P_drop" });
        var preLn = cli.Add(new Option<bool>("--pre-ln") { Description = "pre-LN residual blocks instead of the paper's post-LN" });
        var minFreq = cli.Add(new Option<int?>("--min-freq") { Description = "training occurrences a word needs to enter the vocabulary" });
        var trainLimit = cli.Add(new Option<int?>("--train-limit") { Description = "use only the first N training pairs" });
        var steps = cli.Add(new Option<int?>("--steps") { Description = "stop after this many optimizer steps instead of --epochs (sizing runs)" });
        var valLimit = cli.Add(new Option<int?>("--val-limit") { Description = "use only the first N validation pairs" });
        var testLimit = cli.Add(new Option<int?>("--test-limit") { Description = "use only the first N test pairs" });
        foreach (var o in new[] { epochs, batchTokens, warmup, beam, layers, dModel, heads, dFf, minFreq, trainLimit, valLimit, testLimit, steps }) PaperCommandLine.AtLeast(o, 1);
        PaperCommandLine.Positive(lrFactor);
        PaperCommandLine.InRange(lengthPenalty, 0);
        PaperCommandLine.InRange(dropout, 0, maxExclusive: 1);

        if (!cli.TryParse(args, out var common, out var parsed, out int exit)) return exit;

        var config = common.Smoke ? TransformerConfig.Smoke : TransformerConfig.Default;
        config = config with
        {
            Epochs = parsed.GetValue(epochs) ?? config.Epochs,
            BatchTokens = parsed.GetValue(batchTokens) ?? config.BatchTokens,
            LrFactor = parsed.GetValue(lrFactor) ?? config.LrFactor,
            Warmup = parsed.GetValue(warmup) ?? config.Warmup,
            Beam = parsed.GetValue(beam) ?? config.Beam,
            LengthPenalty = parsed.GetValue(lengthPenalty) ?? config.LengthPenalty,
            N = parsed.GetValue(layers) ?? config.N,
            DModel = parsed.GetValue(dModel) ?? config.DModel,
            H = parsed.GetValue(heads) ?? config.H,
            DFf = parsed.GetValue(dFf) ?? config.DFf,
            PDrop = parsed.GetValue(dropout) ?? config.PDrop,
            PreLayerNorm = parsed.GetValue(preLn) || config.PreLayerNorm,
            MinFrequency = parsed.GetValue(minFreq) ?? config.MinFrequency,
            TrainLimit = parsed.GetValue(trainLimit) ?? config.TrainLimit,
            ValLimit = parsed.GetValue(valLimit) ?? config.ValLimit,
            TestLimit = parsed.GetValue(testLimit) ?? config.TestLimit,
            Steps = parsed.GetValue(steps) ?? config.Steps,
        };
        if (config.DModel % config.H != 0 || config.DModel % 2 != 0)
        {
            Console.Error.WriteLine($"error: --d-model {config.DModel} must be even and divisible by --heads {config.H}");
            return PaperCommandLine.UsageError;
        }
        try
        {
            var run = Run(config, common);
            Console.WriteLine(run.Path);
            return 0;
        }
        catch (Exception e) when (e is IOException or InvalidDataException or NonFiniteLossException or CheckpointException or DatasetNotFoundException)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return PaperCommandLine.RuntimeFailure;
        }
    }

    /// <summary>Runs one experiment and returns its run folder (config.json, metrics.csv, summary.json, report.html,
    /// translations.tsv, vocabularies, checkpoint and model.pt).</summary>
    /// <exception cref="DatasetNotFoundException">Multi30k is nowhere to be found and cannot be downloaded.</exception>
    /// <exception cref="NonFiniteLossException">Training diverged.</exception>
    public static RunFolder Run(TransformerConfig config, CommonOptions common, TrainingProgress? progress = null)
    {
        var wall = Stopwatch.StartNew();
        int threads = common.ThreadCount;
        torch.set_num_threads(threads);
        var run = RunFolder.Create("transformer", common.Out);
        run.WriteConfig("transformer", config, common.Seed, threads);
        progress ??= TrainingProgress.ForConsole();

        long resumedAt = common.Resume is null ? 0 : CarryOverHistory(common.Resume, run);
        var corpus = LoadCorpus(config, common.Data);
        corpus.Source.Save(run.File("vocab.de.txt"));
        corpus.Target.Save(run.File("vocab.en.txt"));
        progress.Line($"Multi30k de→en: {corpus.Train.Pairs.Count:N0} train / {corpus.Val.Pairs.Count:N0} val / {corpus.Test.Pairs.Count:N0} test pairs; " +
                      $"vocabularies de {corpus.Source.Count:N0}, en {corpus.Target.Count:N0} (min frequency {config.MinFrequency})");

        var batches = new TokenBatches(corpus.Train.SourceIds, corpus.Train.TargetIds, config.BatchTokens);
        var valBatches = new TokenBatches(corpus.Val.SourceIds, corpus.Val.TargetIds, config.BatchTokens);
        torch.manual_seed(common.Seed);
        var model = new Transformer(config.Model(corpus.Source.Count, corpus.Target.Count));
        foreach (var (part, count) in model.ParameterCounts()) progress.Line($"  {part,-10} {count,12:N0} parameters");
        long parameters = model.parameters().Sum(p => p.numel());
        progress.Line($"  total      {parameters,12:N0} parameters; {batches.Count} batches per epoch, " +
                      $"{batches.PredictedTokens / (double)batches.Count:F0} target tokens per batch");

        var loader = new BatchLoader(batches, 1, Sampling.Shuffle, common.Seed);
        // Adam with β1 = 0.9, β2 = 0.98, ε = 1e−9 (§5.3); the learning rate is all in the schedule (base lr 1).
        var optimizer = optim.Adam(model.parameters(), lr: 1.0, beta1: 0.9, beta2: 0.98, eps: 1e-9);
        var schedule = optim.lr_scheduler.LambdaLR(optimizer, s => TrainingRecipe.LearningRate(s + 1, config.DModel, config.Warmup, config.LrFactor));

        // Greedy BLEU on the first 400 validation sentences at every evaluation: the trend, at a fraction of the cost of all 1,014.
        int valBleuCount = Math.Min(400, corpus.Val.Pairs.Count);
        var valBleuSources = corpus.Val.SourceIds.Take(valBleuCount).ToArray();
        var valBleuReferences = corpus.Val.References.Take(valBleuCount).ToArray();
        var trainer = new Trainer(model, optimizer, loader,
            (src, tgt) => TrainingRecipe.LabelSmoothedLoss(
                model.forward(src, tgt.narrow(1, 0, tgt.shape[1] - 1)), tgt.narrow(1, 1, tgt.shape[1] - 1), config.LabelSmoothing),
            new TrainSettings
            {
                Epochs = config.Steps is null ? config.Epochs : null, Steps = config.Steps, Seed = common.Seed, LogEvery = Math.Max(1, loader.BatchesPerEpoch / 5),
                CheckpointPath = run.File("checkpoint.bin"), ItemsPerStep = batches.PredictedTokens / batches.Count, ItemName = "tokens",
            },
            run.Metrics, schedule, progress)
        {
            Evaluate = _ =>
            {
                double nll = NegativeLogLikelihood(model, valBatches);
                var hyps = Decoding.Translate(model, valBleuSources, beam: 1, alpha: 0, config.MaxExtraLength);
                var bleu = Score(hyps, valBleuReferences, corpus.Target);
                return new Dictionary<string, double> { ["val/nll"] = nll, ["val/perplexity"] = Math.Exp(nll), ["val/bleu_greedy"] = bleu.Score };
            },
        };
        var result = trainer.Run(common.Resume);
        PyTorchExport.Save(model, run.File("model.pt"));
        model.save(run.File("model.weights")); // TorchSharp's own format, for LoadRun (no PyTorch bridge needed)

        progress.Line($"translating the test set (beam {config.Beam}, α {config.LengthPenalty})…");
        var decodeClock = Stopwatch.StartNew();
        var testHyps = Decoding.Translate(model, corpus.Test.SourceIds, config.Beam, config.LengthPenalty, config.MaxExtraLength);
        double decodeSeconds = decodeClock.Elapsed.TotalSeconds;
        var testBleu = Score(testHyps, corpus.Test.References, corpus.Target);
        var greedyHyps = Decoding.Translate(model, corpus.Test.SourceIds, 1, 0, config.MaxExtraLength);
        var greedyBleu = Score(greedyHyps, corpus.Test.References, corpus.Target);
        double testNll = NegativeLogLikelihood(model, new TokenBatches(corpus.Test.SourceIds, corpus.Test.TargetIds, config.BatchTokens));
        progress.Line($"test {testBleu} (beam {config.Beam}); greedy {greedyBleu.Score:F2}; decoding took {decodeSeconds:F0} s");
        WriteTranslations(run.File("translations.tsv"), corpus.Test, testHyps, corpus.Target);

        // Throughput of this process: target tokens predicted per second of training steps.
        long stepsHere = result.Losses.Count;
        double tokensPerStep = batches.PredictedTokens / (double)batches.Count;
        double sourceTokensPerStep = batches.SourceTokens / (double)batches.Count;
        double tokensPerSecond = result.TrainSeconds > 0 ? stepsHere * tokensPerStep / result.TrainSeconds : 0;
        var published = Published.Multi30k;
        var summary = new Dictionary<string, object?>
        {
            ["paper"] = "Transformer (Vaswani et al. 2017)",
            ["dataset"] = "Multi30k task 1 de→en, test_2016_flickr",
            ["bleu"] = testBleu.Score,
            ["bleu_greedy"] = greedyBleu.Score,
            ["bleu_precisions"] = testBleu.Precisions,
            ["bleu_brevity_penalty"] = testBleu.BrevityPenalty,
            ["bleu_length_ratio"] = testBleu.LengthRatio,
            ["bleu_tokenisation"] = "lower-cased words and punctuation (Microsoft.ML.Tokenizers word-or-punctuation pre-tokenizer); references keep words unknown to the model",
            ["test_nll"] = testNll,
            ["test_perplexity"] = Math.Exp(testNll),
            // the last evaluation, of this process or (resumed at the end) carried over from the checkpoint's run
            ["val_bleu_greedy"] = run.Metrics.Series("val", "bleu_greedy").Values.LastOrDefault(),
            ["val_perplexity"] = run.Metrics.Series("val", "perplexity").Values.LastOrDefault(),
            ["epochs"] = config.Epochs,
            ["steps"] = result.Steps,
            // A run resumed at its last step (only decoding and the report) trained nothing in this process: null, not 0.
            ["train_seconds"] = stepsHere > 0 ? result.TrainSeconds : null,
            ["wall_seconds"] = wall.Elapsed.TotalSeconds,
            ["test_decode_seconds"] = decodeSeconds,
            ["tokens_per_second"] = stepsHere > 0 ? tokensPerSecond : null,
            ["source_plus_target_tokens_per_second"] = stepsHere > 0 ? stepsHere * (tokensPerStep + sourceTokensPerStep) / result.TrainSeconds : null,
            ["steps_this_process"] = stepsHere,
            ["parameters"] = parameters,
            ["vocab_source"] = corpus.Source.Count,
            ["vocab_target"] = corpus.Target.Count,
            ["threads"] = threads,
            ["resumed_from_step"] = resumedAt,
            ["published"] = new Dictionary<string, object> { ["metric"] = published.Metric, ["value"] = published.Value, ["source"] = published.Source },
        };
        run.WriteJson("summary.json", summary);

        Report.Write(run, config, corpus, model, testHyps, testBleu, greedyBleu, summary);
        progress.Line($"README results row: {ResultsRow(summary, config)}");
        return run;
    }

    /// <summary>The README results-table row: | BLEU (beam) | greedy | params | N/d_model/h/d_ff | epochs | train s | tokens/s |.</summary>
    public static string ResultsRow(IReadOnlyDictionary<string, object?> s, TransformerConfig c)
    {
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        string Or(object? v, string format) => v is double d ? d.ToString(format, inv) : "—";
        return string.Create(inv, $"| {(double)s["bleu"]!:F2} | {(double)s["bleu_greedy"]!:F2} | {(long)s["parameters"]! / 1e6:F1} M | {c.N}/{c.DModel}/{c.H}/{c.DFf} | {c.Epochs} | {Or(s["train_seconds"], "F0")} | {Or(s["tokens_per_second"], "F0")} |");
    }

    /// <summary>Reads, tokenises and encodes Multi30k de→en; the vocabularies come from the training pairs only.</summary>
    /// <exception cref="DatasetNotFoundException">Multi30k cannot be found or downloaded.</exception>
    public static Corpus LoadCorpus(TransformerConfig config, string? dataDir)
    {
        string dir = DatasetLocator.Locate(DatasetCatalog.Multi30k, dataDir);
        var train = TranslationPairs.Load(dir, "train", "de", "en", config.TrainLimit);
        var val = TranslationPairs.Load(dir, "val", "de", "en", config.ValLimit);
        var test = TranslationPairs.Load(dir, "test_2016_flickr", "de", "en", config.TestLimit);
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
    /// The trained model of a run folder, with its vocabularies: config.json's hyperparameters,
    /// vocab.de.txt / vocab.en.txt and model.weights (TorchSharp format), else model.pt (PyTorch state dict).
    /// For notebooks and later decoding.
    /// </summary>
    /// <exception cref="FileNotFoundException">One of the files is missing (the run did not finish).</exception>
    public static (Transformer Model, TransformerConfig Config, Vocabulary Source, Vocabulary Target) LoadRun(string runDir)
    {
        foreach (var f in new[] { "config.json", "vocab.de.txt", "vocab.en.txt" })
            if (!File.Exists(Path.Combine(runDir, f)))
                throw new FileNotFoundException($"{f} is missing from {runDir}; only a finished run folder can be loaded", Path.Combine(runDir, f));
        using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(runDir, "config.json")));
        var config = doc.RootElement.GetProperty("hyperparameters").Deserialize<TransformerConfig>()
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

    /// <summary>
    /// When a run resumes from a checkpoint of another run folder, copies that folder's metrics.csv rows up
    /// to its last evaluation (the step the checkpoint was written at) into this run's metrics, so that the
    /// curves cover the whole training. Returns that step (0 if there is no history to carry over). The
    /// copied rows get this process's wall clock in their wall_seconds column.
    /// </summary>
    static long CarryOverHistory(string checkpoint, RunFolder run)
    {
        string? previous = Path.GetDirectoryName(Path.GetFullPath(checkpoint));
        string csv = previous is null ? "" : Path.Combine(previous, MetricsLog.FileName);
        if (previous is null || Path.GetFullPath(previous) == run.Path || !File.Exists(csv)) return 0;
        var rows = File.ReadLines(csv).Skip(1).Select(l => l.Split(','))
                       .Where(f => f.Length >= 4)
                       .Select(f => (Step: long.Parse(f[0], System.Globalization.CultureInfo.InvariantCulture), Split: f[1], Name: f[2],
                                     Value: double.Parse(f[3], System.Globalization.CultureInfo.InvariantCulture)))
                       .ToList();
        long lastEval = rows.Where(r => r.Split == "val").Select(r => r.Step).DefaultIfEmpty(0).Max();
        foreach (var r in rows.Where(r => r.Step <= lastEval)) run.Metrics.Log(r.Step, r.Split, r.Name, r.Value);
        return lastEval;
    }

    /// <summary>Corpus BLEU of decoded ids against tokenised references.</summary>
    public static BleuScore Score(int[][] hypotheses, string[][] references, Vocabulary target) =>
        Bleu.Corpus(hypotheses.Select(h => (IReadOnlyList<string>)target.Decode(h)).ToArray(), references.Select(r => (IReadOnlyList<string>)r).ToArray());

    /// <summary>Mean negative log-likelihood per target token (nats, no label smoothing) with teacher forcing.</summary>
    public static double NegativeLogLikelihood(Transformer model, TokenBatches batches)
    {
        bool wasTraining = model.training;
        model.eval();
        double sum = 0;
        long count = 0;
        using (no_grad())
            for (long i = 0; i < batches.Count; i++)
            {
                using var scope = NewDisposeScope();
                var (src, tgt) = batches.Gather(new[] { i });
                var logits = model.forward(src, tgt.narrow(1, 0, tgt.shape[1] - 1));
                var gold = tgt.narrow(1, 1, tgt.shape[1] - 1);
                sum += nn.functional.cross_entropy(logits.reshape(-1, logits.shape[^1]), gold.reshape(-1),
                                                   ignore_index: Vocabulary.PadId, reduction: nn.Reduction.Sum).item<float>();
                count += gold.ne(Vocabulary.PadId).sum().item<long>();
            }
        if (wasTraining) model.train();
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
