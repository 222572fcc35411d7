using System.Collections;
using PaperLab.Cli;
using PaperLab.Data;
using PaperLab.Metrics;
using PaperLab.Runs;
using TorchSharp;
using static TorchSharp.torch;

namespace PaperLab.Training;

/// <summary>How long a <see cref="TrainingLoop"/> runs and how often it logs, evaluates and checkpoints.</summary>
public sealed record LoopSettings
{
    /// <summary>Optimizer steps of the whole run.</summary>
    public required long TotalSteps { get; init; }
    /// <summary>Steps in one pass over the training data, for epoch numbers and per-epoch evaluation; 0: not epoch-based.</summary>
    public long StepsPerEpoch { get; init; }
    /// <summary>Evaluate (and checkpoint) every this many steps; 0: at the end of every epoch (with <see cref="StepsPerEpoch"/>) and always at the end.</summary>
    public long EvalEvery { get; init; }
    /// <summary>Log the mean training loss and the learning rate every this many steps.</summary>
    public long LogEvery { get; init; } = 100;
    /// <summary>Samples (or tokens) in one step, for the throughput; a step can report its own count with <see cref="TrainingStep.Record"/>.</summary>
    public long ItemsPerStep { get; init; } = 1;
    /// <summary>What <see cref="ItemsPerStep"/> counts, as progress lines name it: "samples" or "tokens".</summary>
    public string ItemName { get; init; } = "samples";
    /// <summary>
    /// A step trains on the batch its index selects (true for supervised papers). False where a step is not a
    /// batch (an environment step of RL): --find-lr and --overfit-batch then do not apply.
    /// </summary>
    public bool FixedBatch { get; init; } = true;
    /// <summary>The loss --overfit-batch must reach on its one batch ("near zero"; a loss with a floor needs its own).</summary>
    public double OverfitTarget { get; init; } = 0.01;
    /// <summary>The updates --overfit-batch may take before it gives up.</summary>
    public int OverfitSteps { get; init; } = 500;
}

/// <summary>What a training loop measured.</summary>
/// <param name="Steps">Optimizer steps of the whole run (including those before a resume).</param>
/// <param name="StartStep">The step this process started at (0, or the checkpoint's).</param>
/// <param name="TrainSeconds">Seconds in training steps over the whole run (earlier processes of a resumed run included).</param>
/// <param name="ItemsPerSecond">Training throughput of this process, samples (or tokens) per second; NaN if it took no step.</param>
/// <param name="Losses">The training loss of every step of this process that recorded one, in order.</param>
/// <param name="LastEvaluation">The metrics of the last evaluation (empty if none ran).</param>
public sealed record TrainingResult(long Steps, long StartStep, double TrainSeconds, double ItemsPerSecond,
                                    IReadOnlyList<float> Losses, IReadOnlyDictionary<string, double> LastEvaluation);

/// <summary>The loss became NaN or infinite: training stopped before that step changed any weight.</summary>
public sealed class NonFiniteLossException(long step, double loss, string? lastCheckpoint)
    : Exception($"the training loss became {loss} at step {step}; stopped before that step changed the weights" +
                (lastCheckpoint != null ? $"; last good checkpoint: {lastCheckpoint}" : "; no checkpoint was written yet") +
                ". Try a lower learning rate (a learning-rate range test finds one)."), IFailureMessage
{
    /// <summary>The 0-based step whose loss was not finite.</summary>
    public long Step { get; } = step;
    /// <summary>The last checkpoint written before it, if any.</summary>
    public string? LastCheckpoint { get; } = lastCheckpoint;
}

/// <summary>Training diverged while staying finite, or an evaluation was not finite: stopped, the last good checkpoint kept.</summary>
public sealed class DivergedException(string message) : Exception(message), IFailureMessage;

/// <summary>A toolkit check (--find-lr, --overfit-batch) finished instead of a training run: exit 0 with its result in one line.</summary>
public sealed class ToolkitCheckCompleted(string message) : Exception(message), IFailureMessage
{
    /// <inheritdoc/>
    public int ExitCode => ExitCodes.Success;
}

