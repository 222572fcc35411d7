// GPT experiment: options → Tiny Shakespeare characters → model → shared training loop → samples → run
// folder. The model is in Gpt.cs; the published figures it is compared with are cited in Published below.

using System.CommandLine;
using System.Globalization;
using PaperLab.Cli;
using PaperLab.Data;
using PaperLab.Runs;
using PaperLab.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PaperLab.Papers.Gpt;

/// <summary>Hyperparameters of a GPT run (the names are nanoGPT's train.py); every field lands in config.json.</summary>
/// <param name="Model">The model's shape (vocab_size is set from the data).</param>
/// <param name="BatchSize">Windows per optimizer step.</param>
/// <param name="MaxIters">Optimizer steps.</param>
/// <param name="Lr">Peak learning rate (after warm-up).</param>
/// <param name="MinLr">Learning rate at the end of the cosine decay.</param>
/// <param name="WarmupIters">Steps of linear warm-up from 0 to <paramref name="Lr"/>.</param>
/// <param name="LrDecayIters">Step at which the cosine reaches <paramref name="MinLr"/> (it stays there after).</param>
/// <param name="WeightDecay">AdamW decoupled weight decay, applied to Linear weight matrices only.</param>
/// <param name="Beta1">AdamW β1.</param>
/// <param name="Beta2">AdamW β2 (0.99 for the small character model, as nanoGPT).</param>
/// <param name="GradClip">Clip the global gradient norm to this.</param>
/// <param name="EvalInterval">Estimate train and val loss every this many steps.</param>
/// <param name="EvalIters">Batches per estimate during training.</param>
/// <param name="FinalEvalIters">Batches per split for the final, reported estimate.</param>
/// <param name="SampleTokens">Characters generated at the end for the report.</param>
/// <param name="Temperature">Sampling temperature.</param>
/// <param name="TopK">Sample among the k most likely characters.</param>
public sealed record GptRunConfig(GptConfig Model, int BatchSize, int MaxIters, double Lr, double MinLr, int WarmupIters,
                                  int LrDecayIters, double WeightDecay = 0.1, double Beta1 = 0.9, double Beta2 = 0.99,
                                  double GradClip = 1.0, int EvalInterval = 250, int EvalIters = 20, int FinalEvalIters = 100,
                                  int SampleTokens = 500, double Temperature = 0.8, int TopK = 200)
{
    /// <summary>
    /// nanoGPT's CPU configuration of train_shakespeare_char (its README, "I only have a macbook"): block 64,
    /// batch 12, 4 layers, 4 heads, 128 wide, no dropout, 2000 steps, cosine decay to a tenth of the peak,
    /// warm-up 100. The default preset. One change: peak lr 2e-3 (nanoGPT: 1e-3), measured on this code at
    /// the same 2000 steps to reach val 1.83 instead of 1.90 (README, "Deviations").
    /// </summary>
    public static GptRunConfig Cpu { get; } = new(new GptConfig(65, BlockSize: 64, NLayer: 4, NHead: 4, NEmbd: 128, Dropout: 0.0),
        BatchSize: 12, MaxIters: 2000, Lr: 2e-3, MinLr: 2e-4, WarmupIters: 100, LrDecayIters: 2000);

    /// <summary>
    /// A longer CPU run towards nanoGPT's GPU configuration (6 layers, 6 heads, 384 wide, block 256, batch 64,
    /// dropout 0.2, 5000 steps → val 1.4697) at a size two cores train in about 25 minutes: 4 layers,
    /// 192 wide, block 128, batch 16, dropout 0.1, 5500 steps (11.3 M tokens, about 11 passes over the
    /// training text). --max-iters changes the length; the cosine follows the step count.
    /// </summary>
    public static GptRunConfig Long { get; } = new(new GptConfig(65, BlockSize: 128, NLayer: 4, NHead: 4, NEmbd: 192, Dropout: 0.1),
        BatchSize: 16, MaxIters: 5500, Lr: 1e-3, MinLr: 1e-4, WarmupIters: 100, LrDecayIters: 5500, EvalInterval: 250);

    /// <summary>A tiny model for a few hundred steps: seconds of training, what CI runs.</summary>
    public static GptRunConfig Smoke { get; } = new(new GptConfig(65, BlockSize: 32, NLayer: 2, NHead: 2, NEmbd: 64, Dropout: 0.0),
        BatchSize: 16, MaxIters: 300, Lr: 3e-3, MinLr: 3e-4, WarmupIters: 30, LrDecayIters: 300,
        EvalInterval: 100, EvalIters: 10, FinalEvalIters: 40, SampleTokens: 200);

    /// <summary>The preset called <paramref name="name"/>: "cpu" (default), "long" or "smoke".</summary>
    /// <exception cref="ArgumentException">Unknown name.</exception>
    public static GptRunConfig Preset(string name) => name switch
    {
        "cpu" => Cpu,
        "long" => Long,
        "smoke" => Smoke,
        _ => throw new ArgumentException($"unknown preset '{name}'; known: cpu, long, smoke", nameof(name)),
    };

    /// <summary>
    /// The learning rate at <paramref name="step"/> as a fraction of <see cref="Lr"/> (nanoGPT's get_lr):
    /// linear warm-up over WarmupIters, then a half cosine from Lr down to MinLr at LrDecayIters, MinLr after.
    /// </summary>
    public double LrFactor(long step)
    {
        if (step < WarmupIters) return (double)(step + 1) / (WarmupIters + 1);
        if (step >= LrDecayIters) return MinLr / Lr;
        double progress = (double)(step - WarmupIters) / Math.Max(1, LrDecayIters - WarmupIters);
        double coefficient = 0.5 * (1.0 + Math.Cos(Math.PI * progress));   // 1 → 0
        return (MinLr + coefficient * (Lr - MinLr)) / Lr;
    }
}

