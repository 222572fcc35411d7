// The two corpora of the experiment as the network and the n-gram baseline see them: (context, next word)
// examples of the training, validation and test parts, the training stream the Kneser-Ney trigram counts,
// and what config.json records about the files read.

using PaperLab.Data;

namespace PaperLab.Papers.Nplm;

/// <summary>A corpus split into examples for the network and a stream for the n-gram counts.</summary>
public sealed class LanguageData : IDisposable
{
    /// <summary>|V|.</summary>
    public required int VocabSize { get; init; }
    /// <summary>Training examples.</summary>
    public required NgramExamples Train { get; init; }
    /// <summary>Validation examples (model selection, early stopping).</summary>
    public required NgramExamples Valid { get; init; }
    /// <summary>Test examples.</summary>
    public required NgramExamples Test { get; init; }
    /// <summary>The training ids the Kneser-Ney model counts, in reading order (names: each padded on the left with two '.').</summary>
    public required int[] NgramTrainStream { get; init; }
    /// <summary>The word (or character) of an id, for reports.</summary>
    public required Func<int, string> Word { get; init; }
    /// <summary>The files read, for config.json.</summary>
    public required DataRecord Record { get; init; }
    /// <summary>What was read, in words.</summary>
    public required string Description { get; init; }

    /// <summary>
    /// The Brown corpus with the paper's split (§4) and the options' rare-word merge; --train-limit and
    /// --eval-limit keep the first examples of each part (the n-gram model then counts only those training words).
    /// </summary>
    /// <exception cref="DatasetNotFoundException">The corpus is not in <paramref name="dataDir"/> (or, without it, in PAPERLAB_DATA/brown or data/brown).</exception>
    /// <exception cref="DataFormatException">The corpus is incomplete or another version.</exception>
    public static LanguageData Brown(NplmOptions o, string? dataDir)
    {
        string dir = BrownCorpus.Locate(dataDir);
        var brown = BrownData.Load(dir, o.RareFrequency, o.RareCounting == "train" ? RareWordCounting.TrainingOnly : RareWordCounting.WholeCorpus);
        int k = o.Order - 1;
        var train = Limit(brown.Examples(BrownSplit.Train, k), o.TrainLimit);
        var valid = Limit(brown.Examples(BrownSplit.Valid, k), o.EvalLimit);
        var test = Limit(brown.Examples(BrownSplit.Test, k), o.EvalLimit);
        int trainEnd = (int)Math.Min(brown.TrainEnd, train.Count + k);
        var files = BrownCorpus.TextNames(dir).Prepend("cats.txt").Select(f => Path.Combine(dir, f));
        return new LanguageData
        {
            VocabSize = brown.Vocabulary.Count, Train = train, Valid = valid, Test = test,
            NgramTrainStream = brown.Ids[..trainEnd],
            Word = id => brown.Vocabulary[id],
            Record = DataRecord.Of("brown", dir, files, $"{brown.Ids.Length:N0} words and marks; train {brown.Length(BrownSplit.Train):N0} / valid {brown.Length(BrownSplit.Valid):N0} / test {brown.Length(BrownSplit.Test):N0}"),
            Description = $"Brown corpus ({BrownCorpus.Package}) from {dir}: {brown.Ids.Length:N0} words and marks, {brown.DistinctWords:N0} different",
        };
    }

    /// <summary>names.txt split 80/10/10 as makemore does (shuffled with seed 42), each name's characters predicted from the n−1 before them.</summary>
    /// <exception cref="DatasetNotFoundException">names.txt is not found.</exception>
    /// <exception cref="DataFormatException">A line holds something other than a–z.</exception>
    public static LanguageData Names(NplmOptions o, string? dataDir)
    {
        var names = NamesData.Load(dataDir);
        int k = o.Order - 1;
        var train = Limit(NamesData.Examples(names.Train, k), o.TrainLimit);
        // The trigram counts ". . e m m a" for each training name (two '.' of left context, as the network's
        // windows start), then one '.' to end the last: each name's end mark is the next one's padding.
        var stream = new List<int>();
        long examples = 0;
        foreach (var name in names.Train)
        {
            if (examples >= train.Count) break;
            stream.AddRange([0, 0]);
            stream.AddRange(NamesData.Encode(name));
            examples += name.Length + 1;
        }
        stream.Add(0);
        return new LanguageData
        {
            VocabSize = NamesData.VocabSize, Train = train,
            Valid = Limit(NamesData.Examples(names.Dev, k), o.EvalLimit), Test = Limit(NamesData.Examples(names.Test, k), o.EvalLimit),
            NgramTrainStream = stream.ToArray(),
            Word = id => NamesData.Char(id).ToString(),
            Record = DataRecord.Of("names", Path.GetDirectoryName(names.Source)!, new[] { names.Source }, $"{names.All.Count:N0} names: train {names.Train.Count:N0} / dev {names.Dev.Count:N0} / test {names.Test.Count:N0}"),
            Description = $"names.txt from {names.Source}: {names.All.Count:N0} names, train {names.Train.Count:N0} / dev {names.Dev.Count:N0} / test {names.Test.Count:N0}",
        };
    }

    static NgramExamples Limit(NgramExamples all, int? limit)
    {
        if (limit is not int n || n >= all.Count) return all;
        var first = all.Take(n);
        all.Dispose();
        return first;
    }

    /// <summary>Releases the example tensors.</summary>
    public void Dispose()
    {
        Train.Dispose();
        Valid.Dispose();
        Test.Dispose();
    }
}
