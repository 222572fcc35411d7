// The exercise markers in a paper's source, and the three ways of rewriting a marked region.
//
// A marked region is a run of statements that ends its block (a method body, a statement lambda), between
// one comment line at each end:
//
//     // exercise gpt-attention: Eq. 1 of Vaswani et al. 2017 — softmax(q·kᵀ/√hs) with the causal mask, then ·v
//     using var scope = NewDisposeScope();
//     …
//     return att.matmul(v).MoveToOuterDisposeScope();
//     // end exercise
//     }
//
// The id is lower-case words joined by hyphens, unique in the repository; the text after the colon is the
// hint the learner sees. Because the region ends its block, nothing after it can use what it declares, so
// replacing it by a throw always compiles: that is the blank the learner fills in.
//
// Kept free of project references: the test project compiles this file too (ExerciseMarkerTests).

using System.Text;
using System.Text.RegularExpressions;

namespace PaperLab.Tools.Exercises;

/// <summary>One marked region of a source file.</summary>
/// <param name="Id">The exercise id, e.g. "gpt-attention".</param>
/// <param name="Hint">The text after the colon of the begin marker.</param>
/// <param name="File">The file, as given to <see cref="Markers.Parse"/> (a path relative to the repository).</param>
/// <param name="BeginLine">1-based line of the begin marker.</param>
/// <param name="EndLine">1-based line of the end marker.</param>
/// <param name="Indent">The indentation of the begin marker, used for the lines put in its place.</param>
/// <param name="Reference">The reference lines between the markers, as written (newline-joined, no final newline).</param>
public sealed record MarkedRegion(string Id, string Hint, string File, int BeginLine, int EndLine, string Indent, string Reference);

/// <summary>A marker written wrongly; the message names the file and line and says what to change.</summary>
public sealed class MarkerException(string message) : Exception(message);

/// <summary>Finds marked regions in C# source and rewrites them.</summary>
public static partial class Markers
{
    /// <summary>The environment variable that selects which guarded region throws (see <see cref="Rewrite.Guard"/>).</summary>
    public const string BlankVariable = "PAPERLAB_EXERCISE_BLANK";

    /// <summary>How <see cref="Apply"/> rewrites a region.</summary>
    public enum Rewrite
    {
        /// <summary>The learner's blank: the reference lines replaced by one throw (markers kept).</summary>
        Blank,
        /// <summary>
        /// For checking the tests: the reference kept, preceded by a throw taken only when the environment
        /// variable <see cref="BlankVariable"/> names the exercise. At run time this is the blank when selected
        /// and the reference otherwise, so one build serves every exercise.
        /// </summary>
        Guard,
    }

    [GeneratedRegex(@"^(?<indent>[ \t]*)//[ \t]*exercise[ \t]+(?<id>[^\s:]+)[ \t]*:[ \t]*(?<hint>.*?)[ \t]*$")]
    private static partial Regex BeginPattern();

    [GeneratedRegex(@"^[ \t]*//[ \t]*end[ \t]+exercise\b(?<rest>.*)$")]
    private static partial Regex EndPattern();

    [GeneratedRegex(@"^[a-z0-9]+(-[a-z0-9]+)*$")]
    private static partial Regex IdPattern();

    /// <summary>Whether <paramref name="id"/> is a valid exercise id (lower-case words joined by hyphens).</summary>
    public static bool IsValidId(string id) => IdPattern().IsMatch(id);

    /// <summary>The marked regions of one file, in order.</summary>
    /// <param name="text">The file's content.</param>
    /// <param name="file">The name used in the regions and in error messages.</param>
    /// <exception cref="MarkerException">A marker is malformed, unpaired or nested, a region is empty, or a region does not end its block.</exception>
    public static IReadOnlyList<MarkedRegion> Parse(string text, string file)
    {
        var lines = SplitLines(text);
        var regions = new List<MarkedRegion>();
        (int Line, string Id, string Hint, string Indent)? open = null;
        for (int i = 0; i < lines.Length; i++)
        {
            string line = lines[i];
            var end = EndPattern().Match(line);
            if (end.Success)
            {
                if (open is null) throw new MarkerException($"{file}:{i + 1}: '// end exercise' without a '// exercise <id>: <hint>' line before it");
                string rest = end.Groups["rest"].Value.Trim();
                if (rest.Length > 0 && rest != open.Value.Id)
                    throw new MarkerException($"{file}:{i + 1}: '// end exercise {rest}' closes '{open.Value.Id}' (line {open.Value.Line}); write '// end exercise' or '// end exercise {open.Value.Id}'");
                var body = lines[(open.Value.Line)..i];
                if (body.All(l => l.Trim().Length == 0 || l.Trim().StartsWith("//")))
                    throw new MarkerException($"{file}:{open.Value.Line}: exercise '{open.Value.Id}' marks no code");
                int next = i + 1;
                while (next < lines.Length && lines[next].Trim().Length == 0) next++;
                if (next == lines.Length || !lines[next].TrimStart().StartsWith('}'))
                    throw new MarkerException($"{file}:{i + 1}: exercise '{open.Value.Id}' must end its block: put '// end exercise' right before the closing brace of the method or lambda, so that the blank (a throw) always compiles");
                regions.Add(new MarkedRegion(open.Value.Id, open.Value.Hint, file, open.Value.Line, i + 1, open.Value.Indent, string.Join("\n", body)));
                open = null;
                continue;
            }
            var begin = BeginPattern().Match(line);
            if (!begin.Success) continue;
            string id = begin.Groups["id"].Value, hint = begin.Groups["hint"].Value;
            if (open is not null)
                throw new MarkerException($"{file}:{i + 1}: exercise '{id}' begins inside exercise '{open.Value.Id}' (line {open.Value.Line}); regions cannot nest");
            if (!IsValidId(id))
                throw new MarkerException($"{file}:{i + 1}: exercise id '{id}' must be lower-case words joined by hyphens, e.g. 'gpt-attention'");
            if (hint.Length == 0)
                throw new MarkerException($"{file}:{i + 1}: exercise '{id}' has no hint: write '// exercise {id}: <the paper's equation and what to compute>'");
            open = (i + 1, id, hint, begin.Groups["indent"].Value);
        }
        if (open is not null)
            throw new MarkerException($"{file}:{open.Value.Line}: exercise '{open.Value.Id}' has no '// end exercise' line");
        var duplicate = regions.GroupBy(r => r.Id).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
            throw new MarkerException($"{file}:{duplicate.Skip(1).First().BeginLine}: exercise '{duplicate.Key}' is marked twice (also line {duplicate.First().BeginLine})");
        return regions;
    }

