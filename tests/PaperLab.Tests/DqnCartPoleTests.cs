using System.Xml.Linq;
using PaperLab.Papers.Dqn;
using Xunit;

namespace PaperLab.Tests;

/// <summary>The CartPole environment against its equations, its episode rules, and its seeding; its generator and drawing.</summary>
public class DqnCartPoleTests
{
    [Fact]
    public void SplitMix64_gives_the_reference_outputs_from_state_zero()
    {
        var rng = new SplitMix64(0);
        Assert.Equal(0xE220A8397B1DCDAFUL, rng.NextUInt64());
        Assert.Equal(0x6E789E6AA1B965F4UL, rng.NextUInt64());
        Assert.Equal(0x06C45D188009454FUL, rng.NextUInt64());
        // the state is the whole generator: restoring it repeats the sequence
        ulong saved = rng.State;
        var next = Enumerable.Range(0, 5).Select(_ => rng.NextUInt64()).ToArray();
        rng.State = saved;
        Assert.Equal(next, Enumerable.Range(0, 5).Select(_ => rng.NextUInt64()).ToArray());
    }

    [Fact]
    public void SplitMix64_integers_are_uniform_and_in_range()
    {
        var rng = new SplitMix64(42);
        var counts = new int[3];
        for (int i = 0; i < 30_000; i++) counts[rng.NextInt(3)]++;
        // each count ~ Binomial(30000, 1/3): sd 82; 5 sd bounds
        Assert.All(counts, c => Assert.InRange(c, 10_000 - 410, 10_000 + 410));
        Assert.Throws<ArgumentOutOfRangeException>(() => rng.NextInt(0));
        Assert.All(Enumerable.Range(0, 1000).Select(_ => rng.NextDouble()), u => Assert.InRange(u, 0.0, 1.0 - 1e-17));
    }

    [Fact]
    public void First_steps_from_rest_equal_the_equations_worked_by_hand()
    {
        // From rest, pushing right (F = +10 N): sin θ = 0, cos θ = 1, so
        //   temp = F/(m_c + m) = 10/1.1 = 100/11
        //   θ̈ = (0 − 100/11) / (0.5·(4/3 − 0.1/1.1)) = −(100/11) / (41/66) = −600/41
        //   ẍ = 100/11 − 0.05·(−600/41)/1.1 = 100/11 + 300/451 = 4400/451
        // Euler with τ = 0.02 (derivatives at the old state): x = 0, ẋ = 88/451, θ = 0, θ̇ = −12/41.
        var s1 = CartPole.Dynamics(new CartPoleState(0, 0, 0, 0), action: 1);
        Assert.Equal(0.0, s1.X);
        Assert.Equal(88.0 / 451, s1.XDot, 14);
        Assert.Equal(0.0, s1.Theta);
        Assert.Equal(-12.0 / 41, s1.ThetaDot, 14);
        // Second push right: θ is still 0, so the accelerations repeat; positions move by τ·(old velocities).
        var s2 = CartPole.Dynamics(s1, action: 1);
        Assert.Equal(0.02 * 88 / 451, s2.X, 14);
        Assert.Equal(2 * 88.0 / 451, s2.XDot, 14);
        Assert.Equal(-0.02 * 12 / 41, s2.Theta, 14);
        Assert.Equal(-24.0 / 41, s2.ThetaDot, 14);
    }

    [Fact]
    public void A_tilted_spinning_pole_follows_the_1983_form_of_the_equations()
    {
        // θ = 30°, θ̇ = 2 rad/s, x = 0.1, ẋ = −0.3. Values from the paper's own arrangement,
        //   θ̈ = [g sin θ + cos θ (−F − m l θ̇² sin θ)/(m_c + m)] / [l (4/3 − m cos²θ/(m_c + m))]
        //   ẍ = [F + m l (θ̇² sin θ − θ̈ cos θ)] / (m_c + m),
        // worked separately from the code: push left, θ̈ = 20.0675, ẍ = −9.7900; push right, θ̈ = −4.8243, ẍ = 9.3717.
        var s = new CartPoleState(0.1, -0.3, Math.PI / 6, 2.0);
        var left = CartPole.Dynamics(s, 0);
        Assert.Equal(0.094, left.X, 12);
        Assert.Equal(-0.49579907709491317, left.XDot, 12);
        Assert.Equal(Math.PI / 6 + 0.04, left.Theta, 12);
        Assert.Equal(2.401350462202614, left.ThetaDot, 12);
        var right = CartPole.Dynamics(s, 1);
        Assert.Equal(-0.11256554416078143, right.XDot, 12);
        Assert.Equal(1.9035154995480863, right.ThetaDot, 12);
    }

