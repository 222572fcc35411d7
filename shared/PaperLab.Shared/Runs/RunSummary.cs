namespace PaperLab.Runs;

/// <summary>
/// A published figure a run is compared with: the value, the summary.json key it corresponds to, and
/// where it is published. One record for every paper.
/// </summary>
/// <param name="Metric">The summary.json key of our figure for the same quantity (e.g. "test_error").</param>
/// <param name="Value">The published value, in the same units as our figure (fractions, not percent).</param>
/// <param name="Source">Where it is published: paper, section or table, and the conditions that matter.</param>
/// <param name="LowerIsBetter">Whether smaller is better (errors, losses, perplexities, distances).</param>
/// <param name="Comparable">False when the figure is given for orientation only (another dataset or protocol; the source says why).</param>
public sealed record Published(string Metric, double Value, string Source, bool LowerIsBetter = true, bool Comparable = true);

/// <summary>
/// What every run's summary.json holds, whatever the paper; each paper's summary record adds its own
/// figures (snake_case keys in the file: <c>TrainSeconds</c> → <c>train_seconds</c>). The results table
/// (tools/Results) reads these keys plus config.json.
/// </summary>
public abstract record RunSummary
{
    /// <summary>The paper, as cited in the README's results table.</summary>
    public required string Paper { get; init; }
    /// <summary>The data trained and evaluated on, as named in the results table.</summary>
    public required string Dataset { get; init; }
    /// <summary>The published figure compared with; its Metric names our figure's key.</summary>
    public required Published Published { get; init; }
    /// <summary>Optimizer steps of the whole run (a resumed run counts its earlier steps).</summary>
    public long Steps { get; init; }
    /// <summary>Seconds spent in training steps over the whole run (evaluation excluded; earlier processes of a resumed run included).</summary>
    public double TrainSeconds { get; init; }
    /// <summary>Seconds from start to summary in this process.</summary>
    public double WallSeconds { get; init; }
    /// <summary>libtorch intra-op threads.</summary>
    public int Threads { get; init; }
    /// <summary>Trainable parameters of the model.</summary>
    public long Parameters { get; init; }
    /// <summary>What --diagnose found (empty: nothing looked wrong); absent without --diagnose.</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<PaperLab.Diagnostics.Finding>? Diagnostics { get; init; }
    /// <summary>Where the time went (--profile); absent without it.</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public PaperLab.Training.ProfileReport? Profile { get; init; }
}
