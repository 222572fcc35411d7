using System.Globalization;
using System.Reflection;
using System.Text;

namespace PaperLab.Cli;

/// <summary>One command-line option, derived from one property of a hyperparameter record.</summary>
/// <param name="Name">The option without its dashes: <c>batch-size</c>.</param>
/// <param name="Property">The property that declares it.</param>
/// <param name="Rules">Its bounds and role (an empty attribute when the property has none).</param>
/// <param name="Help">Its doc comment's summary (the property name when the documentation file is absent).</param>
public sealed record OptionSpec(string Name, PropertyInfo Property, OptionAttribute Rules, string Help)
{
    /// <summary>The value type with any <c>Nullable&lt;&gt;</c> removed: int, long, double, bool or string.</summary>
    public Type ValueType => Nullable.GetUnderlyingType(Property.PropertyType) ?? Property.PropertyType;

    /// <summary>A bool option is a flag: <c>--flip</c> alone means true; <c>--flip false</c> is also accepted.</summary>
    public bool IsFlag => ValueType == typeof(bool);

    /// <summary>The option's value in <paramref name="record"/>.</summary>
    public object? Get(object record) => Property.GetValue(record);

    /// <summary>A copy of <paramref name="record"/> with this option set to <paramref name="value"/> (records are never changed in place).</summary>
    public object With(object record, object? value) => OptionSet.CopyWith(record, Property, value);

    /// <summary>What the option accepts, in words: "an integer ≥ 1", "a number in (0, 10]", "one of mnist, fashion-mnist".</summary>
    public string Accepts()
    {
        if (Rules.OneOf is { } choices) return "one of " + string.Join(", ", choices);
        if (IsFlag) return "true or false";
        if (ValueType == typeof(string)) return "a value";
        string kind = ValueType == typeof(double) || ValueType == typeof(float) ? "a number" : "an integer";
        bool lo = !double.IsNaN(Rules.Min), hi = !double.IsNaN(Rules.Max);
        string F(double v) => v.ToString("G", CultureInfo.InvariantCulture);
        if (lo && hi) return $"{kind} in {(Rules.MinExclusive ? "(" : "[")}{F(Rules.Min)}, {F(Rules.Max)}{(Rules.MaxExclusive ? ")" : "]")}";
        if (lo) return $"{kind} {(Rules.MinExclusive ? ">" : "≥")} {F(Rules.Min)}";
        if (hi) return $"{kind} {(Rules.MaxExclusive ? "<" : "≤")} {F(Rules.Max)}";
        return kind;
    }

    /// <summary>
    /// Parses and checks one command-line value (invariant culture). Numbers must be finite and inside the
    /// declared bounds and the type's range; strings non-empty and one of <see cref="OptionAttribute.OneOf"/>.
    /// </summary>
    /// <param name="text">The token after the option; null for a flag given alone.</param>
    /// <param name="error">Why it was refused, e.g. <c>--lr: expected a number &gt; 0, got 'abc'</c>.</param>
    public bool TryParse(string? text, out object? value, out string? error)
    {
        value = null;
        error = null;
        string Refuse(string? extra = null) => $"--{Name}: expected {Accepts()}, got '{text}'" + (extra is null ? "" : $" ({extra})");
        if (IsFlag)
        {
            if (text is null) { value = true; return true; }
            if (bool.TryParse(text, out bool b)) { value = b; return true; }
            error = Refuse();
            return false;
        }
        if (text is null || text.Length == 0) { error = $"--{Name}: expected {Accepts()}, got an empty value"; return false; }
        if (ValueType == typeof(string))
        {
            if (Rules.OneOf is { } choices && !choices.Contains(text, StringComparer.Ordinal)) { error = Refuse(); return false; }
            value = text;
            return true;
        }

        double number;
        if (ValueType == typeof(double) || ValueType == typeof(float))
        {
            if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out number)) { error = Refuse(); return false; }
            if (!double.IsFinite(number) || (ValueType == typeof(float) && !float.IsFinite((float)number)))
            { error = Refuse("not a finite number"); return false; }
            value = ValueType == typeof(float) ? (object)(float)number : number;
        }
        else
        {
            if (!long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long whole))
            {
                error = Refuse(text.All(c => char.IsAsciiDigit(c) || c is '-' or '+') ? "too large" : null);
                return false;
            }
            if (ValueType == typeof(int) && whole is > int.MaxValue or < int.MinValue) { error = Refuse("too large"); return false; }
            number = whole;
            value = ValueType == typeof(int) ? (object)(int)whole : whole;
        }
        bool below = !double.IsNaN(Rules.Min) && (Rules.MinExclusive ? number <= Rules.Min : number < Rules.Min);
        bool above = !double.IsNaN(Rules.Max) && (Rules.MaxExclusive ? number >= Rules.Max : number > Rules.Max);
        if (below || above) { value = null; error = Refuse(); return false; }
        return true;
    }

    /// <summary>The value as written on a command line and in config.json's fingerprint: invariant, round-trippable, "none" for null.</summary>
    public static string Format(object? value) => value switch
    {
        null => "none",
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        float f => f.ToString("R", CultureInfo.InvariantCulture),
        bool b => b ? "true" : "false",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };
}

