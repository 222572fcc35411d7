// The Debian 12 fix for TorchSharp 0.107.0, in one place.
//
// Why: libLibTorchSharp.so declares that it needs the symbol version GLIBCXX_3.4.32 of libstdc++.so.6,
// for a single symbol (_ZSt21ios_base_library_initv, which GCC 13 emits and nothing here calls).
// Debian 12's libstdc++ stops at GLIBCXX_3.4.30, so the dynamic loader refuses the whole library and
// TorchSharp then prints a misleading "libtorch-cpu-linux-x64 not referenced".
//
// What: in the ELF section .gnu.version_r ("version needs"), every required version is an
// Elf64_Vernaux record with a flags field. Setting VER_FLG_WEAK (0x2) on the GLIBCXX_3.4.32 record
// turns "refuse to load" into "accept, the symbol binds without a version check". glibc's ld.so honours
// it (elf/dl-version.c: a missing weak version is not fatal). Clearing the version on the symbol
// (patchelf --clear-symbol-version) is not enough, because the need record itself stays.
//
// The code targets the C# and .NET Standard that MSBuild's inline task factory compiles with.
//
// Where: the build calls WeakenVersionNeed (the MSBuild task at the bottom) after copying files to the
// output folder, on the copy of libLibTorchSharp.so placed there, and only when the system libstdc++
// lacks the version. The patched copy is written as a new file and renamed over the old one, so a copy
// hard-linked to the NuGet cache is replaced, never edited in place.
//
// References: System V ABI / LSB 5.0 "Symbol Versioning" (Elf64_Verneed, Elf64_Vernaux, VER_FLG_WEAK).

#nullable enable
using System;
using System.IO;
using System.Text;

namespace PaperLab.Build
{
    /// <summary>Reads and edits the version-need records (.gnu.version_r) of a 64-bit little-endian ELF file.</summary>
    public static class ElfVersionNeeds
    {
        /// <summary>VER_FLG_WEAK: the required version may be absent.</summary>
        public const ushort VerFlagWeak = 0x2;
        const uint ShtGnuVerneed = 0x6ffffffe;

        /// <summary>
        /// Sets VER_FLG_WEAK on every version-need record named <paramref name="versionName"/>.
        /// Returns the number of records changed (0 when there is none or all are already weak).
        /// Throws <see cref="InvalidDataException"/> when <paramref name="elf"/> is not a well-formed
        /// 64-bit little-endian ELF image.
        /// </summary>
        public static int MarkWeak(byte[] elf, string versionName)
        {
            int changed = 0;
            foreach (var (flagsOffset, name, flags) in Records(elf))
            {
                if (name != versionName || (flags & VerFlagWeak) != 0) continue;
                WriteU16(elf, flagsOffset, (ushort)(flags | VerFlagWeak));
                changed++;
            }
            return changed;
        }

        /// <summary>The flags of the version-need record named <paramref name="versionName"/>, or null if there is none.</summary>
        public static ushort? FlagsOf(byte[] elf, string versionName)
        {
            foreach (var (_, name, flags) in Records(elf))
                if (name == versionName) return flags;
            return null;
        }

        /// <summary>
        /// True when the shared library at <paramref name="path"/> defines the symbol version
        /// <paramref name="versionName"/> (its name appears NUL-terminated in the file, which for
        /// libstdc++ means it is in .gnu.version_d).
        /// </summary>
        public static bool Defines(string path, string versionName)
        {
            byte[] bytes = File.ReadAllBytes(path);
            byte[] needle = Encoding.ASCII.GetBytes(versionName + "\0");
            for (int i = 0; i + needle.Length <= bytes.Length; i++)
            {
                int j = 0;
                while (j < needle.Length && bytes[i + j] == needle[j]) j++;
                if (j == needle.Length) return true;
            }
            return false;
        }

        /// <summary>Yields (file offset of vna_flags, version name, vna_flags) for every Elf64_Vernaux record.</summary>
        static System.Collections.Generic.IEnumerable<(int FlagsOffset, string Name, ushort Flags)> Records(byte[] elf)
        {
            if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F')
                throw new InvalidDataException("not an ELF file (bad magic number)");
            if (elf[4] != 2 || elf[5] != 1)
                throw new InvalidDataException("only 64-bit little-endian ELF files are supported");

            long shoff = (long)ReadU64(elf, 0x28);
            int shentsize = ReadU16(elf, 0x3A), shnum = ReadU16(elf, 0x3C);
            Check(elf, shoff, (long)shentsize * shnum, "section header table");

            for (int i = 0; i < shnum; i++)
            {
                long sh = shoff + (long)i * shentsize;
                if (ReadU32(elf, sh + 4) != ShtGnuVerneed) continue;
                long offset = (long)ReadU64(elf, sh + 0x18);
                uint link = ReadU32(elf, sh + 0x28), count = ReadU32(elf, sh + 0x2C);
                if (link >= shnum) throw new InvalidDataException(".gnu.version_r links to a missing string table");
                long strtab = (long)ReadU64(elf, shoff + (long)link * shentsize + 0x18);

                long need = offset;
                for (uint n = 0; n < count; n++)
                {
                    Check(elf, need, 16, "Elf64_Verneed");
                    ushort auxCount = ReadU16(elf, need + 2);
                    long aux = need + ReadU32(elf, need + 8);
                    for (int a = 0; a < auxCount; a++)
                    {
                        Check(elf, aux, 16, "Elf64_Vernaux");
                        ushort flags = ReadU16(elf, aux + 4);
                        string name = ReadCString(elf, strtab + ReadU32(elf, aux + 8));
                        yield return ((int)(aux + 4), name, flags);
                        aux += ReadU32(elf, aux + 12);
                    }
                    uint next = ReadU32(elf, need + 12);
                    if (next == 0) break;
                    need += next;
                }
            }
        }

