using static TorchSharp.torch;

namespace PaperLab.Papers.Dqn;

/// <summary>
/// Episodes of fixed policies on CartPole: the greedy policy of a network (argmax of its outputs: Q-values
/// for DQN, logits for REINFORCE), the uniform random policy, one greedy trajectory to draw, and the states
/// a random policy visits (Mnih et al. 2015's held-out set for the mean max-Q curve of their Fig. 2).
/// Episode i of an evaluation with seed s starts from <c>new CartPole(SplitMix64.Mix(s, i))</c>, so an
/// evaluation is reproducible and two policies evaluated with the same seed face the same initial states.
/// </summary>
public static class Rollouts
{
    /// <summary>argmax_a of the network's outputs for one observation (ties: the lower action).</summary>
    /// <param name="network">Q-network or policy: (1, obs) → (1, A) scores.</param>
    /// <param name="observation">(obs) float32.</param>
    /// <returns>The action.</returns>
    public static int GreedyAction(Mlp network, float[] observation)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        Tensor scores = network.forward(tensor(observation, new long[] { 1, observation.Length }));
        return (int)scores.argmax(1).item<long>();
    }

    /// <summary>
    /// Undiscounted returns of the greedy policy argmax_a network(s)_a over <paramref name="episodes"/> episodes.
    /// The episodes run side by side, one batched forward pass per time step for all still running.
    /// </summary>
    /// <param name="network">(B, 4) observations → (B, 2) scores; left in the training mode it had.</param>
    /// <param name="episodes">Number of episodes (≥ 1).</param>
    /// <param name="seed">Seed of the episodes' initial states.</param>
    /// <returns>Return of each episode, in episode order (CartPole: between 1 and 500).</returns>
    /// <exception cref="ArgumentOutOfRangeException">episodes is less than 1.</exception>
    public static double[] GreedyReturns(Mlp network, int episodes, ulong seed)
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
    /// <param name="seed">Seed of the initial states (as in <see cref="GreedyReturns"/>) and of the actions.</param>
    /// <returns>Return of each episode (CartPole-v1: mean about 22).</returns>
    /// <exception cref="ArgumentOutOfRangeException">episodes is less than 1.</exception>
    public static double[] RandomReturns(int episodes, ulong seed)
    {
        if (episodes < 1) throw new ArgumentOutOfRangeException(nameof(episodes), episodes, "evaluate at least one episode");
        var rng = new SplitMix64(SplitMix64.Mix((long)seed, -1));
        return Run(episodes, seed, observations => observations.Select(_ => rng.NextInt(2)).ToArray());
    }

    /// <summary>
    /// The states visited by one greedy episode of <paramref name="network"/>, initial state first, for rendering.
    /// </summary>
    /// <param name="network">(1, 4) → (1, 2) scores.</param>
    /// <param name="seed">Seed of the initial state (same meaning as episode 0 of <see cref="GreedyReturns"/>).</param>
    /// <returns>States s_0 … s_T (T = episode length).</returns>
    public static IReadOnlyList<CartPoleState> GreedyTrajectory(Mlp network, ulong seed)
    {
        var env = new CartPole(SplitMix64.Mix((long)seed, 0));
        var states = new List<CartPoleState>();
        float[] observation = env.Reset();
        states.Add(env.State);
        while (true)
        {
            var result = env.Step(GreedyAction(network, observation));
            states.Add(env.State);
            if (result.Done) return states;
            observation = result.Observation;
        }
    }

    /// <summary>
    /// The observations s_0 … s_{T−1} the uniform random policy acts on in <paramref name="episodes"/> episodes:
    /// a fixed set of states on which to follow max_a Q(s, a) during training (Mnih et al. 2015, Fig. 2 and Methods: "a fixed set of states by running a random policy before training starts").
    /// </summary>
    /// <param name="episodes">Number of random episodes (≥ 1); CartPole: about 22 states each.</param>
    /// <param name="seed">Seed of their initial states and actions.</param>
    /// <returns>(N, 4) float32, outside any dispose scope: the caller disposes it.</returns>
    /// <exception cref="ArgumentOutOfRangeException">episodes is less than 1.</exception>
    public static Tensor RandomPolicyStates(int episodes, ulong seed)
    {
        if (episodes < 1) throw new ArgumentOutOfRangeException(nameof(episodes), episodes, "collect at least one episode");
        var rng = new SplitMix64(SplitMix64.Mix((long)seed, -1));
        var states = new List<float>();
        for (int i = 0; i < episodes; i++)
        {
            var env = new CartPole(SplitMix64.Mix((long)seed, i));
            float[] observation = env.Reset();
            while (true)
            {
                states.AddRange(observation);                     // s_t, before acting: never a terminal state
                var result = env.Step(rng.NextInt(2));
                if (result.Done) break;
                observation = result.Observation;
            }
        }
        return tensor(states.ToArray(), new long[] { states.Count / 4, 4 });
    }

    /// <summary>Runs <paramref name="episodes"/> CartPoles in lockstep; <paramref name="act"/> maps the running ones' observations to actions.</summary>
    static double[] Run(int episodes, ulong seed, Func<IReadOnlyList<float[]>, int[]> act)
    {
        var envs = Enumerable.Range(0, episodes).Select(i => new CartPole(SplitMix64.Mix((long)seed, i))).ToArray();
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