/// <summary>The run was stopped (Ctrl-C) at a step boundary after writing a checkpoint; exit 130.</summary>
public sealed class RunInterruptedException(long step, string checkpoint)
    : Exception($"stopped at step {step}; checkpoint written: continue with --resume {checkpoint}"), IFailureMessage
{
    /// <inheritdoc/>
    public int ExitCode => ExitCodes.Interrupted;
    /// <summary>The checkpoint written at the stop.</summary>
    public string Checkpoint { get; } = checkpoint;
}

/// <summary>
/// The driver around a paper's training step. The paper writes the step itself, in its own file, and
/// <c>foreach</c>es over the loop:
/// <code>
/// foreach (var step in loop)
/// {
///     var (x, y) = loader.Batch(step.Index);
///     optimizer.zero_grad();
///     var loss = cross_entropy(model.forward(x), y);
///     step.Record(loss);          // NaN/Inf guard: throws before the weights change
///     loss.backward();
///     optimizer.step();
/// }
/// </code>
/// The loop does the rest: sets each optimizer's learning rate from its schedule (a function of the step),
/// seeds torch's RNG from (seed, step), opens a dispose scope around the body, logs, evaluates in eval
/// mode under no_grad, writes one atomic checkpoint of everything registered with <c>Add</c> plus the
/// metrics history, stops on divergence or Ctrl-C, and resumes from a checkpoint.
/// </summary>
/// <remarks>
/// <para>Determinism: at step s torch's global RNG is seeded with Mix(seed, s), learning rates are set from
/// s directly, and data loaders give the batch of step s from (seed, s) alone; so the same seed and threads
/// give the same losses, and a run resumed at step s continues bit for bit as the uninterrupted run.</para>
/// <para>Checkpoints: at every evaluation whose metrics are finite, at the end, and at Ctrl-C (written
/// atomically, so a kill mid-write leaves the previous one). A non-finite evaluation, or a training loss
/// above 10⁴ times its first logged value (and above 10⁴), stops the run before any checkpoint is replaced.</para>
/// <para>Memory: each step body runs inside its own <c>torch.NewDisposeScope()</c>; tensors the paper wants
/// to keep must be created outside the loop or moved out of the scope.</para>
/// </remarks>
public sealed class TrainingLoop : IEnumerable<TrainingStep>
{
    /// <summary>Stop when a logged mean loss exceeds this many times the first one (and this absolute value).</summary>
    public const double DivergenceFactor = 1e4;

    readonly RunContext _ctx;
    readonly RunFolder _run;
    readonly LoopSettings _settings;
    readonly List<(string Name, object Part)> _parts = new();
    readonly List<(optim.Optimizer Optimizer, Func<long, double>? Lr)> _optimizers = new();
    readonly List<float> _losses = new();
    TrainingResult? _result;

    /// <summary>
    /// The learning rate of a from-scratch optimizer (not a TorchSharp one), as a function of the step: the
    /// loop hands it to the body as <see cref="TrainingStep.LearningRate"/>, which the body applies itself
    /// (<c>optimizer.LearningRate = step.LearningRate</c>). The toolkit's modes override it (--find-lr sweeps it).
    /// </summary>
    public Func<long, double>? Schedule { get; set; }

    /// <summary>
    /// Called at each evaluation with the step count; returns named metrics such as "val/loss" (split before
    /// the slash). Runs with every registered module in eval mode, under no_grad.
    /// </summary>
    public Func<long, IReadOnlyDictionary<string, double>>? Evaluate { get; set; }

    /// <summary>What the loop measured; available after the foreach ends.</summary>
    public TrainingResult Result => _result ?? throw new InvalidOperationException("the training loop has not finished");

    /// <summary>The checkpoint file of this run.</summary>
    public string CheckpointPath => _run.File("checkpoint.bin");

