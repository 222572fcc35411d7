using PaperLab.Data;
using PaperLab.Metrics;
using PaperLab.Runs;
using TorchSharp;
using static TorchSharp.torch;

namespace PaperLab.Training;

/// <summary>How long and how a <see cref="Trainer"/> trains.</summary>
public sealed record TrainSettings
{
    /// <summary>Passes over the training set; give this or <see cref="Steps"/>.</summary>
    public int? Epochs { get; init; }
    /// <summary>Optimizer steps; give this or <see cref="Epochs"/>.</summary>
    public long? Steps { get; init; }
    /// <summary>Seed of the per-step RNG (dropout and other randomness inside the loss).</summary>
    public int Seed { get; init; }
    /// <summary>Clip the global L2 norm of the gradients to this value before each step; null: no clipping.</summary>
    public double? ClipGradNorm { get; init; }
    /// <summary>Evaluate every this many steps; 0 evaluates at the end of every epoch (and always at the end).</summary>
    public long EvalEvery { get; init; }
    /// <summary>Log the mean training loss every this many steps.</summary>
    public long LogEvery { get; init; } = 100;
    /// <summary>Where checkpoints go (written atomically at every evaluation); null: none.</summary>
    public string? CheckpointPath { get; init; }
    /// <summary>Items in one batch, for the throughput (defaults to the loader's batch size).</summary>
    public long? ItemsPerStep { get; init; }
    /// <summary>What <see cref="ItemsPerStep"/> counts, as the progress lines name it: "samples" (default) or "tokens".</summary>
    public string ItemName { get; init; } = "samples";
}

/// <summary>What a training run measured.</summary>
/// <param name="Steps">Optimizer steps taken in total (including those before a resume).</param>
/// <param name="TrainSeconds">Wall seconds spent in training steps in this process (evaluation excluded).</param>
/// <param name="ItemsPerSecond">Training throughput in this process: samples (or tokens) per second.</param>
/// <param name="Losses">The training loss of every step run in this process, in order.</param>
/// <param name="LastEvaluation">The metrics of the final evaluation (empty if none).</param>
public sealed record TrainResult(long Steps, double TrainSeconds, double ItemsPerSecond, IReadOnlyList<float> Losses,
                                 IReadOnlyDictionary<string, double> LastEvaluation);

/// <summary>
/// The loss became NaN or infinite. Training stopped before applying that step, so the model in memory and
/// the last checkpoint on disk are both from before it.
/// </summary>
public sealed class NonFiniteLossException(long step, double loss, string? lastCheckpoint)
    : Exception($"the training loss became {loss} at step {step}; stopped without applying that step" +
                (lastCheckpoint != null ? $"; last good checkpoint: {lastCheckpoint}" : "; no checkpoint was written yet"))
{
    /// <summary>The 0-based step whose loss was not finite.</summary>
    public long Step { get; } = step;
    /// <summary>The last checkpoint written before it, if any.</summary>
    public string? LastCheckpoint { get; } = lastCheckpoint;
}

/// <summary>
/// The one training loop every paper uses: batches from a <see cref="BatchLoader"/>, a loss the paper
/// defines, an optimizer and learning-rate schedule from TorchSharp, gradient clipping, periodic
/// evaluation, checkpoints and NaN detection.
/// </summary>
/// <remarks>
/// Determinism: at step s the global torch RNG is seeded with Mix(seed, s), and the loader's batch at s
/// depends only on (seed, s). Same seed and thread count therefore give the same losses, and a run resumed
/// from a checkpoint at step s continues exactly as the uninterrupted run would have.
/// Memory: each step runs inside its own <c>torch.NewDisposeScope()</c>.
/// </remarks>
public sealed class Trainer
{
    readonly nn.Module _model;
    readonly optim.Optimizer _optimizer;
    readonly optim.lr_scheduler.LRScheduler? _schedule;
    readonly BatchLoader _loader;
    readonly Func<Tensor, Tensor, Tensor> _loss;
    readonly TrainSettings _settings;
    readonly MetricsLog? _metrics;
    readonly TrainingProgress _progress;

    /// <summary>Called at each evaluation with the step count; returns named metrics such as "val/loss".
    /// Runs in eval mode under no_grad.</summary>
    public Func<long, IReadOnlyDictionary<string, double>>? Evaluate { get; init; }

    /// <param name="model">The model (its parameters are what the optimizer updates; saved in checkpoints).</param>
    /// <param name="optimizer">A TorchSharp optimizer over the model's parameters.</param>
    /// <param name="loader">Training batches.</param>
    /// <param name="loss">(input, target) → scalar loss tensor; calls the model.</param>
    /// <param name="settings">Length, clipping, evaluation and checkpoint settings.</param>
    /// <param name="metrics">metrics.csv to log to; null logs nothing.</param>
    /// <param name="schedule">A TorchSharp LR scheduler stepped after every optimizer step; null: constant LR.</param>
    /// <param name="progress">Progress output; null: <see cref="TrainingProgress.ForConsole"/>.</param>
    /// <exception cref="ArgumentException">Neither or both of Epochs and Steps are given.</exception>
    public Trainer(nn.Module model, optim.Optimizer optimizer, BatchLoader loader, Func<Tensor, Tensor, Tensor> loss,
                   TrainSettings settings, MetricsLog? metrics = null, optim.lr_scheduler.LRScheduler? schedule = null,
                   TrainingProgress? progress = null)
    {
        if ((settings.Epochs == null) == (settings.Steps == null))
            throw new ArgumentException("give exactly one of Epochs and Steps", nameof(settings));
        _model = model;
        _optimizer = optimizer;
        _schedule = schedule;
        _loader = loader;
        _loss = loss;
        _settings = settings;
        _metrics = metrics;
        _progress = progress ?? TrainingProgress.ForConsole();
    }

