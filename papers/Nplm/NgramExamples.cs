// The training examples of an n-gram model: each is (the n−1 words before position t, the word at t).
// Brown is one long stream of words (§4: "a stream of 1,181,041 words"), so the examples of a split are its
// positions, each with the n−1 words before it — for the first words of the validation and test sets those
// reach back into the previous split, as they do when the stream is read in order. names.txt is a list of
// separate words, each padded on the left with the boundary character (makemore's build_dataset).

using PaperLab.Data;
using static TorchSharp.torch;

namespace PaperLab.Papers.Nplm;

/// <summary>(context, next word) examples as two int64 tensors, batched by index.</summary>
public sealed class NgramExamples : ITensorDataset, IDisposable
{
    /// <summary>(N, n−1) int64: the words before each target, oldest first.</summary>
    public Tensor Contexts { get; }
    /// <summary>(N) int64: the word to predict.</summary>
    public Tensor Targets { get; }
    /// <summary>N: number of examples.</summary>
    public long Count => Targets.shape[0];
    /// <summary>n−1: words of context.</summary>
    public int ContextLength => (int)Contexts.shape[1];

    /// <summary>Wraps existing tensors (taking ownership).</summary>
    /// <exception cref="ArgumentException">The shapes do not match.</exception>
    public NgramExamples(Tensor contexts, Tensor targets)
    {
        if (contexts.dim() != 2 || targets.dim() != 1 || contexts.shape[0] != targets.shape[0])
            throw new ArgumentException($"contexts must be (N, n−1) and targets (N), got ({string.Join(", ", contexts.shape)}) and ({string.Join(", ", targets.shape)})");
        Contexts = contexts.to_type(ScalarType.Int64).DetachFromDisposeScope();
        Targets = targets.to_type(ScalarType.Int64).DetachFromDisposeScope();
    }

    /// <summary>
    /// The examples of the stream positions [<paramref name="from"/>, <paramref name="to"/>): target
    /// <c>stream[t]</c>, context <c>stream[t − n + 1 .. t − 1]</c>.
    /// </summary>
    /// <param name="stream">Word ids of the whole corpus in reading order.</param>
    /// <param name="contextLength">n−1 ≥ 1.</param>
    /// <param name="from">First target position; raised to <paramref name="contextLength"/> when smaller (the first words have no full context).</param>
    /// <param name="to">One past the last target position.</param>
    /// <exception cref="ArgumentOutOfRangeException">The range is empty or outside the stream, or contextLength &lt; 1.</exception>
    public static NgramExamples FromStream(int[] stream, int contextLength, int from, int to)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(contextLength, 1);
        from = Math.Max(from, contextLength);
        if (to > stream.Length || from >= to)
            throw new ArgumentOutOfRangeException(nameof(to), $"target positions [{from}, {to}) are empty or outside the stream of {stream.Length} words");
        using var scope = NewDisposeScope();
        Tensor ids = tensor(stream.AsSpan(from - contextLength, to - from + contextLength).ToArray().Select(i => (long)i).ToArray());
        Tensor windows = ids.unfold(0, contextLength + 1, 1);             // (N, n): row t is stream[t−n+1 .. t]
        return new NgramExamples(windows[TensorIndex.Colon, TensorIndex.Slice(0, contextLength)].contiguous(),
                                 windows[TensorIndex.Colon, contextLength].contiguous());
    }

    /// <summary>
    /// makemore's build_dataset: for each word, every prefix's last n−1 characters (left-padded with
    /// <paramref name="boundary"/>) predict the next character, and the full word predicts <paramref name="boundary"/>
    /// (the end). A word of L characters gives L + 1 examples.
    /// </summary>
    /// <param name="words">Each word as character ids (without boundaries).</param>
    /// <param name="contextLength">n−1 (makemore's block_size) ≥ 1.</param>
    /// <param name="boundary">Id of the start/end mark ('.' = 0 in makemore).</param>
    public static NgramExamples FromWords(IEnumerable<int[]> words, int contextLength, int boundary = 0)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(contextLength, 1);
        var contexts = new List<long>();
        var targets = new List<long>();
        var window = new long[contextLength];
        foreach (int[] word in words)
        {
            Array.Fill(window, boundary);
            foreach (int next in word.Append(boundary))
            {
                contexts.AddRange(window);
                targets.Add(next);
                Array.Copy(window, 1, window, 0, contextLength - 1);  // context = context[1:] + [ix]
                window[^1] = next;
            }
        }
        using var scope = NewDisposeScope();
        return new NgramExamples(tensor(contexts.ToArray()).view(-1, contextLength), tensor(targets.ToArray()));
    }

    /// <summary>The examples at <paramref name="indices"/>.</summary>
    /// <param name="indices">(B) int64 example indices.</param>
    /// <returns>Contexts (B, n−1) and targets (B), in the current dispose scope.</returns>
    public (Tensor Contexts, Tensor Targets) Batch(Tensor indices) =>
        (Contexts.index_select(0, indices), Targets.index_select(0, indices));

    /// <summary>The examples at <paramref name="indices"/>, for a <see cref="BatchLoader"/>: contexts (B, n−1) and targets (B).</summary>
    public (Tensor Input, Tensor Target) Gather(long[] indices)
    {
        using var scope = NewDisposeScope();
        var (x, y) = Batch(tensor(indices));
        return (x.MoveToOuterDisposeScope(), y.MoveToOuterDisposeScope());
    }

    /// <summary>Examples [<paramref name="start"/>, <paramref name="start"/> + <paramref name="length"/>), in order (views).</summary>
    public (Tensor Contexts, Tensor Targets) Slice(long start, long length)
    {
        long end = Math.Min(Count, start + length);
        return (Contexts[TensorIndex.Slice(start, end)], Targets[TensorIndex.Slice(start, end)]);
    }

    /// <summary>The first <paramref name="count"/> examples (all when there are fewer), as new tensors.</summary>
    public NgramExamples Take(long count)
    {
        using var scope = NewDisposeScope();
        long n = Math.Min(count, Count);
        return new NgramExamples(Contexts[TensorIndex.Slice(0, n)].clone(), Targets[TensorIndex.Slice(0, n)].clone());
    }

    /// <summary>Releases the tensors.</summary>
    public void Dispose()
    {
        Contexts.Dispose();
        Targets.Dispose();
    }
}
