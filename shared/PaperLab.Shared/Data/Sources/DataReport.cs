using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using PaperLab.Runs;

namespace PaperLab.Data.Sources;

/// <summary>
/// What a data source held and what loading did to it (<see cref="ImageFolderReport"/>, <see cref="TextDataReport"/>):
/// printed before training, saved in the run folder as data_report.txt and data_report.json (<see cref="WriteTo"/>)
/// and shown at the top of report.html.
/// </summary>
public abstract record DataReport
{
    /// <summary>File names used by <see cref="WriteTo"/>.</summary>
    public const string TextFile = "data_report.txt", JsonFile = "data_report.json";

    /// <summary>The report as plain text (what is printed before training), numbers in the invariant culture whatever the machine's.</summary>
    public string ToText()
    {
        var old = CultureInfo.CurrentCulture;   // per thread
        CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
        try { return Render(); }
        finally { CultureInfo.CurrentCulture = old; }
    }

    /// <summary>The text of <see cref="ToText"/>, rendered under the invariant culture.</summary>
    protected abstract string Render();

    /// <summary>Writes data_report.txt and data_report.json (every public property) into <paramref name="dir"/>, each atomically.</summary>
    /// <param name="dir">An existing folder, usually the run's.</param>
    /// <exception cref="IOException">The folder cannot be written.</exception>
    public virtual void WriteTo(string dir)
    {
        AtomicFile.WriteAllText(Path.Combine(dir, TextFile), ToText());
        AtomicFile.WriteAllText(Path.Combine(dir, JsonFile), JsonSerializer.Serialize(this, GetType(), JsonOptions));
    }

    /// <summary>JSON settings of the data reports: indented, enums as names, infinities allowed.</summary>
    protected static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Converters = { new JsonStringEnumConverter() },
    };
}
