namespace PaperLab.Cli;

/// <summary>
/// The valid range and role of one hyperparameter, on the property that declares it. The property itself
/// is the rest of the declaration: its name gives the option (<c>BatchSize</c> → <c>--batch-size</c>), its
/// type and initialiser the parser and default, its <c>&lt;summary&gt;</c> the help text. Properties without
/// this attribute are options too, without bounds.
/// </summary>
/// <example><code>
/// /// &lt;summary&gt;Peak learning rate of Adam, per step.&lt;/summary&gt;
/// [Option(Min = 0, MinExclusive = true, Max = 10)] public double Lr { get; init; } = 2e-3;
/// </code></example>
[AttributeUsage(AttributeTargets.Property)]
public sealed class OptionAttribute : Attribute
{
    /// <summary>Smallest accepted value (numbers only); NaN: no lower bound.</summary>
    public double Min { get; init; } = double.NaN;
    /// <summary>Largest accepted value (numbers only); NaN: no upper bound beyond the type's.</summary>
    public double Max { get; init; } = double.NaN;
    /// <summary><see cref="Min"/> itself is not accepted.</summary>
    public bool MinExclusive { get; init; }
    /// <summary><see cref="Max"/> itself is not accepted.</summary>
    public bool MaxExclusive { get; init; }
    /// <summary>The accepted values of a string option; null: any.</summary>
    public string[]? OneOf { get; init; }
    /// <summary>The option's name without dashes, when the kebab-case of the property name is not the field's (e.g. "n-embd").</summary>
    public string? Name { get; init; }
    /// <summary>Set by the program (e.g. the vocabulary size, from the data): recorded in config.json, not on the command line.</summary>
    public bool Derived { get; init; }
    /// <summary>
    /// Does not change the weights training produces (how often to evaluate, how many samples to draw at the
    /// end, the beam width), so it may differ freely when resuming. Every other option must match the
    /// checkpoint's unless named in --allow-change.
    /// </summary>
    public bool MayChangeOnResume { get; init; }
}

/// <summary>A hyperparameter record that checks relations between its fields (e.g. heads dividing the width).</summary>
public interface ICheckedOptions
{
    /// <summary>Usage errors in the words of the command line (<c>"--n-head 5 must divide --n-embd 128"</c>); empty when consistent.</summary>
    IEnumerable<string> Problems();
}