    /// <param name="ctx">The run (its folder must be started: <see cref="RunContext.Start"/>).</param>
    /// <param name="settings">Length and cadence.</param>
    /// <exception cref="InvalidOperationException">The run folder has not been started.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A non-positive total, log or item count.</exception>
    public TrainingLoop(RunContext ctx, LoopSettings settings)
    {
        _ctx = ctx;
        _run = ctx.Run ?? throw new InvalidOperationException("call RunContext.Start before creating the training loop");
        ArgumentOutOfRangeException.ThrowIfNegative(settings.TotalSteps);
        ArgumentOutOfRangeException.ThrowIfLessThan(settings.LogEvery, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(settings.EvalEvery);
        _settings = settings;
    }

    /// <summary>Registers a module: saved in and restored from checkpoints, put in eval mode for evaluations.</summary>
    public void Add(string name, nn.Module module) => AddPart(name, module);

    /// <summary>
    /// Registers an optimizer: its state is checkpointed, and before every step each of its parameter
    /// groups gets the learning rate <paramref name="learningRate"/>(step) (null: left as constructed).
    /// </summary>
    public void Add(string name, optim.Optimizer optimizer, Func<long, double>? learningRate = null)
    {
        AddPart(name, optimizer);
        _optimizers.Add((optimizer, learningRate));
    }

    /// <summary>Registers extra state (a weight average, a replay buffer) that a checkpoint must carry.</summary>
    public void Add(string name, ICheckpointState state) => AddPart(name, state);

    void AddPart(string name, object part)
    {
        if (name == "metrics" || _parts.Any(p => p.Name == name)) throw new ArgumentException($"a part named '{name}' is already registered", nameof(name));
        _parts.Add((name, part));
    }

    /// <summary>The learning rate of the first registered optimizer's first group (or of <see cref="Schedule"/> at step 0).</summary>
    public double LearningRate => _optimizers.Count > 0 ? _optimizers[0].Optimizer.ParamGroups.First().LearningRate : Schedule?.Invoke(0) ?? double.NaN;

    /// <summary>Sets every registered TorchSharp optimizer's groups to the learning rate of <paramref name="step"/> (or to <paramref name="fixedLr"/>) and returns the rate the step uses.</summary>
    double SetLearningRates(long step, double? fixedLr = null)
    {
        foreach (var (optimizer, lr) in _optimizers)
            if (fixedLr is double f) foreach (var group in optimizer.ParamGroups) group.LearningRate = f;
            else if (lr != null) foreach (var group in optimizer.ParamGroups) group.LearningRate = lr(step);
        if (fixedLr is double rate) return rate;
        if (_optimizers.Count > 0) return _optimizers[0].Optimizer.ParamGroups.First().LearningRate;
        return Schedule?.Invoke(step) ?? double.NaN;
    }

    /// <summary>The largest learning rate of the schedule over the run (what --overfit-batch trains at).</summary>
    double PeakLearningRate()
    {
        Func<long, double>? f = _optimizers.Select(o => o.Lr).FirstOrDefault(l => l != null) ?? Schedule;
        if (f is null) return LearningRate;
        long total = Math.Max(1, _settings.TotalSteps);
        return Enumerable.Range(0, 201).Select(i => f(total * i / 200)).Where(double.IsFinite).DefaultIfEmpty(LearningRate).Max();
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>Runs the loop; each element is one step for the paper's body to perform.</summary>
    /// <remarks>
    /// With --find-lr or --overfit-batch the steps are those of the toolkit's check instead of training
    /// (<see cref="ToolkitCheckCompleted"/> ends the run); with --diagnose and --profile, training is
    /// observed as it runs.
    /// </remarks>
    public IEnumerator<TrainingStep> GetEnumerator()
    {
        var c = _ctx.Common;
        if ((c.FindLr || c.OverfitBatch) && !_settings.FixedBatch)
            throw new UsageException($"--{(c.FindLr ? "find-lr" : "overfit-batch")} does not apply to {_ctx.Paper.Name}: its steps are not batches of training data");
        if (c.FindLr && c.OverfitBatch) throw new UsageException("give --find-lr or --overfit-batch, not both");
        if ((c.FindLr || c.OverfitBatch) && c.Resume != null) throw new UsageException($"--{(c.FindLr ? "find-lr" : "overfit-batch")} starts from fresh weights; leave out --resume");
        return c.FindLr ? FindLearningRate() : c.OverfitBatch ? OverfitOneBatch() : Train();
    }

    IEnumerator<TrainingStep> Train()
    {
        long total = _settings.TotalSteps;
        var resumed = _ctx.Common.Resume is null ? null : Resume(RunContext.ResumePath(_ctx.Common.Resume), total);
        if (resumed != null && resumed.Step == resumed.TotalSteps && resumed.TotalSteps < total) total = resumed.Step;   // it ended early (EndRun): finished
        long step = resumed?.Step ?? 0, items = resumed?.Items ?? 0;
        double priorSeconds = resumed?.TrainSeconds ?? 0;
        long startStep = step;
        var progress = _ctx.Progress;
        string? lastCheckpoint = _ctx.Common.Resume is null ? null : RunContext.ResumePath(_ctx.Common.Resume);
        var window = new RunningMean();
        if (resumed?.LossWindow is { } w) window.Restore(w.Sum, w.Count);
        var throughput = new Throughput();
        double? firstLogged = resumed?.FirstLoggedLoss;
        IReadOnlyDictionary<string, double> lastEval = new Dictionary<string, double>();
        foreach (var (name, part) in _parts) if (part is nn.Module m) m.train();
        var model = _parts.Select(p => p.Part).OfType<nn.Module>().FirstOrDefault();
        using var diagnostics = _ctx.Common.Diagnose && model != null
            ? new PaperLab.Diagnostics.TrainingDiagnostics(model, PaperLab.Diagnostics.DiagnosticsOptions.ForRun(total - step, every: Math.Max(1, _ctx.Common.DiagnoseEvery)))
            : null;
        if (_ctx.Common.Diagnose && model is null)
            Console.Error.WriteLine($"warning: --diagnose observes TorchSharp modules registered with the loop; {_ctx.Paper.Name} registers none (its network is not a TorchSharp module), so nothing is sampled");
        var profile = _ctx.Common.Profile ? new StepProfile() : null;

        progress.Start(total, step);
        try
        {
            while (step < total)
            {
                profile?.Begin();
                double rate = SetLearningRates(step);
                random.manual_seed(BatchLoader.Mix(_ctx.Common.Seed, step));
                var current = new TrainingStep(step, _settings.StepsPerEpoch, rate, _settings.ItemsPerStep, lastCheckpoint, _run.Metrics);
                diagnostics?.BeginStep(step);
                profile?.Lap(StepProfile.Setup);
                throughput.Start();
                using (var scope = NewDisposeScope())
                {
                    yield return current;
                }
                throughput.Stop();
                profile?.EndBody(current.RecordedAt);
                diagnostics?.EndStep(current.Loss);
                if (diagnostics != null) profile?.Lap(StepProfile.Diagnostics);
                step++;
                _run.Started = true;
                throughput.Add(current.Items);
                items += current.Items;
                if (current.Loss is double loss)
                {
                    _losses.Add((float)loss);
                    window.Add(loss);
                }

                bool last = step == total || current.EndsRun;
                if (current.EndsRun) total = step;
                if (step % _settings.LogEvery == 0 || last)
                {
                    double mean = window.Mean;   // NaN when no step since the last log point recorded a loss (e.g. before RL updates start)
                    if (window.Count > 0) _run.Metrics.Log(step, "train", "loss", mean);
                    if (double.IsFinite(current.LearningRate)) _run.Metrics.Log(step, "train", "lr", current.LearningRate);
                    progress.Report(step, mean, current.LearningRate, throughput.PerSecond, _settings.ItemName);
                    window.Reset();
                    if (double.IsFinite(mean)) firstLogged ??= mean;
                    if (firstLogged is double first && Math.Abs(mean) > DivergenceFactor && Math.Abs(mean) > DivergenceFactor * Math.Abs(first))
                        throw new DivergedException($"training diverged: the mean loss reached {mean:G4} at step {step} (first logged: {firstLogged:G4}); " +
                            (lastCheckpoint != null ? $"the last good checkpoint {lastCheckpoint} is kept" : "no checkpoint was written") + ". Try a lower learning rate.");
                }
                else progress.Tick(step);
                profile?.Lap(StepProfile.Logging);

                bool epochEnd = _settings.StepsPerEpoch > 0 && step % _settings.StepsPerEpoch == 0;
                bool evalDue = last || (_settings.EvalEvery > 0 ? step % _settings.EvalEvery == 0 : epochEnd);
                bool stop = _ctx.StopRequested.IsCancellationRequested || step == _ctx.StopAfterStep;
                if (evalDue)
                {
                    lastEval = RunEvaluation(step);
                    if (lastEval.FirstOrDefault(kv => !double.IsFinite(kv.Value)) is { Key: not null } bad)
                        throw new DivergedException($"the evaluation at step {step} gave {bad.Key} = {bad.Value}; stopped without replacing " +
                            (lastCheckpoint != null ? $"the last good checkpoint {lastCheckpoint}" : "any checkpoint (none was written yet)") + ". Try a lower learning rate.");
                    var proc = System.Diagnostics.Process.GetCurrentProcess();
                    _run.Metrics.Log(step, "process", "rss_mib", proc.WorkingSet64 / (1024.0 * 1024.0));
                    _run.Metrics.Log(step, "process", "managed_heap_mib", GC.GetGCMemoryInfo().HeapSizeBytes / (1024.0 * 1024.0));
                    profile?.Lap(StepProfile.Evaluation);
                }
                if (evalDue || stop)
                {
                    WriteCheckpoint(step, last ? step : _settings.TotalSteps, priorSeconds + throughput.Seconds, items, new LossWindow(window.Sum, window.Count), firstLogged);
                    lastCheckpoint = CheckpointPath;
                    profile?.Lap(StepProfile.Checkpoint);
                }
                profile?.End();
                if (stop && !last) throw new RunInterruptedException(step, CheckpointPath);
            }
        }
        finally
        {
            progress.Stop();
        }
        _result = new TrainingResult(step, startStep, priorSeconds + throughput.Seconds, throughput.Seconds > 0 ? throughput.PerSecond : double.NaN, _losses, lastEval);
        if (diagnostics != null)
        {
            var report = diagnostics.Report();
            _run.Diagnostics = report;
            _run.WriteJson("diagnostics.json", report, RunFolder.SnakeCase);
            var findings = report.Findings;
            _ctx.Progress.Line(findings.Count == 0
                ? "diagnostics: nothing looks wrong (activations, gradients and update ratios sampled every " + report.Every + " steps)"
                : $"diagnostics: {findings.Count} finding(s)" + string.Concat(findings.Select(f => $"\n  {f.Severity} {f.Layer}: {f.What} — {f.Remedy}")));
        }
        if (profile != null)
        {
            _run.Profile = profile.Report(step - startStep);
            foreach (var line in _run.Profile.Lines()) _ctx.Progress.Line(line);
        }
    }

    /// <summary>--find-lr: the learning-rate range test (Smith 2017 §3.3, fast.ai's lr_find) on successive batches, then the end of the run.</summary>
    IEnumerator<TrainingStep> FindLearningRate()
    {
        var sweep = new PaperLab.Diagnostics.LrSweep();
        foreach (var (_, part) in _parts) if (part is nn.Module m) m.train();
        _ctx.Progress.Line("learning-rate range test: one training step per learning rate, from 1e-7 up by a constant factor, until the loss diverges");
        long i = 0;
        while (sweep.Next() is double lr)
        {
            SetLearningRates(i, fixedLr: lr);
            random.manual_seed(BatchLoader.Mix(_ctx.Common.Seed, i));
            var current = new TrainingStep(i, _settings.StepsPerEpoch, lr, _settings.ItemsPerStep, null, _run.Metrics) { TolerateNonFinite = true };
            using (var scope = NewDisposeScope())
            {
                yield return current;
            }
            _run.Started = true;
            sweep.Add(current.Loss ?? double.NaN);
            _run.Metrics.Log(i + 1, "lr_find", "loss", current.Loss ?? double.NaN);
            _run.Metrics.Log(i + 1, "lr_find", "lr", lr);
            i++;
        }
        var result = sweep.Result();
        _run.LrFinder = result;
        _run.WriteJson("summary.json", new { paper = _ctx.Paper.Name, mode = "find-lr", suggested_lr = result.SuggestedLr, lr_find = result }, RunFolder.SnakeCase);
        throw new ToolkitCheckCompleted($"suggested learning rate {result.SuggestedLr:g3} ({result.Rule}; steepest fall at {result.SteepestLr:g3}, " +
                                        $"{result.LearningRates.Length} steps{(result.StoppedEarly ? ", stopped when the loss diverged" : "")})" +
                                        (result.Note is { } note ? $"; note: {note}" : "") + ". The curve is in report.html and summary.json; no training followed.");
    }

    /// <summary>--overfit-batch: the same batch (the one of step 0) again and again at the schedule's peak rate until its loss is near zero.</summary>
    IEnumerator<TrainingStep> OverfitOneBatch()
    {
        double lr = PeakLearningRate();
        foreach (var (_, part) in _parts) if (part is nn.Module m) m.train();
        _ctx.Progress.Line($"overfitting one batch: the batch of step 0, learning rate {lr:g3}, until the loss is at most {_settings.OverfitTarget:g3} (at most {_settings.OverfitSteps} updates)");
        var losses = new List<double>();
        PaperLab.Diagnostics.OverfitResult? result = null;
        for (int i = 0; i <= _settings.OverfitSteps; i++)
        {
            SetLearningRates(0, fixedLr: lr);
            random.manual_seed(BatchLoader.Mix(_ctx.Common.Seed, 0));   // the same dropout masks and noise every time: one fixed batch
            var current = new TrainingStep(0, _settings.StepsPerEpoch, lr, _settings.ItemsPerStep, null, _run.Metrics) { TolerateNonFinite = true };
            using (var scope = NewDisposeScope())
            {
                yield return current;
            }
            _run.Started = true;
            double loss = current.Loss ?? double.NaN;
            losses.Add(loss);
            _run.Metrics.Log(i + 1, "overfit", "loss", loss);
            if (i % 50 == 0) _ctx.Progress.Line($"  update {i,4}: loss {loss:g4}");
            if (loss <= _settings.OverfitTarget) { result = new(true, i, losses[0], loss, [.. losses], null); break; }
            if (!double.IsFinite(loss)) break;
        }
        result ??= new(false, losses.Count - 1, losses[0], losses[^1], [.. losses], PaperLab.Diagnostics.OverfitOneBatch.Diagnose(losses, _settings.OverfitTarget));
        _run.Overfit = result;
        _run.WriteJson("summary.json", new { paper = _ctx.Paper.Name, mode = "overfit-batch", overfit_steps = result.Reached ? result.Steps : (int?)null, overfit = result }, RunFolder.SnakeCase);
        if (!result.Reached)
            throw new RunFailureException($"could not overfit one batch: the loss went from {result.InitialLoss:g4} to {result.FinalLoss:g4} in {result.Steps} updates " +
                                          $"(target {_settings.OverfitTarget:g3}). {result.Diagnosis}");
        throw new ToolkitCheckCompleted($"overfitted one batch in {result.Steps} updates: loss {result.InitialLoss:g4} → {result.FinalLoss:g4} (target {_settings.OverfitTarget:g3}). " +
                                        "The model, loss and optimizer can learn; the curve is in report.html and summary.json; no training followed.");
    }

    IReadOnlyDictionary<string, double> RunEvaluation(long step)
    {
        if (Evaluate is null) return new Dictionary<string, double>();
        IReadOnlyDictionary<string, double> metrics;
        using (Evaluation.Mode(_parts.Select(p => p.Part).OfType<nn.Module>().ToArray()))
            metrics = Evaluate(step);
        foreach (var (name, value) in metrics)
        {
            int slash = name.IndexOf('/');
            _run.Metrics.Log(step, slash > 0 ? name[..slash] : "eval", slash > 0 ? name[(slash + 1)..] : name, value);
        }
        string epoch = _settings.StepsPerEpoch > 0 ? $" (epoch {Math.Ceiling((double)step / _settings.StepsPerEpoch):0})" : "";
        _ctx.Progress.Line($"step {step}/{_settings.TotalSteps}{epoch}  " + string.Join("  ", metrics.Select(kv => $"{kv.Key} {kv.Value:0.####}")));
        return metrics;
    }

    void WriteCheckpoint(long step, long total, double trainSeconds, long items, LossWindow lossWindow, double? firstLogged)
    {
        var sections = new List<Checkpoint.Section>();
        foreach (var (name, part) in _parts)
            sections.Add(part switch
            {
                nn.Module m => Checkpoint.Of(name, m),
                optim.Optimizer o => Checkpoint.Of(name, o),
                ICheckpointState s => Checkpoint.Of(name, s),
                _ => throw new InvalidOperationException(name),
            });
        sections.Add(Checkpoint.Of(_run.Metrics.Rows));
        var header = new CheckpointHeader(_ctx.Paper.Name, step, total, trainSeconds, items, _run.Metrics.WallSeconds, Fingerprint(),
                                          lossWindow, firstLogged);
        Checkpoint.Write(CheckpointPath, header, sections);
    }

    /// <summary>The settings a checkpoint must agree on: every option that changes the training trajectory, and the seed.</summary>
    SortedDictionary<string, string> Fingerprint()
    {
        var options = _ctx.Options ?? throw new InvalidOperationException("no options");
        var result = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var o in OptionSet.Describe(options.GetType()).Where(o => !o.Rules.MayChangeOnResume))
            result[o.Name] = OptionSpec.Format(o.Get(options));
        result["seed"] = OptionSpec.Format(_ctx.Common.Seed);
        return result;
    }

    CheckpointHeader Resume(string path, long total)
    {
        var (header, sections) = Checkpoint.Read(path);
        if (header.Paper != _ctx.Paper.Name)
            throw new CheckpointException($"{path} is a checkpoint of {header.Paper}, not of {_ctx.Paper.Name}");
        var now = Fingerprint();
        var allowed = _ctx.Common.AllowedChanges;
        var unknown = allowed.Where(a => !now.ContainsKey(a)).ToList();
        if (unknown.Count > 0)
            throw new UsageException($"--allow-change: no setting named {string.Join(", ", unknown)}; the settings are {string.Join(", ", now.Keys)}");
        var changed = now.Keys.Union(header.Fingerprint.Keys)
            .Where(k => !now.TryGetValue(k, out var a) || !header.Fingerprint.TryGetValue(k, out var b) || a != b).ToList();
        var refused = changed.Where(k => !allowed.Contains(k)).ToList();
        string Was(string k) => header.Fingerprint.TryGetValue(k, out var v) ? v : "(absent)";
        string Now(string k) => now.TryGetValue(k, out var v) ? v : "(absent)";
        if (refused.Count > 0)
            throw new CheckpointException(
                $"--resume {path}: the checkpoint was trained with {string.Join(" ", refused.Select(k => $"--{k} {Was(k)}"))}; this run asks for " +
                $"{string.Join(" ", refused.Select(k => $"--{k} {Now(k)}"))}. Give the checkpoint's values, or pass --allow-change {string.Join(",", refused)} to continue with the new ones",
                exitCode: ExitCodes.UsageError);
        if (header.Step < 0 || header.Step > total)
            throw new CheckpointException($"{path} is at step {header.Step}, outside this run's 0…{total}; it cannot be resumed with these settings");
        var expected = _parts.Select(p => p.Name).Append("metrics").ToHashSet();
        var present = sections.Select(s => s.Name).ToHashSet();
        if (!expected.SetEquals(present))
            throw new CheckpointException($"{path} holds {string.Join(", ", present.Order())}; this run needs {string.Join(", ", expected.Order())}");
        foreach (var (name, part) in _parts)
        {
            var section = sections.First(s => s.Name == name);
            switch (part)
            {
                case nn.Module m: Checkpoint.Load(path, section, m); break;
                case optim.Optimizer o: Checkpoint.Load(path, section, o); break;
                case ICheckpointState s: Checkpoint.Load(path, section, s); break;
            }
        }
        var history = Checkpoint.LoadMetrics(path, sections.First(s => s.Name == "metrics"));
        _run.Metrics.Restore(history.Where(r => r.Step <= header.Step).ToList(), header.WallSeconds);
        foreach (var k in changed) _ctx.Progress.Line($"resuming with --{k} {Now(k)} (the checkpoint had {Was(k)})");
        _ctx.Progress.Line($"resumed from {path} at step {header.Step}");
        return header;
    }
}

/// <summary>One step of a <see cref="TrainingLoop"/>, handed to the paper's step body.</summary>
public sealed class TrainingStep
{
    readonly string? _lastCheckpoint;
    readonly MetricsLog _metrics;

