using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace PaperLab.Torch;

/// <summary>
/// Process-wide settings of the native libtorch that must be made before its first convolution or matrix product.
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
        CapOneDnn();
        LoadMklIntelCpu();
    }

    static void CapOneDnn()
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

    /// <summary>The library built from build/mkl_intel_cpu.c into each output folder, beside PaperLab.Shared.dll.</summary>
    public const string MklIntelCpuLibrary = "libpaperlab_mkl_intel_cpu.so";

    /// <summary>
    /// Whether <see cref="MklIntelCpuLibrary"/> was loaded at start-up, or why not: "loaded", "off
    /// (PAPERLAB_MKL=generic)", "not built (no C compiler at build time)", "not applicable (…)", or
    /// "failed: …". See <see cref="MklKernels"/> for the path oneMKL then chose.
    /// </summary>
    public static string MklIntelCpu { get; private set; } = "";

    /// <summary>
    /// oneMKL's dispatch on non-Intel processors. libtorch 2.10 links oneMKL 2024.0, which runs its generic
    /// kernels on any processor that is not an Intel one, whatever instructions it has: on the reference
    /// machine (AMD EPYC, AVX-512) a 1024² float32 product took 24 ms on one thread instead of 10. oneMKL asks
    /// <c>mkl_serv_intel_cpu_true()</c>, which libtorch_cpu.so exports and calls through its PLT, so a
    /// definition loaded into the process's global scope first answers instead (build/mkl_intel_cpu.c says
    /// more). Loaded here, when this assembly loads, before TorchSharp loads libtorch. Off with
    /// PAPERLAB_MKL=generic (to compare); a no-op on Intel processors. Never throws: failures are recorded in
    /// <see cref="MklIntelCpu"/>.
    /// </summary>
    static void LoadMklIntelCpu()
    {
        if (!OperatingSystem.IsLinux() || RuntimeInformation.ProcessArchitecture != Architecture.X64)
        {
            MklIntelCpu = "not applicable (Linux x86-64 only)";
            return;
        }
        if (string.Equals(Environment.GetEnvironmentVariable("PAPERLAB_MKL"), "generic", StringComparison.OrdinalIgnoreCase))
        {
            MklIntelCpu = "off (PAPERLAB_MKL=generic)";
            return;
        }
        string folder = Path.GetDirectoryName(typeof(TorchRuntime).Assembly.Location) is { Length: > 0 } d ? d : AppContext.BaseDirectory;
        string path = Path.Combine(folder, MklIntelCpuLibrary);
        if (!File.Exists(path))
        {
            MklIntelCpu = "not built (no C compiler at build time)";
            return;
        }
        try
        {
            MklIntelCpu = dlopen(path, RTLD_NOW | RTLD_GLOBAL) != IntPtr.Zero ? "loaded" : $"failed: {Marshal.PtrToStringUTF8(dlerror()) ?? "dlopen returned null"}";
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            MklIntelCpu = $"failed: {e.Message}";
        }
    }

    /// <summary>
    /// The kernels oneMKL chose for this process, from its own CPU detection (<c>mkl_serv_cpu_detect</c>:
    /// 0 generic, 3 SSE4.2, 5 AVX2, 7 AVX-512), e.g. "AVX-512". Loads libtorch on first use; "unknown" where
    /// this libtorch has no oneMKL.
    /// </summary>
    public static string MklKernels => mklKernels.Value;

    static readonly Lazy<string> mklKernels = new(() =>
    {
        try
        {
            LoadLibTorch();
            return mkl_serv_cpu_detect() switch
            {
                0 => "generic",
                3 => "SSE4.2",
                4 => "AVX",
                5 => "AVX2",
                7 => "AVX-512",
                int code => $"code {code}",
            };
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return "unknown";
        }
    });

    /// <summary>What runs and benches record: "AVX-512 kernels; libpaperlab_mkl_intel_cpu.so loaded" (<see cref="MklKernels"/>, then <see cref="MklIntelCpu"/>).</summary>
    public static string MklSetting => $"{MklKernels} kernels; {MklIntelCpuLibrary} {MklIntelCpu}";

    /// <summary>
    /// Makes glibc keep freed memory for reuse: large blocks come from the heap instead of mmap
    /// (M_MMAP_MAX = 0) and the heap is never trimmed (M_TRIM_THRESHOLD = 2³¹ − 1). Every training step
    /// allocates and frees the same large tensors (a language model's logits: 18 MB at batch 256 and a
    /// 17,907-word vocabulary); by default glibc returns such blocks to the kernel on free, so the next step
    /// pays a page fault and a zero-fill for every 4 KiB again — about a third of a step's CPU time for the
    /// Bengio et al. model on the reference machine. The process then holds on to its peak memory. Called by
    /// every run (RunContext); does nothing off Linux or where libc has no mallopt (musl).
    /// </summary>
    /// <returns>Whether both settings were applied.</returns>
    public static bool RetainFreedMemory()
    {
        if (!OperatingSystem.IsLinux()) return false;
        try
        {
            return mallopt(M_MMAP_MAX, 0) == 1 && mallopt(M_TRIM_THRESHOLD, int.MaxValue) == 1;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    }

    /// <summary>Which kernels run float32 convolutions: "libtorch native (oneDNN and NNPACK off)" after <see cref="UseNativeConvolutions"/>, else "oneDNN".</summary>
    public static string ConvolutionKernels { get; private set; } = "oneDNN";

    /// <summary>
    /// Runs convolutions on libtorch's own kernels (unfold to columns, then the BLAS matrix product, for
    /// forward and both gradients) instead of oneDNN's, by turning oneDNN and NNPACK off in libtorch's global
    /// context. Why: with oneDNN capped to SSE4.1 (see the class remarks) its convolutions are slow, about half
    /// the speed of its AVX-512 ones, while libtorch's native path uses the full-width matrix product and is
    /// exact on every shape checked against float64 (<c>TorchRuntimeTests</c>); LeNet-5 trains about 1.4×
    /// faster per CPU-second with it on the reference machine. NNPACK is turned off too: it is not built for
    /// this CPU and would print a warning on every convolution it declines. Called by every run
    /// (RunContext); PAPERLAB_CONV=onednn in the environment keeps oneDNN. Process-wide and idempotent.
    /// </summary>
    /// <returns>Whether the switch was made (false: PAPERLAB_CONV=onednn, or this libtorch lacks the entry points).</returns>
    public static bool UseNativeConvolutions()
    {
        if (string.Equals(Environment.GetEnvironmentVariable("PAPERLAB_CONV"), "onednn", StringComparison.OrdinalIgnoreCase)) return false;
        try
        {
            LoadLibTorch();
            IntPtr context = globalContext();
            setUserEnabledMkldnn(context, false);
            setUserEnabledNNPACK(context, false);
            if (userEnabledMkldnn(context)) return false;
            ConvolutionKernels = "libtorch native (oneDNN and NNPACK off)";
            return true;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    }

    /// <summary>Lets TorchSharp load libtorch (from the libtorch-cpu package's folder) before a [DllImport("libtorch_cpu")] here, so that it reaches the same library.</summary>
    static void LoadLibTorch() => TorchSharp.torch.get_num_threads();

    // at::globalContext() and three of at::Context's members (Itanium C++ ABI names; `this` is the first argument).
    [DllImport("libtorch_cpu", EntryPoint = "_ZN2at13globalContextEv")]
    static extern IntPtr globalContext();

    [DllImport("libtorch_cpu", EntryPoint = "_ZN2at7Context20setUserEnabledMkldnnEb")]
    static extern void setUserEnabledMkldnn(IntPtr context, [MarshalAs(UnmanagedType.U1)] bool enabled);

    [DllImport("libtorch_cpu", EntryPoint = "_ZNK2at7Context17userEnabledMkldnnEv")]
    [return: MarshalAs(UnmanagedType.U1)]
    static extern bool userEnabledMkldnn(IntPtr context);

    [DllImport("libtorch_cpu", EntryPoint = "_ZN2at7Context20setUserEnabledNNPACKEb")]
    static extern void setUserEnabledNNPACK(IntPtr context, [MarshalAs(UnmanagedType.U1)] bool enabled);

    const int M_TRIM_THRESHOLD = -1, M_MMAP_MAX = -4;   // malloc.h

    [DllImport("libc", EntryPoint = "mallopt")]
    static extern int mallopt(int param, int value);

    const int RTLD_NOW = 0x2, RTLD_GLOBAL = 0x100;   // dlfcn.h (glibc)

    [DllImport("libc", EntryPoint = "dlopen")]
    static extern IntPtr dlopen(string path, int flags);

    [DllImport("libc", EntryPoint = "dlerror")]
    static extern IntPtr dlerror();

    [DllImport("libtorch_cpu", EntryPoint = "mkl_serv_cpu_detect")]
    static extern int mkl_serv_cpu_detect();

    [DllImport("libc", EntryPoint = "setenv")]
    static extern int setenv(string name, string value, int overwrite);
}
