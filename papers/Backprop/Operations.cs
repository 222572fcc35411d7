// The operations of the tensor engine, each with its backward rule right after its forward computation.
// Every rule adds into the inputs' gradients (a Variable used twice receives two contributions: Eq. 7's sum
// over the units a unit feeds), and only into those that require grad.
//
// Broadcasting follows NumPy and PyTorch: shapes are aligned on the right and an axis of size 1 (or a
// missing one) stretches to the other operand's size. Forward, a broadcast operand is read as if copied
// along those axes (Expand); backward, its gradient is the output's gradient summed over them
// (AccumulateReduced). The two are each other's adjoints: copying a value to k places in the forward pass
// means adding k gradients in the backward pass.

using System.Numerics;
using System.Numerics.Tensors;

namespace PaperLab.Papers.Backprop;

public sealed partial class Variable<T>
{
    // ---- elementwise arithmetic with broadcasting ----------------------------------------------------------

    /// <summary>a + b, broadcast. ∂/∂a = ∂/∂b = 1, so each input gets G summed over the axes it was broadcast along.</summary>
    /// <exception cref="ArgumentException">The shapes do not broadcast.</exception>
    public static Variable<T> operator +(Variable<T> a, Variable<T> b)
    {
        var shape = BroadcastShape(a.Shape, b.Shape);
        var z = new T[SizeOf(shape)];
        TensorPrimitives.Add(Expand(a.Data, a.Shape, shape), Expand(b.Data, b.Shape, shape), z);
        return new(z, shape, "+", [a, b], g =>
        {
            if (a.RequiresGrad) AccumulateReduced(g, shape, a.GradBuffer(), a.Shape);
            if (b.RequiresGrad) AccumulateReduced(g, shape, b.GradBuffer(), b.Shape);
        });
    }

    /// <summary>a − b, broadcast. ∂/∂a = 1, ∂/∂b = −1.</summary>
    /// <exception cref="ArgumentException">The shapes do not broadcast.</exception>
    public static Variable<T> operator -(Variable<T> a, Variable<T> b)
    {
        var shape = BroadcastShape(a.Shape, b.Shape);
        var z = new T[SizeOf(shape)];
        TensorPrimitives.Subtract(Expand(a.Data, a.Shape, shape), Expand(b.Data, b.Shape, shape), z);
        return new(z, shape, "-", [a, b], g =>
        {
            if (a.RequiresGrad) AccumulateReduced(g, shape, a.GradBuffer(), a.Shape);
            if (b.RequiresGrad) AccumulateReduced(Negated(g), shape, b.GradBuffer(), b.Shape);
        });
    }

    /// <summary>a ⊙ b (elementwise), broadcast. ∂/∂a = b, ∂/∂b = a.</summary>
    /// <exception cref="ArgumentException">The shapes do not broadcast.</exception>
    public static Variable<T> operator *(Variable<T> a, Variable<T> b)
    {
        var shape = BroadcastShape(a.Shape, b.Shape);
        T[] x = Expand(a.Data, a.Shape, shape), y = Expand(b.Data, b.Shape, shape);
        var z = new T[x.Length];
        TensorPrimitives.Multiply(x, y, z);
        return new(z, shape, "*", [a, b], g =>
        {
            // exercise backprop-mul: product rule — ∂E/∂a = G ⊙ b, ∂E/∂b = G ⊙ a, each summed back to its shape (AccumulateReduced), only for inputs that RequiresGrad
            var t = new T[g.Length];
            if (a.RequiresGrad) { TensorPrimitives.Multiply(g, y, t); AccumulateReduced(t, shape, a.GradBuffer(), a.Shape); }
            if (b.RequiresGrad) { TensorPrimitives.Multiply(g, x, t); AccumulateReduced(t, shape, b.GradBuffer(), b.Shape); }
            // end exercise
        });
    }

    /// <summary>a / b (elementwise), broadcast. ∂/∂a = 1/b, ∂/∂b = −a/b² = −(a/b)/b.</summary>
    /// <exception cref="ArgumentException">The shapes do not broadcast.</exception>
    public static Variable<T> operator /(Variable<T> a, Variable<T> b)
    {
        var shape = BroadcastShape(a.Shape, b.Shape);
        T[] x = Expand(a.Data, a.Shape, shape), y = Expand(b.Data, b.Shape, shape);
        var z = new T[x.Length];
        TensorPrimitives.Divide(x, y, z);
        return new(z, shape, "/", [a, b], g =>
        {
            var t = new T[g.Length];
            if (a.RequiresGrad) { TensorPrimitives.Divide(g, y, t); AccumulateReduced(t, shape, a.GradBuffer(), a.Shape); }
            if (b.RequiresGrad)
            {
                TensorPrimitives.Multiply(g, z, t);
                TensorPrimitives.Divide(t, y, t);
                TensorPrimitives.Negate(t, t);
                AccumulateReduced(t, shape, b.GradBuffer(), b.Shape);
            }
        });
    }

