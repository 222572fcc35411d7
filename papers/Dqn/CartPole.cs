// The cart-pole task, from
//   A. G. Barto, R. S. Sutton, C. W. Anderson. "Neuronlike Adaptive Elements That Can Solve Difficult
//   Learning Control Problems". IEEE Transactions on Systems, Man, and Cybernetics SMC-13(5), 1983,
//   pp. 834–846: the pole-balancing problem of their Fig. 2 and its equations of motion (with cart friction
//   μ_c and pole friction μ_p), simulated by Euler's method with τ = 0.02 s.
//   R. V. Florian. "Correct equations for the dynamics of the cart-pole system". 2007 (a derivation of
//   those equations; the friction-free case below is the same in both).
// with the constants and episode rules of the classic-control CartPole-v1 task.
//
// Friction-free (μ_c = μ_p = 0, as CartPole-v1 has it), with m_c the cart's mass, m the pole's, l the pole's
// HALF-length, F = ±10 N the force on the cart, θ the pole's angle from upright (positive clockwise, i.e.
// toward +x) and x the cart's position:
//
//   temp = (F + m·l·θ̇²·sin θ) / (m_c + m)
//   θ̈    = (g·sin θ − cos θ · temp) / ( l · (4/3 − m·cos²θ / (m_c + m)) )          (Barto et al., θ̈ equation)
//   ẍ    = temp − m·l·θ̈·cos θ / (m_c + m)                                          (Barto et al., ẍ equation)
//
// (the 1983 paper writes θ̈ = [g sin θ + cos θ·(−F − m l θ̇² sin θ)/(m_c + m)] / [l(4/3 − m cos²θ/(m_c + m))]
// and ẍ = [F + m l (θ̇² sin θ − θ̈ cos θ)]/(m_c + m): the same expressions regrouped.)
// One step of τ = 0.02 s is the explicit Euler step, every derivative taken at the old state:
//   x ← x + τ·ẋ,  ẋ ← ẋ + τ·ẍ,  θ ← θ + τ·θ̇,  θ̇ ← θ̇ + τ·θ̈.
//
// Episode rules (CartPole-v1): the state starts uniform in [−0.05, 0.05]⁴; action 0 pushes left (F = −10 N),
// action 1 pushes right; every step, the failing one included, earns reward 1; the episode TERMINATES when
// |x| > 2.4 m or |θ| > 12° (12·2π/360 rad), and is TRUNCATED after 500 steps. The distinction matters to
// the learner: a terminal state has value 0, a truncated one does not (DQN bootstraps through truncation).
//
// The state is kept in double precision and observed as float32, as in the reference implementation.

namespace PaperLab.Papers.Dqn;

/// <summary>The cart-pole state: cart position x (m), cart velocity ẋ (m/s), pole angle θ (rad, 0 upright,
/// positive toward +x), pole angular velocity θ̇ (rad/s).</summary>
public readonly record struct CartPoleState(double X, double XDot, double Theta, double ThetaDot)
{
    /// <summary>The observation a learner sees: (x, ẋ, θ, θ̇) as float32.</summary>
    public float[] ToObservation() => [(float)X, (float)XDot, (float)Theta, (float)ThetaDot];

    /// <summary>True when every component is a finite number.</summary>
    public bool IsFinite => double.IsFinite(X) && double.IsFinite(XDot) && double.IsFinite(Theta) && double.IsFinite(ThetaDot);
}

/// <summary>What one environment step returns.</summary>
/// <param name="Observation">The next observation (float32, length = observation size).</param>
/// <param name="Reward">The step's reward (CartPole: 1 for every step).</param>
/// <param name="Terminated">The task ended by its own rules (CartPole: pole fell or cart left the track): the next state has value 0.</param>
/// <param name="Truncated">The episode was cut by the step limit; the next state still has value.</param>
public readonly record struct StepResult(float[] Observation, double Reward, bool Terminated, bool Truncated)
{
    /// <summary>The episode is over (terminated or truncated): call Reset before stepping again.</summary>
    public bool Done => Terminated || Truncated;
}

/// <summary>An episodic task with a vector observation and a finite set of actions 0 … ActionCount−1.</summary>
public interface IEnvironment
{
    /// <summary>Length of an observation.</summary>
    int ObservationSize { get; }
    /// <summary>Number of discrete actions.</summary>
    int ActionCount { get; }
    /// <summary>Starts a new episode; returns its first observation.</summary>
    float[] Reset();
    /// <summary>Applies <paramref name="action"/>; returns the next observation, the reward and whether the episode is over.</summary>
    StepResult Step(int action);
}

/// <summary>
/// CartPole-v1 written from the equations of Barto, Sutton and Anderson (1983) without friction; see the file
/// header for the equations and the episode rules. Deterministic for a seed: initial states come from the
/// environment's own <see cref="SplitMix64"/>.
/// </summary>
public sealed class CartPole : IEnvironment
{
    /// <summary>g, m/s².</summary>
    public const double Gravity = 9.8;
    /// <summary>m_c, kg.</summary>
    public const double MassCart = 1.0;
    /// <summary>m, kg.</summary>
    public const double MassPole = 0.1;
    /// <summary>m_c + m, kg.</summary>
    public const double TotalMass = MassCart + MassPole;
    /// <summary>l: HALF the pole's length, m (the pole is 1 m long).</summary>
    public const double Length = 0.5;
    /// <summary>m·l, kg·m.</summary>
    public const double PoleMassLength = MassPole * Length;
    /// <summary>|F|, N: the force of either push.</summary>
    public const double ForceMag = 10.0;
    /// <summary>τ, s: one Euler step.</summary>
    public const double Tau = 0.02;
    /// <summary>The episode terminates when |θ| exceeds 12°, in radians (12·2π/360).</summary>
    public const double ThetaThresholdRadians = 12 * 2 * Math.PI / 360;
    /// <summary>The episode terminates when |x| exceeds 2.4 m.</summary>
    public const double XThreshold = 2.4;
    /// <summary>Episodes are truncated after this many steps (CartPole-v1).</summary>
    public const int MaxEpisodeSteps = 500;
    /// <summary>Initial state components are uniform in [−InitialRange, InitialRange].</summary>
    public const double InitialRange = 0.05;
    /// <summary>CartPole-v1 counts as solved at a mean return of at least this over 100 consecutive episodes.</summary>
    public const double SolvedReturn = 475.0;

