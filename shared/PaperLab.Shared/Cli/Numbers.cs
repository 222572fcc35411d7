using System.Globalization;

namespace PaperLab.Cli;

/// <summary>Numbers for people to read (terminal, reports), as one would type them on a command line.</summary>
public static class Numbers
{
    /// <summary>
    /// <paramref name="x"/> rounded to <paramref name="significant"/> significant digits and written as briefly as
    /// possible, invariant culture: 0.0003 and 3e-3/10 (0.00030000000000000003 in full) → "3e-4", 0.002 → "0.002",
    /// 2.5e-4 → "2.5e-4", 12 → "12", 1.5e7 → "1.5e7". Small (below 1e-3) and large (1e6 and above) magnitudes use
    /// an exponent; NaN and infinities as .NET writes them.
    /// </summary>
    /// <param name="x">The value, e.g. a learning rate.</param>
    /// <param name="significant">Significant digits kept, 1 to 17 (10 hides binary rounding noise such as lr/10).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="significant"/> outside 1…17.</exception>
    public static string Format(double x, int significant = 10)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(significant, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(significant, 17);
        if (!double.IsFinite(x) || x == 0) return x.ToString(CultureInfo.InvariantCulture);
        // "E" formatting rounds to the digits asked for (carrying 9.99…→10 into the exponent) and gives the exponent
        string scientific = x.ToString("E" + (significant - 1), CultureInfo.InvariantCulture);   // e.g. "3.000000000E-004"
        int e = scientific.IndexOf('E');
        double rounded = double.Parse(scientific, CultureInfo.InvariantCulture);
        double magnitude = Math.Abs(rounded);
        if (magnitude >= 1e-3 && magnitude < 1e6) return rounded.ToString("R", CultureInfo.InvariantCulture);
        string m = double.Parse(scientific[..e], CultureInfo.InvariantCulture).ToString("R", CultureInfo.InvariantCulture);
        int exponent = int.Parse(scientific[(e + 1)..], CultureInfo.InvariantCulture);
        return $"{m}e{exponent.ToString(CultureInfo.InvariantCulture)}";
    }
}
