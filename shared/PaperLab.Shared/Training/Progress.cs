using Spectre.Console;

namespace PaperLab.Training;

/// <summary>
/// Training progress: plain lines (step, loss, lr, samples/s or tokens/s, ETA) always, so logs and CI show them;
/// on an interactive terminal also a Spectre.Console progress bar.
/// </summary>
public class TrainingProgress
{
    readonly TextWriter _out;
    readonly System.Diagnostics.Stopwatch _clock = new();
    long _total, _first;

    /// <summary>Writes plain lines to <paramref name="output"/>.</summary>
    public TrainingProgress(TextWriter output) => _out = output;

    /// <summary>A bar on an interactive terminal, plain lines on stdout otherwise.</summary>
    public static TrainingProgress ForConsole() =>
        !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive
            ? new BarProgress()
            : new TrainingProgress(Console.Out);

    /// <summary>No output at all (tests).</summary>
    public static TrainingProgress Silent() => new(TextWriter.Null);

    /// <summary>Training of <paramref name="totalSteps"/> starts (at <paramref name="fromStep"/> when resumed).</summary>
    public virtual void Start(long totalSteps, long fromStep)
    {
        _total = totalSteps;
        _first = fromStep;
        _clock.Restart();
    }

    /// <summary>One step done, nothing to print.</summary>
    public virtual void Tick(long step) { }

    /// <summary>A log point: mean loss since the last one, learning rate, training throughput in <paramref name="items"/> per second.</summary>
    public virtual void Report(long step, double loss, double lr, double itemsPerSecond, string items = "samples") =>
        Line($"step {step,7}/{_total}  loss {(double.IsNaN(loss) ? "—" : loss.ToString("0.0000"))}  lr {PaperLab.Cli.Numbers.Format(lr, 3)}  {itemsPerSecond,9:#,0} {items}/s  ETA {Eta(step):hh\\:mm\\:ss}");

    /// <summary>A free-form line (evaluation results, resume notices).</summary>
    public virtual void Line(string text) => _out.WriteLine(text);

    /// <summary>Training ended (normally or not).</summary>
    public virtual void Stop() => _out.Flush();

    /// <summary>Estimated time to the last step, from the pace since start.</summary>
    protected TimeSpan Eta(long step)
    {
        double done = step - _first;
        return done <= 0 ? TimeSpan.Zero : TimeSpan.FromSeconds(_clock.Elapsed.TotalSeconds / done * (_total - step));
    }

    /// <summary>Total steps of the run.</summary>
    protected long Total => _total;

    sealed class BarProgress() : TrainingProgress(Console.Out)
    {
        // Spectre's Progress renders from its own thread while the training loop drives the task value.
        ProgressTask? _task;
        Task? _render;
        readonly TaskCompletionSource _done = new();

        public override void Start(long totalSteps, long fromStep)
        {
            base.Start(totalSteps, fromStep);
            var started = new ManualResetEventSlim();
            _render = Task.Run(() => AnsiConsole.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(),
                         new RemainingTimeColumn(), new SpinnerColumn())
                .Start(ctx =>
                {
                    _task = ctx.AddTask("training", maxValue: totalSteps);
                    _task.Value = fromStep;
                    started.Set();
                    _done.Task.Wait();
                }));
            started.Wait();
        }

        public override void Tick(long step)
        {
            if (_task != null) _task.Value = step;
        }

        public override void Report(long step, double loss, double lr, double itemsPerSecond, string items = "samples")
        {
            Tick(step);
            if (_task != null) _task.Description = $"loss {loss:0.0000}";
            base.Report(step, loss, lr, itemsPerSecond, items);
        }

        public override void Line(string text) => AnsiConsole.WriteLine(text);

        public override void Stop()
        {
            _done.TrySetResult();
            _render?.Wait();
            base.Stop();
        }
    }
}
