// The matrix product C = A·B, the engine's hot spot: in an MLP nearly every floating-point operation of a
// training step is in the three products of each layer (forward X·W, backward G·Wᵀ and Xᵀ·G).
//
// The layout is the one of every fast CPU GEMM since Goto & van de Geijn ("Anatomy of high-performance
// matrix multiplication", ACM TOMS 34(3), 2008) and BLIS (Van Zee & van de Geijn 2015):
//   * B is copied ("packed") into panels NR columns wide, stored k by k, so the innermost loop reads it
//     sequentially; A is packed into panels MR rows tall the same way. Packing also absorbs transposition:
//     the kernel never sees whether A or B was transposed. (An untransposed B is read in place: its rows
//     are already contiguous runs of NR values, and copying the weights at every step would cost a pass
//     over them per product.)
//   * A micro-kernel keeps an MR × NR tile of C in vector registers (6 rows × 2 vectors: 12 accumulators)
//     and, for each k, broadcasts one element of A per row and does a fused multiply-add with two vectors of
//     B. Each loaded value is used 6 or 2 times, so arithmetic, not memory, bounds the loop.
//   * K is cut into blocks of KC so that one packed panel of B (KC × NR) stays in the L1 cache while every
//     panel of A passes over it; A is packed MC rows at a time so that its block stays in L2.
//   * Threads take disjoint bands of rows of C; each element of C is summed in the same order whatever the
//     number of threads, so results do not depend on it.
// Vector512 is used where the hardware runs it natively (AVX-512), Vector<T> (AVX2, NEON) elsewhere.

using System.Buffers;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace PaperLab.Papers.Backprop;

/// <summary>Dense matrix products on row-major arrays, multi-threaded over rows (the engine's matmul).</summary>
public static class Gemm
{
    static int threads = Environment.ProcessorCount;

