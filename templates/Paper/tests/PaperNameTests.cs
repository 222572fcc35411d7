using PaperLab.Cli;
using PaperLab.Data;
using PaperLab.Papers.PaperName;
using PaperLab.Training;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace PaperLab.Tests;

/// <summary>
/// The tests of PaperName. Each asserts something that can fail: the parameter count against the formula,
/// gradients against finite differences, the loss at initialisation against ln K, a batch overfitted, a
/// smoke run beating the trivial baseline, resuming bit for bit. Add a test against a reference for every
/// piece you write from scratch.
/// </summary>
public class PaperNameTests
{
    [Fact]
    public void Parameter_count_equals_the_formula()
    {
        torch.manual_seed(0);
        using var model = new PaperName(784, 100, 10);
        Assert.Equal(PaperName.ExpectedParameters(784, 100, 10), ParameterCounts.Total(model));
        Assert.Equal(79_510L, PaperName.ExpectedParameters(784, 100, 10));   // 784·100 + 100 + 100·10 + 10
    }

    [Fact]
    public void Gradients_match_finite_differences()
    {
        torch.manual_seed(1);
        using var model = new PaperName(12, 5, 3);
        model.to(float64);
        using var x = randn(4, 1, 3, 4, dtype: float64);
        using var y = tensor(new long[] { 0, 2, 1, 2 });
        PaperLab.Diagnostics.GradientCheck.MatchesFiniteDifferences(model, () => nn.functional.cross_entropy(model.forward(x), y));
    }

    [Fact]
    public void Loss_at_initialisation_is_about_ln_of_the_number_of_classes()
    {
        torch.manual_seed(2);
        using var model = new PaperName(784, 100, 10);
        using var x = randn(256, 1, 28, 28) * 0.5;
        using var y = randint(0, 10, new long[] { 256 });
        double loss = nn.functional.cross_entropy(model.forward(x), y).item<float>();
        Assert.InRange(loss, Math.Log(10) - 0.3, Math.Log(10) + 0.3);
    }

    [Fact]
    public void Overfits_one_batch()
    {
        torch.manual_seed(3);
        using var model = new PaperName(784, 64, 10);
        using var x = randn(16, 1, 28, 28);
        using var y = randint(0, 10, new long[] { 16 });
        var optimizer = optim.Adam(model.parameters(), lr: 1e-2);
        float loss = float.NaN;
        for (int i = 0; i < 100; i++)
        {
            using var scope = NewDisposeScope();
            optimizer.zero_grad();
            var l = nn.functional.cross_entropy(model.forward(x), y);
            l.backward();
            optimizer.step();
            loss = l.item<float>();
        }
        Assert.True(loss < 0.01, $"loss after 100 steps on one batch: {loss}");
    }

    static PaperNameOptions Smoke => PaperNameOptions.Defaults(new(), new RunOptions { Smoke = true });

    [Fact]
    public void Smoke_run_on_real_data_beats_the_majority_class_by_far()
    {
        using var dir = new TempDir();
        var summary = PaperRun.Run(Experiment.Run, Smoke, PaperRun.Context(Experiment.Paper, dir.File("run")));
        Assert.True(summary.TestAccuracy > summary.MajorityAccuracy + 0.4,
                    $"accuracy {summary.TestAccuracy:P1} against the majority class's {summary.MajorityAccuracy:P1}");
        foreach (var f in new[] { "config.json", "metrics.csv", "checkpoint.bin", "model.pt", "summary.json", "report.html" })
            Assert.True(File.Exists(dir.File("run", f)), $"{f} missing from the run folder");
    }

    [Fact]
    public void Resuming_gives_exactly_the_uninterrupted_run() =>
        PaperRun.ResumesBitIdentically(Experiment.Paper, Experiment.Run, Smoke with { Epochs = 2 }, stopAfter: 40);

    [Theory]
    [InlineData("--epochs: expected an integer in [1, 10000], got '0'", "--epochs", "0")]
    [InlineData("--dataset: expected one of mnist, fashion-mnist, got 'cifar10'", "--dataset", "cifar10")]
    public void Bad_options_exit_2_naming_the_option(string message, params string[] args)
    {
        var (exit, stderr) = PaperMain.Run(Experiment.Main, args);
        Assert.Equal(2, exit);
        Assert.Contains(message, stderr);
    }
}