    internal TrainingStep(long index, long stepsPerEpoch, double learningRate, long items, string? lastCheckpoint, MetricsLog metrics)
    {
        Index = index;
        Epoch = stepsPerEpoch > 0 ? index / stepsPerEpoch : 0;
        LearningRate = learningRate;
        Items = items;
        _lastCheckpoint = lastCheckpoint;
        _metrics = metrics;
    }

    /// <summary>The 0-based global step: what loaders and schedules are indexed by.</summary>
    public long Index { get; }
    /// <summary>The 0-based epoch this step belongs to (0 when the loop is not epoch-based).</summary>
    public long Epoch { get; }
    /// <summary>The learning rate set for this step (first registered optimizer, first group; NaN without one).</summary>
    public double LearningRate { get; }
    /// <summary>The loss recorded for this step, if any.</summary>
    public double? Loss { get; private set; }
    /// <summary>Samples (or tokens, or environment steps) in this step.</summary>
    public long Items { get; private set; }
    /// <summary>Whether the body asked to end the run after this step (<see cref="EndRun"/>).</summary>
    public bool EndsRun { get; private set; }

    /// <summary>
    /// Records the step's loss (a scalar tensor) and checks it: call it after the forward pass and before
    /// <c>backward()</c>, so that a NaN or infinite loss stops training before it changes any weight.
    /// A step that updates nothing (an RL step before learning starts) records no loss.
    /// </summary>
    /// <param name="loss">The scalar loss of this step.</param>
    /// <param name="items">Samples or tokens in this step, when they vary (the Transformer's token batches); null: the loop's setting.</param>
    /// <returns>The loss value.</returns>
    /// <exception cref="NonFiniteLossException">The loss is NaN or infinite.</exception>
    public float Record(Tensor loss, long? items = null) => (float)Record(loss.item<float>(), items);

