// LeNet-5 experiment entry point (work in progress).
namespace PaperLab.Papers.LeNet5;

/// <summary>Command-line entry of the LeNet-5 experiment.</summary>
public static class Experiment
{
    /// <summary>Runs the experiment; returns the process exit code.</summary>
    public static int Main(string[] args)
    {
        Console.Error.WriteLine("LeNet-5: not implemented yet");
        return 1;
    }
}
