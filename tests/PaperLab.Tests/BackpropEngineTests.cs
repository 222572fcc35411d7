using System.Numerics;
using PaperLab.Papers.Backprop;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace PaperLab.Tests;

/// <summary>
/// The tensor engine (Variable.cs, Operations.cs, Gemm.cs) value by value against TorchSharp: every operation's
/// output and the gradients of its inputs, on random inputs, in float64 and float32.
/// </summary>
public class BackpropEngineTests
{
    /// <summary>Largest error relative to the largest reference magnitude: ‖ours − theirs‖∞ / ‖theirs‖∞.</summary>
    static double RelativeError(double[] ours, double[] theirs)
    {
        Assert.Equal(theirs.Length, ours.Length);
        double scale = theirs.Length == 0 ? 1 : Math.Max(theirs.Max(Math.Abs), 1e-300);
        return ours.Zip(theirs).Select(p => Math.Abs(p.First - p.Second)).DefaultIfEmpty(0).Max() / scale;
    }

    static readonly int[] Targets = [3, 0, 6, 6, 1, 4];   // class indices for the (6, 7) classification cases

    /// <summary>Each case: input shapes, range of the random inputs, the engine's computation, TorchSharp's.</summary>
    static (int[][] Shapes, double Low, double High) Case(string op) => op switch
    {
        "add" => ([[3, 4], [3, 4]], -2, 2),
        "add_row_broadcast" => ([[5, 4], [4]], -2, 2),
        "add_both_broadcast" => ([[5, 1], [1, 4]], -2, 2),
        "add_3d_broadcast" => ([[2, 1, 4], [3, 1]], -2, 2),
        "sub_broadcast" => ([[5, 4], [4]], -2, 2),
        "mul_broadcast" => ([[2, 3, 4], [3, 1]], -2, 2),
        "div_broadcast" => ([[3, 4], [4]], 0.5, 2),
        "scalar_arithmetic" => ([[3, 5]], -2, 2),
        "matmul" => ([[7, 13], [13, 5]], -1, 1),
        "matmul_blocked" => ([[37, 300], [300, 45]], -1, 1),
        "matmul_parallel" => ([[150, 200], [200, 70]], -1, 1),
        "relu" => ([[4, 6]], -2, 2),
        "tanh" => ([[4, 6]], -2, 2),
        "sigmoid" => ([[4, 6]], -3, 3),
        "exp" => ([[4, 6]], -2, 2),
        "log" => ([[4, 6]], 0.1, 3),
        "sum" => ([[4, 6]], -2, 2),
        "sum_axis0" => ([[4, 6]], -2, 2),
        "sum_axis1_keepdim" => ([[2, 4, 6]], -2, 2),
        "mean" => ([[4, 6]], -2, 2),
        "mean_axis" => ([[4, 6]], -2, 2),
        "reshape" => ([[4, 6]], -2, 2),
        "log_softmax" => ([[6, 7]], -5, 5),
        "nll_loss" => ([[6, 7]], -3, 0),
        "cross_entropy" => ([[6, 7]], -5, 5),
        _ => throw new ArgumentException(op),
    };

    static Variable<T> Ours<T>(string op, Variable<T>[] x) where T : unmanaged, IFloatingPointIeee754<T> => op switch
    {
        "add" or "add_row_broadcast" or "add_both_broadcast" or "add_3d_broadcast" => x[0] + x[1],
        "sub_broadcast" => x[0] - x[1],
        "mul_broadcast" => x[0] * x[1],
        "div_broadcast" => x[0] / x[1],
        "scalar_arithmetic" => T.CreateChecked(2) * x[0] - x[0] / T.CreateChecked(3) + T.One - (-x[0]) * T.CreateChecked(0.5),
        "matmul" or "matmul_blocked" or "matmul_parallel" => x[0].MatMul(x[1]),
        "relu" => x[0].Relu(),
        "tanh" => x[0].Tanh(),
        "sigmoid" => x[0].Sigmoid(),
        "exp" => x[0].Exp(),
        "log" => x[0].Log(),
        "sum" => x[0].Sum(),
        "sum_axis0" => x[0].Sum(0),
        "sum_axis1_keepdim" => x[0].Sum(1, keepDim: true),
        "mean" => x[0].Mean(),
        "mean_axis" => x[0].Mean(-1),
        "reshape" => x[0].Reshape(3, 8),
        "log_softmax" => x[0].LogSoftmax(),
        "nll_loss" => x[0].NllLoss(Targets),
        "cross_entropy" => x[0].CrossEntropy(Targets),
        _ => throw new ArgumentException(op),
    };

