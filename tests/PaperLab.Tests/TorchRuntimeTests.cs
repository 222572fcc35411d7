using System.Runtime.CompilerServices;
using PaperLab.Torch;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace PaperLab.Tests;

static class TestAssemblySetup
{
    /// <summary>Loads PaperLab.Shared (and so its libtorch settings) before any test touches libtorch.</summary>
    [ModuleInitializer]
    internal static void LoadSharedFirst() => RuntimeHelpers.RunModuleConstructor(typeof(TorchRuntime).Module.ModuleHandle);
}

public class TorchRuntimeTests
{
    [Fact]
    public void OneDnn_is_capped_unless_the_user_chose_a_cap()
    {
        Assert.Matches("^(set ONEDNN_MAX_CPU_ISA=SSE41|kept ONEDNN_MAX_CPU_ISA=.+ \\(set by the user\\))$", TorchRuntime.OneDnnSetting);
    }

    [Fact]
    public void Runs_put_convolutions_on_libtorchs_native_kernels()
    {
        _ = new PaperLab.Runs.RunContext(new PaperLab.Runs.PaperInfo("t", "t"), new PaperLab.Cli.RunOptions(), PaperLab.Training.TrainingProgress.Silent());
        if (Environment.GetEnvironmentVariable("PAPERLAB_CONV") is null)
            Assert.Equal("libtorch native (oneDNN and NNPACK off)", TorchRuntime.ConvolutionKernels);
    }

    /// <summary>
    /// The input gradient of a convolution, in float32, equals the float64 one (which does not go through
    /// oneDNN) and is the same on every call. Without the oneDNN cap these failed on an AVX-512 machine:
    /// NaN or a different gradient each call (AVX-512 kernels), off by more than 1 (AVX2 kernels).
    /// </summary>
    /// <remarks>Checked on both paths: oneDNN capped (PAPERLAB_CONV=onednn) and libtorch's native kernels (runs' default).</remarks>
    [Theory]
    [InlineData(2, 32, 16, 8, 28, 3)]
    [InlineData(1, 8, 16, 8, 28, 3)]
    [InlineData(2, 4, 3, 5, 9, 3)]
    [InlineData(1, 64, 1, 6, 28, 5)]
    [InlineData(2, 64, 6, 16, 14, 5)]
    public void Convolution_input_gradients_are_exact_and_repeatable(int threadCount, int b, int cIn, int cOut, int size, int k)
    {
        using var threads = new TorchThreads(threadCount);
        TorchRuntime.UseNativeConvolutions();   // what every run does (process-wide); the oneDNN path is checked with PAPERLAB_CONV=onednn
        torch.manual_seed(0);
        using var w = randn(cOut, cIn, k, k, dtype: float64) * 0.1;
        using var x = randn(b, cIn, size, size, dtype: float64);
        using var g = randn(b, cOut, size, size, dtype: float64);
        Tensor InputGrad(ScalarType type)
        {
            using var scope = NewDisposeScope();
            var xi = x.to(type).detach().clone().requires_grad_(true);
            var y = nn.functional.conv2d(xi, w.to(type), padding: new long[] { k / 2, k / 2 });
            (y * g.to(type)).sum().backward();
            return xi.grad!.to(float64).MoveToOuterDisposeScope();
        }
        using var reference = InputGrad(float64);
        for (int call = 0; call < 3; call++)
        {
            using var got = InputGrad(float32);
            Assert.True(got.isfinite().all().item<bool>(), $"call {call}: the float32 input gradient has NaN or infinite entries");
            double err = (got - reference).abs().max().item<double>();
            Assert.True(err < 1e-4, $"call {call}: float32 input gradient differs from float64 by {err:e2} (expected < 1e-4)");
        }
    }
}

