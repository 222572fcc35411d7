namespace PaperLab.Papers.Dqn;

/// <summary>
/// Entry point. The experiment (command line, run folder, report) is written against the new training
/// spine; until then the program only says so. The from-scratch core is CartPole.cs, Dqn.cs and Reinforce.cs.
/// </summary>
public static class Program
{
    /// <returns>0.</returns>
    public static int Main()
    {
        Console.WriteLine("DQN and REINFORCE on CartPole: the experiment lands with the new training spine.");
        return 0;
    }
}