    /// <summary>Most threads one product may use (like torch.set_num_threads); default: one per core.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Set below 1.</exception>
    public static int Threads
    {
        get => threads;
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 1, nameof(Threads));
            threads = value;
        }
    }

    /// <summary>Rows of C in one micro-kernel tile.</summary>
    public const int MR = 6;

    /// <summary>
    /// Use 512-bit vectors where the hardware runs them natively (default true); false forces the
    /// <c>Vector&lt;T&gt;</c> kernel that AVX2 and NEON machines run, e.g. to test it on an AVX-512 machine.
    /// </summary>
    public static bool AllowVector512 { get; set; } = true;

    /// <summary>Whether the micro-kernel uses 512-bit vectors for <typeparamref name="T"/> (on this machine, with <see cref="AllowVector512"/>).</summary>
    public static bool Use512<T>() => AllowVector512 && Vector512.IsHardwareAccelerated && Vector512<T>.IsSupported;

    /// <summary>Columns of C in one micro-kernel tile: two vectors of <typeparamref name="T"/>.</summary>
    public static int NR<T>() => 2 * (Use512<T>() ? Vector512<T>.Count : Vector<T>.Count);

    /// <summary>
    /// C = op(A)·op(B), or C += op(A)·op(B) when <paramref name="accumulate"/>; op(X) is X or Xᵀ.
    /// </summary>
    /// <param name="a">op(A) is M × K: A stored row-major as M × K, or as K × M when <paramref name="transposeA"/>.</param>
    /// <param name="transposeA">Whether <paramref name="a"/> holds Aᵀ.</param>
    /// <param name="b">op(B) is K × N: stored as K × N, or as N × K when <paramref name="transposeB"/>.</param>
    /// <param name="transposeB">Whether <paramref name="b"/> holds Bᵀ.</param>
    /// <param name="c">M × N row-major output.</param>
    /// <param name="m">Rows of C.</param>
    /// <param name="n">Columns of C.</param>
    /// <param name="k">The summed dimension.</param>
    /// <param name="accumulate">Add to C (the β = 1 of BLAS) instead of overwriting it.</param>
    /// <exception cref="ArgumentException">A size is negative or an array is shorter than the sizes need.</exception>
    public static void Multiply<T>(T[] a, bool transposeA, T[] b, bool transposeB, T[] c, int m, int n, int k, bool accumulate = false)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (m < 0 || n < 0 || k < 0) throw new ArgumentException($"matmul sizes must be non-negative, got M={m}, N={n}, K={k}");
        if (a.Length < (long)m * k || b.Length < (long)k * n || c.Length < (long)m * n)
            throw new ArgumentException($"matmul of ({m}×{k})·({k}×{n}) needs arrays of at least {(long)m * k}, {(long)k * n} and {(long)m * n} elements, got {a.Length}, {b.Length}, {c.Length}");
        if (m == 0 || n == 0) return;
        if (k == 0)
        {
            if (!accumulate) Array.Clear(c, 0, m * n);
            return;
        }

        bool wide = Use512<T>();   // read once: packing and kernel must agree on NR
        int nr = 2 * (wide ? Vector512<T>.Count : Vector<T>.Count);
        // one KC × NR panel of B ≈ 16 KiB, half of a typical L1 data cache
        int kcMax = Math.Max(16, 16384 / (nr * Unsafe.SizeOf<T>()));
        int mcMax = 16 * MR;
        int panels = (n + nr - 1) / nr;
        // An untransposed B already has each panel's rows NR values apart in memory: the kernel reads those
        // panels in place (row stride N), which saves copying the weights at every forward pass. The
        // transposed case and a last, partial panel are packed.
        int inPlace = transposeB ? 0 : n / nr, packed = panels - inPlace;

        // Pack, block of K by block of K: block p0 holds `packed` panels of kc × NR, zero-padded on the right.
        T[] packedB = ArrayPool<T>.Shared.Rent(Math.Max(1, k * packed * nr));
        for (int p0 = 0; p0 < k; p0 += kcMax)
        {
            int kc = Math.Min(kcMax, k - p0);
            for (int jp = inPlace; jp < panels; jp++)
                PackB(b, transposeB, n, k, p0, kc, jp * nr, nr, packedB.AsSpan(p0 * packed * nr + (jp - inPlace) * kc * nr, kc * nr));
        }

        // Rows of C in bands of a multiple of MR, one band per thread, but no band under about 2 MFLOP:
        // below that, starting a thread costs more than it saves.
        int tiles = (m + MR - 1) / MR;
        int bands = Math.Clamp(Math.Min(threads, (int)Math.Min(int.MaxValue, 2L * m * n * k / 2_000_000)), 1, tiles);
        void Band(int band)
        {
            int first = (int)((long)tiles * band / bands) * MR, last = Math.Min(m, (int)((long)tiles * (band + 1) / bands) * MR);
            T[] packedA = ArrayPool<T>.Shared.Rent(mcMax * kcMax);
            Span<T> edge = stackalloc T[MR * 64];   // a whole tile, for tiles that overhang C
            for (int p0 = 0; p0 < k; p0 += kcMax)
            {
                int kc = Math.Min(kcMax, k - p0);
                bool add = accumulate || p0 > 0;
                for (int i0 = first; i0 < last; i0 += mcMax)
                {
                    int mc = Math.Min(mcMax, last - i0);
                    int rowPanels = (mc + MR - 1) / MR;
                    for (int ip = 0; ip < rowPanels; ip++)
                        PackA(a, transposeA, m, k, i0 + ip * MR, p0, kc, packedA.AsSpan(ip * kc * MR, kc * MR));
                    for (int jp = 0; jp < panels; jp++)
                    {
                        int j = jp * nr, cols = Math.Min(nr, n - j);
                        bool direct = jp < inPlace;
                        ref T bPanel = ref direct ? ref b[p0 * n + j] : ref packedB[p0 * packed * nr + (jp - inPlace) * kc * nr];
                        int ldb = direct ? n : nr;
                        for (int ip = 0; ip < rowPanels; ip++)
                        {
                            int i = i0 + ip * MR, rows = Math.Min(MR, m - i);
                            ref T aPanel = ref packedA[ip * kc * MR];
                            if (rows == MR && cols == nr)
                                Kernel(wide, kc, ref aPanel, ref bPanel, ldb, ref c[i * n + j], n, add);
                            else
                            {
                                // compute the whole tile aside, then add or copy the part inside C
                                Kernel(wide, kc, ref aPanel, ref bPanel, ldb, ref edge[0], nr, false);
                                for (int r = 0; r < rows; r++)
                                {
                                    var source = edge.Slice(r * nr, cols);
                                    var target = c.AsSpan((i + r) * n + j, cols);
                                    if (add) System.Numerics.Tensors.TensorPrimitives.Add(target, source, target);
                                    else source.CopyTo(target);
                                }
                            }
                        }
                    }
                }
            }
            ArrayPool<T>.Shared.Return(packedA);
        }

        if (bands == 1) Band(0);
        else Parallel.For(0, bands, new ParallelOptions { MaxDegreeOfParallelism = bands }, Band);
        ArrayPool<T>.Shared.Return(packedB);
    }

    /// <summary>Copies op(B)[p0 .. p0+kc, j0 .. j0+nr) into <paramref name="panel"/> k by k (nr values each), zeros past column N.</summary>
    static void PackB<T>(T[] b, bool transposed, int n, int k, int p0, int kc, int j0, int nr, Span<T> panel)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int cols = Math.Min(nr, n - j0);
        for (int p = 0; p < kc; p++)
        {
            var row = panel.Slice(p * nr, nr);
            if (!transposed) b.AsSpan((p0 + p) * n + j0, cols).CopyTo(row);     // B(p, j) = b[p·N + j]
            else for (int jj = 0; jj < cols; jj++) row[jj] = b[(j0 + jj) * k + p0 + p];   // B(p, j) = b[j·K + p]
            row[cols..].Clear();
        }
    }

    /// <summary>Copies op(A)[i0 .. i0+MR, p0 .. p0+kc) into <paramref name="panel"/> k by k (MR values each), zeros past row M.</summary>
    static void PackA<T>(T[] a, bool transposed, int m, int k, int i0, int p0, int kc, Span<T> panel)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int rows = Math.Min(MR, m - i0);
        for (int p = 0; p < kc; p++)
        {
            var column = panel.Slice(p * MR, MR);
            if (transposed) a.AsSpan((p0 + p) * m + i0, rows).CopyTo(column);   // A(i, p) = a[p·M + i]
            else for (int ii = 0; ii < rows; ii++) column[ii] = a[(i0 + ii) * k + p0 + p];   // A(i, p) = a[i·K + p]
            column[rows..].Clear();
        }
    }

    /// <summary>
    /// The MR × NR tile C[0..MR, 0..NR) (row stride <paramref name="ldc"/>) = or += Σₚ A[·, p] ⊗ B[p, ·], with
    /// A's MR values for each p consecutive in <paramref name="aPanel"/> and B's NR values for p at p·<paramref name="ldb"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Kernel<T>(bool wide, int kc, ref T aPanel, ref T bPanel, int ldb, ref T c, int ldc, bool accumulate)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (wide) Kernel512(kc, ref aPanel, ref bPanel, ldb, ref c, ldc, accumulate);
        else KernelVector(kc, ref aPanel, ref bPanel, ldb, ref c, ldc, accumulate);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Kernel512<T>(int kc, ref T a, ref T b, int ldb, ref T c, int ldc, bool accumulate)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int v = Vector512<T>.Count;
        Vector512<T> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default,
                     c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        for (int p = 0; p < kc; p++)
        {
            var b0 = Vector512.LoadUnsafe(ref b);
            var b1 = Vector512.LoadUnsafe(ref b, (nuint)v);
            var x = Vector512.Create(a); c00 = Fma(x, b0, c00); c01 = Fma(x, b1, c01);
            x = Vector512.Create(Unsafe.Add(ref a, 1)); c10 = Fma(x, b0, c10); c11 = Fma(x, b1, c11);
            x = Vector512.Create(Unsafe.Add(ref a, 2)); c20 = Fma(x, b0, c20); c21 = Fma(x, b1, c21);
            x = Vector512.Create(Unsafe.Add(ref a, 3)); c30 = Fma(x, b0, c30); c31 = Fma(x, b1, c31);
            x = Vector512.Create(Unsafe.Add(ref a, 4)); c40 = Fma(x, b0, c40); c41 = Fma(x, b1, c41);
            x = Vector512.Create(Unsafe.Add(ref a, 5)); c50 = Fma(x, b0, c50); c51 = Fma(x, b1, c51);
            a = ref Unsafe.Add(ref a, MR);
            b = ref Unsafe.Add(ref b, ldb);
        }
        Store(ref c, c00, c01, accumulate);
        Store(ref Unsafe.Add(ref c, ldc), c10, c11, accumulate);
        Store(ref Unsafe.Add(ref c, 2 * ldc), c20, c21, accumulate);
        Store(ref Unsafe.Add(ref c, 3 * ldc), c30, c31, accumulate);
        Store(ref Unsafe.Add(ref c, 4 * ldc), c40, c41, accumulate);
        Store(ref Unsafe.Add(ref c, 5 * ldc), c50, c51, accumulate);

        static void Store(ref T row, Vector512<T> left, Vector512<T> right, bool accumulate)
        {
            int v = Vector512<T>.Count;
            if (accumulate)
            {
                left += Vector512.LoadUnsafe(ref row);
                right += Vector512.LoadUnsafe(ref row, (nuint)v);
            }
            left.StoreUnsafe(ref row);
            right.StoreUnsafe(ref row, (nuint)v);
        }

        static Vector512<T> Fma(Vector512<T> x, Vector512<T> y, Vector512<T> z)
        {
            if (typeof(T) == typeof(float)) return Vector512.MultiplyAddEstimate(x.AsSingle(), y.AsSingle(), z.AsSingle()).As<float, T>();
            if (typeof(T) == typeof(double)) return Vector512.MultiplyAddEstimate(x.AsDouble(), y.AsDouble(), z.AsDouble()).As<double, T>();
            return x * y + z;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void KernelVector<T>(int kc, ref T a, ref T b, int ldb, ref T c, int ldc, bool accumulate)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int v = Vector<T>.Count;
        Vector<T> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default,
                  c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        for (int p = 0; p < kc; p++)
        {
            var b0 = Vector.LoadUnsafe(ref b);
            var b1 = Vector.LoadUnsafe(ref b, (nuint)v);
            var x = new Vector<T>(a); c00 = Fma(x, b0, c00); c01 = Fma(x, b1, c01);
            x = new Vector<T>(Unsafe.Add(ref a, 1)); c10 = Fma(x, b0, c10); c11 = Fma(x, b1, c11);
            x = new Vector<T>(Unsafe.Add(ref a, 2)); c20 = Fma(x, b0, c20); c21 = Fma(x, b1, c21);
            x = new Vector<T>(Unsafe.Add(ref a, 3)); c30 = Fma(x, b0, c30); c31 = Fma(x, b1, c31);
            x = new Vector<T>(Unsafe.Add(ref a, 4)); c40 = Fma(x, b0, c40); c41 = Fma(x, b1, c41);
            x = new Vector<T>(Unsafe.Add(ref a, 5)); c50 = Fma(x, b0, c50); c51 = Fma(x, b1, c51);
            a = ref Unsafe.Add(ref a, MR);
            b = ref Unsafe.Add(ref b, ldb);
        }
        Store(ref c, c00, c01, accumulate);
        Store(ref Unsafe.Add(ref c, ldc), c10, c11, accumulate);
        Store(ref Unsafe.Add(ref c, 2 * ldc), c20, c21, accumulate);
        Store(ref Unsafe.Add(ref c, 3 * ldc), c30, c31, accumulate);
        Store(ref Unsafe.Add(ref c, 4 * ldc), c40, c41, accumulate);
        Store(ref Unsafe.Add(ref c, 5 * ldc), c50, c51, accumulate);

        static void Store(ref T row, Vector<T> left, Vector<T> right, bool accumulate)
        {
            int v = Vector<T>.Count;
            if (accumulate)
            {
                left += Vector.LoadUnsafe(ref row);
                right += Vector.LoadUnsafe(ref row, (nuint)v);
            }
            left.StoreUnsafe(ref row);
            right.StoreUnsafe(ref row, (nuint)v);
        }

        static Vector<T> Fma(Vector<T> x, Vector<T> y, Vector<T> z)
        {
            if (typeof(T) == typeof(float)) return Vector.MultiplyAddEstimate(x.As<T, float>(), y.As<T, float>(), z.As<T, float>()).As<float, T>();
            if (typeof(T) == typeof(double)) return Vector.MultiplyAddEstimate(x.As<T, double>(), y.As<T, double>(), z.As<T, double>()).As<double, T>();
            return x * y + z;
        }
    }
}
