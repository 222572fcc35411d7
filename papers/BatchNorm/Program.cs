namespace PaperLab.Papers.BatchNorm;

/// <summary>Placeholder entry point: the experiment (Fig. 1, §3.3) lands with the new training spine.</summary>
public static class Program
{
    /// <summary>Prints where the experiment is and exits 0.</summary>
    public static int Main(string[] args)
    {
        Console.WriteLine("Batch Normalization (Ioffe & Szegedy 2015): the experiment lands with the new training spine.");
        return 0;
    }
}
