using PaperLab.Cli;
using PaperLab.Training;
using TorchSharp;

namespace PaperLab.Runs;

/// <summary>Who a paper is: its short name (run folders, checkpoints) and its title (--help, reports).</summary>
/// <param name="Name">Short name, e.g. "lenet5".</param>
/// <param name="Title">One line, e.g. "LeNet-5 (LeCun et al. 1998) on MNIST or Fashion-MNIST".</param>
/// <param name="DefaultThreads">
/// libtorch threads when --threads is not given; null: one per logical core. A paper of many tiny steps
/// (reinforcement learning) runs faster on one.
/// </param>
public sealed record PaperInfo(string Name, string Title, int? DefaultThreads = null);

/// <summary>
/// One invocation of a paper's experiment: the common options, where progress goes, the Ctrl-C signal,
/// and — once <see cref="Start"/> is called — the run folder. A paper's <c>Run</c> method receives it;
/// tests build one directly.
/// </summary>
public sealed class RunContext
{
    readonly CancellationTokenSource _stop = new();

    /// <summary>The paper.</summary>
    public PaperInfo Paper { get; }
    /// <summary>Seed, threads, folders, resume, smoke.</summary>
    public RunOptions Common { get; }
    /// <summary>Where progress lines go.</summary>
    public TrainingProgress Progress { get; }
    /// <summary>The run folder, after <see cref="Start"/>.</summary>
    public RunFolder? Run { get; private set; }
    /// <summary>The hyperparameters given to <see cref="Start"/> (the checkpoint fingerprint is taken from them).</summary>
    public object? Options { get; private set; }
    /// <summary>Requested by Ctrl-C (or <see cref="RequestStop"/>): the training loop stops at the next step boundary, writing a checkpoint.</summary>
    public CancellationToken StopRequested => _stop.Token;
    /// <summary>libtorch threads of this run: --threads, else the paper's default, else one per logical core.</summary>
    public int Threads => Common.Threads ?? Paper.DefaultThreads ?? Environment.ProcessorCount;
    /// <summary>For tests and chunked training: behave as if Ctrl-C came right after this many steps.</summary>
    public long? StopAfterStep { get; init; }

    /// <param name="paper">The paper.</param>
    /// <param name="common">The common options.</param>
    /// <param name="progress">Progress output; null: the console (a bar on a terminal, lines otherwise).</param>
    public RunContext(PaperInfo paper, RunOptions common, TrainingProgress? progress = null)
    {
        Paper = paper;
        Common = common;
        Progress = progress ?? TrainingProgress.ForConsole();
        torch.set_num_threads(Threads);
        PaperLab.Torch.TorchRuntime.RetainFreedMemory();
        PaperLab.Torch.TorchRuntime.UseNativeConvolutions();
    }

    /// <summary>Asks the training loop to stop at the next step boundary (Ctrl-C does this).</summary>
    public void RequestStop() => _stop.Cancel();

    /// <summary>
    /// Opens the run folder (locked for this run) and writes config.json. Call it after the data has
    /// loaded, so that a run refused for its data leaves no folder behind.
    /// </summary>
    /// <param name="options">The resolved hyperparameters (a record of the paper).</param>
    /// <param name="data">What data was used (folder, files and their sha256), for config.json; null if none.</param>
    /// <exception cref="RunFailureException">The folder is in use, holds another run, or cannot be written.</exception>
    public RunFolder Start(object options, object? data = null)
    {
        if (Run != null) throw new InvalidOperationException("the run has already started");
        string? resume = Common.Resume is null ? null : ResumePath(Common.Resume);
        string path = Common.Out ?? (resume != null ? Path.GetDirectoryName(resume)! : RunFolder.DefaultPath(Paper.Name));
        bool resumingHere = resume != null && Path.GetFullPath(Path.GetDirectoryName(resume)!) == Path.GetFullPath(path);
        Run = RunFolder.Open(path, resuming: resumingHere);
        Options = options;
        Run.WriteConfig(Paper.Name, options, Common, data, Threads, resume);
        return Run;
    }

    /// <summary>The checkpoint file named by --resume: the file itself, or checkpoint.bin in a run folder.</summary>
    public static string ResumePath(string resume) =>
        Path.GetFullPath(Directory.Exists(resume) ? Path.Combine(resume, "checkpoint.bin") : resume);
}
