// Turning a trained Transformer into translations: greedy decoding and beam search (§6.1: beam size 4,
// length penalty α = 0.6, maximum output length input length + 50). Both run the decoder over the whole
// prefix at each step (no key/value cache): simpler to read, and cheap at Multi30k's sentence lengths.

using PaperLab.Data;
using static TorchSharp.torch;

namespace PaperLab.Papers.Transformer;

/// <summary>Greedy and beam-search decoding of a <see cref="Transformer"/>.</summary>
public static class Decoding
{
    /// <summary>
    /// Greedy decoding: at each step append the most probable next token, until every sentence has
    /// produced EOS or <paramref name="maxLength"/> tokens. Call in eval mode.
    /// </summary>
    /// <param name="model">The model.</param>
    /// <param name="src">(B, S) int64 source ids, padded.</param>
    /// <param name="maxLength">Most target tokens to produce (EOS included).</param>
    /// <returns>B id sequences without BOS, each ending at (and including) EOS if it was produced.</returns>
    public static int[][] Greedy(Transformer model, Tensor src, int maxLength)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        long b = src.shape[0];
        Tensor srcMask = SequenceMasks.Padding(src, Vocabulary.PadId);
        Tensor memory = model.Encode(src, srcMask);
        Tensor ys = full(b, 1, Vocabulary.BosId, ScalarType.Int64);
        Tensor done = zeros(b, ScalarType.Bool);
        for (int t = 0; t < maxLength; t++)
        {
            // Each step's intermediate tensors are freed at the end of the step; only ys and done live on.
            using var stepScope = NewDisposeScope();
            Tensor next = model.Decode(memory, srcMask, ys, lastOnly: true).select(1, -1).argmax(-1);   // (B)
            next = next.masked_fill(done, Vocabulary.PadId);                            // finished rows: padding
            ys = cat(new[] { ys, next.unsqueeze(1) }, 1).MoveToOuterDisposeScope();
            done = done.logical_or(next.eq(Vocabulary.EosId)).MoveToOuterDisposeScope();
            if (done.all().item<bool>()) break;
        }
        return Rows(ys);
    }

    /// <summary>
    /// Beam search with <paramref name="beam"/> hypotheses per sentence. Hypotheses are ranked during the
    /// search by their summed log-probability; a finished hypothesis (one that produced EOS) keeps its score.
    /// At the end, the best of the beam is chosen by log P(Y|X) / lp(Y) with the length penalty of Wu et al.
    /// 2016 (GNMT, Eq. 14) that §6.1 uses: lp(Y) = ((5 + |Y|) / 6)^α. Call in eval mode.
    /// </summary>
    /// <param name="model">The model.</param>
    /// <param name="src">(B, S) int64 source ids, padded.</param>
    /// <param name="maxLength">Most target tokens to produce (EOS included).</param>
    /// <param name="beam">Beam size (1 gives greedy decoding).</param>
    /// <param name="alpha">Length-penalty exponent α (0: none; the paper: 0.6).</param>
    /// <returns>B id sequences without BOS.</returns>
    /// <exception cref="ArgumentOutOfRangeException">beam &lt; 1.</exception>
    public static int[][] Beam(Transformer model, Tensor src, int maxLength, int beam, double alpha)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(beam, 1);
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        long b = src.shape[0];
        int k = beam;
        Tensor srcMask = SequenceMasks.Padding(src, Vocabulary.PadId).repeat_interleave(k, 0);   // (B·k, 1, 1, S)
        Tensor memory = model.Encode(src, SequenceMasks.Padding(src, Vocabulary.PadId)).repeat_interleave(k, 0);
        Tensor ys = full(b * k, 1, Vocabulary.BosId, ScalarType.Int64);                          // (B·k, t)
        // Only the first hypothesis of each beam is live at the start (the others would duplicate it).
        Tensor scores = full(b, k, double.NegativeInfinity, ScalarType.Float32);
        scores[TensorIndex.Colon, 0] = 0;
        Tensor finished = zeros(b, k, ScalarType.Bool);
        Tensor lengths = zeros(b, k, ScalarType.Int64);
        Tensor rowBase = (arange(b, ScalarType.Int64) * k).unsqueeze(1);                          // (B, 1)

        for (int t = 0; t < maxLength; t++)
        {
            // Each step's intermediate tensors are freed at the end of the step; only the beam state lives on.
            using var stepScope = NewDisposeScope();
            Tensor logp = nn.functional.log_softmax(model.Decode(memory, srcMask, ys, lastOnly: true).select(1, -1), -1); // (B·k, V)
            long v = logp.shape[1];
            logp = logp.view(b, k, v);
            // A finished hypothesis can only be continued by padding, at no cost.
            Tensor frozen = full(v, double.NegativeInfinity, ScalarType.Float32);
            frozen[Vocabulary.PadId] = 0;
            logp = where(finished.unsqueeze(2), frozen.view(1, 1, v), logp);
            Tensor candidates = (scores.unsqueeze(2) + logp).view(b, k * v);
            var (best, index) = candidates.topk(k, dim: 1);                                    // (B, k)
            Tensor origin = index.div(v, rounding_mode: RoundingMode.floor);                  // which hypothesis it extends
            Tensor token = index.remainder(v);
            Tensor rows = (rowBase + origin).view(-1);
            ys = cat(new[] { ys.index_select(0, rows), token.view(-1, 1) }, 1).MoveToOuterDisposeScope();
            Tensor wasFinished = finished.gather(1, origin);
            lengths = (lengths.gather(1, origin) + wasFinished.logical_not().to(ScalarType.Int64)).MoveToOuterDisposeScope();
            finished = wasFinished.logical_or(token.eq(Vocabulary.EosId)).MoveToOuterDisposeScope();
            scores = best.MoveToOuterDisposeScope();
            if (finished.all().item<bool>()) break;
        }
        Tensor penalty = pow((lengths.to(ScalarType.Float32) + 5) / 6, alpha);
        Tensor choice = (scores / penalty).argmax(1);                                           // (B)
        Tensor chosen = ys.index_select(0, (rowBase.view(-1) + choice));
        return Rows(chosen);
    }

    /// <summary>Decodes a whole set of encoded sources in batches of about <paramref name="batchTokens"/> source tokens.</summary>
    /// <param name="model">The model (put in eval mode here).</param>
    /// <param name="sources">Encoded sources (ending in EOS).</param>
    /// <param name="beam">1: greedy; more: beam search.</param>
    /// <param name="alpha">Length-penalty exponent for beam search.</param>
    /// <param name="extraLength">Output may be up to source length + this many tokens (§6.1: 50).</param>
    /// <param name="batchTokens">Source tokens per decoding batch.</param>
    /// <returns>One id sequence per source, in order, without BOS.</returns>
    public static int[][] Translate(Transformer model, IReadOnlyList<int[]> sources, int beam, double alpha, int extraLength = 50, int batchTokens = 2000)
    {
        model.eval();
        var results = new int[sources.Count][];
        var order = Enumerable.Range(0, sources.Count).OrderBy(i => sources[i].Length).ToArray();
        int start = 0;
        while (start < order.Length)
        {
            int end = start;
            int longest = 0;
            while (end < order.Length && (end - start + 1) * Math.Max(longest, sources[order[end]].Length) <= Math.Max(batchTokens, sources[order[end]].Length))
                longest = Math.Max(longest, sources[order[end++]].Length);
            var idx = order[start..end];
            using var scope = NewDisposeScope();
            Tensor src = SequenceMasks.Pad(idx.Select(i => sources[i]).ToArray(), Vocabulary.PadId);
            int maxLength = Math.Min(longest + extraLength, model.Config.MaxLength - 1);
            int[][] outs = beam == 1 ? Greedy(model, src, maxLength) : Beam(model, src, maxLength, beam, alpha);
            for (int j = 0; j < idx.Length; j++) results[idx[j]] = outs[j];
            start = end;
        }
        return results;
    }

    // (B, 1 + t) ids starting with BOS → B arrays without BOS, cut after the first EOS.
    static int[][] Rows(Tensor ys)
    {
        long b = ys.shape[0], t = ys.shape[1];
        long[] data = ys.cpu().data<long>().ToArray();
        var rows = new int[b][];
        for (long i = 0; i < b; i++)
        {
            var row = new List<int>();
            for (long j = 1; j < t; j++)
            {
                int id = (int)data[i * t + j];
                if (id == Vocabulary.PadId) break;
                row.Add(id);
                if (id == Vocabulary.EosId) break;
            }
            rows[i] = row.ToArray();
        }
        return rows;
    }
}
