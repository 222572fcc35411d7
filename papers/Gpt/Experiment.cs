// GPT experiment, top to bottom as nanoGPT's train.py: options → Tiny Shakespeare characters (or your own
// text, Data.cs) → model → the training step → samples → run folder. The model is in Gpt.cs.

using System.Globalization;
using PaperLab.Cli;
using PaperLab.Data;
using PaperLab.Data.Sources;
using PaperLab.Runs;
using PaperLab.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PaperLab.Papers.Gpt;

/// <summary>
/// Hyperparameters of a GPT run, named as nanoGPT's train.py names them: each property is a command-line
/// option (--kebab-case) and a field of config.json.
/// </summary>
public sealed record GptOptions : ICheckedOptions
{
    /// <summary>What to train on: tinyshakespeare (the default), text:FILE (one UTF-8 text) or lines:FILE (one item per line: names, words, SMILES).</summary>
    public string Dataset { get; init; } = "tinyshakespeare";
    /// <summary>text: only. char (one token per character) or gpt2 (GPT-2's byte-pair encoding, 50,257 tokens, Microsoft.ML.Tokenizers).</summary>
    [Option(OneOf = new[] { "char", "gpt2" })] public string Tokenizer { get; init; } = "char";
    /// <summary>text:/lines: only. Percentage held out for validation: the end of a text, or items chosen by content hash.</summary>
    [Option(Min = 0, MinExclusive = true, Max = 100, MaxExclusive = true)] public double ValidPct { get; init; } = 10;
    /// <summary>text:/lines: only. How the file's bytes are read: utf8 (strict: a bad byte is an error naming its offset) or latin1.</summary>
    [Option(OneOf = new[] { "utf8", "latin1" })] public string Encoding { get; init; } = "utf8";
    /// <summary>text:/lines: clean-up 1. keep line endings as they are, or lf (\r\n and \r become \n).</summary>
    [Option(OneOf = new[] { "keep", "lf" })] public string LineEndings { get; init; } = "keep";
    /// <summary>text:/lines: clean-up 2. Unicode normalisation: none, nfc (é one way), nfkc (also ligatures, full-width forms).</summary>
    [Option(OneOf = new[] { "none", "nfc", "nfkc" })] public string Normalize { get; init; } = "none";
    /// <summary>text:/lines: clean-up 3. keep, lower or upper case.</summary>
    [Option(OneOf = new[] { "keep", "lower", "upper" })] public string Case { get; init; } = "keep";
    /// <summary>text:/lines: clean-up 4. Digits: keep, zero (every digit becomes 0) or drop.</summary>
    [Option(OneOf = new[] { "keep", "zero", "drop" })] public string Digits { get; init; } = "keep";
    /// <summary>text:/lines: clean-up 5. Characters seen fewer times than this become � (or are dropped with --rare drop); 0: keep all.</summary>
    [Option(Min = 0, Max = 1_000_000_000)] public int RareBelow { get; init; }
    /// <summary>text:/lines: what happens to rare characters: unknown (→ �) or drop.</summary>
    [Option(OneOf = new[] { "unknown", "drop" })] public string Rare { get; init; } = "unknown";
    /// <summary>text:/lines: clean-up 6. text: keep the first N characters; lines: drop items longer than N; none: no limit.</summary>
    [Option(Min = 1, Max = 1_000_000_000)] public int? MaxLength { get; init; }

    /// <summary>Size preset: cpu (nanoGPT's CPU run of train_shakespeare_char, the default) or long (4×4×192, block 128, 5,500 steps: about 25 minutes on two cores).</summary>
    [Option(OneOf = new[] { "cpu", "long" })] public string Preset { get; init; } = "cpu";

    /// <summary>block_size, T: the context length in characters.</summary>
    [Option(Min = 1, Max = 4096)] public int BlockSize { get; init; } = 64;
    /// <summary>n_layer: Transformer blocks.</summary>
    [Option(Min = 1, Max = 96)] public int NLayer { get; init; } = 4;
    /// <summary>n_head: attention heads (must divide --n-embd).</summary>
    [Option(Min = 1, Max = 128)] public int NHead { get; init; } = 4;
    /// <summary>n_embd, C (d_model): width of the residual stream.</summary>
    [Option(Min = 1, Max = 8192)] public int NEmbd { get; init; } = 128;
    /// <summary>Dropout probability on embeddings, attention weights and residual branches.</summary>
    [Option(Min = 0, Max = 1, MaxExclusive = true)] public double Dropout { get; init; }

