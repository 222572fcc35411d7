using static TorchSharp.torch;

namespace PaperLab.Papers.Dqn;

/// <summary>
/// Returns of fixed policies on CartPole: the greedy policy of a network (argmax of its outputs: Q-values
/// for DQN, logits for REINFORCE) and the uniform random policy. Episode i of an evaluation with seed s
/// starts from <c>new CartPole(SplitMix64.Mix(s, i))</c>, so an evaluation is reproducible and two
/// policies evaluated with the same seed face the same initial states.
/// </summary>
public static class Evaluation
{
    /// <summary>
    /// Undiscounted returns of the greedy policy argmax_a network(s)_a over <paramref name="episodes"/> episodes.
    /// The episodes run side by side, one batched forward pass per time step for all still running.
    /// </summary>
    /// <param name="network">(B, 4) observations → (B, 2) scores.</param>
    /// <param name="episodes">Number of episodes (≥ 1).</param>
    /// <param name="seed">Seed of the episodes' initial states.</param>
    /// <returns>Return of each episode, in episode order (CartPole: between 1 and 500).</returns>
    /// <exception cref="ArgumentOutOfRangeException">episodes is less than 1.</exception>
    public static double[] GreedyReturns(Mlp network, int episodes, long seed)
    {
        if (episodes < 1) throw new ArgumentOutOfRangeException(nameof(episodes), episodes, "evaluate at least one episode");
        bool wasTraining = network.training;
        network.eval();
        try
        {
            return Run(episodes, seed, observations =>
            {
                using var scope = NewDisposeScope();
                using var _ = no_grad();
                int n = observations.Count;
                var flat = observations.SelectMany(o => o).ToArray();
                Tensor scores = network.forward(tensor(flat, new long[] { n, flat.Length / n }));
                return scores.argmax(1).data<long>().Select(a => (int)a).ToArray();
            });
        }
        finally { network.train(wasTraining); }
    }

    /// <summary>Undiscounted returns of the uniform random policy (actions drawn from a generator seeded by <paramref name="seed"/>).</summary>
    /// <param name="episodes">Number of episodes (≥ 1).</param>
    /// <param name="seed">Seed of the initial states and of the actions.</param>
    /// <returns>Return of each episode (CartPole-v1: mean about 22).</returns>
    public static double[] RandomReturns(int episodes, long seed)
    {
        if (episodes < 1) throw new ArgumentOutOfRangeException(nameof(episodes), episodes, "evaluate at least one episode");
        var rng = SplitMix64.ForStream(seed, -1);
        return Run(episodes, seed, observations => observations.Select(_ => rng.NextInt(2)).ToArray());
    }

    /// <summary>
    /// The states visited by one greedy episode of <paramref name="network"/>, initial state first, for rendering.
    /// </summary>
    /// <param name="network">(1, 4) → (1, 2) scores.</param>
    /// <param name="seed">Seed of the initial state (same meaning as episode 0 of <see cref="GreedyReturns"/>).</param>
    /// <returns>States s_0 … s_T (T = episode length).</returns>
    public static IReadOnlyList<CartPoleState> GreedyTrajectory(Mlp network, long seed)
    {
        var env = new CartPole(SplitMix64.Mix(seed, 0));
        var states = new List<CartPoleState>();
        float[] observation = env.Reset();
        states.Add(env.State);
        while (true)
        {
            var result = env.Step(DqnLearner.GreedyAction(network, observation));
            states.Add(env.State);
            if (result.Done) return states;
            observation = result.Observation;
        }
    }

    /// <summary>Runs <paramref name="episodes"/> CartPoles in lockstep; <paramref name="act"/> maps the running ones' observations to actions.</summary>
    static double[] Run(int episodes, long seed, Func<IReadOnlyList<float[]>, int[]> act)
    {
        var envs = Enumerable.Range(0, episodes).Select(i => new CartPole(SplitMix64.Mix(seed, i))).ToArray();
        var observations = envs.Select(e => e.Reset()).ToArray();
        var returns = new double[episodes];
        var running = Enumerable.Range(0, episodes).ToList();
        while (running.Count > 0)
        {
            int[] actions = act(running.Select(i => observations[i]).ToList());
            var still = new List<int>(running.Count);
            for (int k = 0; k < running.Count; k++)
            {
                int i = running[k];
                StepResult result = envs[i].Step(actions[k]);
                returns[i] += result.Reward;
                observations[i] = result.Observation;
                if (!result.Done) still.Add(i);
            }
            running = still;
        }
        return returns;
    }
}
