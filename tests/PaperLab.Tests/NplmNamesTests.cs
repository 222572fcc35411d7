using PaperLab.Papers.Nplm;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace PaperLab.Tests;

/// <summary>names.txt, found through PAPERLAB_DATA/names/names.txt (or data/names/), read once.</summary>
public sealed class NamesFixture
{
    public NamesData Data { get; } = NamesData.Load();
}

[CollectionDefinition("names")]
public sealed class NamesCollection : ICollectionFixture<NamesFixture> { }

/// <summary>makemore's character MLP: the data as the lecture prepares it, training, and seeded generation.</summary>
[Collection("names")]
public class NplmNamesTests(NamesFixture names)
{
    [Fact]
    public void Split_and_examples_are_makemores()
    {
        var d = names.Data;
        Assert.Equal(NamesData.PublishedCount, d.All.Count);
        Assert.Equal(25_626, d.Train.Count);                            // int(0.8 · 32,033)
        Assert.Equal(3_203, d.Dev.Count);
        Assert.Equal(3_204, d.Test.Count);
        Assert.Equal(d.All.Order(StringComparer.Ordinal), d.Train.Concat(d.Dev).Concat(d.Test).Order(StringComparer.Ordinal));
        using var all = NamesData.Examples(d.All);
        Assert.Equal(228_146, all.Count);                               // the lecture's X.shape: (228146, 3)
        using var emma = NamesData.Examples(new[] { "emma" });          // ... → e, ..e → m, .em → m, emm → a, mma → .
        Assert.Equal(new long[] { 0, 0, 0, 0, 0, 5, 0, 5, 13, 5, 13, 13, 13, 13, 1 }, emma.Contexts.data<long>().ToArray());
        Assert.Equal(new long[] { 5, 13, 13, 1, 0 }, emma.Targets.data<long>().ToArray());
        Assert.Equal("emma.", new string(emma.Targets.data<long>().ToArray().Select(NamesData.Char).ToArray()));
        Assert.Equal(d.Train, NamesData.FromNames(d.All, seed: 42).Train);   // the shuffle is seeded
        Assert.NotEqual(d.Train, NamesData.FromNames(d.All, seed: 43).Train);
    }

    [Fact]
    public void A_short_training_run_learns_and_generation_is_seeded()
    {
        torch.set_num_threads(1);
        torch.manual_seed(0);
        using var model = new Nplm(NplmConfig.Makemore);
        using var train = NamesData.Examples(names.Data.Train);
        using var dev = NamesData.Examples(names.Data.Dev);
        double initial = NplmTraining.MeanNll(model, dev);
        Assert.InRange(initial, Math.Log(27) - 0.02, Math.Log(27) + 0.02);
        // makemore's recipe, shortened: SGD, batches of 32 with replacement, learning rate 0.1
        var options = new NplmTrainOptions { BatchSize = 32, Epochs = null, MaxSteps = 3000, Sampling = NplmSampling.WithReplacement,
                                             Optimizer = NplmOptimizer.Sgd, LearningRate = 0.1, WeightDecay = 0 };
        var result = NplmTraining.Train(model, train, dev, options, seed: 1);
        Assert.Equal(3000, result.Steps);
        double after = result.Best!.Value.ValidNll;
        Assert.True(after < Published.MakemoreBigramLoss, $"dev loss after 3,000 updates: {after:F3} (uniform {Math.Log(27):F3}, makemore's bigram counts {Published.MakemoreBigramLoss})");

        var a = NamesData.Generate(model, 20, new Generator(7));
        var b = NamesData.Generate(model, 20, new Generator(7));
        var c = NamesData.Generate(model, 20, new Generator(8));
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
        Assert.All(a, n => Assert.Matches("^[a-z]*$", n));
        Assert.True(a.Average(n => n.Length) is > 2 and < 12, $"names: {string.Join(", ", a)}");
    }
}