/// <summary>
/// The options of a hyperparameter record <typeparamref name="T"/>: one per public settable property,
/// named in kebab-case, bounded by its
/// <see cref="OptionAttribute"/>, documented by its doc comment. The record is the single declaration;
/// the command line, --help, validation, config.json and the checkpoint fingerprint all derive from it.
/// </summary>
/// <remarks>
/// The reflection here reads the record's declared properties, nothing more: no names are invented and
/// nothing is computed behind the paper's back (the presets and derived values stay in the paper's code).
/// </remarks>
public sealed class OptionSet<T> where T : class
{
    /// <summary>The options in declaration order.</summary>
    public IReadOnlyList<OptionSpec> Options { get; }

    /// <summary>Builds the option list of <typeparamref name="T"/>.</summary>
    /// <exception cref="InvalidOperationException">Two properties map to the same option name, or a type the parser does not know.</exception>
    public OptionSet() => Options = OptionSet.Describe(typeof(T));

    /// <summary>The option called <paramref name="name"/> (without dashes), or null.</summary>
    public OptionSpec? Find(string name) => Options.FirstOrDefault(o => o.Name == name);

    /// <summary>name → formatted value of every option that changes the training trajectory (see <see cref="OptionAttribute.MayChangeOnResume"/>).</summary>
    public SortedDictionary<string, string> Fingerprint(T record) =>
        new(Options.Where(o => !o.Rules.MayChangeOnResume).ToDictionary(o => o.Name, o => OptionSpec.Format(o.Get(record))), StringComparer.Ordinal);
}

/// <summary>Non-generic helpers of <see cref="OptionSet{T}"/>.</summary>
public static class OptionSet
{
    static readonly Type[] Supported = { typeof(int), typeof(long), typeof(double), typeof(float), typeof(bool), typeof(string) };

    /// <summary>The options of <paramref name="type"/> (see <see cref="OptionSet{T}"/>).</summary>
    public static IReadOnlyList<OptionSpec> Describe(Type type)
    {
        var list = new List<OptionSpec>();
        foreach (var p in type.GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (!p.CanWrite || p.GetIndexParameters().Length > 0 || p.Name == "EqualityContract") continue;
            var rules = p.GetCustomAttribute<OptionAttribute>() ?? new OptionAttribute();
            var spec = new OptionSpec(rules.Name ?? Kebab(p.Name), p, rules, DocComments.Summary(p) ?? p.Name);
            if (!Supported.Contains(spec.ValueType))
                throw new InvalidOperationException($"{type.Name}.{p.Name}: options of type {p.PropertyType.Name} are not supported (int, long, double, float, bool, string)");
            if (list.Any(o => o.Name == spec.Name))
                throw new InvalidOperationException($"{type.Name}.{p.Name}: a second option named --{spec.Name}");
            list.Add(spec);
        }
        return list;
    }

    /// <summary>"BatchSize" → "batch-size", "NEmbd" → "n-embd", "DFf" → "d-ff".</summary>
    public static string Kebab(string name)
    {
        var sb = new StringBuilder();
        for (int i = 0; i < name.Length; i++)
        {
            char c = name[i];
            if (char.IsUpper(c) && i > 0) sb.Append('-');
            sb.Append(char.ToLowerInvariant(c));
        }
        return sb.ToString();
    }

    /// <summary>A shallow copy of a record (its compiler-made clone) with one init-only property replaced.</summary>
    internal static object CopyWith(object record, PropertyInfo property, object? value)
    {
        var clone = record.GetType().GetMethod("<Clone>$")
                    ?? throw new InvalidOperationException($"{record.GetType().Name} is not a record class");
        object copy = clone.Invoke(record, null)!;
        property.SetValue(copy, value);
        return copy;
    }
}