    [Fact]
    public void Mirrored_state_and_push_give_the_mirrored_next_state_exactly()
    {
        var rng = new SplitMix64(5);
        for (int i = 0; i < 100; i++)
        {
            var s = new CartPoleState(rng.Uniform(-2, 2), rng.Uniform(-2, 2), rng.Uniform(-0.2, 0.2), rng.Uniform(-2, 2));
            int a = rng.NextInt(2);
            var n = CartPole.Dynamics(s, a);
            var m = CartPole.Dynamics(new CartPoleState(-s.X, -s.XDot, -s.Theta, -s.ThetaDot), 1 - a);
            Assert.Equal(new CartPoleState(-n.X, -n.XDot, -n.Theta, -n.ThetaDot), m);
        }
    }

    [Fact]
    public void The_episode_terminates_beyond_12_degrees_or_2_4_metres_and_not_before()
    {
        double limit = 12 * 2 * Math.PI / 360;
        Assert.Equal(0.20943951023931953, CartPole.ThetaThresholdRadians, 15);
        Assert.False(CartPole.Fails(new CartPoleState(2.4, 0, limit, 0)));        // on the limits: still running
        Assert.True(CartPole.Fails(new CartPoleState(2.4000001, 0, 0, 0)));
        Assert.True(CartPole.Fails(new CartPoleState(-2.4000001, 0, 0, 0)));
        Assert.True(CartPole.Fails(new CartPoleState(0, 0, limit + 1e-9, 0)));
        Assert.True(CartPole.Fails(new CartPoleState(0, 0, -limit - 1e-9, 0)));

        // a cart at 2.39 m moving at +1 m/s crosses 2.4 m in one step (x ← x + τ ẋ = 2.41): terminated, reward 1
        var env = new CartPole(1);
        env.SetState(new CartPoleState(2.39, 1.0, 0, 0));
        var result = env.Step(1);
        Assert.True(result.Terminated);
        Assert.False(result.Truncated);
        Assert.Equal(1.0, result.Reward);
        Assert.Throws<InvalidOperationException>(() => env.Step(0));   // over: needs Reset

        // a pole at 11.9° falling at 1 rad/s passes 12° in one step (θ ← θ + 0.02)
        env.SetState(new CartPoleState(0, 0, 11.9 * Math.PI / 180, 1.0));
        Assert.True(env.Step(0).Terminated);
    }

    [Fact]
    public void A_balancing_controller_is_truncated_at_exactly_500_steps()
    {
        // a hand-tuned linear controller that keeps the pole up indefinitely
        var env = new CartPole(7);
        var s = env.Reset();
        double total = 0;
        StepResult result = default;
        for (int t = 1; t <= 500; t++)
        {
            int action = s[2] + 0.5 * s[3] + 0.05 * s[0] + 0.1 * s[1] > 0 ? 1 : 0;
            result = env.Step(action);
            total += result.Reward;
            Assert.Equal(t == 500, result.Done);
            s = result.Observation;
        }
        Assert.True(result.Truncated);
        Assert.False(result.Terminated);   // the time limit is not a failure
        Assert.Equal(500.0, total);
        Assert.Equal(500, env.ElapsedSteps);
        Assert.Throws<InvalidOperationException>(() => env.Step(1));
        env.Reset();
        Assert.Equal(0, env.ElapsedSteps);

        // the cap is the 500th step whatever came before: SetState at 499 steps, one more truncates
        env.SetState(new CartPoleState(0, 0, 0, 0), elapsedSteps: 499);
        var last = env.Step(0);
        Assert.True(last.Truncated && !last.Terminated);
    }

