using System.Collections.Concurrent;
using System.Reflection;
using System.Xml.Linq;

namespace PaperLab.Cli;

/// <summary>
/// Reads the <c>&lt;summary&gt;</c> of a property from the XML documentation file the compiler writes beside
/// each assembly (GenerateDocumentationFile is on for every project), so a hyperparameter's doc comment is
/// also its --help text: written once.
/// </summary>
public static class DocComments
{
    static readonly ConcurrentDictionary<Assembly, IReadOnlyDictionary<string, string>> Files = new();

    /// <summary>The property's summary as one line of plain text, or null when the documentation file is not there.</summary>
    public static string? Summary(PropertyInfo property)
    {
        var docs = Files.GetOrAdd(property.DeclaringType!.Assembly, Load);
        string key = $"P:{property.DeclaringType!.FullName!.Replace('+', '.')}.{property.Name}";
        return docs.TryGetValue(key, out var text) ? text : null;
    }

    static IReadOnlyDictionary<string, string> Load(Assembly assembly)
    {
        var result = new Dictionary<string, string>();
        if (string.IsNullOrEmpty(assembly.Location)) return result;
        string path = Path.ChangeExtension(assembly.Location, ".xml");
        if (!File.Exists(path)) return result;
        try
        {
            foreach (var member in XDocument.Load(path).Descendants("member"))
            {
                string? name = member.Attribute("name")?.Value;
                var summary = member.Element("summary");
                if (name == null || summary == null) continue;
                result[name] = Flatten(summary);
            }
        }
        catch (System.Xml.XmlException) { }
        catch (IOException) { }
        return result;
    }

    /// <summary>Inner text with &lt;see cref&gt;/&lt;c&gt;/&lt;paramref&gt; rendered as their names and whitespace collapsed.</summary>
    static string Flatten(XElement element)
    {
        var parts = element.Nodes().Select(n => n switch
        {
            XText t => t.Value,
            XElement e when e.Attribute("cref") is { } cref => cref.Value[(cref.Value.LastIndexOf('.') + 1)..],
            XElement e when e.Attribute("name") is { } name => name.Value,
            XElement e => Flatten(e),
            _ => "",
        });
        return string.Join(' ', string.Concat(parts).Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));
    }
}
