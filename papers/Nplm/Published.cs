// Table 1 of Bengio et al. 2003 ("Comparative results on the Brown corpus"), row by row as printed.
// Columns: n (order), c (word classes of a class-based n-gram), h (hidden units), m (word features),
// direct (connections from the features to the output), mix (output probabilities averaged 0.5/0.5 with the
// interpolated trigram), then perplexity on the training, validation and test sets (blank where not given).
// "All the back-off models of the table are modified Kneser-Ney n-grams" (§4.2), computed with SRILM.
// The paper's own summary: the best n-gram is the class-based model with 500 classes (test 312); the network
// with the lowest validation perplexity (MLP10, test 252) is 24% better; the deleted-interpolation trigram
// (test 336) is 33% worse.

namespace PaperLab.Papers.Nplm;

/// <summary>One row of Table 1 (Bengio et al. 2003).</summary>
/// <param name="Model">The row's name as printed.</param>
/// <param name="N">Order n.</param>
/// <param name="Classes">c: word classes (class-based back-off rows).</param>
/// <param name="Hidden">h: hidden units (MLP rows).</param>
/// <param name="Features">m: word features (MLP rows).</param>
/// <param name="Direct">Direct connections (MLP rows).</param>
/// <param name="Mix">Mixed 0.5/0.5 with the interpolated trigram (MLP rows).</param>
/// <param name="Train">Training perplexity, where printed.</param>
/// <param name="Valid">Validation perplexity.</param>
/// <param name="Test">Test perplexity.</param>
public sealed record Table1Row(string Model, int N, int? Classes, int? Hidden, int? Features, bool? Direct, bool? Mix,
                               int? Train, int Valid, int Test);

/// <summary>The published numbers this paper's runs are compared with.</summary>
public static class PublishedNumbers
{
    /// <summary>Table 1 of Bengio et al. 2003, every row.</summary>
    public static IReadOnlyList<Table1Row> Table1 { get; } =
    [
        new("MLP1", 5, null, 50, 60, true, false, 182, 284, 268),
        new("MLP2", 5, null, 50, 60, true, true, null, 275, 257),
        new("MLP3", 5, null, 0, 60, true, false, 201, 327, 310),
        new("MLP4", 5, null, 0, 60, true, true, null, 286, 272),
        new("MLP5", 5, null, 50, 30, true, false, 209, 296, 279),
        new("MLP6", 5, null, 50, 30, true, true, null, 273, 259),
        new("MLP7", 3, null, 50, 30, true, false, 210, 309, 293),
        new("MLP8", 3, null, 50, 30, true, true, null, 284, 270),
        new("MLP9", 5, null, 100, 30, false, false, 175, 280, 276),
        new("MLP10", 5, null, 100, 30, false, true, null, 265, 252),
        new("Del. Int.", 3, null, null, null, null, null, 31, 352, 336),
        new("Kneser-Ney back-off", 3, null, null, null, null, null, null, 334, 323),
        new("Kneser-Ney back-off", 4, null, null, null, null, null, null, 332, 321),
        new("Kneser-Ney back-off", 5, null, null, null, null, null, null, 332, 321),
        new("class-based back-off", 3, 150, null, null, null, null, null, 348, 334),
        new("class-based back-off", 3, 200, null, null, null, null, null, 354, 340),
        new("class-based back-off", 3, 500, null, null, null, null, null, 326, 312),
        new("class-based back-off", 3, 1000, null, null, null, null, null, 335, 319),
        new("class-based back-off", 3, 2000, null, null, null, null, null, 343, 326),
        new("class-based back-off", 4, 500, null, null, null, null, null, 327, 312),
        new("class-based back-off", 5, 500, null, null, null, null, null, 327, 312),
    ];

    /// <summary>The row named <paramref name="model"/> (of order <paramref name="n"/> when several share the name).</summary>
    /// <exception cref="InvalidOperationException">No such row.</exception>
    public static Table1Row Row(string model, int? n = null, int? classes = null) =>
        Table1.Single(r => r.Model == model && (n is null || r.N == n) && (classes is null || r.Classes == classes));

    /// <summary>The best network: MLP10 (MLP9 mixed with the interpolated trigram), test perplexity 252.</summary>
    public static Table1Row BestMlp => Row("MLP10");
    /// <summary>The best network without the mixture, by validation perplexity: MLP9, test 276.</summary>
    public static Table1Row BestUnmixedMlp => Row("MLP9");
    /// <summary>The best n-gram: class-based back-off, trigram, 500 classes, test 312.</summary>
    public static Table1Row BestNgram => Row("class-based back-off", 3, 500);
    /// <summary>The modified Kneser-Ney back-off trigram, test 323: the baseline KneserNey(order 3) re-implements.</summary>
    public static Table1Row KneserNeyTrigram => Row("Kneser-Ney back-off", 3);

    /// <summary>makemore (lecture part 2): the character MLP's dev loss on names.txt, nats per character.</summary>
    public const double MakemoreMlpDevLoss = 2.17;
    /// <summary>makemore: the bigram counts model's loss on names.txt, nats per character.</summary>
    public const double MakemoreBigramLoss = 2.454;
}