    static Tensor Theirs(string op, Tensor[] x)
    {
        var targets = tensor(Targets.Select(t => (long)t).ToArray());
        return op switch
        {
            "add" or "add_row_broadcast" or "add_both_broadcast" or "add_3d_broadcast" => x[0] + x[1],
            "sub_broadcast" => x[0] - x[1],
            "mul_broadcast" => x[0] * x[1],
            "div_broadcast" => x[0] / x[1],
            "scalar_arithmetic" => 2 * x[0] - x[0] / 3 + 1 - (-x[0]) * 0.5,
            "matmul" or "matmul_blocked" or "matmul_parallel" => x[0].matmul(x[1]),
            "relu" => x[0].relu(),
            "tanh" => x[0].tanh(),
            "sigmoid" => x[0].sigmoid(),
            "exp" => x[0].exp(),
            "log" => x[0].log(),
            "sum" => x[0].sum(),
            "sum_axis0" => x[0].sum([0L]),   // sum(0) would bind to sum(ScalarType)
            "sum_axis1_keepdim" => x[0].sum(1, keepdim: true),
            "mean" => x[0].mean(),
            "mean_axis" => x[0].mean([-1]),
            "reshape" => x[0].reshape(3, 8),
            "log_softmax" => nn.functional.log_softmax(x[0], -1),
            "nll_loss" => nn.functional.nll_loss(x[0], targets),
            "cross_entropy" => nn.functional.cross_entropy(x[0], targets),
            _ => throw new ArgumentException(op),
        };
    }

    public static TheoryData<string, string> OpsAndTypes()
    {
        var data = new TheoryData<string, string>();
        foreach (var op in new[] { "add", "add_row_broadcast", "add_both_broadcast", "add_3d_broadcast", "sub_broadcast", "mul_broadcast",
                                   "div_broadcast", "scalar_arithmetic", "matmul", "matmul_blocked", "matmul_parallel", "relu", "tanh",
                                   "sigmoid", "exp", "log", "sum", "sum_axis0", "sum_axis1_keepdim", "mean", "mean_axis", "reshape",
                                   "log_softmax", "nll_loss", "cross_entropy" })
            foreach (var type in new[] { "float64", "float32" })
                data.Add(op, type);
        return data;
    }

    [Theory]
    [MemberData(nameof(OpsAndTypes))]
    public void Operation_value_and_gradients_match_torch(string op, string type)
    {
        int previous = Gemm.Threads;
        Gemm.Threads = 2;   // matmul_parallel then runs in two bands
        try
        {
            if (type == "float64") Compare<double>(op, float64, 1e-9);
            else Compare<float>(op, float32, 1e-5);
        }
        finally { Gemm.Threads = previous; }
    }

    /// <summary>
    /// Random inputs (same values on both sides) → output; then backward of Σ output ⊙ U for a random U, so that
    /// every input gradient is nontrivial; asserts output and gradients agree within <paramref name="tolerance"/>.
    /// </summary>
    static void Compare<T>(string op, ScalarType dtype, double tolerance) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var (shapes, low, high) = Case(op);
        var random = new Random(op.Aggregate(17, (h, ch) => h * 31 + ch) & 0xffff);   // string.GetHashCode differs between processes
        var values = shapes.Select(s => Enumerable.Range(0, Variable<T>.SizeOf(s)).Select(_ => low + (high - low) * random.NextDouble()).ToArray()).ToArray();

        var inputs = values.Select((v, i) => Variable<T>.Parameter(v.Select(T.CreateChecked).ToArray(), shapes[i])).ToArray();
        var output = Ours(op, inputs);
        var upstream = Enumerable.Range(0, output.Length).Select(_ => random.NextDouble() * 2 - 1).ToArray();
        output.Backward(upstream.Select(T.CreateChecked).ToArray());

        using var scope = NewDisposeScope();
        var reference = values.Select((v, i) => tensor(v, shapes[i].Select(d => (long)d).ToArray(), float64).to(dtype).requires_grad_()).ToArray();
        var expected = Theirs(op, reference);
        Assert.Equal(expected.shape, output.Shape.Select(d => (long)d).ToArray());
        (expected * tensor(upstream, expected.shape, float64).to(dtype)).sum().backward();

