// The tensor autograd engine: the scalar engine of Scalar.cs with arrays in place of numbers, from
//   D. E. Rumelhart, G. E. Hinton, R. J. Williams. "Learning representations by back-propagating errors".
//   Nature 323, 533–536, 1986: the forward pass of Eqs. 1–2 and the backward pass of Eqs. 4–7, for a whole
//   layer and a whole mini-batch at once. For a layer X·W with upstream gradient G = ∂E/∂(X·W):
//     ∂E/∂W = Xᵀ·G    (Eq. 6, ∂E/∂w_ji = ∂E/∂x_j · y_i, summed over the cases of the batch)
//     ∂E/∂X = G·Wᵀ    (Eq. 7, ∂E/∂y_i = Σ_j ∂E/∂x_j · w_ji)
//
// A Variable holds a row-major array with its shape, the gradient of the final result with respect to it,
// the Variables it was computed from, and a closure that turns its gradient into theirs. Each operation in
// Operations.cs writes its backward next to its forward. No TorchSharp here: plain arrays, the matmul of
// Gemm.cs, and System.Numerics.Tensors' TensorPrimitives for the elementwise loops.
//
// The name follows PyTorch's autograd.Variable (before 0.4) and Chainer's Variable, and avoids a clash
// with TorchSharp's Tensor and System.Numerics.Tensors.Tensor<T>.

using System.Numerics;
using System.Numerics.Tensors;

namespace PaperLab.Papers.Backprop;

/// <summary>Whether operations record the graph (torch.no_grad's counterpart).</summary>
public static class Autograd
{
    [ThreadStatic] static int disabled;

    /// <summary>True unless inside a <see cref="NoGrad"/> scope on this thread.</summary>
    public static bool IsEnabled => disabled == 0;

    /// <summary>
    /// Until disposed, operations on this thread build no graph: their results do not require grad and keep
    /// no reference to their inputs (evaluation, optimiser updates).
    /// </summary>
    public static IDisposable NoGrad()
    {
        disabled++;
        return new Scope();
    }

    sealed class Scope : IDisposable
    {
        bool disposed;
        public void Dispose()
        {
            if (disposed) return;
            disposed = true;
            disabled--;
        }
    }
}