    /// <summary>Records a loss computed outside TorchSharp (a from-scratch engine); see <see cref="Record(Tensor, long?)"/>.</summary>
    /// <exception cref="NonFiniteLossException">The loss is NaN or infinite.</exception>
    public double Record(double loss, long? items = null)
    {
        RecordedAt = System.Diagnostics.Stopwatch.GetTimestamp();
        if (!double.IsFinite(loss) && !TolerateNonFinite) throw new NonFiniteLossException(Index, loss, _lastCheckpoint);
        Loss = loss;
        if (items is long n) Items = n;
        return loss;
    }

    /// <summary>When <see cref="Record(double, long?)"/> was called (Stopwatch ticks), for --profile; 0 if not.</summary>
    internal long RecordedAt { get; private set; }

    /// <summary>The toolkit's checks record a non-finite loss instead of stopping (the range test ends on it).</summary>
    internal bool TolerateNonFinite { get; init; }

    /// <summary>Logs a metric of this step to metrics.csv (e.g. an episode's return: <c>step.Log("episode", "return", 187)</c>).</summary>
    /// <param name="split">The row's split ("episode", "train", …).</param>
    /// <param name="name">The metric's name.</param>
    /// <param name="value">Its value.</param>
    public void Log(string split, string name, double value) => _metrics.Log(Index + 1, split, name, value);