    // Scalars on either side are constants of shape (), broadcast like any other operand.
    /// <summary>a + s.</summary>
    public static Variable<T> operator +(Variable<T> a, T s) => a + Scalar(s);
    /// <summary>s + a.</summary>
    public static Variable<T> operator +(T s, Variable<T> a) => Scalar(s) + a;
    /// <summary>a − s.</summary>
    public static Variable<T> operator -(Variable<T> a, T s) => a - Scalar(s);
    /// <summary>s − a.</summary>
    public static Variable<T> operator -(T s, Variable<T> a) => Scalar(s) - a;
    /// <summary>a · s for a constant s. ∂/∂a = s. (Written out rather than broadcast: it saves copying s to a's shape.)</summary>
    public static Variable<T> operator *(Variable<T> a, T s)
    {
        var z = new T[a.Length];
        TensorPrimitives.Multiply(a.Data, s, z);
        return new(z, a.Shape, "*", [a], g => TensorPrimitives.MultiplyAdd(g, s, a.GradBuffer(), a.GradBuffer()));
    }
    /// <summary>s · a = a · s.</summary>
    public static Variable<T> operator *(T s, Variable<T> a) => a * s;
    /// <summary>a / s.</summary>
    public static Variable<T> operator /(Variable<T> a, T s) => a / Scalar(s);
    /// <summary>−a = a · (−1).</summary>
    public static Variable<T> operator -(Variable<T> a) => a * -T.One;

    // ---- elementwise functions ------------------------------------------------------------------------------

    /// <summary>max(0, x). ∂/∂x = 1 where x &gt; 0, else 0 (0 at x = 0, as PyTorch).</summary>
    public Variable<T> Relu()
    {
        var y = new T[Length];
        TensorPrimitives.Max(Data, T.Zero, y);
        return new(y, Shape, "relu", [this], g =>
        {
            var gx = GradBuffer();
            int i = 0, v = Vector<T>.Count;
            for (; i <= y.Length - v; i += v)
            {
                var keep = Vector.GreaterThan(new Vector<T>(y, i), Vector<T>.Zero);
                (new Vector<T>(gx, i) + Vector.ConditionalSelect(keep, new Vector<T>(g, i), Vector<T>.Zero)).CopyTo(gx, i);
            }
            for (; i < y.Length; i++) if (y[i] > T.Zero) gx[i] += g[i];
        });
    }

    /// <summary>tanh x. ∂/∂x = 1 − y², with y the output.</summary>
    public Variable<T> Tanh()
    {
        var y = new T[Length];
        TensorPrimitives.Tanh(Data, y);
        return new(y, Shape, "tanh", [this], g =>
        {
            var slope = new T[y.Length];
            TensorPrimitives.Multiply(y, y, slope);
            TensorPrimitives.Subtract(T.One, slope, slope);
            TensorPrimitives.MultiplyAdd(g, slope, GradBuffer(), GradBuffer());
        });
    }

    /// <summary>The logistic function of Eq. 2, y = 1/(1 + e⁻ˣ). ∂y/∂x = y(1 − y), Eq. 5's factor.</summary>
    public Variable<T> Sigmoid()
    {
        var y = new T[Length];
        TensorPrimitives.Sigmoid(Data, y);
        return new(y, Shape, "sigmoid", [this], g =>
        {
            // exercise backprop-sigmoid: Eq. 5 of Rumelhart et al. 1986 — ∂y/∂x = y(1 − y): add G ⊙ y(1 − y) into GradBuffer()
            var slope = new T[y.Length];
            TensorPrimitives.Subtract(T.One, y, slope);
            TensorPrimitives.Multiply(slope, y, slope);
            TensorPrimitives.MultiplyAdd(g, slope, GradBuffer(), GradBuffer());
            // end exercise
        });
    }

    /// <summary>eˣ. ∂/∂x = eˣ = y.</summary>
    public Variable<T> Exp()
    {
        var y = new T[Length];
        TensorPrimitives.Exp(Data, y);
        return new(y, Shape, "exp", [this], g => TensorPrimitives.MultiplyAdd(g, y, GradBuffer(), GradBuffer()));
    }