    /// <summary>batch_size: windows per optimizer step.</summary>
    [Option(Min = 1, Max = 65_536)] public int BatchSize { get; init; } = 12;
    /// <summary>max_iters: optimizer steps.</summary>
    [Option(Min = 1, Max = 100_000_000)] public int MaxIters { get; init; } = 2000;
    /// <summary>learning_rate: the peak, after warm-up (nanoGPT: 1e-3; see README, Deviations).</summary>
    [Option(Min = 0, MinExclusive = true, Max = 10)] public double Lr { get; init; } = 2e-3;
    /// <summary>min_lr: where the cosine ends (none: a tenth of --lr).</summary>
    [Option(Min = 0, Max = 10)] public double? MinLr { get; init; }
    /// <summary>warmup_iters: steps of linear warm-up (at most --max-iters).</summary>
    [Option(Min = 0, Max = 100_000_000)] public int WarmupIters { get; init; } = 100;
    /// <summary>lr_decay_iters: the step where the cosine reaches min_lr (none: --max-iters).</summary>
    [Option(Min = 1, Max = 100_000_000)] public int? LrDecayIters { get; init; }
    /// <summary>AdamW's decoupled weight decay, on weight matrices only.</summary>
    [Option(Min = 0, Max = 10)] public double WeightDecay { get; init; } = 0.1;
    /// <summary>AdamW β1.</summary>
    [Option(Min = 0, Max = 1, MaxExclusive = true)] public double Beta1 { get; init; } = 0.9;
    /// <summary>AdamW β2 (0.99 for the small character model, as nanoGPT).</summary>
    [Option(Min = 0, Max = 1, MaxExclusive = true)] public double Beta2 { get; init; } = 0.99;
    /// <summary>grad_clip: the global gradient norm is clipped to this.</summary>
    [Option(Min = 0, MinExclusive = true, Max = 1e6)] public double GradClip { get; init; } = 1.0;
    /// <summary>eval_interval: estimate train and val loss every this many steps.</summary>
    [Option(Min = 1, Max = 100_000_000)] public int EvalInterval { get; init; } = 250;
    /// <summary>eval_iters: batches per estimate during training.</summary>
    [Option(Min = 1, Max = 100_000)] public int EvalIters { get; init; } = 20;

    /// <summary>Batches per split for the final, reported estimate.</summary>
    [Option(Min = 1, Max = 100_000, MayChangeOnResume = true)] public int FinalEvalIters { get; init; } = 100;
    /// <summary>Characters generated at the end for the report.</summary>
    [Option(Min = 0, Max = 1_000_000, MayChangeOnResume = true)] public int SampleTokens { get; init; } = 500;
    /// <summary>Sampling temperature.</summary>
    [Option(Min = 0, MinExclusive = true, Max = 100, MayChangeOnResume = true)] public double Temperature { get; init; } = 0.8;
    /// <summary>Sample among the k most likely characters.</summary>
    [Option(Min = 1, Max = 1_000_000, MayChangeOnResume = true)] public int TopK { get; init; } = 200;
    /// <summary>Gradient checkpointing (Chen et al. 2016): keep only each segment's input and recompute its activations in the backward pass; same gradients, less memory, about a third more time (CHECKPOINTING.md).</summary>
    [Option(MayChangeOnResume = true)] public bool GradCheckpoint { get; init; }
    /// <summary>Segments of blocks for --grad-checkpoint, 1 … n_layer; 0: ⌈√n_layer⌉, the paper's choice.</summary>
    [Option(Min = 0, Max = 96, MayChangeOnResume = true)] public int CheckpointSegments { get; init; }
    /// <summary>Attention by libtorch's fused scaled_dot_product_attention instead of the written-out softmax(QKᵀ/√d)V (equal to float rounding; on the reference CPU 3% faster on one thread, 13% slower on two: see README).</summary>
    [Option] public bool FusedAttention { get; init; }
    /// <summary>Instead of training: time this many training steps on random ids, measure the matmul peak, print one JSON line (no run folder).</summary>
    [Option(Min = 1, Max = 1_000_000, MayChangeOnResume = true)] public int? Bench { get; init; }

