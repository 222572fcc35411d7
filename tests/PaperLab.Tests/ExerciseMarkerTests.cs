using PaperLab.Tools.Exercises;
using Xunit;

namespace PaperLab.Tests;

/// <summary>The exercise markers (tools/Exercises/Markers.cs) and the repository's exercise lists.</summary>
public class ExerciseMarkerTests
{
    const string Source = """
        public static class Demo
        {
            public static int Twice(int x)
            {
                if (x < 0) throw new ArgumentException("x");
                // exercise demo-twice: Eq. 1 — return 2·x, "doubled"
                int y = x + x;
                return y;
                // end exercise
            }

            public static int Same(int x) => x;

            public static Func<int, int> Adder(int k)
            {
                return v =>
                {
                    // exercise demo-adder: v + k
                    return v + k;
                    // end exercise demo-adder
                };
            }
        }
        """;

    [Fact]
    public void Parse_finds_each_region_with_its_hint_lines_and_reference()
    {
        var regions = Markers.Parse(Source, "Demo.cs");
        Assert.Equal(["demo-twice", "demo-adder"], regions.Select(r => r.Id));
        var twice = regions[0];
        Assert.Equal("Eq. 1 — return 2·x, \"doubled\"", twice.Hint);
        Assert.Equal((6, 9), (twice.BeginLine, twice.EndLine));
        Assert.Equal("        int y = x + x;\n        return y;", twice.Reference);
        Assert.Equal("int y = x + x;\nreturn y;", Markers.Dedent(twice.Reference));
        Assert.Equal("v + k", regions[1].Hint);
    }

    [Fact]
    public void Blank_replaces_only_the_chosen_region_by_a_throw_carrying_id_and_hint()
    {
        string blank = Markers.Apply(Source, "Demo.cs", new HashSet<string> { "demo-twice" }, Markers.Rewrite.Blank);
        var lines = blank.Split('\n');
        Assert.Equal(Source.Split('\n').Length - 1, lines.Length);   // two reference lines became one throw
        Assert.Equal("        // exercise demo-twice: Eq. 1 — return 2·x, \"doubled\"", lines[5]);
        Assert.Equal("        throw new NotImplementedException(\"demo-twice: Eq. 1 — return 2·x, \\\"doubled\\\"\");", lines[6]);
        Assert.Equal("        // end exercise", lines[7]);
        Assert.DoesNotContain("int y = x + x;", blank);
        Assert.Contains("if (x < 0) throw new ArgumentException(\"x\");", blank);   // code before the region stays
        Assert.Contains("return v + k;", blank);                                    // the other region stays
        // the blank still parses as the same regions, so a workspace can be listed and blanked again
        Assert.Equal(["demo-twice", "demo-adder"], Markers.Parse(blank, "Demo.cs").Select(r => r.Id));
        Assert.Equal(Source, Markers.Apply(Source, "Demo.cs", new HashSet<string>(), Markers.Rewrite.Blank));
    }

    [Fact]
    public void Guard_keeps_the_reference_behind_a_throw_selected_by_the_environment()
    {
        string guarded = Markers.Apply(Source, "Demo.cs", new HashSet<string> { "demo-adder" }, Markers.Rewrite.Guard);
        var lines = guarded.Split('\n');
        int at = Array.FindIndex(lines, l => l.Contains("// exercise demo-adder"));
        Assert.Equal("            if (global::System.Environment.GetEnvironmentVariable(\"PAPERLAB_EXERCISE_BLANK\") == \"demo-adder\") "
                     + "throw new global::System.NotImplementedException(\"demo-adder: v + k\");", lines[at + 1]);
        Assert.Equal("            return v + k;", lines[at + 2]);
        Assert.Equal(Source.Split('\n').Length + 1, lines.Length);
    }

    [Fact]
    public void Windows_line_endings_are_kept()
    {
        string crlf = Source.Replace("\n", "\r\n");
        string blank = Markers.Apply(crlf, "Demo.cs", new HashSet<string> { "demo-twice" }, Markers.Rewrite.Blank);
        Assert.DoesNotContain("\n", blank.Replace("\r\n", ""));
        Assert.Contains("throw new NotImplementedException(\"demo-twice:", blank);
    }

