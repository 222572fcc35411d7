using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace PaperLab.Torch;

/// <summary>
/// Process-wide settings of the native libtorch that must be made before its first convolution.
/// </summary>
/// <remarks>
/// <para><b>oneDNN's convolution backward-data kernels.</b> On the reference machine (an AMD EPYC
/// virtual machine with AVX-512), the convolution input-gradient kernels that libtorch 2.10's bundled
/// oneDNN generates for AVX-512 and for AVX2 are wrong for some shapes: the input gradient of a
/// 16→8-channel 3×3 convolution on (32, 16, 28, 28) came out NaN, or different on each call of the same
/// computation (AVX-512), and a 1→6-channel 5×5 one was off by 1.7 (AVX2). DDPM's U-Net then diverged
/// at its second step. Forward passes and weight gradients were right; every other operation the papers
/// use (matmul, softmax, norms, pooling, activations) was checked right. oneDNN's SSE4.1 kernels are
/// exact and repeatable on every shape tried (<c>TorchRuntimeTests</c>); they cost about 40% of
/// LeNet-5's training throughput there (measured: ~5,500 against ~10,500 images/s, 2 threads).</para>
/// <para>So, unless the user has set <c>ONEDNN_MAX_CPU_ISA</c> (or the older <c>DNNL_MAX_CPU_ISA</c>)
/// themselves, this sets <c>ONEDNN_MAX_CPU_ISA=SSE41</c> in the native environment. On a machine whose
/// AVX2/AVX-512 kernels pass <c>TorchRuntimeTests</c>, <c>ONEDNN_MAX_CPU_ISA=ALL</c> gives the speed back. oneDNN reads it
/// once, at its first primitive, which is why it happens when this assembly loads (a module
/// initializer): every paper, test and notebook touches PaperLab.Shared before it builds a model.
/// .NET's <c>Environment.SetEnvironmentVariable</c> does not reach native code on Linux and macOS, hence
/// the call to the C library's <c>setenv</c>.</para>
/// </remarks>
public static class TorchRuntime
{
    /// <summary>The oneDNN instruction-set cap applied when the user has not chosen one.</summary>
    public const string OneDnnMaxIsa = "SSE41";

    /// <summary>What was done at start-up: "set ONEDNN_MAX_CPU_ISA=AVX2", or "kept ONEDNN_MAX_CPU_ISA=…" when the user set it.</summary>
    public static string OneDnnSetting { get; private set; } = "";

    [ModuleInitializer]
    internal static void Configure()
    {
        string? mine = Environment.GetEnvironmentVariable("ONEDNN_MAX_CPU_ISA") ?? Environment.GetEnvironmentVariable("DNNL_MAX_CPU_ISA");
        if (mine != null)
        {
            OneDnnSetting = $"kept ONEDNN_MAX_CPU_ISA={mine} (set by the user)";
            return;
        }
        if (OperatingSystem.IsWindows()) Environment.SetEnvironmentVariable("ONEDNN_MAX_CPU_ISA", OneDnnMaxIsa);
        else setenv("ONEDNN_MAX_CPU_ISA", OneDnnMaxIsa, 1);
        OneDnnSetting = $"set ONEDNN_MAX_CPU_ISA={OneDnnMaxIsa}";
    }

    [DllImport("libc", EntryPoint = "setenv")]
    static extern int setenv(string name, string value, int overwrite);
}