    readonly SplitMix64 _rng;
    bool _needsReset = true;

    /// <summary>A CartPole whose initial states are drawn from a generator seeded with <paramref name="seed"/>.</summary>
    public CartPole(ulong seed) => _rng = new SplitMix64(seed);

    /// <inheritdoc/>
    public int ObservationSize => 4;
    /// <inheritdoc/>
    public int ActionCount => 2;

    /// <summary>The current state (valid after <see cref="Reset"/>).</summary>
    public CartPoleState State { get; private set; }
    /// <summary>Steps taken in the current episode.</summary>
    public int ElapsedSteps { get; private set; }
    /// <summary>The episode is over (or has not started): <see cref="Step"/> needs a <see cref="Reset"/> first.</summary>
    public bool NeedsReset => _needsReset;
    /// <summary>The state of the generator that draws initial states (to checkpoint it).</summary>
    public ulong RngState { get => _rng.State; set => _rng.State = value; }

    /// <summary>Draws a new initial state, each component uniform in [−0.05, 0.05), in the order x, ẋ, θ, θ̇.</summary>
    /// <returns>The first observation (4) float32.</returns>
    public float[] Reset()
    {
        State = new CartPoleState(_rng.Uniform(-InitialRange, InitialRange), _rng.Uniform(-InitialRange, InitialRange),
                                  _rng.Uniform(-InitialRange, InitialRange), _rng.Uniform(-InitialRange, InitialRange));
        ElapsedSteps = 0;
        _needsReset = false;
        return State.ToObservation();
    }

    /// <summary>
    /// Puts the system in <paramref name="state"/> with <paramref name="elapsedSteps"/> already taken
    /// (for tests, for rendering a given trajectory, and to restore a checkpoint).
    /// </summary>
    /// <exception cref="ArgumentException">A component is NaN or infinite, or elapsedSteps is outside [0, 500].</exception>
    public void SetState(CartPoleState state, int elapsedSteps = 0)
    {
        if (!state.IsFinite) throw new ArgumentException($"a CartPole state must be finite, got {state}", nameof(state));
        if (elapsedSteps is < 0 or > MaxEpisodeSteps)
            throw new ArgumentException($"elapsed steps must be in [0, {MaxEpisodeSteps}], got {elapsedSteps}", nameof(elapsedSteps));
        State = state;
        ElapsedSteps = elapsedSteps;
        _needsReset = Fails(state) || elapsedSteps == MaxEpisodeSteps;
    }

    /// <summary>Pushes the cart for τ = 0.02 s: 0 pushes left (−10 N), 1 pushes right (+10 N).</summary>
    /// <returns>The next observation, reward 1, terminated when the pole or cart left its bounds, truncated at step 500.</returns>
    /// <exception cref="ArgumentOutOfRangeException">action is not 0 or 1.</exception>
    /// <exception cref="InvalidOperationException">The episode is over or was never started: call Reset.</exception>
    public StepResult Step(int action)
    {
        if (action is not (0 or 1)) throw new ArgumentOutOfRangeException(nameof(action), action, "CartPole's actions are 0 (push left) and 1 (push right)");
        if (_needsReset) throw new InvalidOperationException("the CartPole episode is over (or was never started): call Reset() before Step()");
        State = Dynamics(State, action);
        ElapsedSteps++;
        bool terminated = Fails(State);
        bool truncated = !terminated && ElapsedSteps >= MaxEpisodeSteps;
        _needsReset = terminated || truncated;
        return new StepResult(State.ToObservation(), 1.0, terminated, truncated);
    }

    /// <summary>One explicit Euler step of τ of the friction-free equations of motion (file header).</summary>
    /// <param name="s">State before the step.</param>
    /// <param name="action">0: F = −10 N; 1: F = +10 N.</param>
    /// <returns>State after the step.</returns>
    public static CartPoleState Dynamics(CartPoleState s, int action)
    {
        double force = action == 1 ? ForceMag : -ForceMag;
        double cos = Math.Cos(s.Theta), sin = Math.Sin(s.Theta);
        double temp = (force + PoleMassLength * s.ThetaDot * s.ThetaDot * sin) / TotalMass;
        double thetaAcc = (Gravity * sin - cos * temp) / (Length * (4.0 / 3.0 - MassPole * cos * cos / TotalMass));
        double xAcc = temp - PoleMassLength * thetaAcc * cos / TotalMass;
        return new CartPoleState(
            s.X + Tau * s.XDot,
            s.XDot + Tau * xAcc,
            s.Theta + Tau * s.ThetaDot,
            s.ThetaDot + Tau * thetaAcc);
    }

    /// <summary>The termination test: |x| &gt; 2.4 m or |θ| &gt; 12°.</summary>
    public static bool Fails(CartPoleState s) =>
        s.X < -XThreshold || s.X > XThreshold || s.Theta < -ThetaThresholdRadians || s.Theta > ThetaThresholdRadians;
}