public class MatrixProductTests
{
    /// <summary>
    /// The build compiles build/mkl_intel_cpu.c beside PaperLab.Shared.dll and TorchRuntime loads it, so
    /// oneMKL runs vector kernels this processor's feature bits allow (on an Intel processor it does so
    /// without the library): AVX-512 on an AVX-512 processor such as the reference machine's, at least AVX2 on
    /// any AVX2 one. Fails when the build skipped it while a C compiler exists, when dlopen refused it, or when
    /// oneMKL kept its generic path.
    /// </summary>
    [Fact]
    public void OneMkl_runs_the_widest_kernels_the_processor_has()
    {
        if (!OperatingSystem.IsLinux() || System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture != System.Runtime.InteropServices.Architecture.X64)
        {
            Assert.StartsWith("not applicable", TorchRuntime.MklIntelCpu);
            return;
        }
        if (Environment.GetEnvironmentVariable("PAPERLAB_MKL") is not null || Environment.GetEnvironmentVariable("MKL_ENABLE_INSTRUCTIONS") is not null) return;   // the user chose
        if (File.Exists("/usr/bin/cc")) Assert.Equal("loaded", TorchRuntime.MklIntelCpu);
        if (TorchRuntime.MklIntelCpu != "loaded") return;
        string flags = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("flags")) ?? "";
        string[] has = flags.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (has.Contains("avx512f")) Assert.Equal("AVX-512", TorchRuntime.MklKernels);
        else if (has.Contains("avx2")) Assert.Contains(TorchRuntime.MklKernels, new[] { "AVX2", "AVX-512" });
        Assert.NotEqual("generic", TorchRuntime.MklKernels);
        Assert.Equal($"{TorchRuntime.MklKernels} kernels; libpaperlab_mkl_intel_cpu.so loaded", TorchRuntime.MklSetting);
    }

    /// <summary>
    /// float32 matrix products (libtorch's BLAS: forward and both gradients, 2-D and batched as attention
    /// does them) equal the float64 ones within float32 rounding, and are the same on every call, at one and
    /// two threads. The shapes are the papers' (NPLM's output layer, a GPT block, LeNet-5's unfolded
    /// convolution, attention scores) and odd sizes that leave partial tiles in every direction of a kernel.
    /// oneDNN's wide convolution kernels failed such a check on the reference machine (see
    /// TorchRuntimeTests); this one guards oneMKL's AVX-512 path, which build/mkl_intel_cpu.c opens there.
    /// </summary>
    [Theory]
    [InlineData(1, 0, 256, 100, 17907)]
    [InlineData(2, 0, 256, 100, 17907)]
    [InlineData(2, 0, 512, 128, 512)]
    [InlineData(1, 0, 37, 53, 29)]
    [InlineData(2, 0, 1, 257, 33)]
    [InlineData(2, 0, 150, 25, 784)]
    [InlineData(1, 0, 1023, 1025, 17)]
    [InlineData(2, 24, 64, 32, 64)]
    [InlineData(1, 6, 19, 11, 23)]
    public void Float32_products_match_float64_and_repeat(int threadCount, int batch, int m, int k, int n)
    {
        using var threads = new TorchThreads(threadCount);
        torch.manual_seed(1);
        long[] Shape(int rows, int cols) => batch == 0 ? new long[] { rows, cols } : new long[] { batch, rows, cols };
        using var a = randn(Shape(m, k), dtype: float64);
        using var b = randn(Shape(n, k), dtype: float64);
        using var g = randn(Shape(m, n), dtype: float64);
        (Tensor y, Tensor da, Tensor db) Products(ScalarType type)
        {
            using var scope = NewDisposeScope();
            var ai = a.to(type).detach().requires_grad_(true);
            var bi = b.to(type).detach().requires_grad_(true);
            var y = ai.matmul(bi.transpose(-2, -1));          // y = a·bᵀ, as nn.Linear and attention scores
            (y * g.to(type)).sum().backward();                   // da = g·b, db = gᵀ·a
            return (y.detach().to(float64).MoveToOuterDisposeScope(), ai.grad!.to(float64).MoveToOuterDisposeScope(), bi.grad!.to(float64).MoveToOuterDisposeScope());
        }
        var (y64, da64, db64) = Products(float64);
        using var _y = y64; using var _a = da64; using var _b = db64;
        Tensor? firstY = null;
        try
        {
            for (int call = 0; call < 3; call++)
            {
                var (y, da, db) = Products(float32);
                using var __y = y; using var __a = da; using var __b = db;
                // Rounding a sum of `terms` products of unit normals to float32 errs by about 6e-8·terms (worst case);
                // 4e-5·√terms is far above the typical error and far below a wrong kernel's (order 1).
                foreach (var (name, got, want, terms) in new[] { ("y", y, y64, k), ("grad a", da, da64, n), ("grad b", db, db64, m) })
                {
                    Assert.True(got.isfinite().all().item<bool>(), $"call {call}: float32 {name} has NaN or infinite entries");
                    double err = (got - want).abs().max().item<double>(), bound = 4e-5 * Math.Sqrt(terms);
                    Assert.True(err < bound, $"call {call}: float32 {name} differs from float64 by {err:e2} (expected < {bound:e2})");
                }
                if (firstY is null) firstY = y.clone();
                else Assert.True(firstY.equal(y).all().item<bool>(), $"call {call}: y differs from the first call's");
            }
        }
        finally { firstY?.Dispose(); }
    }
}
