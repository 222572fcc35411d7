// A finite MDP small enough to solve exactly, for checking DQN's and REINFORCE's mathematics against a
// known answer (the notebook and the tests); CartPole has no closed-form Q*.
//
// Bellman optimality equation (the fixed point that Q* of Mnih et al. 2015, Eq. 1, satisfies; Sutton & Barto
// 2018, Eq. 3.20), with R(s, a) the expected reward and P(s' | s, a) the transition probabilities:
//   Q*(s, a) = R(s, a) + γ Σ_s' P(s' | s, a) max_a' Q*(s', a')                     = (T Q*)(s, a)
// Value iteration applies the backup T until Q stops changing; T is a γ-contraction in the max norm, so it
// converges to Q* from any start. DQN's loss regresses Q(s, a; θ) on a sample of the same backup taken with
// the frozen target network, r + γ max_a' Q̂(s', a'; θ⁻): with θ⁻ held long enough, θ fits T Q̂, and each
// sync starts the next round — value iteration done by regression on replayed samples.
//
// Policy evaluation for a fixed stochastic policy π (Sutton & Barto §4.1), in matrix form:
//   P_π(s, s') = Σ_a π(a|s) P(s'|s, a),  R_π(s) = Σ_a π(a|s) R(s, a),  V^π = (I − γ P_π)⁻¹ R_π,
//   Q^π(s, a) = R(s, a) + γ Σ_s' P(s'|s, a) V^π(s').
// Policy-gradient theorem (Sutton, McAllester, Singh, Mansour 2000, Theorem 1; Sutton & Barto §13.2), for
// J(θ) = V^π(s_start):
//   ∇J(θ) = Σ_s η(s) Σ_a ∇π(a|s; θ) Q^π(s, a),   η(s) = Σ_t γ^t Pr(s_t = s),   ηᵀ = e_startᵀ (I − γ P_π)⁻¹.
// REINFORCE (Williams 1992) estimates the same gradient from sampled episodes without knowing P or R.
//
// Probability missing from a row of P (Σ_s' P(s'|s, a) < 1) is the probability that the episode ends:
// the next state is terminal, with value 0, observed as all zeros.

using TorchSharp;
using static TorchSharp.torch;

namespace PaperLab.Papers.Dqn;

/// <summary>
/// A finite MDP given by its tables, playable as an <see cref="IEnvironment"/> (observation: one-hot of the
/// state) and solvable exactly: the Bellman backup, value iteration, and policy evaluation in closed form.
/// </summary>
public sealed class TabularMdp : IEnvironment
{
    readonly double[,,] _p;
    readonly double[,] _r;
    readonly SplitMix64 _rng;
    int _state = -1;

    /// <param name="transitions">P[s, a, s'] ≥ 0 with Σ_s' P[s, a, s'] ≤ 1 (the rest: the episode ends).</param>
    /// <param name="rewards">R[s, a]: the reward for taking a in s.</param>
    /// <param name="start">The state every episode starts in.</param>
    /// <param name="seed">State of the generator that draws the next states.</param>
    /// <exception cref="ArgumentException">Shapes disagree, a probability is outside [0, 1], a row sums above 1, or start is not a state.</exception>
    public TabularMdp(double[,,] transitions, double[,] rewards, int start, ulong seed)
    {
        int s = transitions.GetLength(0), a = transitions.GetLength(1);
        if (s < 1 || a < 1 || transitions.GetLength(2) != s)
            throw new ArgumentException($"transitions must be (S, A, S) with S, A ≥ 1, got ({s}, {a}, {transitions.GetLength(2)})", nameof(transitions));
        if (rewards.GetLength(0) != s || rewards.GetLength(1) != a)
            throw new ArgumentException($"rewards must be (S, A) = ({s}, {a}), got ({rewards.GetLength(0)}, {rewards.GetLength(1)})", nameof(rewards));
        for (int i = 0; i < s; i++)
            for (int j = 0; j < a; j++)
            {
                double sum = 0;
                for (int k = 0; k < s; k++)
                {
                    if (transitions[i, j, k] is < 0 or > 1 || double.IsNaN(transitions[i, j, k]))
                        throw new ArgumentException($"P[{i}, {j}, {k}] = {transitions[i, j, k]} is not a probability", nameof(transitions));
                    sum += transitions[i, j, k];
                }
                if (sum > 1 + 1e-12) throw new ArgumentException($"P[{i}, {j}, ·] sums to {sum} > 1", nameof(transitions));
            }
        if (start < 0 || start >= s) throw new ArgumentException($"start must be a state in [0, {s}), got {start}", nameof(start));
        _p = transitions;
        _r = rewards;
        Start = start;
        _rng = new SplitMix64(seed);
    }

