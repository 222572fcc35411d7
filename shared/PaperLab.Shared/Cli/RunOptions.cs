namespace PaperLab.Cli;

/// <summary>
/// The options every paper accepts (the command-line contract of README.md), declared like a paper's own
/// hyperparameters: one property each.
/// </summary>
public sealed record RunOptions
{
    /// <summary>Seed of every random choice: initialisation, shuffling, dropout, sampling. Same seed and threads give the same losses.</summary>
    [Option(Min = 0)] public int Seed { get; init; }

    /// <summary>libtorch intra-op threads (default: one per logical core). Under other load, 1 is often faster.</summary>
    [Option(Min = 1, Max = 1024)] public int? Threads { get; init; }

    /// <summary>Run folder (default: runs/&lt;paper&gt;/&lt;UTC time&gt;/ in the repository; when resuming, the checkpoint's folder).</summary>
    public string? Out { get; init; }

    /// <summary>Folder holding the built-in datasets' files (DIR/&lt;dataset&gt;/ or DIR itself); given, nothing else is searched.</summary>
    public string? Data { get; init; }

    /// <summary>Continue a run from its checkpoint.bin (or its run folder); gives the same losses as an uninterrupted run.</summary>
    public string? Resume { get; init; }

    /// <summary>Comma-separated settings that may differ from the checkpoint's when resuming (e.g. epochs,lr).</summary>
    public string? AllowChange { get; init; }

    /// <summary>The paper's tiny preset: seconds of training on real data (what CI runs).</summary>
    public bool Smoke { get; init; }

    /// <summary>Watch training: activations, gradients and update ratios per layer, sampled every --diagnose-every steps; findings with remedies at the end.</summary>
    public bool Diagnose { get; init; }

    /// <summary>Steps between the samples of --diagnose.</summary>
    [Option(Min = 1, Max = 1_000_000)] public int DiagnoseEvery { get; init; } = 100;

    /// <summary>Instead of training: the learning-rate range test (Smith 2017), one step per rate from 1e-7 up; prints a suggested value.</summary>
    public bool FindLr { get; init; }

    /// <summary>Instead of training: fit one fixed batch until its loss is near zero, the first check of a model that does not learn.</summary>
    public bool OverfitBatch { get; init; }

    /// <summary>Time each part of the training step and print where the time goes.</summary>
    public bool Profile { get; init; }

    /// <summary>The option names listed in --allow-change.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public IReadOnlySet<string> AllowedChanges =>
        (AllowChange ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                           .Select(n => n.TrimStart('-')).ToHashSet(StringComparer.Ordinal);
}