    /// <summary>
    /// Ends the run after this step, as if it were the last: the loop evaluates, writes the checkpoint and
    /// stops (a run that reached its goal early, like a solved control task). Resuming it does nothing more.
    /// </summary>
    public void EndRun() => EndsRun = true;
}

/// <summary>Evaluation mode: modules in eval mode under no_grad, restored afterwards.</summary>
public static class Evaluation
{
    /// <summary>
    /// Puts <paramref name="modules"/> in eval mode (dropout off, norms on their running statistics) and
    /// turns autograd off, until the returned object is disposed; then each module's previous mode returns.
    /// </summary>
    /// <example><code>using (Evaluation.Mode(model)) { accuracy = Accuracy(model, testLoader); }</code></example>
    public static IDisposable Mode(params nn.Module[] modules) => new Scope(modules);

    sealed class Scope : IDisposable
    {
        readonly (nn.Module Module, bool Training)[] _saved;
        readonly IDisposable _noGrad;

        public Scope(nn.Module[] modules)
        {
            _saved = modules.Select(m => (m, m.training)).ToArray();
            foreach (var m in modules) m.eval();
            _noGrad = no_grad();
        }

        public void Dispose()
        {
            _noGrad.Dispose();
            foreach (var (m, training) in _saved) m.train(training);
        }
    }
}