    /// <summary>
    /// The two-state example of the notebook. In A (state 0): action 0 earns 1 and ends the episode; action 1
    /// earns 0 and reaches B with probability 0.8, else stays in A. In B (state 1): action 0 earns 2 and ends
    /// the episode; action 1 earns 0 and goes back to A. With γ = 0.9, by hand: Q*(B, 0) = 2, V*(A) solves
    /// V = max(1, 0.9·(0.8·2 + 0.2·V)), so V*(A) = 1.44/0.82 = 72/41; Q*(A, 1) = 72/41, Q*(A, 0) = 1,
    /// Q*(B, 1) = 0.9·72/41. Every policy with π(0|·) &gt; 0 ends episodes with probability 1, so γ = 1 is also fine.
    /// </summary>
    /// <param name="seed">State of the transition generator.</param>
    public static TabularMdp TwoStates(ulong seed = 0)
    {
        var p = new double[2, 2, 2];
        p[0, 1, 1] = 0.8; p[0, 1, 0] = 0.2;   // A, go: to B, or slip back to A
        p[1, 1, 0] = 1.0;                     // B, go back: to A
        var r = new double[,] { { 1, 0 }, { 2, 0 } };   // action 0 ends the episode with its reward
        return new TabularMdp(p, r, start: 0, seed);
    }

    /// <summary>S: number of non-terminal states.</summary>
    public int States => _p.GetLength(0);
    /// <inheritdoc/>
    public int ActionCount => _p.GetLength(1);
    /// <inheritdoc/>
    public int ObservationSize => States;
    /// <summary>The start state.</summary>
    public int Start { get; }
    /// <summary>The current state; −1 after the episode ended.</summary>
    public int State => _state;

    /// <summary>One-hot observation of state <paramref name="s"/> (all zeros for −1, the terminal state).</summary>
    public float[] Observe(int s)
    {
        var o = new float[States];
        if (s >= 0) o[s] = 1;
        return o;
    }

    /// <inheritdoc/>
    public float[] Reset()
    {
        _state = Start;
        return Observe(_state);
    }

    /// <inheritdoc/>
    /// <exception cref="InvalidOperationException">The episode has ended: call Reset.</exception>
    /// <exception cref="ArgumentOutOfRangeException">Not an action.</exception>
    public StepResult Step(int action)
    {
        if (_state < 0) throw new InvalidOperationException("the episode has ended: call Reset() before Step()");
        if (action < 0 || action >= ActionCount) throw new ArgumentOutOfRangeException(nameof(action), action, $"actions are 0 … {ActionCount - 1}");
        double reward = _r[_state, action], u = _rng.NextDouble(), cumulative = 0;
        int next = -1;
        for (int k = 0; k < States; k++)
        {
            cumulative += _p[_state, action, k];
            if (u < cumulative) { next = k; break; }
        }
        _state = next;
        return new StepResult(Observe(next), reward, Terminated: next < 0, Truncated: false);
    }

