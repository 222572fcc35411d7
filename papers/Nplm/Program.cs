namespace PaperLab.Papers.Nplm;

/// <summary>Entry point. The experiment (options, run folder, report) is written against the new training spine.</summary>
public static class Program
{
    /// <summary>Prints where the experiment stands and exits 0.</summary>
    public static int Main(string[] args)
    {
        Console.WriteLine("the experiment lands with the new training spine");
        return 0;
    }
}