    /// <summary>
    /// Rewrites the regions of <paramref name="text"/> whose id is in <paramref name="ids"/>; others stay as they are.
    /// Line endings and every line outside the rewritten regions are kept.
    /// </summary>
    /// <param name="text">The file's content.</param>
    /// <param name="file">Its name, for error messages.</param>
    /// <param name="ids">The exercises to rewrite.</param>
    /// <param name="how">Blank or guard.</param>
    /// <exception cref="MarkerException">The markers are malformed (see <see cref="Parse"/>).</exception>
    public static string Apply(string text, string file, IReadOnlySet<string> ids, Rewrite how)
    {
        var regions = Parse(text, file).Where(r => ids.Contains(r.Id)).ToList();
        if (regions.Count == 0) return text;
        string newline = text.Contains("\r\n") ? "\r\n" : "\n";
        var lines = SplitLines(text);
        var output = new StringBuilder(text.Length);
        int from = 0;   // 0-based index of the next line to copy
        foreach (var r in regions)
        {
            for (; from < r.BeginLine; from++) output.Append(lines[from]).Append(newline);   // up to and including the begin marker
            string indent = CodeIndent(lines, r) ?? r.Indent;
            string thrown = $"throw new NotImplementedException({Literal($"{r.Id}: {r.Hint}")});";
            if (how == Rewrite.Blank)
                output.Append(indent).Append(thrown).Append(newline);
            else
            {
                output.Append(indent).Append($"if (global::System.Environment.GetEnvironmentVariable({Literal(BlankVariable)}) == {Literal(r.Id)}) ")
                      .Append(thrown.Replace("new NotImplementedException", "new global::System.NotImplementedException")).Append(newline);
                for (int i = r.BeginLine; i < r.EndLine - 1; i++) output.Append(lines[i]).Append(newline);
            }
            from = r.EndLine - 1;   // the end marker line comes next
        }
        for (; from < lines.Length; from++)
        {
            output.Append(lines[from]);
            if (from < lines.Length - 1) output.Append(newline);
        }
        return output.ToString();
    }

    /// <summary>The reference code of a region with its common indentation removed, for printing.</summary>
    public static string Dedent(string reference)
    {
        var lines = reference.Split('\n');
        int common = lines.Where(l => l.Trim().Length > 0).Select(l => l.Length - l.TrimStart().Length).DefaultIfEmpty(0).Min();
        return string.Join("\n", lines.Select(l => l.Length >= common ? l[common..] : l.TrimStart()));
    }

    /// <summary>A C# string literal holding <paramref name="s"/>.</summary>
    public static string Literal(string s)
    {
        var b = new StringBuilder("\"");
        foreach (char c in s)
            b.Append(c switch
            {
                '"' => "\\\"",
                '\\' => "\\\\",
                '\n' => "\\n",
                '\r' => "\\r",
                '\t' => "\\t",
                _ when char.IsControl(c) => $"\\u{(int)c:x4}",
                _ => c.ToString(),
            });
        return b.Append('"').ToString();
    }

    private static string? CodeIndent(string[] lines, MarkedRegion r)
    {
        for (int i = r.BeginLine; i < r.EndLine - 1; i++)
            if (lines[i].Trim().Length > 0) return lines[i][..(lines[i].Length - lines[i].TrimStart().Length)];
        return null;
    }

    private static string[] SplitLines(string text) => text.Replace("\r\n", "\n").Split('\n');
}