    /// <summary>min_lr in effect.</summary>
    public double MinLrInEffect => MinLr ?? Lr / 10;
    /// <summary>lr_decay_iters in effect.</summary>
    public int DecayEnd => LrDecayIters ?? MaxIters;
    /// <summary>Warm-up steps in effect (never past the end of the run).</summary>
    public int Warmup => Math.Min(WarmupIters, MaxIters);

    /// <summary>The model's shape for a vocabulary of <paramref name="vocabSize"/> tokens.</summary>
    public GptConfig Model(int vocabSize) => new(vocabSize, BlockSize, NLayer, NHead, NEmbd, Dropout,
                                                 GradientCheckpointing: GradCheckpoint, CheckpointSegments: CheckpointSegments, FusedAttention: FusedAttention);

    /// <summary>The reading and clean-up choices for text: and lines: (the defaults keep the text as it is).</summary>
    public TextSourceOptions SourceOptions() => new()
    {
        Encoding = Encoding == "latin1" ? TextEncodingChoice.Latin1 : TextEncodingChoice.Utf8,
        Tokenizer = Tokenizer == "gpt2" ? TokenizerChoice.Gpt2 : TokenizerChoice.Char,
        ValidPercent = ValidPct,
        Cleanup = new TextCleanupOptions
        {
            LineEndings = Enum.Parse<LineEndingMapping>(LineEndings, ignoreCase: true),
            Normalization = Enum.Parse<UnicodeNormalization>(Normalize, ignoreCase: true),
            Case = Enum.Parse<CaseMapping>(Case, ignoreCase: true),
            Digits = Enum.Parse<DigitMapping>(Digits, ignoreCase: true),
            RareBelow = RareBelow,
            Rare = Enum.Parse<RareMapping>(Rare, ignoreCase: true),
            MaxLength = MaxLength,
        },
    };

    /// <inheritdoc/>
    public IEnumerable<string> Problems()
    {
        DatasetArgument? source = null;
        string? bad = null;
        try
        {
            source = DatasetArgument.Parse(Dataset);
            source.Require("GPT", ["tinyshakespeare"], DataSourceKind.Text, DataSourceKind.Lines);
        }
        catch (ArgumentException e) { bad = e.Message; }
        if (bad != null) yield return bad;
        else if (source!.Kind == DataSourceKind.BuiltIn && (SourceOptions() != new TextSourceOptions() || source.Name != Dataset))
            yield return $"--tokenizer, --valid-pct, --encoding and the clean-up options apply to text: and lines: datasets; {Dataset} is read as nanoGPT reads it (characters, 90/10)";
        else if (source.Kind == DataSourceKind.Lines && Tokenizer != "char")
            yield return "--tokenizer gpt2 applies to text: datasets; lines: items are read by characters";
        if (CheckpointSegments > NLayer) yield return $"--checkpoint-segments {CheckpointSegments} is more than --n-layer {NLayer}: give 1 … {NLayer}, or 0 for √n_layer";
        if (CheckpointSegments > 0 && !GradCheckpoint) yield return "--checkpoint-segments applies only with --grad-checkpoint";
        if (NEmbd % NHead != 0) yield return $"--n-head {NHead} must divide --n-embd {NEmbd}: each head gets n_embd / n_head dimensions";
        // weights, gradients and AdamW's two moments (16 bytes a parameter) and the activations autograd keeps
        // (about 34·C + 5·n_head·T floats per position and layer, Korthikanti et al. 2022, in float32)
        double parameters = Gpt.ExpectedParameters(Model(65));
        double activations = (double)BatchSize * BlockSize * NLayer * (34.0 * NEmbd + 5.0 * NHead * BlockSize) * 4;
        double gib = (16 * parameters + activations) / (1L << 30);
        double available = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / (double)(1L << 30);
        if (gib > 0.8 * available)
            yield return $"this model and batch need about {gib:F0} GiB for training; this machine has {available:F0} GiB: reduce --batch-size, --block-size, --n-embd or --n-layer";
    }