    [Theory]
    [InlineData("// exercise a-b: hint\nint x = 1;\n", "Demo.cs:1: exercise 'a-b' has no '// end exercise' line")]
    [InlineData("{\nint x = 1;\n// end exercise\n}", "Demo.cs:3: '// end exercise' without")]
    [InlineData("{\n// exercise a: h\n// exercise b: h\nint x;\n// end exercise\n}", "Demo.cs:3: exercise 'b' begins inside exercise 'a' (line 2)")]
    [InlineData("{\n// exercise Bad_Id: h\nint x;\n// end exercise\n}", "exercise id 'Bad_Id' must be lower-case words joined by hyphens")]
    [InlineData("{\n// exercise a:\nint x;\n// end exercise\n}", "Demo.cs:2: exercise 'a' has no hint")]
    [InlineData("{\n// exercise a: h\n// only a comment\n// end exercise\n}", "Demo.cs:2: exercise 'a' marks no code")]
    [InlineData("{\n// exercise a: h\nint x = 1;\n// end exercise\nConsole.WriteLine(x);\n}", "Demo.cs:4: exercise 'a' must end its block")]
    [InlineData("{\n// exercise a: h\nint x;\n// end exercise b\n}", "'// end exercise b' closes 'a' (line 2)")]
    [InlineData("{\n// exercise a: h\nint x;\n// end exercise\n}\n{\n// exercise a: h\nint y;\n// end exercise\n}", "Demo.cs:7: exercise 'a' is marked twice (also line 2)")]
    public void Malformed_markers_are_named_with_file_and_line(string text, string expected)
    {
        var e = Assert.Throws<MarkerException>(() => Markers.Parse(text, "Demo.cs"));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void Filters_escape_the_test_filter_operators_and_cover_by_substring()
    {
        var region = Markers.Parse(Source, "Demo.cs")[0];
        var exercise = new Exercise("Demo", "demo-twice", ["Tests.Op(op: \"mul\"", "Tests.Other"], region);
        Assert.Equal("FullyQualifiedName~Tests.Op|FullyQualifiedName~Tests.Other", Catalog.Filter([exercise]));
        Assert.Equal("a\\(b\\)\\|c\\&d\\=e\\!f\\~g", Catalog.EscapeFilterValue("a(b)|c&d=e!f~g"));
        Assert.True(Catalog.Covers(exercise, "PaperLab.Tests.Op(op: \"mul\", type: \"float64\")"));
        Assert.False(Catalog.Covers(exercise, "PaperLab.Tests.Op(op: \"mul_broadcast\", type: \"float64\")"));
    }

    [Fact]
    public void Every_listed_exercise_is_marked_once_and_every_marker_is_listed_with_tests()
    {
        string root = Repository();
        var files = new[] { "papers", "shared" }
            .SelectMany(top => Directory.EnumerateFiles(Path.Combine(root, top), "*", SearchOption.AllDirectories))
            .Select(f => Path.GetRelativePath(root, f).Replace('\\', '/'))
            .Where(f => !f.Split('/').Any(p => p is "bin" or "obj"));
        var exercises = Catalog.Load(root, files);
        Assert.Contains(exercises, e => e.Id == "lenet5-forward" && e.Region.File == "papers/LeNet5/LeNet5.cs");
        Assert.All(exercises, e => Assert.NotEmpty(e.Tests));
        Assert.Equal(exercises.Count, exercises.Select(e => e.Id).Distinct().Count());
        // the test names point at real tests of this assembly (a renamed test would leave an exercise untaught)
        var names = typeof(ExerciseMarkerTests).Assembly.GetTypes()
            .SelectMany(t => t.GetMethods().Select(m => $"{t.Name}.{m.Name}")).ToHashSet();
        foreach (var e in exercises)
            foreach (var test in e.Tests)
                Assert.True(names.Contains(test.Split('(')[0]), $"{e.Id}: no test method {test.Split('(')[0]}");
    }

    static string Repository()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "PaperLab.sln"))) return d.FullName;
        throw new InvalidOperationException("no PaperLab.sln above the test assembly");
    }
}