    /// <summary>The Bellman optimality backup (T Q)(s, a) = R(s, a) + γ Σ_s' P(s'|s, a) max_a' Q(s', a').</summary>
    /// <param name="q">Q[s, a].</param>
    /// <param name="gamma">Discount γ.</param>
    /// <returns>T Q, a new (S, A) array.</returns>
    public double[,] Backup(double[,] q, double gamma)
    {
        int S = States, A = ActionCount;
        var max = new double[S];
        for (int s = 0; s < S; s++) { max[s] = double.NegativeInfinity; for (int a = 0; a < A; a++) max[s] = Math.Max(max[s], q[s, a]); }
        var result = new double[S, A];
        for (int s = 0; s < S; s++)
            for (int a = 0; a < A; a++)
            {
                double expected = 0;
                for (int k = 0; k < S; k++) expected += _p[s, a, k] * max[k];
                result[s, a] = _r[s, a] + gamma * expected;
            }
        return result;
    }

    /// <summary>Value iteration: Q ← T Q from Q = 0 until no entry moves more than <paramref name="tolerance"/>.</summary>
    /// <param name="gamma">Discount γ (&lt; 1 for the contraction; 1 works when every policy ends its episodes).</param>
    /// <param name="tolerance">Largest change of the last sweep.</param>
    /// <param name="maxSweeps">Give up after this many sweeps.</param>
    /// <returns>Q*[s, a] and the number of sweeps.</returns>
    /// <exception cref="InvalidOperationException">No convergence within maxSweeps.</exception>
    public (double[,] Q, int Sweeps) ValueIteration(double gamma, double tolerance = 1e-12, int maxSweeps = 100_000)
    {
        var q = new double[States, ActionCount];
        for (int sweep = 1; sweep <= maxSweeps; sweep++)
        {
            var next = Backup(q, gamma);
            double change = 0;
            for (int s = 0; s < States; s++) for (int a = 0; a < ActionCount; a++) change = Math.Max(change, Math.Abs(next[s, a] - q[s, a]));
            q = next;
            if (change <= tolerance) return (q, sweep);
        }
        throw new InvalidOperationException($"value iteration did not converge in {maxSweeps} sweeps (γ = {gamma}): does some policy never end its episodes?");
    }

    /// <summary>
    /// Exact policy evaluation of <paramref name="pi"/>, differentiable through it (file header): V^π, Q^π and
    /// the discounted visits η from the start state.
    /// </summary>
    /// <param name="pi">π[s, a]: (S, A) float64, rows summing to 1.</param>
    /// <param name="gamma">Discount γ.</param>
    /// <returns>V: (S), Q: (S, A), Visits: (S), float64, in the caller's dispose scope.</returns>
    public (Tensor V, Tensor Q, Tensor Visits) Evaluate(Tensor pi, double gamma)
    {
        int S = States, A = ActionCount;
        using var scope = NewDisposeScope();
        Tensor p = tensor(Flatten(_p), new long[] { S, A, S }, float64);                 // P[s, a, s']
        Tensor r = tensor(Flatten(_r), new long[] { S, A }, float64);                    // R[s, a]
        Tensor pPi = einsum("sa,sat->st", pi, p);                                          // P_π (S, S)
        Tensor rPi = (pi * r).sum(1);                                                      // R_π (S)
        Tensor m = eye(S, dtype: float64) - gamma * pPi;                                   // I − γ P_π
        Tensor v = linalg.solve(m, rPi.unsqueeze(1)).squeeze(1);                           // V^π
        Tensor q = r + gamma * einsum("sat,t->sa", p, v);                                  // Q^π
        Tensor start = zeros(S, dtype: float64);
        start[Start] = 1.0;
        Tensor visits = linalg.solve(m.t(), start.unsqueeze(1)).squeeze(1);                // η = (I − γ P_π)⁻ᵀ e_start
        return (v.MoveToOuterDisposeScope(), q.MoveToOuterDisposeScope(), visits.MoveToOuterDisposeScope());
    }

    static double[] Flatten(Array a) => a.Cast<double>().ToArray();
}