    /// <summary>
    /// The defaults: nanoGPT's CPU configuration of train_shakespeare_char (its README, "I only have a
    /// macbook": block 64, batch 12, 4 layers, 4 heads, 128 wide, no dropout, 2000 steps, cosine to a tenth
    /// of the peak, warm-up 100) with peak lr 2e-3 instead of 1e-3 (README, Deviations); or the long preset,
    /// towards the GPU configuration (6×6×384, block 256, batch 64, dropout 0.2) at a size two cores train
    /// in about 25 minutes; or --smoke, a tiny model for 300 steps.
    /// </summary>
    public static GptOptions Defaults(GptOptions given, RunOptions run)
    {
        if (run.Smoke) return new GptOptions { Dataset = given.Dataset, BlockSize = 32, NLayer = 2, NHead = 2, NEmbd = 64, BatchSize = 16, MaxIters = 300, Lr = 3e-3, WarmupIters = 30,
                                               EvalInterval = 100, EvalIters = 10, FinalEvalIters = 40, SampleTokens = 200 };
        return given.Preset == "long"
            ? new GptOptions { Dataset = given.Dataset, Preset = "long", BlockSize = 128, NEmbd = 192, Dropout = 0.1, BatchSize = 16, MaxIters = 5500, Lr = 1e-3 }
            : new GptOptions { Dataset = given.Dataset };
    }
}

/// <summary>summary.json of a GPT run.</summary>
public sealed record GptSummary : RunSummary
{
    /// <summary>The size preset.</summary>
    public required string Preset { get; init; }
    /// <summary>Mean validation cross-entropy, nats per character, over FinalEvalIters held batches.</summary>
    public double ValLoss { get; init; }
    /// <summary>The same on held training batches.</summary>
    public double TrainLoss { get; init; }
    /// <summary>Optimizer steps (max_iters).</summary>
    public int Iters { get; init; }
    /// <summary>Training throughput of this process, characters per second.</summary>
    public double? TokensPerSecond { get; init; }
    /// <summary>The parameter count from the formula (V·C + T·C + L·(12·C² + 13·C) + 2·C).</summary>
    public long ParametersFormula { get; init; }
    /// <summary>Characters per second when sampling with the key/value cache.</summary>
    public double SampleTokensPerSecond { get; init; }
    /// <summary>ln V: the loss of a uniform guess.</summary>
    public double UniformLoss { get; init; }
    /// <summary>Your own text: the unigram counts' validation loss (add-one smoothing); Tiny Shakespeare: null.</summary>
    public double? UnigramLoss { get; init; }
    /// <summary>What a token is: characters or GPT-2 tokens.</summary>
    public string Unit { get; init; } = "characters";
    /// <summary>The bigram counts' validation loss.</summary>
    public required BaselineLoss Baseline { get; init; }
}

/// <summary>A baseline's validation loss.</summary>
/// <param name="Name">What it is.</param>
/// <param name="ValLoss">Its validation loss (nats per character).</param>
public sealed record BaselineLoss(string Name, double ValLoss);

/// <summary>The GPT experiment.</summary>
public static class Experiment
{
    /// <summary>The paper, for run folders and --help.</summary>
    public static readonly PaperInfo Paper = new("gpt", "GPT (Radford et al. 2018/2019) as a character model of Tiny Shakespeare (or your own text), at nanoGPT's sizes");

    /// <summary>The nanoGPT figure for a preset's size.</summary>
    public static Published PublishedFor(string preset) => preset == "long"
        ? new("val_loss", 1.4697, "nanoGPT README, config/train_shakespeare_char.py on one A100 (6×6×384, block 256, 5000 steps): best val loss 1.4697")
        : new("val_loss", 1.88, "nanoGPT README, CPU run of train_shakespeare_char (4×4×128, block 64, batch 12, 2000 steps): val loss about 1.88");

    /// <summary>Your own text has no published figure: its unigram baseline stands in, marked not comparable.</summary>
    public static Published UnigramFor(double loss, string unit) =>
        new("val_loss", loss, $"no published figure for your own text; shown instead: unigram counts of the training {unit} (data report), the trivial baseline to beat",
            Comparable: false);

    /// <summary>Parses the command line, runs, prints the run folder last. Exit 0, 1 (failure), 2 (usage), 130 (Ctrl-C).</summary>
    /// <remarks><c>--bench-memory …</c> as the first argument runs the memory bench instead (bench/MemoryBench.cs, bench/memory.sh).</remarks>
    public static int Main(string[] args) => args.Length > 0 && args[0] == "--bench-memory"
        ? MemoryBench.Run(args[1..])
        : PaperProgram.Main<GptOptions>(args, Paper, GptOptions.Defaults, Run);

