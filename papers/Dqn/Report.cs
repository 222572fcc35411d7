// report.html of a run: the comparison with the solved threshold and the random policy, the episode returns
// with their 100-episode mean, the greedy checks, ε, the mean max-Q on held-out states (DQN) or the baseline's
// value and the policy's entropy (REINFORCE), the losses, and a strip of the pole under the learned policy.

using System.Globalization;
using PaperLab.Reporting;
using PaperLab.Runs;

namespace PaperLab.Papers.Dqn;

/// <summary>Writes report.html from the run's metrics and summary.</summary>
public static class Report
{
    /// <summary>Writes <c>report.html</c> into the run folder.</summary>
    /// <param name="run">The run folder (its metrics are read).</param>
    /// <param name="o">The run's options.</param>
    /// <param name="s">The run's summary.</param>
    /// <param name="acting">The network whose greedy policy is drawn (the Q-network or the policy).</param>
    /// <param name="seed">The run's seed (the strip shows episode 0 of the final evaluation).</param>
    public static void Write(RunFolder run, DqnOptions o, DqnSummary s, Mlp acting, int seed)
    {
        bool dqn = o.Algorithm == "dqn";
        string stepName = dqn ? "environment step" : "update";
        var page = new HtmlPage($"{s.Paper} on CartPole-v1");
        page.Paragraph(s.Solved
            ? $"Solved at {stepName} {s.SolvedAtStep:N0}: a greedy evaluation of {o.SolveEpisodes} episodes averaged {s.SolveMeanReturn:F1} (≥ 475), " +
              $"{s.TimeToSolveSeconds:F0} s after the start, after {s.Episodes:N0} training episodes and {s.EnvironmentSteps:N0} environment steps."
            : $"Not solved within {s.Steps:N0} {stepName}s: no greedy evaluation of {o.SolveEpisodes} episodes reached a mean return of 475.");
        page.Table(new[] { "policy", "mean return", "source" }, new[]
        {
            new[] { "solved threshold (CartPole-v1)", F(s.Published.Value), s.Published.Source },
            new[] { "this run, greedy", F(s.FinalMeanReturn), $"{s.FinalEpisodes} episodes from initial states no check used (final_mean_return)" },
            new[] { "uniform random policy", F(s.RandomMeanReturn), "the same initial states" },
            new[] { "this run, last 100 training episodes", s.TrainingMeanReturnLast100 is double m ? F(m) : "—", dqn ? "ε-greedy, exploring" : "actions sampled from π" },
        });
        page.KeyValues(new Dictionary<string, string>
        {
            ["environment steps"] = s.EnvironmentSteps.ToString("N0", CultureInfo.InvariantCulture),
            ["episodes"] = s.Episodes.ToString("N0", CultureInfo.InvariantCulture),
            ["gradient updates"] = s.Updates.ToString("N0", CultureInfo.InvariantCulture),
            ["training time"] = $"{s.TrainSeconds:F1} s ({s.GreedyCheckSeconds:F1} s of it greedy checks), {s.Threads} thread(s)",
            ["throughput"] = $"{s.EnvironmentStepsPerSecond:N0} environment steps/s, {s.UpdatesPerSecond:N0} updates/s",
            ["parameters"] = s.Parameters.ToString("N0", CultureInfo.InvariantCulture),
        });

        var (_, returns) = run.Metrics.Series("episode", "return");
        if (returns.Length > 0)
        {
            var episode = Enumerable.Range(1, returns.Length).Select(i => (double)i).ToArray();
            var mean100 = returns.Select((_, i) => returns.Skip(Math.Max(0, i - 99)).Take(Math.Min(i + 1, 100)).Average()).ToArray();
            double[] Flat(double v) => episode.Select(_ => v).ToArray();
            page.Chart(Charts.Line("Training episodes: return", "episode", "return (steps balanced)", new[]
            {
                new Series("episode return", episode, returns),
                new Series("mean of the last 100", episode, mean100),
                new Series("solved (475)", episode, Flat(CartPole.SolvedReturn)),
                new Series($"random policy ({s.RandomMeanReturn:F0})", episode, Flat(s.RandomMeanReturn)),
            }));
        }
        var (checkSteps, checks) = run.Metrics.Series("greedy", "check_return");
        var (solveSteps, solves) = run.Metrics.Series("greedy", "solve_return");
        if (checks.Length > 0)
            page.Chart(Charts.Line("Greedy policy", stepName, "mean return", new[]
            {
                new Series($"check ({o.EvalEpisodes} episodes)", checkSteps, checks),
                new Series($"solve evaluation ({o.SolveEpisodes} episodes)", solveSteps, solves),
            }));
        if (dqn)
        {
            var (epsSteps, eps) = run.Metrics.Series("episode", "epsilon");
            if (eps.Length > 0)
                page.Chart(Charts.Line("Exploration: ε at the end of each episode", stepName, "ε", new[] { new Series("ε", epsSteps, eps) }));
            var (qSteps, q) = run.Metrics.Series("eval", "mean_max_q");
            if (q.Length > 0)
                page.Chart(Charts.Line($"Mean max_a Q(s, a) on {Experiment.HeldOutEpisodes} random-policy episodes' states (Mnih et al. Fig. 2)", stepName,
                    "mean max Q (return)", new[] { new Series("mean max-Q", qSteps, q) }));
        }
        else
        {
            var (vSteps, v) = run.Metrics.Series("eval", "mean_value");
            var (_, h) = run.Metrics.Series("eval", "entropy");
            if (v.Length > 0)
                page.Chart(Charts.Line("Baseline V(s) and policy entropy on random-policy states", stepName, "value (return) / entropy (nats)", new[]
                {
                    new Series("mean V(s; w)", vSteps, v), new Series("entropy of π(·|s)", vSteps, h),
                }));
        }
        var (lossSteps, loss) = run.Metrics.Series("train", "loss");
        if (loss.Length > 0)
            page.Chart(Charts.Line(dqn ? "Huber loss (mean per log interval)" : "Policy surrogate loss (mean per log interval)", stepName,
                dqn ? "loss" : "−(1/K) Σ ln π · A", new[] { new Series("train", lossSteps, loss) }));
        if (!dqn)
        {
            var (valueSteps, valueLoss) = run.Metrics.Series("train", "value_loss");
            if (valueLoss.Length > 0)
                page.Chart(Charts.Line("Baseline loss: mean (V(s_t) − G_t)²", stepName, "squared error", new[] { new Series("train", valueSteps, valueLoss) }, logY: valueLoss.All(x => x > 0)));
        }

        var states = Rollouts.GreedyTrajectory(acting, Streams.Of(seed, Streams.Final));
        page.Heading("The learned policy");
        page.Paragraph($"Episode 0 of the final evaluation under the greedy policy: {states.Count - 1} steps " +
                       $"({(states.Count - 1 >= CartPole.MaxEpisodeSteps ? "balanced to the 500-step limit" : "until the pole fell or the cart left the track")}), 8 frames evenly spaced.");
        page.Html($"<div style=\"overflow-x:auto\">{CartPoleSvg.Strip(states, frames: 8)}</div>");
        page.Save(run);
    }

    static string F(double v) => v.ToString("F1", CultureInfo.InvariantCulture);
}