    /// <summary>ln x (NaN for x &lt; 0, −∞ at 0, as IEEE). ∂/∂x = 1/x.</summary>
    public Variable<T> Log()
    {
        var y = new T[Length];
        TensorPrimitives.Log(Data, y);
        return new(y, Shape, "log", [this], g =>
        {
            var t = new T[g.Length];
            TensorPrimitives.Divide(g, Data, t);
            TensorPrimitives.Add(GradBuffer(), t, GradBuffer());
        });
    }

    // ---- matrix product -------------------------------------------------------------------------------------

    /// <summary>
    /// The matrix product A·B of this (M, K) and <paramref name="b"/> (K, N): (M, N). Backward, with G = ∂E/∂(A·B):
    /// ∂E/∂A = G·Bᵀ (Eq. 7) and ∂E/∂B = Aᵀ·G (Eq. 6), both by <see cref="Gemm.Multiply"/>.
    /// </summary>
    /// <exception cref="ArgumentException">An operand is not 2-D or the inner sizes differ.</exception>
    public Variable<T> MatMul(Variable<T> b)
    {
        var a = this;
        if (a.Rank != 2 || b.Rank != 2 || a.Shape[1] != b.Shape[0])
            throw new ArgumentException($"matmul needs (M, K)·(K, N), got {Format(a.Shape)}·{Format(b.Shape)}");
        int m = a.Shape[0], k = a.Shape[1], n = b.Shape[1];
        var z = GC.AllocateUninitializedArray<T>(m * n);
        Gemm.Multiply(a.Data, false, b.Data, false, z, m, n, k);
        return new(z, [m, n], "matmul", [a, b], g =>
        {
            // exercise backprop-matmul: Eqs. 6–7 — ∂E/∂A = G·Bᵀ and ∂E/∂B = Aᵀ·G, accumulated into the gradient buffers (Gemm.Multiply with accumulate: true)
            if (a.RequiresGrad) Gemm.Multiply(g, false, b.Data, true, a.GradBuffer(), m, k, n, accumulate: true);   // G·Bᵀ: (M, N)·(N, K)
            if (b.RequiresGrad) Gemm.Multiply(a.Data, true, g, false, b.GradBuffer(), k, n, m, accumulate: true);   // Aᵀ·G: (K, M)·(M, N)
            // end exercise
        });
    }

    // ---- reductions and shape -------------------------------------------------------------------------------

    /// <summary>Σ of all values, shape (). Backward: every input gets G (a scalar broadcast to the input's shape).</summary>
    public Variable<T> Sum()
    {
        return new([TensorPrimitives.Sum(Data)], [], "sum", [this], g => TensorPrimitives.Add(GradBuffer(), g[0], GradBuffer()));
    }

    /// <summary>Σ along <paramref name="axis"/>; backward broadcasts G back along it (the adjoint of the sum).</summary>
    /// <param name="axis">Axis to sum out; negative counts from the end.</param>
    /// <param name="keepDim">Keep the axis with size 1 (as PyTorch's keepdim).</param>
    /// <exception cref="ArgumentOutOfRangeException">The axis is outside the shape.</exception>
    public Variable<T> Sum(int axis, bool keepDim = false)
    {
        axis = NormaliseAxis(axis);
        int[] kept = (int[])Shape.Clone();
        kept[axis] = 1;
        var z = new T[SizeOf(kept)];
        AccumulateReduced(Data, Shape, z, kept);
        int[] shape = keepDim ? kept : Shape.Where((_, i) => i != axis).ToArray();
        return new(z, shape, "sum", [this], g => TensorPrimitives.Add(GradBuffer(), Expand(g, kept, Shape), GradBuffer()));
    }

    /// <summary>Mean of all values, shape (): the sum times 1/count.</summary>
    public Variable<T> Mean() => Sum() * (T.One / T.CreateChecked(Length));

    /// <summary>Mean along <paramref name="axis"/>: the sum along it times 1/size.</summary>
    /// <param name="axis">Axis to average out; negative counts from the end.</param>
    /// <param name="keepDim">Keep the axis with size 1.</param>
    public Variable<T> Mean(int axis, bool keepDim = false) =>
        Sum(axis, keepDim) * (T.One / T.CreateChecked(Shape[NormaliseAxis(axis)]));