    /// <summary>Trains the GPT and writes the run folder (config.json, metrics.csv, checkpoint.bin, model.pt, sample.txt, summary.json, report.html).</summary>
    /// <returns>The summary; null in --bench mode (which prints its measurements and writes no run folder).</returns>
    /// <exception cref="DatasetNotFoundException">Tiny Shakespeare is nowhere to be found and cannot be downloaded.</exception>
    /// <exception cref="UsageException">The context is longer than the validation text.</exception>
    /// <exception cref="NonFiniteLossException">The loss became NaN or infinite.</exception>
    public static GptSummary? Run(GptOptions o, RunContext ctx)
    {
        if (o.Bench is int benchSteps)
        {
            Bench.Run(o, ctx.Threads, benchSteps);
            return null;
        }
        var wall = System.Diagnostics.Stopwatch.StartNew();
        var data = GptData.Load(o, ctx.Common.Data);
        if (data.Report is { } dataReport) ctx.Progress.Line(dataReport.ToText());   // before training, and before any run folder exists
        if (o.BlockSize >= data.Val.Length)
            throw new UsageException($"--block-size {o.BlockSize} is longer than the validation text ({data.Val.Length:N0} {data.Unit}); use a shorter context" +
                                     (data.Report is null ? "" : " or a larger --valid-pct"));
        var config = o.Model(data.VocabSize);
        var run = ctx.Start(o, data.Record);
        if (data.Report is { } r)
        {
            run.DataReport = r.ToText();
            r.WriteTo(run.Path);
        }
        ctx.Progress.Line($"{data.Name}: vocabulary {data.VocabSize}, train {data.Train.Length:N0} / val {data.Val.Length:N0} {data.Unit}");

        var trainSet = new TokenWindowDataset(data.Train, o.BlockSize);
        var valSet = new TokenWindowDataset(data.Val, o.BlockSize);
        var loader = new BatchLoader(trainSet, o.BatchSize, Sampling.WithReplacement, ctx.Common.Seed);
        // Fixed held-out batches (different seeds per split), the same at every evaluation: smoother curves.
        var trainEval = new BatchLoader(trainSet, o.BatchSize, Sampling.WithReplacement, seed: 1_000_003);
        var valEval = new BatchLoader(valSet, o.BatchSize, Sampling.WithReplacement, seed: 2_000_003);

        torch.manual_seed(ctx.Common.Seed);
        var model = new Gpt(config);
        foreach (var line in ParameterCounts.Lines(model, Gpt.ExpectedParameters(config))) ctx.Progress.Line(line);
        var optimizer = CreateOptimizer(model, o);
        var parameters = model.parameters().ToArray();

        var loop = new TrainingLoop(ctx, new LoopSettings
        {
            TotalSteps = o.MaxIters, EvalEvery = o.EvalInterval, LogEvery = Math.Max(1, Math.Min(50, o.MaxIters / 20)),
            ItemsPerStep = (long)o.BatchSize * o.BlockSize, ItemName = "tokens",
            OverfitTarget = 0.05,   // --overfit-batch: AdamW's weight decay holds one batch's loss a little above 0.01
        });
        loop.Add("model", model);
        loop.Add("optimizer", optimizer, Schedules.WarmupCosine(o.Lr, o.Warmup, o.DecayEnd, o.MinLrInEffect));
        loop.Evaluate = _ => new Dictionary<string, double>
        {
            ["train_eval/loss"] = EstimateLoss(model, trainEval, o.EvalIters),
            ["val/loss"] = EstimateLoss(model, valEval, o.EvalIters),
        };

        foreach (var step in loop)
        {
            var (x, y) = loader.Batch(step.Index);          // (B, T) windows and the same shifted by one
            optimizer.zero_grad();
            var loss = model.Loss(x, y);                     // mean cross-entropy of the next character
            step.Record(loss);
            loss.backward();
            nn.utils.clip_grad_norm_(parameters, o.GradClip);
            optimizer.step();
        }

        double trainLoss = EstimateLoss(model, trainEval, o.FinalEvalIters);
        double valLoss = EstimateLoss(model, valEval, o.FinalEvalIters);
        ctx.Progress.Line($"final estimate over {o.FinalEvalIters} batches per split: train {trainLoss:F4}, val {valLoss:F4}");

        var sampleClock = System.Diagnostics.Stopwatch.StartNew();
        string sample;
        using (Evaluation.Mode(model))
        using (var newline = tensor(new long[] { data.PromptId }).reshape(1, 1))
        using (var generated = model.Generate(newline, o.SampleTokens, o.Temperature, Math.Min(o.TopK, data.VocabSize), new Generator((ulong)ctx.Common.Seed)))
            sample = data.Decode(generated[0].data<long>().ToArray());
        double sampleSeconds = sampleClock.Elapsed.TotalSeconds;
        AtomicFile.WriteAllText(run.File("sample.txt"), sample);
        PyTorchExport.Save(model, run.File("model.pt"));
        NanoGptExport.Save(model, run.File(NanoGptExport.FileName));   // the same weights under nanoGPT's keys (README)
        double bigram = data.BigramLoss;

        var result = loop.Result;
        var summary = new GptSummary
        {
            Paper = "GPT (Radford et al. 2018, 2019), nanoGPT Shakespeare-char sizes",
            Dataset = data.Report is null ? "tinyshakespeare (characters, 90/10 split)" : o.Dataset,
            Published = data.UnigramLoss is double u ? UnigramFor(u, data.Unit) : PublishedFor(o.Preset),
            Preset = o.Preset,
            ValLoss = valLoss,
            TrainLoss = trainLoss,
            Iters = o.MaxIters,
            Steps = result.Steps,
            TokensPerSecond = double.IsFinite(result.ItemsPerSecond) ? result.ItemsPerSecond : null,
            TrainSeconds = result.TrainSeconds,
            WallSeconds = wall.Elapsed.TotalSeconds,
            Threads = ctx.Threads,
            Parameters = ParameterCounts.Total(model),
            ParametersFormula = Gpt.ExpectedParameters(config),
            SampleTokensPerSecond = o.SampleTokens / Math.Max(1e-9, sampleSeconds),
            UniformLoss = Math.Log(data.VocabSize),
            UnigramLoss = data.UnigramLoss,
            Unit = data.Unit,
            Baseline = new(BigramBaseline.Name, bigram),
        };
        run.WriteSummary(summary);
        Report.Write(run, o, config, summary, sample);
        ctx.Progress.Line($"val loss {valLoss:F4} (published {summary.Published.Value}, bigram {bigram:F4}, uniform {summary.UniformLoss:F4}); " +
                          $"{summary.TokensPerSecond:F0} tokens/s, {summary.TrainSeconds:F0} s training, {summary.WallSeconds:F0} s wall");
        ctx.Progress.Line("sample:\n" + sample);
        return summary;
    }

