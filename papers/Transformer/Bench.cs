// Training throughput behind `--bench N`: target tokens per second of the experiment's training step at the
// configured model size (default: N 3, d_model 256, h 8, d_ff 512, dropout 0.1, post-LN, 7,481,088
// parameters) on a fixed synthetic batch shape, after an untimed warm-up, printed as one JSON line; no run
// folder. Why synthetic: the real batches are length-bucketed Multi30k pairs of varying shape (about 200
// pairs of about 14 tokens under the 3,000-token bound), a pipeline the PyTorch twin would have to copy;
// throughput depends on the shape, not on the words. So both sides train on 200 pairs of random word ids,
// source 14 tokens and target 15 (BOS … EOS: 14 predicted), no padding, with the default run's
// vocabularies (7,881 German, 5,898 English words). The step is the loop's: Eq. 3's learning rate set for
// the step, torch's RNG seeded from (seed, step), zero_grad, forward, label-smoothed cross-entropy, the loss
// read back, backward, Adam (β 0.9/0.98, ε 1e−9). Its PyTorch twin is bench/pytorch_transformer_bench.py;
// bench/compare.sh alternates the two.

using PaperLab.Data;
using PaperLab.Runs;
using PaperLab.Training;
using static TorchSharp.torch;

namespace PaperLab.Papers.Transformer;

/// <summary>Training target tokens per second of the Transformer recipe on a fixed synthetic batch.</summary>
public static class Bench
{
    /// <summary>Vocabulary sizes of the default run (Multi30k train, lower-cased words, minimum frequency 2, 4 special tokens).</summary>
    public const int SourceVocab = 7881, TargetVocab = 5898;

    /// <summary>The synthetic batch: pairs, source length (… EOS), target length (BOS … EOS).</summary>
    public const int Pairs = 200, SourceLength = 14, TargetLength = 15;

    /// <summary>
    /// Times <paramref name="steps"/> training steps (after <paramref name="warmup"/> untimed ones) of the model
    /// and recipe in <paramref name="o"/> and prints one JSON line: tokens_per_second (predicted target tokens,
    /// wall clock), tokens_per_cpu_second (process CPU time, which other jobs disturb less), threads, shape,
    /// parameters, date (UTC), machine.
    /// </summary>
    /// <returns>The printed measurements.</returns>
    public static Dictionary<string, object> Run(TransformerOptions o, int threads, int seed, int steps, int warmup = 5)
    {
        set_num_threads(threads);
        manual_seed(seed);
        var model = new Transformer(o.Model(SourceVocab, TargetVocab));
        var optimizer = optim.Adam(model.parameters(), lr: 1.0, beta1: 0.9, beta2: 0.98, eps: 1e-9);
        var lr = Schedules.Noam(o.DModel, o.Warmup, o.LrFactor);
        var data = new Generator((ulong)seed + 1);
        // ids 4 … V−1: no <pad>, <unk>, <s>, </s> inside a sentence; BOS first and EOS last as the real batches
        using var src = cat(new[] { randint(4, SourceVocab, new long[] { Pairs, SourceLength - 1 }, generator: data), full(new long[] { Pairs, 1 }, Vocabulary.EosId, dtype: int64) }, 1);
        using var tgt = cat(new[] { full(new long[] { Pairs, 1 }, Vocabulary.BosId, dtype: int64), randint(4, TargetVocab, new long[] { Pairs, TargetLength - 2 }, generator: data),
                                    full(new long[] { Pairs, 1 }, Vocabulary.EosId, dtype: int64) }, 1);
        model.train();

        void Step(long s)
        {
            foreach (var group in optimizer.ParamGroups) group.LearningRate = lr(s);
            random.manual_seed(BatchLoader.Mix(seed, s));
            using var scope = NewDisposeScope();
            var decoderInput = tgt.narrow(1, 0, TargetLength - 1);
            var gold = tgt.narrow(1, 1, TargetLength - 1);
            optimizer.zero_grad();
            var loss = TrainingRecipe.LabelSmoothedLoss(model.forward(src, decoderInput), gold, o.LabelSmoothing);
            float value = loss.item<float>();
            if (!float.IsFinite(value)) throw new NonFiniteLossException(s, value, null);
            loss.backward();
            optimizer.step();
        }

        var timing = BenchClock.Time(Step, steps, warmup);
        var line = BenchClock.Line(threads, steps);
        line["batch"] = $"{Pairs} pairs, source {SourceLength}, target {TargetLength}";
        line["parameters"] = ParameterCounts.Total(model);
        BenchClock.AddRates(line, "tokens", (double)steps * Pairs * (TargetLength - 1), timing);
        return BenchClock.Print(line);
    }
}
