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
        int threads = torch.get_num_threads();
        torch.set_num_threads(threadCount);
        TorchRuntime.UseNativeConvolutions();   // what every run does (process-wide); the oneDNN path is checked with PAPERLAB_CONV=onednn
        try
        {
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
        finally { torch.set_num_threads(threads); }
    }
}