    [Fact]
    public void Seeded_resets_repeat_and_stay_within_five_hundredths()
    {
        var a = new CartPole(123);
        var b = new CartPole(123);
        var c = new CartPole(124);
        var starts = new List<float[]>();
        for (int i = 0; i < 200; i++)
        {
            var sa = a.Reset();
            Assert.Equal(sa, b.Reset());
            Assert.NotEqual(sa, c.Reset());
            Assert.All(sa, v => Assert.InRange(v, -0.05f, 0.05f));
            starts.Add(sa);
        }
        // uniform on [−0.05, 0.05]: mean 0 (sd of the mean of 200: 0.002), spread covers most of the interval
        for (int k = 0; k < 4; k++)
        {
            var column = starts.Select(s => (double)s[k]).ToArray();
            Assert.InRange(column.Average(), -0.008, 0.008);
            Assert.True(column.Max() > 0.045 && column.Min() < -0.045);
        }
    }

    [Fact]
    public void Bad_use_is_refused_with_the_fix_named()
    {
        var env = new CartPole(0);
        var notStarted = Assert.Throws<InvalidOperationException>(() => env.Step(0));
        Assert.Contains("Reset()", notStarted.Message);
        env.Reset();
        Assert.Throws<ArgumentOutOfRangeException>(() => env.Step(2));
        Assert.Throws<ArgumentException>(() => env.SetState(new CartPoleState(double.NaN, 0, 0, 0)));
        Assert.Throws<ArgumentException>(() => env.SetState(new CartPoleState(0, 0, 0, 0), elapsedSteps: 501));
    }

    [Fact]
    public void The_random_policy_averages_about_22()
    {
        var returns = Rollouts.RandomReturns(1000, seed: 0);
        Assert.InRange(returns.Average(), 20.5, 23.5);   // the published figure for CartPole-v1: about 22
        Assert.All(returns, r => Assert.InRange(r, 8, 500));  // the pole cannot fall from ±0.05 rad in fewer than 8 steps
        Assert.Equal(returns, Rollouts.RandomReturns(1000, seed: 0));
    }

    [Fact]
    public void The_svg_strip_draws_each_frame_with_the_pole_at_its_angle()
    {
        // pole geometry: upright is vertical, 90° toward +x is horizontal to the right, both 1 m long
        var up = CartPoleSvg.PolePixels(new CartPoleState(0, 0, 0, 0));
        Assert.Equal(up.BaseX, up.TipX, 9);
        Assert.Equal(2 * CartPole.Length * CartPoleSvg.Scale, up.BaseY - up.TipY, 9);
        var right = CartPoleSvg.PolePixels(new CartPoleState(1, 0, Math.PI / 2, 0));
        Assert.Equal(CartPoleSvg.FrameWidth / 2 + CartPoleSvg.Scale, right.BaseX, 9);   // cart 1 m right of centre
        Assert.Equal(right.BaseY, right.TipY, 9);
        Assert.Equal(right.BaseX + 2 * CartPole.Length * CartPoleSvg.Scale, right.TipX, 9);

        var states = Enumerable.Range(0, 101).Select(t => new CartPoleState(0.01 * t, 0, 0.001 * t, 0)).ToList();
        var svg = XDocument.Parse(CartPoleSvg.Strip(states, frames: 5, title: "greedy policy <DQN>"));
        XNamespace ns = "http://www.w3.org/2000/svg";
        var frames = svg.Descendants(ns + "g").Where(g => (string?)g.Attribute("class") == "frame").ToList();
        Assert.Equal(new[] { 0, 25, 50, 75, 100 }, frames.Select(f => (int)f.Attribute("data-step")!));
        var lastPole = frames[^1].Elements(ns + "line").Single(l => (string?)l.Attribute("class") == "pole");
        var expected = CartPoleSvg.PolePixels(states[100]);
        Assert.Equal(expected.TipX, double.Parse((string)lastPole.Attribute("x2")!, System.Globalization.CultureInfo.InvariantCulture), 2);
        Assert.Contains("greedy policy &lt;DQN&gt;", CartPoleSvg.Strip(states, 1, "greedy policy <DQN>"));
    }
}
