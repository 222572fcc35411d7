using System.Text;
using System.Text.Json;
using PaperLab.Cli;
using PaperLab.Data;
using Xunit;
using Gpt = PaperLab.Papers.Gpt;
using Tf = PaperLab.Papers.Transformer;

namespace PaperLab.Tests;

/// <summary>GPT on text: and lines: files, and the Transformer on pairs: files, built at test time from the real corpora.</summary>
[Collection("shakespeare")]
public class OwnDataTextTests(ShakespeareFixture shakespeare) : IDisposable
{
    readonly TempFolder _tmp = new();
    public void Dispose() => _tmp.Dispose();

    static Gpt.GptOptions GptSmoke(string dataset) =>
        Gpt.GptOptions.Defaults(new() { Dataset = dataset }, new RunOptions { Smoke = true }) with { SampleTokens = 50 };

    /// <summary>The first <paramref name="chars"/> characters of Tiny Shakespeare as a user's file: Windows line endings and a decomposed é.</summary>
    string ShakespeareFile(int chars)
    {
        string text = shakespeare.Data.Vocabulary.Decode(shakespeare.Data.Train.Take(chars).Select(i => (long)i));
        text = text.Replace("\n", "\r\n").Replace("First Citizen", "Fi\u0065\u0301rst Citizen");
        File.WriteAllText(_tmp["play.txt"], text, new UTF8Encoding(false));
        return _tmp["play.txt"];
    }

