// Entry point. The experiment (command line, run folder, report) is written on the project's training spine;
// until then the program offers only the engine-speed measurement of Bench.cs.

namespace PaperLab.Papers.Backprop;

/// <summary>Command-line entry.</summary>
public static class Program
{
    /// <summary>
    /// <c>--bench [options]</c> runs <see cref="Bench"/> (see bench/compare.sh); anything else prints that the
    /// experiment is not here yet. Exit 0, or 2 for a malformed bench option.
    /// </summary>
    public static int Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "--bench") return Bench.Main(args[1..]);
        Console.WriteLine("Backprop: the experiment lands with the new training spine; `--bench` measures the engine against TorchSharp.");
        return 0;
    }
}
