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
    public void Generation_is_seeded_and_spells_names_in_a_to_z()
    {
        torch.manual_seed(0);
        using var model = new Nplm(NplmConfig.Makemore);   // untrained: every character about equally likely
        var a = NamesData.Generate(model, 20, new Generator(7));
        Assert.Equal(a, NamesData.Generate(model, 20, new Generator(7)));
        Assert.NotEqual(a, NamesData.Generate(model, 20, new Generator(8)));
        Assert.All(a, n => Assert.Matches("^[a-z]*$", n));
        Assert.All(NamesData.Generate(model, 20, new Generator(9), maxLength: 4), n => Assert.True(n.Length <= 4, n));
    }
}