    [Fact]
    public void Gpt_smoke_on_a_text_file_beats_the_unigram_baseline_and_reports_the_clean_up()
    {
        var o = GptSmoke("text:" + ShakespeareFile(60_000)) with { LineEndings = "lf", Normalize = "nfc" };
        var summary = PaperRun.Run(Gpt.Experiment.Run, o, PaperRun.Context(Gpt.Experiment.Paper, _tmp["run"]));

        Assert.NotNull(summary.UnigramLoss);
        Assert.True(summary.ValLoss < summary.UnigramLoss - 0.3, $"val loss {summary.ValLoss} vs unigram {summary.UnigramLoss}");
        Assert.False(summary.Published.Comparable);
        string report = File.ReadAllText(Path.Combine(_tmp["run"], "data_report.txt"));
        Assert.Contains("\\r\\n", report);                      // what the line-ending clean-up changed, with its count
        Assert.Contains("<h2>Data</h2>", File.ReadAllText(Path.Combine(_tmp["run"], "report.html")));
        Assert.DoesNotContain("\r", File.ReadAllText(Path.Combine(_tmp["run"], "sample.txt")));   // '\r' left the vocabulary
        using var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(_tmp["run"], "config.json")));
        Assert.Equal(FileContent.Sha256(_tmp["play.txt"]), config.RootElement.GetProperty("data").GetProperty("source").GetProperty("content_sha256").GetString());
    }

    [Fact]
    public void Gpt_smoke_on_a_lines_file_of_names_beats_the_unigram_baseline()
    {
        string path = _tmp["names.txt"];
        string source = Path.Combine(Environment.GetEnvironmentVariable("PAPERLAB_DATA") ?? "/nonexistent", "names", "names.txt");
        if (File.Exists(source)) File.WriteAllLines(path, File.ReadLines(source).Take(6000));
        else   // without the makemore names: the words of the play, one per line
            File.WriteAllLines(path, shakespeare.Data.Vocabulary.Decode(shakespeare.Data.Train.Take(200_000).Select(i => (long)i))
                                        .Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).Take(6000));
        var o = GptSmoke("lines:" + path) with { BlockSize = 16 };
        var summary = PaperRun.Run(Gpt.Experiment.Run, o, PaperRun.Context(Gpt.Experiment.Paper, _tmp["run"]));
        Assert.True(summary.ValLoss < summary.UnigramLoss - 0.2, $"val loss {summary.ValLoss} vs unigram {summary.UnigramLoss}");
    }

    [Fact]
    public void Bad_text_sources_exit_1_naming_the_file_and_unusable_kinds_exit_2()
    {
        File.WriteAllText(_tmp["empty.txt"], "");
        File.WriteAllBytes(_tmp["latin1.txt"], [(byte)'c', (byte)'a', (byte)'f', 0xE9, (byte)'\n']);
        foreach (var (file, expect) in new[] { (_tmp["empty.txt"], "empty"), (_tmp["latin1.txt"], "byte"), (_tmp["missing.txt"], "missing.txt") })
        {
            var (exit, stderr) = PaperMain.Run(Gpt.Experiment.Main, ["--dataset", "text:" + file, "--smoke", "--threads", "1", "--out", _tmp["run"]]);
            Assert.True(exit == 1, $"{file}: exit {exit}: {stderr}");
            string line = stderr.Split('\n').Single(l => l.StartsWith("error: "));
            Assert.Contains(file, line);
            Assert.Contains(expect, line);
            Assert.False(Directory.Exists(_tmp["run"]) && Directory.EnumerateFileSystemEntries(_tmp["run"]).Any(), $"{file}: left a run folder");
        }
        var (exit2, err2) = PaperMain.Run(Gpt.Experiment.Main, ["--dataset", "folder:" + _tmp.Path, "--smoke"]);
        Assert.Equal(2, exit2);
        Assert.Contains("GPT cannot train on --dataset folder:", err2);
        var (exit3, err3) = PaperMain.Run(Gpt.Experiment.Main, ["--normalize", "nfc", "--smoke"]);
        Assert.Equal(2, exit3);
        Assert.Contains("apply to text: and lines: datasets", err3);
    }

    /// <summary>Multi30k's validation pairs as a user's tab-separated file.</summary>
    string PairsFile(int n, bool ragged = false)
    {
        string dir = DatasetLocator.Locate(DatasetCatalog.Multi30k, null);
        var pairs = Tf.TranslationPairs.Load(dir, "train", "de", "en", n);
        var lines = pairs.Select(p => $"{p.Source}\t{p.Target}").ToList();
        if (ragged) lines[7] = lines[7].Replace('\t', ' ');
        File.WriteAllLines(_tmp["de-en.tsv"], lines);
        return _tmp["de-en.tsv"];
    }

    [Fact]
    public void Transformer_smoke_on_a_pairs_file_beats_the_unigram_baseline()
    {
        var o = Tf.TransformerOptions.Defaults(new() { Dataset = "pairs:" + PairsFile(2200) }, new RunOptions { Smoke = true });
        var summary = PaperRun.Run(Tf.Experiment.Run, o, PaperRun.Context(Tf.Experiment.Paper, _tmp["run"]));
        Assert.NotNull(summary.UnigramNll);
        Assert.True(summary.TestNll < summary.UnigramNll - 0.5, $"validation NLL {summary.TestNll} vs unigram {summary.UnigramNll}");
        Assert.Equal("valid", summary.EvalSplit);
        Assert.True(File.Exists(Path.Combine(_tmp["run"], "data_report.txt")));
        Assert.Contains("<h2>Data</h2>", File.ReadAllText(Path.Combine(_tmp["run"], "report.html")));
    }

    [Fact]
    public void Ragged_pairs_exit_1_naming_file_and_line()
    {
        string file = PairsFile(50, ragged: true);
        var (exit, stderr) = PaperMain.Run(Tf.Experiment.Main, ["--dataset", "pairs:" + file, "--smoke", "--threads", "1", "--out", _tmp["run"]]);
        Assert.True(exit == 1, $"exit {exit}: {stderr}");
        Assert.Contains($"{file}: line 8: no tab", stderr);
        File.WriteAllLines(_tmp["a.de"], ["eins", "zwei"]);
        File.WriteAllLines(_tmp["a.en"], ["one"]);
        (exit, stderr) = PaperMain.Run(Tf.Experiment.Main, ["--dataset", $"pairs:{_tmp["a.de"]},{_tmp["a.en"]}", "--smoke", "--threads", "1", "--out", _tmp["run"]]);
        Assert.Equal(1, exit);
        Assert.Contains("has 2 lines but", stderr);
        Assert.False(Directory.Exists(_tmp["run"]) && Directory.EnumerateFileSystemEntries(_tmp["run"]).Any());
    }
}