/// <summary>
/// An n-dimensional array of <typeparamref name="T"/> (float or double) in a computation graph: its values,
/// ∂(output)/∂(this) after <see cref="Backward"/>, and the operation that made it.
/// </summary>
/// <typeparam name="T">float or double (any IEEE floating-point type that System.Numerics.Tensors supports).</typeparam>
public sealed partial class Variable<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>The values, row-major (the last axis varies fastest); length = product of <see cref="Shape"/>.</summary>
    public T[] Data { get; }

    /// <summary>Size of each axis; empty for a scalar (which holds one value).</summary>
    public int[] Shape { get; }

    /// <summary>
    /// ∂(the Variable <see cref="Backward"/> was called on)/∂(this), same layout as <see cref="Data"/>; null
    /// until a backward pass reaches this Variable. Accumulates across backward passes (as in PyTorch).
    /// </summary>
    public T[]? Grad { get; set; }

    /// <summary>Whether gradients flow to this Variable: a parameter, or computed from one with autograd enabled.</summary>
    public bool RequiresGrad { get; }

    /// <summary>The operation that made this Variable ("matmul", "+", "relu", …); empty for a leaf.</summary>
    public string Op { get; }

    /// <summary>The Variables this one was computed from; empty for a leaf or when no gradient is needed.</summary>
    public IReadOnlyList<Variable<T>> Parents => parents;

    readonly Variable<T>[] parents;

    /// <summary>Given this Variable's gradient, adds ∂E/∂parent to each parent's gradient (micrograd's _backward).</summary>
    Action<T[]>? backward;

    /// <summary>Number of values.</summary>
    public int Length => Data.Length;

    /// <summary>Number of axes.</summary>
    public int Rank => Shape.Length;

    /// <summary>A leaf: an input (<paramref name="requiresGrad"/> false) or a parameter (true).</summary>
    /// <param name="data">Row-major values; kept, not copied.</param>
    /// <param name="shape">Size of each axis; none for a scalar.</param>
    /// <param name="requiresGrad">Whether <see cref="Backward"/> computes this Variable's gradient.</param>
    /// <exception cref="ArgumentException">The shape has a negative size or does not match the data's length.</exception>
    public Variable(T[] data, int[] shape, bool requiresGrad = false)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(shape);
        if (shape.Any(s => s < 0)) throw new ArgumentException($"shape {Format(shape)} has a negative size", nameof(shape));
        if (SizeOf(shape) != data.Length)
            throw new ArgumentException($"shape {Format(shape)} holds {SizeOf(shape)} values but the data has {data.Length}", nameof(data));
        Data = data;
        Shape = shape;
        RequiresGrad = requiresGrad;
        Op = "";
        parents = [];
    }

    /// <summary>The result of an operation: records the graph only if an input requires grad and autograd is on.</summary>
    Variable(T[] data, int[] shape, string op, Variable<T>[] inputs, Action<T[]> backwardRule)
    {
        Data = data;
        Shape = shape;
        Op = op;
        RequiresGrad = Autograd.IsEnabled && inputs.Any(p => p.RequiresGrad);
        parents = RequiresGrad ? inputs : [];
        backward = RequiresGrad ? backwardRule : null;
    }

    /// <summary>A parameter: a leaf whose gradient <see cref="Backward"/> computes.</summary>
    /// <param name="data">Row-major values; kept, not copied.</param>
    /// <param name="shape">Size of each axis.</param>
    public static Variable<T> Parameter(T[] data, params int[] shape) => new(data, shape, requiresGrad: true);

    /// <summary>An input that needs no gradient.</summary>
    /// <param name="data">Row-major values; kept, not copied.</param>
    /// <param name="shape">Size of each axis.</param>
    public static Variable<T> Constant(T[] data, params int[] shape) => new(data, shape, requiresGrad: false);

    /// <summary>A constant of shape () holding <paramref name="value"/>.</summary>
    public static Variable<T> Scalar(T value) => new([value], []);

    /// <summary>A constant of zeros.</summary>
    public static Variable<T> Zeros(params int[] shape) => new(new T[SizeOf(shape)], shape);

    /// <summary>The single value of a one-element Variable (a loss).</summary>
    /// <exception cref="InvalidOperationException">The Variable holds more than one value.</exception>
    public T Item() => Length == 1 ? Data[0]
        : throw new InvalidOperationException($"Item() needs a one-element Variable; this one has shape {Format(Shape)}");

    /// <summary>
    /// Reverse-mode differentiation (Eqs. 4–7 for every operation in the graph): seeds this Variable's
    /// gradient, then runs the backward rule of every Variable it depends on, outputs before inputs, adding
    /// ∂E/∂v into v.Grad for every v that requires grad. Leaves' gradients accumulate across calls; those of
    /// computed Variables hold this pass's only.
    /// </summary>
    /// <param name="gradient">∂E/∂this, same length as <see cref="Data"/>; null for a one-element loss (seeds 1).</param>
    /// <exception cref="InvalidOperationException">This Variable does not require grad, or has several values and no gradient was given.</exception>
    /// <exception cref="ArgumentException">The gradient's length differs from this Variable's.</exception>
    public void Backward(T[]? gradient = null)
    {
        if (!RequiresGrad)
            throw new InvalidOperationException(
                $"backward of a Variable that does not require grad (op '{Op}'): no parameter went into it, or it was computed inside Autograd.NoGrad()");
        if (gradient is null && Length != 1)
            throw new InvalidOperationException(
                $"backward() without a gradient needs a one-element output (a loss), got shape {Format(Shape)}: pass ∂E/∂output");
        if (gradient is not null && gradient.Length != Length)
            throw new ArgumentException($"gradient has {gradient.Length} values, the output {Length} (shape {Format(Shape)})", nameof(gradient));

        // Topological order: each Variable after those it was computed from (depth-first, as in Scalar.cs).
        var order = new List<Variable<T>>();
        var visited = new HashSet<Variable<T>>(ReferenceEqualityComparer.Instance);
        void Visit(Variable<T> v)
        {
            if (!visited.Add(v)) return;
            foreach (var parent in v.parents) Visit(parent);
            order.Add(v);
        }
        Visit(this);

        // Leaves (parameters) accumulate across passes; every computed Variable starts this pass from zero,
        // or a second backward through a shared intermediate would push its old gradient again.
        foreach (var v in order) if (v.parents.Length > 0) v.Grad = null;

        var seed = GradBuffer();
        if (gradient is null) seed[0] += T.One;
        else TensorPrimitives.Add(seed, gradient, seed);
        for (int i = order.Count - 1; i >= 0; i--)
            if (order[i].backward is { } rule && order[i].Grad is { } grad) rule(grad);
    }

    /// <summary>This Variable's gradient array, created as zeros on first use; backward rules add into it.</summary>
    T[] GradBuffer() => Grad ??= new T[Length];

    /// <summary>The values as doubles, for printing and comparisons.</summary>
    public double[] ToDoubleArray() => Array.ConvertAll(Data, double.CreateChecked);

    /// <inheritdoc/>
    public override string ToString() =>
        $"Variable<{typeof(T).Name}>{Format(Shape)} op='{Op}'{(RequiresGrad ? " requires_grad" : "")}";

    /// <summary>Product of the sizes (1 for a scalar).</summary>
    public static int SizeOf(int[] shape)
    {
        long size = 1;
        foreach (int s in shape) size *= s;
        return size <= Array.MaxLength ? (int)size : throw new ArgumentException($"shape {Format(shape)} holds {size} values, more than an array can");
    }

    /// <summary>A shape as PyTorch prints it: (2, 3).</summary>
    public static string Format(int[] shape) => "(" + string.Join(", ", shape) + ")";
}
