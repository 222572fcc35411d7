using PaperLab.Data;
using static TorchSharp.torch;

namespace PaperLab.Papers.Gpt;

/// <summary>
/// Next-token prediction windows over one token stream: example i is input = tokens[i .. i+T) and
/// target = tokens[i+1 .. i+T+1), both int64 of shape (T); a batch is (B, T).
/// </summary>
public sealed class TokenWindowDataset : ITensorDataset
{
    readonly int[] _tokens;

    /// <summary>Window length T (the model's context, "block size").</summary>
    public int BlockSize { get; }
    /// <summary>Number of windows: tokens − T.</summary>
    public long Count => _tokens.Length - BlockSize;

    /// <param name="tokens">The token ids of the whole stream.</param>
    /// <param name="blockSize">T ≥ 1.</param>
    /// <exception cref="ArgumentException">The stream is not longer than one window.</exception>
    public TokenWindowDataset(int[] tokens, int blockSize)
    {
        if (blockSize < 1) throw new ArgumentException("block size must be at least 1", nameof(blockSize));
        if (tokens.Length <= blockSize)
            throw new ArgumentException($"a stream of {tokens.Length} tokens holds no window of {blockSize}+1", nameof(tokens));
        _tokens = tokens;
        BlockSize = blockSize;
    }

    /// <inheritdoc/>
    public (Tensor Input, Tensor Target) Gather(long[] indices)
    {
        var x = new long[indices.Length * BlockSize];
        var y = new long[indices.Length * BlockSize];
        for (int b = 0; b < indices.Length; b++)
        {
            long start = indices[b];
            for (int t = 0; t < BlockSize; t++)
            {
                x[b * BlockSize + t] = _tokens[start + t];
                y[b * BlockSize + t] = _tokens[start + t + 1];
            }
        }
        return (tensor(x).reshape(indices.Length, BlockSize), tensor(y).reshape(indices.Length, BlockSize));
    }
}