    /// <summary>Total optimizer steps of the run.</summary>
    public long TotalSteps => _settings.Steps ?? (long)_settings.Epochs!.Value * _loader.BatchesPerEpoch;

    /// <summary>The learning rate of the first parameter group.</summary>
    public double LearningRate => _optimizer.ParamGroups.First().LearningRate;

    /// <summary>
    /// Trains to <see cref="TotalSteps"/>, starting from the checkpoint <paramref name="resumeFrom"/> if given.
    /// </summary>
    /// <exception cref="NonFiniteLossException">A loss was NaN or infinite.</exception>
    /// <exception cref="CheckpointException">The checkpoint cannot be read or does not fit the model.</exception>
    public TrainResult Run(string? resumeFrom = null)
    {
        long step = 0;
        if (resumeFrom != null)
        {
            step = Checkpoint.Load(resumeFrom, _model, _optimizer);
            for (long s = 0; s < step; s++) _schedule?.step(); // LR schedules are functions of the step
            _progress.Line($"resumed from {resumeFrom} at step {step}");
        }
        string? lastCheckpoint = resumeFrom;
        long total = TotalSteps;
        long itemsPerStep = _settings.ItemsPerStep ?? _loader.BatchSize;
        var losses = new List<float>();
        var window = new RunningMean();
        var throughput = new Throughput();
        IReadOnlyDictionary<string, double> lastEval = new Dictionary<string, double>();
        var parameters = _model.parameters().ToArray();

        _model.train();
        _progress.Start(total, step);
        try
        {
            while (step < total)
            {
                throughput.Start();
                float lossValue;
                using (var scope = NewDisposeScope())
                {
                    random.manual_seed(BatchLoader.Mix(_settings.Seed, step));
                    var (x, y) = _loader.Batch(step);
                    _optimizer.zero_grad();
                    Tensor loss = _loss(x, y);
                    lossValue = loss.item<float>();
                    if (!float.IsFinite(lossValue))
                    {
                        throughput.Stop();
                        throw new NonFiniteLossException(step, lossValue, lastCheckpoint);
                    }
                    loss.backward();
                    if (_settings.ClipGradNorm is double maxNorm) nn.utils.clip_grad_norm_(parameters, maxNorm);
                    _optimizer.step();
                }
                _schedule?.step();
                step++;
                throughput.Add(itemsPerStep);
                throughput.Stop();
                losses.Add(lossValue);
                window.Add(lossValue);

                if (step % _settings.LogEvery == 0 || step == total)
                {
                    _metrics?.Log(step, "train", "loss", window.Mean);
                    _metrics?.Log(step, "train", "lr", LearningRate);
                    _progress.Report(step, window.Mean, LearningRate, throughput.PerSecond, _settings.ItemName);
                    window.Reset();
                }
                else _progress.Tick(step);

                bool epochEnd = _settings.Epochs != null && step % _loader.BatchesPerEpoch == 0;
                bool evalDue = step == total || (_settings.EvalEvery > 0 ? step % _settings.EvalEvery == 0 : epochEnd);
                if (!evalDue) continue;

                if (Evaluate != null)
                {
                    _model.eval();
                    using (no_grad()) lastEval = Evaluate(step);
                    _model.train();
                    foreach (var (name, value) in lastEval)
                    {
                        int slash = name.IndexOf('/');
                        _metrics?.Log(step, slash > 0 ? name[..slash] : "eval", slash > 0 ? name[(slash + 1)..] : name, value);
                    }
                    _progress.Line($"step {step}/{total}" + (_settings.Epochs != null ? $" (epoch {Math.Ceiling((double)step / _loader.BatchesPerEpoch):0})" : "") +
                                   "  " + string.Join("  ", lastEval.Select(kv => $"{kv.Key} {kv.Value:0.####}")));
                }
                // resident memory at every evaluation: flat across epochs when every batch is disposed
                _metrics?.Log(step, "process", "rss_mib", System.Diagnostics.Process.GetCurrentProcess().WorkingSet64 / (1024.0 * 1024.0));
                _metrics?.Log(step, "process", "managed_heap_mib", GC.GetGCMemoryInfo().HeapSizeBytes / (1024.0 * 1024.0));
                if (_settings.CheckpointPath != null)
                {
                    Checkpoint.Save(_settings.CheckpointPath, _model, _optimizer, step);
                    lastCheckpoint = _settings.CheckpointPath;
                }
            }
        }
        finally
        {
            _progress.Stop();
        }
        return new TrainResult(step, throughput.Seconds, throughput.PerSecond, losses, lastEval);
    }
}
