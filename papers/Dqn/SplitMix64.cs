// SplitMix64, from
//   G. L. Steele Jr., D. Lea, C. H. Flood. "Fast Splittable Pseudorandom Number Generators". OOPSLA 2014
//   (the generator as S. Vigna's public-domain splitmix64.c writes it: a Weyl sequence with step
//   0x9E3779B97F4A7C15, then the variant-13 mixing function of MurmurHash3's finaliser).
//
// Why not System.Random: every random draw of the reinforcement-learning loop that is not inside libtorch
// (the environment's initial states, ε-greedy coin flips, replay sampling, REINFORCE's action draws) goes
// through this generator, because
//   * its whole state is one ulong: a checkpoint stores it and a resumed run continues the same sequence
//     (System.Random exposes no state to save);
//   * its output is fixed by the algorithm, not by the runtime: .NET documents that Random's sequence may
//     change between major versions, and the PyTorch twin (bench/pytorch_dqn.py) reproduces these draws
//     exactly, so both can start CartPole from the same states;
//   * it is known-answer testable: from state 0 the first outputs are 0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4.
// Its statistical quality (it passes BigCrush) is far beyond what coin flips and index draws need.

namespace PaperLab.Papers.Dqn;

/// <summary>
/// A 64-bit pseudorandom generator whose entire state is <see cref="State"/> (Steele, Lea, Flood 2014).
/// Deterministic across platforms and .NET versions; not thread-safe (one instance per purpose).
/// </summary>
public sealed class SplitMix64
{
    const ulong Golden = 0x9E3779B97F4A7C15UL;   // 2^64 / φ, the Weyl-sequence increment

    /// <summary>The generator's whole state: save it to checkpoint, assign it to resume.</summary>
    public ulong State { get; set; }

    /// <param name="state">Initial state; any value, including 0, is a valid seed.</param>
    public SplitMix64(ulong state) => State = state;

    /// <summary>
    /// A generator for one purpose of one run: its state is a mix of (seed, stream), so that the
    /// environment, the exploration and the replay sampling of the same seed draw independent sequences.
    /// </summary>
    /// <param name="seed">The run's seed.</param>
    /// <param name="stream">Which purpose (any fixed number per purpose).</param>
    public static SplitMix64 ForStream(long seed, long stream) => new(Mix(seed, stream));

    /// <summary>A well-mixed 64-bit value of (a, b): one SplitMix64 output of a·φ + b. Stable across processes.</summary>
    public static ulong Mix(long a, long b) => Finalise((ulong)a * Golden + (ulong)b + Golden);

    /// <summary>The next 64 random bits.</summary>
    public ulong NextUInt64() => Finalise(State += Golden);

    static ulong Finalise(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Uniform in [0, 1) with 53 random bits (the top 53 bits of one output).</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform in [low, high).</summary>
    public double Uniform(double low, double high) => low + (high - low) * NextDouble();

    /// <summary>Uniform integer in [0, n), without modulo bias (rejects the top 2^64 mod n values).</summary>
    /// <exception cref="ArgumentOutOfRangeException">n is not positive.</exception>
    public long NextInt64(long n)
    {
        if (n <= 0) throw new ArgumentOutOfRangeException(nameof(n), n, "the range [0, n) needs n ≥ 1");
        ulong bound = (ulong)n;
        ulong threshold = (0UL - bound) % bound;   // 2^64 mod n: the values below it would favour small results
        while (true)
        {
            ulong r = NextUInt64();
            if (r >= threshold) return (long)(r % bound);
        }
    }

    /// <summary>Uniform integer in [0, n).</summary>
    public int NextInt(int n) => (int)NextInt64(n);
}