        static void Check(byte[] b, long at, long size, string what)
        {
            if (at < 0 || size < 0 || at + size > b.Length)
                throw new InvalidDataException($"truncated ELF file: {what} at offset {at} runs past the end ({b.Length} bytes)");
        }
        static ushort ReadU16(byte[] b, long at) { Check(b, at, 2, "field"); return BitConverter.ToUInt16(b, (int)at); }
        static uint ReadU32(byte[] b, long at) { Check(b, at, 4, "field"); return BitConverter.ToUInt32(b, (int)at); }
        static ulong ReadU64(byte[] b, long at) { Check(b, at, 8, "field"); return BitConverter.ToUInt64(b, (int)at); }
        static void WriteU16(byte[] b, long at, ushort v) { b[at] = (byte)v; b[at + 1] = (byte)(v >> 8); }
        static string ReadCString(byte[] b, long at)
        {
            Check(b, at, 1, "string");
            int end = Array.IndexOf(b, (byte)0, (int)at);
            if (end < 0) throw new InvalidDataException("unterminated string in ELF string table");
            return Encoding.ASCII.GetString(b, (int)at, end - (int)at);
        }

        /// <summary>
        /// Marks <paramref name="versionName"/> weak in the library at <paramref name="path"/> by writing a
        /// patched copy beside it and renaming it over the original (atomic; breaks hard links).
        /// Returns the number of records changed; 0 leaves the file untouched.
        /// </summary>
        public static int MarkWeakInFile(string path, string versionName)
        {
            byte[] elf = File.ReadAllBytes(path);
            int changed = MarkWeak(elf, versionName);
            if (changed == 0) return 0;
            string tmp = path + ".weak.tmp";
            File.WriteAllBytes(tmp, elf);
            File.Replace(tmp, path, null); // rename(2): atomic, and a hard link to the original is left alone
            return changed;
        }
    }

#if !PAPERLAB_ELF_ONLY
    /// <summary>
    /// MSBuild task: marks <see cref="VersionName"/> weak in each of <see cref="Libraries"/> when none of
    /// <see cref="SystemLibraries"/> (the candidate paths of the system libstdc++.so.6) defines it.
    /// </summary>
    public sealed class WeakenVersionNeed : Microsoft.Build.Utilities.Task
    {
        /// <summary>The copies of libLibTorchSharp.so in the output folder.</summary>
        [Microsoft.Build.Framework.Required] public Microsoft.Build.Framework.ITaskItem[] Libraries { get; set; } = Array.Empty<Microsoft.Build.Framework.ITaskItem>();
        /// <summary>Where the system libstdc++.so.6 may be; the first that exists is read.</summary>
        [Microsoft.Build.Framework.Required] public Microsoft.Build.Framework.ITaskItem[] SystemLibraries { get; set; } = Array.Empty<Microsoft.Build.Framework.ITaskItem>();
        /// <summary>The symbol version to make optional, e.g. GLIBCXX_3.4.32.</summary>
        [Microsoft.Build.Framework.Required] public string VersionName { get; set; } = "";

        /// <inheritdoc/>
        public override bool Execute()
        {
            string? system = null;
            foreach (var item in SystemLibraries)
                if (File.Exists(item.ItemSpec)) { system = item.ItemSpec; break; }
            if (system == null)
            {
                Log.LogMessage(Microsoft.Build.Framework.MessageImportance.Low, "No system libstdc++.so.6 found; TorchSharp left as shipped.");
                return true;
            }
            if (ElfVersionNeeds.Defines(system, VersionName))
            {
                Log.LogMessage(Microsoft.Build.Framework.MessageImportance.Low, $"{system} defines {VersionName}; TorchSharp left as shipped.");
                return true;
            }
            foreach (var lib in Libraries)
            {
                try
                {
                    int n = ElfVersionNeeds.MarkWeakInFile(lib.ItemSpec, VersionName);
                    if (n > 0)
                        Log.LogMessage(Microsoft.Build.Framework.MessageImportance.High,
                            $"PaperLab: {system} lacks {VersionName}; marked that requirement weak in {lib.ItemSpec}");
                }
                catch (Exception e) when (e is IOException || e is InvalidDataException || e is UnauthorizedAccessException)
                {
                    Log.LogError($"PaperLab: could not patch {lib.ItemSpec}: {e.Message}");
                }
            }
            return !Log.HasLoggedErrors;
        }
    }
#endif
}