    /// <summary>The same values with another shape (same count); backward passes G through unchanged.</summary>
    /// <exception cref="ArgumentException">The new shape holds a different number of values.</exception>
    public Variable<T> Reshape(params int[] shape)
    {
        if (SizeOf(shape) != Length) throw new ArgumentException($"cannot reshape {Format(Shape)} ({Length} values) to {Format(shape)}");
        return new(Data, shape, "reshape", [this], g => TensorPrimitives.Add(GradBuffer(), g, GradBuffer()));
    }

    // ---- classification losses -----------------------------------------------------------------------------

    /// <summary>
    /// log softmax along the last axis: yᵢ = xᵢ − log Σⱼ exp xⱼ, computed as xᵢ − m − log Σⱼ exp(xⱼ − m) with m
    /// the row's maximum so that exp cannot overflow. Backward per row: ∂E/∂xᵢ = Gᵢ − softmaxᵢ · Σⱼ Gⱼ.
    /// </summary>
    /// <exception cref="InvalidOperationException">The Variable is a scalar or its last axis is empty.</exception>
    public Variable<T> LogSoftmax()
    {
        if (Rank == 0 || Shape[^1] == 0) throw new InvalidOperationException($"log_softmax needs a non-empty last axis, got shape {Format(Shape)}");
        int c = Shape[^1], rows = Length / c;
        var y = new T[Length];
        var e = new T[c];
        for (int r = 0; r < rows; r++)
        {
            var x = Data.AsSpan(r * c, c);
            var row = y.AsSpan(r * c, c);
            TensorPrimitives.Subtract(x, TensorPrimitives.Max(x), row);          // x − m ≤ 0
            TensorPrimitives.Exp(row, e);
            TensorPrimitives.Subtract(row, T.Log(TensorPrimitives.Sum(e)), row);   // − log Σ exp(x − m)
        }
        return new(y, Shape, "log_softmax", [this], g =>
        {
            // exercise backprop-log-softmax: per row — ∂E/∂xᵢ = Gᵢ − softmaxᵢ · Σⱼ Gⱼ, softmax = exp(y); add into GradBuffer()
            var gx = GradBuffer();
            var softmax = new T[c];
            for (int r = 0; r < rows; r++)
            {
                TensorPrimitives.Exp(y.AsSpan(r * c, c), softmax);
                T total = TensorPrimitives.Sum(g.AsSpan(r * c, c));
                var target = gx.AsSpan(r * c, c);
                TensorPrimitives.Add(target, g.AsSpan(r * c, c), target);
                TensorPrimitives.MultiplyAdd(softmax, -total, target, target);
            }
            // end exercise
        });
    }

    /// <summary>
    /// Negative log-likelihood of the targets, averaged over the batch: E = −(1/N) Σₙ logp[n, tₙ], shape ().
    /// Backward: ∂E/∂logp[n, tₙ] = −1/N, zero elsewhere.
    /// </summary>
    /// <param name="targets">N class indices in 0 .. C−1, one per row of this (N, C) Variable of log-probabilities.</param>
    /// <exception cref="ArgumentException">This is not (N, C), there are not N targets, or a target is outside 0 .. C−1.</exception>
    public Variable<T> NllLoss(int[] targets)
    {
        if (Rank != 2) throw new ArgumentException($"nll_loss needs (N, C) log-probabilities, got {Format(Shape)}");
        int n = Shape[0], c = Shape[1];
        if (targets.Length != n) throw new ArgumentException($"nll_loss: {targets.Length} targets for {n} rows", nameof(targets));
        int bad = Array.FindIndex(targets, t => (uint)t >= (uint)c);
        if (bad >= 0) throw new ArgumentException($"nll_loss: target {targets[bad]} at index {bad} is outside 0..{c - 1}", nameof(targets));
        T total = T.Zero;
        for (int i = 0; i < n; i++) total += Data[i * c + targets[i]];
        T scale = T.One / T.CreateChecked(n);
        return new([-total * scale], [], "nll_loss", [this], g =>
        {
            var gx = GradBuffer();
            for (int i = 0; i < n; i++) gx[i * c + targets[i]] -= g[0] * scale;
        });
    }

    /// <summary>Cross-entropy of logits (N, C) against class indices: <c>LogSoftmax().NllLoss(targets)</c>.</summary>
    public Variable<T> CrossEntropy(int[] targets) => LogSoftmax().NllLoss(targets);

    // ---- broadcasting machinery -----------------------------------------------------------------------------