/// <summary>The figure a run is compared with.</summary>
/// <param name="Metric">summary.json key it corresponds to.</param>
/// <param name="Value">The published value.</param>
/// <param name="Source">Where it is published.</param>
public sealed record Published(string Metric, double Value, string Source)
{
    /// <summary>The nanoGPT figure for the preset's size.</summary>
    public static Published For(string preset) => preset switch
    {
        "long" => new("val_loss", 1.4697, "nanoGPT README, config/train_shakespeare_char.py on one A100 (6×6×384, block 256, 5000 steps): best val loss 1.4697"),
        _ => new("val_loss", 1.88, "nanoGPT README, CPU run of train_shakespeare_char (4×4×128, block 64, batch 12, 2000 steps): val loss about 1.88"),
    };
}

/// <summary>Command-line entry of the GPT experiment.</summary>
public static class Experiment
{
    /// <summary>Parses the command line, runs the experiment, prints the run folder last. Exit 0, 1 (failure) or 2 (usage).</summary>
    public static int Main(string[] args)
    {
        var cli = new PaperCommandLine("gpt", "GPT (Radford et al. 2018/2019) as a character model of Tiny Shakespeare, at nanoGPT's sizes");
        var preset = cli.Add(new Option<string>("--preset") { Description = "cpu (nanoGPT's CPU run, default) or long (about 25 minutes on two cores)", DefaultValueFactory = _ => "cpu" });
        preset.AcceptOnlyFromAmong("cpu", "long");
        var maxIters = cli.Add(new Option<int?>("--max-iters") { Description = "optimizer steps (the cosine decay ends there too)" });
        var lr = cli.Add(new Option<double?>("--lr") { Description = "peak learning rate (min lr stays lr/10)" });
        var batch = cli.Add(new Option<int?>("--batch-size") { Description = "windows per optimizer step" });
        var block = cli.Add(new Option<int?>("--block-size") { Description = "context length in characters" });
        var layers = cli.Add(new Option<int?>("--n-layer") { Description = "Transformer blocks" });
        var heads = cli.Add(new Option<int?>("--n-head") { Description = "attention heads (must divide --n-embd)" });
        var embd = cli.Add(new Option<int?>("--n-embd") { Description = "width of the residual stream (d_model)" });
        var dropout = cli.Add(new Option<double?>("--dropout") { Description = "dropout probability, in [0, 1)" });
        var sample = cli.Add(new Option<int?>("--sample-tokens") { Description = "characters to generate at the end" });
        var bench = cli.Add(new Option<int?>("--bench") { Description = "instead of training: time this many training steps on random ids, measure the matmul peak, print JSON" });
        foreach (var o in new[] { maxIters, batch, block, layers, heads, embd, bench }) PaperCommandLine.AtLeast(o, 1);
        PaperCommandLine.AtLeast(sample, 0);
        PaperCommandLine.Positive(lr);
        PaperCommandLine.InRange(dropout, 0, maxExclusive: 1);

        if (!cli.TryParse(args, out var common, out var parsed, out int exit)) return exit;

        string presetName = common.Smoke ? "smoke" : parsed.GetValue(preset)!;
        var config = GptRunConfig.Preset(presetName);
        var model = config.Model with
        {
            BlockSize = parsed.GetValue(block) ?? config.Model.BlockSize,
            NLayer = parsed.GetValue(layers) ?? config.Model.NLayer,
            NHead = parsed.GetValue(heads) ?? config.Model.NHead,
            NEmbd = parsed.GetValue(embd) ?? config.Model.NEmbd,
            Dropout = parsed.GetValue(dropout) ?? config.Model.Dropout,
        };
        int iters = parsed.GetValue(maxIters) ?? config.MaxIters;
        double peak = parsed.GetValue(lr) ?? config.Lr;
        config = config with
        {
            Model = model,
            MaxIters = iters,
            LrDecayIters = iters,
            WarmupIters = Math.Min(config.WarmupIters, iters),
            Lr = peak,
            MinLr = peak / 10,
            BatchSize = parsed.GetValue(batch) ?? config.BatchSize,
            SampleTokens = parsed.GetValue(sample) ?? config.SampleTokens,
        };
        try
        {
            model.Validate();
        }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return PaperCommandLine.UsageError;
        }
        if (parsed.GetValue(bench) is int benchSteps)
        {
            Bench.Run(config, common.ThreadCount, benchSteps);
            return 0;
        }
        try
        {
            var run = Run(config, common, presetName);
            Console.WriteLine(run.Path);
            return 0;
        }
        catch (Exception e) when (e is IOException or NonFiniteLossException or CheckpointException or DatasetNotFoundException)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return PaperCommandLine.RuntimeFailure;
        }
    }

    /// <summary>Runs one experiment and returns its run folder (config.json, metrics.csv, summary.json, report.html, sample.txt, checkpoint).</summary>
    /// <param name="config">Hyperparameters; Model.VocabSize is replaced by the data's.</param>
    /// <param name="common">Seed, threads, folders, resume.</param>
    /// <param name="preset">Name of the preset the configuration came from (selects the published figure).</param>
    /// <param name="progress">Progress output; null: the console.</param>
    /// <exception cref="DatasetNotFoundException">Tiny Shakespeare is nowhere to be found and cannot be downloaded.</exception>
    /// <exception cref="NonFiniteLossException">Training diverged.</exception>
    public static RunFolder Run(GptRunConfig config, CommonOptions common, string preset = "cpu", TrainingProgress? progress = null)
    {
        int threads = common.ThreadCount;
        torch.set_num_threads(threads);
        progress ??= TrainingProgress.ForConsole();
        var wall = System.Diagnostics.Stopwatch.StartNew();

        var data = ShakespeareChars.Load(common.Data);
        config = config with { Model = config.Model with { VocabSize = data.Vocabulary.Size } };
        var run = RunFolder.Create("gpt", common.Out);
        run.WriteConfig("gpt", config, common.Seed, threads);
        progress.Line($"{data.Source}: vocabulary {data.Vocabulary.Size}, train {data.Train.Length:N0} / val {data.Val.Length:N0} characters");

        var trainSet = new TokenWindowDataset(data.Train, config.Model.BlockSize);
        var valSet = new TokenWindowDataset(data.Val, config.Model.BlockSize);
        var loader = new BatchLoader(trainSet, config.BatchSize, Sampling.WithReplacement, common.Seed);
        // Fixed held-out batches (different seeds per split), the same at every evaluation: smoother curves.
        var trainEval = new BatchLoader(trainSet, config.BatchSize, Sampling.WithReplacement, seed: 1_000_003);
        var valEval = new BatchLoader(valSet, config.BatchSize, Sampling.WithReplacement, seed: 2_000_003);

        torch.manual_seed(common.Seed);
        var model = new Gpt(config.Model);
        foreach (var (part, count) in model.ParameterCounts()) progress.Line($"  {part,-5} {count,10:N0} parameters");
        long parameters = model.parameters().Sum(p => p.numel());
        progress.Line($"  total {parameters,10:N0} parameters (formula: {Gpt.ExpectedParameters(config.Model):N0})");

        var optimizer = CreateOptimizer(model, config);
        var schedule = optim.lr_scheduler.LambdaLR(optimizer, s => config.LrFactor(s));

        var trainer = new Trainer(model, optimizer, loader, model.Loss,
            new TrainSettings
            {
                Steps = config.MaxIters, Seed = common.Seed, ClipGradNorm = config.GradClip,
                EvalEvery = config.EvalInterval, LogEvery = Math.Max(1, Math.Min(50, config.MaxIters / 20)),
                CheckpointPath = run.File("checkpoint.bin"), ItemsPerStep = (long)config.BatchSize * config.Model.BlockSize, ItemName = "tokens",
            },
            run.Metrics, schedule, progress)
        {
            Evaluate = _ => new Dictionary<string, double>
            {
                ["train_eval/loss"] = EstimateLoss(model, trainEval, config.EvalIters),
                ["val/loss"] = EstimateLoss(model, valEval, config.EvalIters),
            },
        };
        var result = trainer.Run(common.Resume);

        double trainLoss, valLoss;
        model.eval();
        using (no_grad())
        {
            trainLoss = EstimateLoss(model, trainEval, config.FinalEvalIters);
            valLoss = EstimateLoss(model, valEval, config.FinalEvalIters);
        }
        progress.Line($"final estimate over {config.FinalEvalIters} batches per split: train {trainLoss:F4}, val {valLoss:F4}");

        var generator = new Generator((ulong)common.Seed);
        var newline = tensor(new long[] { data.Vocabulary.Encode("\n")[0] }).reshape(1, 1);
        var sampleClock = System.Diagnostics.Stopwatch.StartNew();
        using var generated = model.Generate(newline, config.SampleTokens, config.Temperature, config.TopK, generator);
        double sampleSeconds = sampleClock.Elapsed.TotalSeconds;
        string sample = data.Vocabulary.Decode(generated[0].data<long>().ToArray());
        AtomicFile.WriteAllText(run.File("sample.txt"), sample);
        PyTorchExport.Save(model, run.File("model.pt"));
        double bigram = BigramBaseline.Loss(data.Train, data.Val, data.Vocabulary.Size);

        var published = Published.For(preset);
        var summary = new Dictionary<string, object?>
        {
            ["paper"] = "GPT (Radford et al. 2018, 2019), nanoGPT Shakespeare-char sizes",
            ["dataset"] = "tinyshakespeare (characters, 90/10 split)",
            ["preset"] = preset,
            ["val_loss"] = valLoss,
            ["train_loss"] = trainLoss,
            ["iters"] = config.MaxIters,
            ["tokens_per_second"] = result.ItemsPerSecond,
            ["train_seconds"] = result.TrainSeconds,
            ["wall_seconds"] = wall.Elapsed.TotalSeconds,
            ["threads"] = threads,
            ["parameters"] = parameters,
            ["parameters_formula"] = Gpt.ExpectedParameters(config.Model),
            ["sample_tokens_per_second"] = config.SampleTokens / Math.Max(1e-9, sampleSeconds),
            ["uniform_loss"] = Math.Log(data.Vocabulary.Size),
            ["baseline"] = new Dictionary<string, object> { ["name"] = BigramBaseline.Name, ["val_loss"] = bigram },
            ["published"] = new Dictionary<string, object> { ["metric"] = published.Metric, ["value"] = published.Value, ["source"] = published.Source },
        };
        summary["wall_seconds"] = wall.Elapsed.TotalSeconds;
        run.WriteJson("summary.json", summary);
        Report.Write(run, config, summary, sample);

        progress.Line($"val loss {valLoss:F4} (published {published.Value}, bigram {bigram:F4}, uniform {Math.Log(data.Vocabulary.Size):F4}); " +
                      $"{result.ItemsPerSecond:F0} tokens/s, {result.TrainSeconds:F0} s training, {wall.Elapsed.TotalSeconds:F0} s wall");
        progress.Line("sample:\n" + sample);
        progress.Line($"README results row: {ResultsRow(summary)}");
        return run;
    }

    /// <summary>
    /// AdamW with two parameter groups (<see cref="Gpt.WeightDecayGroups"/>): decay on weight matrices,
    /// none on biases, LayerNorms and embeddings.
    /// </summary>
    public static AdamW CreateOptimizer(Gpt model, GptRunConfig config)
    {
        var (decay, noDecay) = model.WeightDecayGroups();
        return optim.AdamW(new[]
        {
            new AdamW.ParamGroup(decay, lr: config.Lr, beta1: config.Beta1, beta2: config.Beta2, weight_decay: config.WeightDecay),
            new AdamW.ParamGroup(noDecay, lr: config.Lr, beta1: config.Beta1, beta2: config.Beta2, weight_decay: 0.0),
        }, lr: config.Lr, beta1: config.Beta1, beta2: config.Beta2);
    }

    /// <summary>Mean cross-entropy (nats per character) over the first <paramref name="batches"/> batches of
    /// <paramref name="loader"/> (nanoGPT's estimate_loss). Puts the model in eval mode.</summary>
    public static double EstimateLoss(Gpt model, BatchLoader loader, int batches)
    {
        bool wasTraining = model.training;
        model.eval();
        using var _ = no_grad();
        double sum = 0;
        for (int i = 0; i < batches; i++)
        {
            using var scope = NewDisposeScope();
            var (x, y) = loader.Batch(i);
            sum += model.Loss(x, y).item<float>();
        }
        model.train(wasTraining);
        return sum / batches;
    }

    /// <summary>The README results-table row of a run: | preset | val loss | train loss | iters | train s | wall s | tokens/s | threads | parameters | published |.</summary>
    public static string ResultsRow(IReadOnlyDictionary<string, object?> s) => string.Create(CultureInfo.InvariantCulture,
        $"| {s["preset"]} | {(double)s["val_loss"]!:F4} | {(double)s["train_loss"]!:F4} | {s["iters"]} | {(double)s["train_seconds"]!:F0} | {(double)s["wall_seconds"]!:F0} | {(double)s["tokens_per_second"]!:F0} | {s["threads"]} | {s["parameters"]:N0} | {((Dictionary<string, object>)s["published"]!)["value"]} |");
}
