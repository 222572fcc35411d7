using PaperLab.Build;
using Xunit;

namespace PaperLab.Tests;

/// <summary>The Debian 12 fix of build/WeakVersionNeed.cs, on a pristine libLibTorchSharp.so from the NuGet cache.</summary>
public class ElfVersionNeedsTests
{
    static string PristineLibrary()
    {
        string nuget = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
            ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        string path = Path.Combine(nuget, "torchsharp", "0.107.0", "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
        Assert.True(File.Exists(path), $"expected the TorchSharp package at {path} (run dotnet restore)");
        return path;
    }

    [Fact]
    public void Shipped_library_requires_GLIBCXX_3_4_32_strongly()
    {
        byte[] elf = File.ReadAllBytes(PristineLibrary());
        Assert.Equal((ushort)0, ElfVersionNeeds.FlagsOf(elf, "GLIBCXX_3.4.32"));
    }

    [Fact]
    public void MarkWeak_sets_only_the_weak_flag_of_that_one_record()
    {
        byte[] original = File.ReadAllBytes(PristineLibrary());
        byte[] patched = (byte[])original.Clone();

        Assert.Equal(1, ElfVersionNeeds.MarkWeak(patched, "GLIBCXX_3.4.32"));
        Assert.Equal(ElfVersionNeeds.VerFlagWeak, ElfVersionNeeds.FlagsOf(patched, "GLIBCXX_3.4.32"));
        Assert.Equal((ushort)0, ElfVersionNeeds.FlagsOf(patched, "GLIBCXX_3.4.30"));
        // exactly one byte differs: the low byte of that vna_flags
        Assert.Equal(1, original.Zip(patched).Count(p => p.First != p.Second));
        // idempotent
        Assert.Equal(0, ElfVersionNeeds.MarkWeak(patched, "GLIBCXX_3.4.32"));
    }

    [Fact]
    public void MarkWeakInFile_replaces_the_file_and_leaves_a_hard_linked_original_alone()
    {
        string dir = Directory.CreateTempSubdirectory("elf").FullName;
        string source = Path.Combine(dir, "source.so"), copy = Path.Combine(dir, "copy.so");
        File.Copy(PristineLibrary(), source);
        File.CreateSymbolicLink(copy + ".sym", source); // unrelated; just make sure links do not confuse it
        Assert.Equal(0, Link(source, copy));

        Assert.Equal(1, ElfVersionNeeds.MarkWeakInFile(copy, "GLIBCXX_3.4.32"));
        Assert.Equal((ushort)0, ElfVersionNeeds.FlagsOf(File.ReadAllBytes(source), "GLIBCXX_3.4.32"));
        Assert.Equal(ElfVersionNeeds.VerFlagWeak, ElfVersionNeeds.FlagsOf(File.ReadAllBytes(copy), "GLIBCXX_3.4.32"));
        Directory.Delete(dir, true);
    }

    [Fact]
    public void Truncated_or_foreign_files_are_rejected_with_a_reason()
    {
        byte[] elf = File.ReadAllBytes(PristineLibrary());
        var truncated = elf.AsSpan(0, 4096).ToArray();
        var e1 = Assert.Throws<InvalidDataException>(() => ElfVersionNeeds.MarkWeak(truncated, "GLIBCXX_3.4.32"));
        Assert.Contains("truncated", e1.Message);
        var e2 = Assert.Throws<InvalidDataException>(() => ElfVersionNeeds.MarkWeak(new byte[100], "GLIBCXX_3.4.32"));
        Assert.Contains("magic", e2.Message);
    }

    [Fact]
    public void The_build_output_this_test_runs_from_loads_TorchSharp()
    {
        // This process was built by the same Directory.Build.targets: if the fix were missing or wrong
        // on a machine that needs it, TorchSharp's static constructor would throw here.
        using var x = TorchSharp.torch.ones(2, 2);
        Assert.Equal(4.0f, x.sum().item<float>());
        string outCopy = Path.Combine(AppContext.BaseDirectory, "libLibTorchSharp.so");
        if (File.Exists(outCopy) && !ElfVersionNeeds.Defines("/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "GLIBCXX_3.4.32"))
            Assert.Equal(ElfVersionNeeds.VerFlagWeak, ElfVersionNeeds.FlagsOf(File.ReadAllBytes(outCopy), "GLIBCXX_3.4.32"));
    }

    static int Link(string existing, string newPath)
    {
        var p = System.Diagnostics.Process.Start("ln", new[] { existing, newPath })!;
        p.WaitForExit();
        return p.ExitCode;
    }
}