    /// <summary>NumPy's rule: align on the right; each pair of sizes must be equal or one of them 1.</summary>
    /// <exception cref="ArgumentException">Two sizes differ and neither is 1.</exception>
    public static int[] BroadcastShape(int[] a, int[] b)
    {
        int rank = Math.Max(a.Length, b.Length);
        var shape = new int[rank];
        for (int i = 0; i < rank; i++)
        {
            int sa = i - rank + a.Length >= 0 ? a[i - rank + a.Length] : 1;
            int sb = i - rank + b.Length >= 0 ? b[i - rank + b.Length] : 1;
            if (sa != sb && sa != 1 && sb != 1)
                throw new ArgumentException($"shapes {Format(a)} and {Format(b)} do not broadcast: axis {i} (from the left of {Format(shape.Length == a.Length ? a : b)}) has sizes {sa} and {sb}; sizes must match or one be 1");
            shape[i] = sa == 1 ? sb : sa;
        }
        return shape;
    }

    /// <summary>Strides to read an array of <paramref name="shape"/> as if it had <paramref name="outShape"/>: 0 along broadcast axes.</summary>
    static int[] BroadcastStrides(int[] shape, int[] outShape)
    {
        var strides = new int[outShape.Length];
        int stride = 1;
        for (int i = outShape.Length - 1, j = shape.Length - 1; i >= 0; i--, j--)
        {
            if (j < 0) continue;   // a missing leading axis: stride 0
            strides[i] = shape[j] == 1 ? 0 : stride;
            stride *= shape[j];
        }
        return strides;
    }

    /// <summary>
    /// Calls <paramref name="visit"/>(offset in the big array, offset in the small one, row length) for each
    /// row (run along the last axis) of an array of <paramref name="bigShape"/>, with the small array read through <paramref name="strides"/>.
    /// </summary>
    static void ForEachRow(int[] bigShape, int[] strides, Action<int, int, int> visit)
    {
        int rank = bigShape.Length;
        int inner = rank == 0 ? 1 : bigShape[^1];
        int rows = inner == 0 ? 0 : SizeOf(bigShape) / inner;
        var index = new int[Math.Max(rank - 1, 0)];
        int small = 0;
        for (int r = 0; r < rows; r++)
        {
            visit(r * inner, small, inner);
            for (int axis = rank - 2; axis >= 0; axis--)   // odometer over the leading axes
            {
                small += strides[axis];
                if (++index[axis] < bigShape[axis]) break;
                small -= strides[axis] * bigShape[axis];
                index[axis] = 0;
            }
        }
    }

    /// <summary>The values of <paramref name="data"/> (of <paramref name="shape"/>) copied along the axes broadcast to <paramref name="outShape"/>; no copy when the shapes are equal.</summary>
    static T[] Expand(T[] data, int[] shape, int[] outShape)
    {
        if (shape.AsSpan().SequenceEqual(outShape)) return data;
        var output = new T[SizeOf(outShape)];
        var strides = BroadcastStrides(shape, outShape);
        bool alongRow = outShape.Length > 0 && strides[^1] != 0;
        ForEachRow(outShape, strides, (o, s, n) =>
        {
            if (alongRow) data.AsSpan(s, n).CopyTo(output.AsSpan(o, n));
            else output.AsSpan(o, n).Fill(data[s]);
        });
        return output;
    }

    /// <summary>
    /// small += big summed over the axes along which small (of <paramref name="smallShape"/>) is broadcast to
    /// <paramref name="bigShape"/>: the adjoint of <see cref="Expand"/>, and the backward of broadcasting.
    /// </summary>
    static void AccumulateReduced(T[] big, int[] bigShape, T[] small, int[] smallShape)
    {
        if (smallShape.AsSpan().SequenceEqual(bigShape))
        {
            TensorPrimitives.Add(small, big, small);
            return;
        }
        var strides = BroadcastStrides(smallShape, bigShape);
        bool alongRow = bigShape.Length > 0 && strides[^1] != 0;
        ForEachRow(bigShape, strides, (o, s, n) =>
        {
            if (alongRow) TensorPrimitives.Add(small.AsSpan(s, n), big.AsSpan(o, n), small.AsSpan(s, n));
            else small[s] += TensorPrimitives.Sum(big.AsSpan(o, n));
        });
    }

    static T[] Negated(T[] g)
    {
        var t = new T[g.Length];
        TensorPrimitives.Negate(g, t);
        return t;
    }

    int NormaliseAxis(int axis)
    {
        int a = axis < 0 ? axis + Rank : axis;
        if (a < 0 || a >= Rank) throw new ArgumentOutOfRangeException(nameof(axis), $"axis {axis} is outside a shape of rank {Rank} {Format(Shape)}");
        return a;
    }
}
