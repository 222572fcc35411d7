using TorchSharp;

namespace PaperLab.Training;

/// <summary>Parameter counts of a module, per child and in total: what every paper prints beside its formula.</summary>
public static class ParameterCounts
{
    /// <summary>Trainable and frozen parameters of <paramref name="module"/>, all of them.</summary>
    public static long Total(torch.nn.Module module) => module.parameters().Sum(p => p.numel());

    /// <summary>(child name, parameters) for each direct child holding any, in registration order (e.g. conv1 156, conv2 2,416, …).</summary>
    public static IReadOnlyList<(string Name, long Parameters)> ByChild(torch.nn.Module module) =>
        module.named_children().Select(c => (c.name, c.module.parameters().Sum(p => p.numel()))).Where(c => c.Item2 > 0).ToList();

    /// <summary>One line per child and a total line, e.g. "  conv1        156", "  total     61,706 (formula: 61,706)".</summary>
    public static IEnumerable<string> Lines(torch.nn.Module module, long? formula = null)
    {
        var parts = ByChild(module);
        int width = Math.Max(5, parts.Count == 0 ? 5 : parts.Max(p => p.Name.Length));
        foreach (var (name, count) in parts) yield return $"  {name.PadRight(width)} {count,12:N0} parameters";
        yield return $"  {"total".PadRight(width)} {Total(module),12:N0} parameters" + (formula is long f ? $" (formula: {f:N0})" : "");
    }
}