    /// <summary>
    /// AdamW with two parameter groups (<see cref="Gpt.WeightDecayGroups"/>): decay on weight matrices,
    /// none on biases, LayerNorms and embeddings.
    /// </summary>
    public static AdamW CreateOptimizer(Gpt model, GptOptions o)
    {
        var (decay, noDecay) = model.WeightDecayGroups();
        return optim.AdamW(new[]
        {
            new AdamW.ParamGroup(decay, lr: o.Lr, beta1: o.Beta1, beta2: o.Beta2, weight_decay: o.WeightDecay),
            new AdamW.ParamGroup(noDecay, lr: o.Lr, beta1: o.Beta1, beta2: o.Beta2, weight_decay: 0.0),
        }, lr: o.Lr, beta1: o.Beta1, beta2: o.Beta2);
    }

    /// <summary>Mean cross-entropy (nats per character) over the first <paramref name="batches"/> batches of
    /// <paramref name="loader"/> (nanoGPT's estimate_loss), in eval mode under no_grad.</summary>
    public static double EstimateLoss(Gpt model, BatchLoader loader, int batches)
    {
        using var _ = Evaluation.Mode(model);
        double sum = 0;
        for (int i = 0; i < batches; i++)
        {
            using var scope = NewDisposeScope();
            var (x, y) = loader.Batch(i);
            sum += model.Loss(x, y).item<float>();
        }
        return sum / batches;
    }
}
