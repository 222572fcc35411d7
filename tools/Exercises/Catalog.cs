// Which exercises each paper has and which tests teach them.
//
// papers/<Paper>/exercises.json lists the paper's exercises in the order a learner should do them, each with
// the tests that cover it: substrings of the tests' display names (a fact's is Class.Method; a theory case's
// adds its arguments, e.g. BackpropEngineTests.Operation_value_and_gradients_match_torch(op: "sigmoid"), so
// one case can be chosen). The hint and the code live in the source, between the markers (Markers.cs).
//
// Kept free of project references: the test project compiles this file too (ExerciseMarkerTests).

using System.Text.Json;
using System.Text.Json.Serialization;

namespace PaperLab.Tools.Exercises;

/// <summary>One exercise: a marked region of a paper's source and the tests that check it.</summary>
/// <param name="Paper">The paper's folder name under papers/, e.g. "LeNet5".</param>
/// <param name="Id">The exercise id, e.g. "lenet5-forward".</param>
/// <param name="Tests">Substrings of the display names of the tests that cover it (at least one).</param>
/// <param name="Region">Where it is and what the reference is.</param>
public sealed record Exercise(string Paper, string Id, IReadOnlyList<string> Tests, MarkedRegion Region)
{
    /// <summary>The hint of the begin marker.</summary>
    public string Hint => Region.Hint;
    /// <summary>file:line of the begin marker.</summary>
    public string Location => $"{Region.File}:{Region.BeginLine}";
}

/// <summary>The exercises.json of one paper.</summary>
public sealed class ExerciseList
{
    /// <summary>The paper's exercises in the order to do them.</summary>
    [JsonPropertyName("exercises")] public List<Entry> Exercises { get; set; } = [];

    /// <summary>One exercise of the list.</summary>
    public sealed class Entry
    {
        /// <summary>The id of its markers.</summary>
        [JsonPropertyName("id")] public string Id { get; set; } = "";
        /// <summary>Substrings of the display names of its tests.</summary>
        [JsonPropertyName("tests")] public List<string> Tests { get; set; } = [];
    }
}

/// <summary>Reads every paper's exercises.json and finds each exercise's markers in the source.</summary>
public static class Catalog
{
    /// <summary>The name of the per-paper list.</summary>
    public const string ListFile = "exercises.json";

    /// <summary>
    /// The exercises of every paper that has an exercises.json, papers in name order, exercises in list order.
    /// </summary>
    /// <param name="root">The repository (or workspace) root.</param>
    /// <param name="files">The source files to search for markers, relative to <paramref name="root"/> with '/' separators
    /// (the repository's tracked files; only papers/** and shared/** .cs files are read).</param>
    /// <exception cref="MarkerException">A list is unreadable or names an exercise that is not marked exactly once; a marker is
    /// malformed or belongs to no list; a list gives an exercise no tests.</exception>
    public static IReadOnlyList<Exercise> Load(string root, IEnumerable<string> files)
    {
        var paths = files.Select(f => f.Replace('\\', '/')).ToList();
        var regions = new Dictionary<string, MarkedRegion>();
        foreach (var file in paths.Where(f => f.EndsWith(".cs") && (f.StartsWith("papers/") || f.StartsWith("shared/"))).Order(StringComparer.Ordinal))
        {
            string full = Path.Combine(root, file);
            if (!File.Exists(full)) continue;
            foreach (var region in Markers.Parse(File.ReadAllText(full), file))
            {
                if (regions.TryGetValue(region.Id, out var other))
                    throw new MarkerException($"{region.File}:{region.BeginLine}: exercise '{region.Id}' is also marked at {other.File}:{other.BeginLine}; ids must be unique");
                regions[region.Id] = region;
            }
        }
        var exercises = new List<Exercise>();
        var listed = new HashSet<string>();
        foreach (var list in paths.Where(f => f.StartsWith("papers/") && f.EndsWith("/" + ListFile) && f.Count(c => c == '/') == 2).Order(StringComparer.Ordinal))
        {
            string paper = list.Split('/')[1];
            ExerciseList parsed;
            try { parsed = JsonSerializer.Deserialize<ExerciseList>(File.ReadAllText(Path.Combine(root, list))) ?? new ExerciseList(); }
            catch (JsonException e) { throw new MarkerException($"{list}: not valid JSON ({e.Message}); expected {{\"exercises\": [{{\"id\": …, \"tests\": [\"Class.Method\", …]}}]}}"); }
            foreach (var entry in parsed.Exercises)
            {
                if (!listed.Add(entry.Id)) throw new MarkerException($"{list}: exercise '{entry.Id}' is listed twice");
                if (!regions.TryGetValue(entry.Id, out var region))
                    throw new MarkerException($"{list}: exercise '{entry.Id}' is not marked in the source: add '// exercise {entry.Id}: <hint>' … '// end exercise' around its code");
                var tests = entry.Tests.Where(t => t.Trim().Length > 0).ToList();
                if (tests.Count == 0)
                    throw new MarkerException($"{list}: exercise '{entry.Id}' lists no tests; give the tests (Class.Method) that fail on its blank and pass on the reference");
                exercises.Add(new Exercise(paper, entry.Id, tests, region));
            }
        }
        var orphan = regions.Values.FirstOrDefault(r => !listed.Contains(r.Id));
        if (orphan is not null)
            throw new MarkerException($"{orphan.File}:{orphan.BeginLine}: exercise '{orphan.Id}' is in no papers/<Paper>/{ListFile}; add it with the tests that cover it");
        return exercises;
    }

    /// <summary>
    /// The dotnet test filter selecting the test methods of <paramref name="exercises"/>: FullyQualifiedName~Class.Method
    /// joined by |. A theory's cases are chosen afterwards by <see cref="Covers"/> (quotes do not survive the filter).
    /// </summary>
    public static string Filter(IEnumerable<Exercise> exercises) =>
        string.Join("|", exercises.SelectMany(e => e.Tests).Select(t => t.Split('(')[0]).Distinct().Select(t => "FullyQualifiedName~" + EscapeFilterValue(t)));

    /// <summary>Whether the test with display name <paramref name="displayName"/> belongs to <paramref name="exercise"/>.</summary>
    public static bool Covers(Exercise exercise, string displayName) => exercise.Tests.Any(t => displayName.Contains(t, StringComparison.Ordinal));

    /// <summary>A value for a vstest --filter condition, with its operator characters escaped.</summary>
    public static string EscapeFilterValue(string value)
    {
        var b = new System.Text.StringBuilder();
        foreach (char c in value)
        {
            if (c is '\\' or '(' or ')' or '&' or '|' or '=' or '!' or '~') b.Append('\\');
            b.Append(c);
        }
        return b.ToString();
    }
}
