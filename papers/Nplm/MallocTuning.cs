// Why: every training step of this model allocates and frees a few tensors of B·|V| floats (the logits,
// their log-softmax, their gradient: 18 MB each at B = 256, |V| = 17,907). glibc's malloc serves blocks that
// large with mmap and gives them back to the kernel on free (or trims them off the heap top), so the next
// step takes a fresh page fault, and a zero-fill by the kernel, for every 4 KiB of them. On the reference
// machine (under load from other jobs) that was about a third of the CPU time of a step. Keeping freed memory
// in the process (no mmap for large blocks, no trimming) lets the next step reuse the same pages.
// PyTorch programs see the same behaviour; bench/pytorch_nplm_bench.py applies the same two settings.

using System.Runtime.InteropServices;

namespace PaperLab.Papers.Nplm;

/// <summary>glibc malloc settings for a process that allocates the same large tensors every step.</summary>
public static class MallocTuning
{
    const int M_TRIM_THRESHOLD = -1;   // malloc.h
    const int M_MMAP_MAX = -4;

    [DllImport("libc", EntryPoint = "mallopt")]
    private static extern int Mallopt(int param, int value);

    /// <summary>
    /// Makes glibc keep freed memory for reuse: large blocks come from the heap instead of mmap
    /// (M_MMAP_MAX = 0) and the heap is never trimmed (M_TRIM_THRESHOLD = 2³¹ − 1). Call once, early; the
    /// process then holds on to its peak memory. Does nothing off Linux or where libc has no mallopt.
    /// </summary>
    /// <returns>Whether both settings were applied.</returns>
    public static bool RetainFreedMemory()
    {
        if (!OperatingSystem.IsLinux()) return false;
        try
        {
            return Mallopt(M_MMAP_MAX, 0) == 1 && Mallopt(M_TRIM_THRESHOLD, int.MaxValue) == 1;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;   // not glibc (e.g. musl): leave the allocator as it is
        }
    }
}