        static double[] Values(Tensor t) => t.detach().to(float64).contiguous().data<double>().ToArray();
        double valueError = RelativeError(output.ToDoubleArray(), Values(expected));
        Assert.True(valueError <= tolerance, $"{op} {dtype}: output differs by {valueError:e2} (relative)");
        for (int i = 0; i < inputs.Length; i++)
        {
            Assert.NotNull(inputs[i].Grad);
            double gradError = RelativeError(Array.ConvertAll(inputs[i].Grad!, double.CreateChecked), Values(reference[i].grad!));
            Assert.True(gradError <= tolerance, $"{op} {dtype}: gradient of input {i} differs by {gradError:e2} (relative)");
        }
    }

    public static TheoryData<int, int, int, bool, bool, bool> GemmCases() => new()
    {
        { 1, 1, 1, false, false, false },
        { 7, 33, 5, false, false, false },
        { 13, 17, 300, true, false, true },
        { 61, 70, 129, false, true, false },
        { 100, 97, 260, true, true, true },
        { 6, 32, 1, false, false, true },
        { 130, 300, 784, false, false, false },
    };

    [Theory]
    [MemberData(nameof(GemmCases))]
    public void Gemm_equals_the_triple_loop_and_does_not_depend_on_threads(int m, int n, int k, bool transposeA, bool transposeB, bool accumulate)
    {
        var random = new Random(m * 1000 + n * 10 + k);
        double[] a = Enumerable.Range(0, m * k).Select(_ => random.NextDouble() - 0.5).ToArray();
        double[] b = Enumerable.Range(0, k * n).Select(_ => random.NextDouble() - 0.5).ToArray();
        double[] c0 = Enumerable.Range(0, m * n).Select(_ => random.NextDouble()).ToArray();
        double A(int i, int p) => transposeA ? a[p * m + i] : a[i * k + p];
        double B(int p, int j) => transposeB ? b[j * k + p] : b[p * n + j];
        var expected = new double[m * n];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double s = accumulate ? c0[i * n + j] : 0;
                for (int p = 0; p < k; p++) s += A(i, p) * B(p, j);
                expected[i * n + j] = s;
            }

        int previous = Gemm.Threads;
        try
        {
            // both kernels: 512-bit where the machine has AVX-512, and the Vector<T> one AVX2 and NEON machines run
            foreach (bool wide in new[] { true, false })
            {
                Gemm.AllowVector512 = wide;
                double[]? first = null;
                foreach (int threads in new[] { 1, 2, 3 })
                {
                    Gemm.Threads = threads;
                    var c = (double[])c0.Clone();
                    Gemm.Multiply(a, transposeA, b, transposeB, c, m, n, k, accumulate);
                    Assert.True(RelativeError(c, expected) < 1e-13, $"512-bit {wide}, threads {threads}: relative error {RelativeError(c, expected):e2}");
                    first ??= c;
                    Assert.Equal(first, c);   // bit for bit
                }
                // float32 on the same sizes, against the float64 loop
                float[] af = Array.ConvertAll(a, v => (float)v), bf = Array.ConvertAll(b, v => (float)v), cf = Array.ConvertAll(c0, v => (float)v);
                Gemm.Multiply(af, transposeA, bf, transposeB, cf, m, n, k, accumulate);
                Assert.True(RelativeError(Array.ConvertAll(cf, v => (double)v), expected) < 1e-5, $"512-bit {wide}, float32");
            }
        }
        finally
        {
            Gemm.Threads = previous;
            Gemm.AllowVector512 = true;
        }
    }

    [Fact]
    public void NoGrad_records_no_graph_and_backward_of_a_constant_says_why_it_fails()
    {
        var w = Variable<double>.Parameter([1, 2, 3, 4], 2, 2);
        var x = Variable<double>.Constant([1, 1], 1, 2);
        using (Autograd.NoGrad())
        {
            var y = x.MatMul(w);
            Assert.False(y.RequiresGrad);
            Assert.Empty(y.Parents);
            Assert.Equal(new double[] { 4, 6 }, y.Data);
            var e = Assert.Throws<InvalidOperationException>(() => y.Sum().Backward());
            Assert.Contains("NoGrad", e.Message);
        }
        var z = x.MatMul(w);
        Assert.True(z.RequiresGrad);
        var ambiguous = Assert.Throws<InvalidOperationException>(() => z.Backward());
        Assert.Contains("(1, 2)", ambiguous.Message);
        z.Sum().Backward();
        Assert.Equal(new double[] { 1, 1, 1, 1 }, w.Grad);
        z.Sum().Backward();   // a parameter's gradient accumulates, as in PyTorch, but z's is computed afresh
        Assert.Equal(new double[] { 2, 2, 2, 2 }, w.Grad);
        Assert.Equal(new double[] { 1, 1 }, z.Grad);
    }

    [Fact]
    public void Bad_shapes_and_targets_are_named_in_the_error()
    {
        var a = Variable<float>.Parameter(new float[12], 3, 4);
        var b = Variable<float>.Parameter(new float[6], 2, 3);
        Assert.Contains("(3, 4) and (2, 3) do not broadcast", Assert.Throws<ArgumentException>(() => a + b).Message);
        Assert.Contains("(M, K)·(K, N), got (3, 4)·(2, 3)", Assert.Throws<ArgumentException>(() => a.MatMul(b)).Message);
        Assert.Contains("target 4 at index 1 is outside 0..3", Assert.Throws<ArgumentException>(() => a.CrossEntropy([0, 4, 1])).Message);
        Assert.Contains("shape (3, 4) holds 12 values but the data has 11", Assert.Throws<ArgumentException>(() => Variable<float>.Constant(new float[11], 3, 4)).Message);
        Assert.Contains("axis 2 is outside", Assert.Throws<ArgumentOutOfRangeException>(() => a.Sum(2)).Message);
    }
}
