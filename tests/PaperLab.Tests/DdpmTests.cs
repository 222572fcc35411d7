using PaperLab.Cli;
using PaperLab.Runs;
using PaperLab.Papers.Ddpm;
using PaperLab.Training;
using System.Text.Json;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace PaperLab.Tests;

public class DdpmTests
{
    static UNet SmallNet(int seed = 0)
    {
        torch.manual_seed(seed);
        return new UNet(new UNetConfig(BaseChannels: 8));
    }

    [Fact]
    public void Alpha_bar_is_the_product_of_the_alphas_and_decreases()
    {
        var s = NoiseSchedule.Linear();
        Assert.Equal(1000, s.T);
        Assert.Equal(1e-4, s.Beta[1], 12);
        Assert.Equal(0.02, s.Beta[1000], 12);
        Assert.Equal(1.0, s.AlphaBar[0]);
        for (int t = 1; t <= s.T; t++)
        {
            double product = 1;
            for (int u = 1; u <= t; u++) product *= 1 - s.Beta[u];
            Assert.Equal(product, s.AlphaBar[t], 12);
            Assert.True(s.AlphaBar[t] < s.AlphaBar[t - 1]);
        }
        // the paper's choice leaves almost no signal at T: ᾱ_T ≈ 4e-5 (§4: L_T ≈ 1e-5 bits per dimension)
        Assert.InRange(s.AlphaBar[1000], 1e-5, 1e-4);
        var cosine = NoiseSchedule.Cosine();
        for (int t = 1; t <= cosine.T; t++) Assert.True(cosine.AlphaBar[t] < cosine.AlphaBar[t - 1]);
        Assert.Throws<ArgumentException>(() => new NoiseSchedule(new[] { 0.1, 1.5 }));
    }

    [Fact]
    public void Q_sample_has_the_closed_form_mean_and_variance()
    {
        // x_t | x_0 ~ N(sqrt(ᾱ_t) x_0, (1 − ᾱ_t) I) (Eq. 4): check both moments empirically at three t
        using var d = new GaussianDiffusion(NoiseSchedule.Linear());
        torch.manual_seed(3);
        const int n = 20_000;
        foreach (int t in new[] { 10, 300, 900 })
        {
            using var scope = NewDisposeScope();
            Tensor x0 = full(n, 1, 2, 2, 0.7f);
            Tensor xt = d.q_sample(x0, full(n, (long)t, dtype: int64), randn(n, 1, 2, 2));
            double ab = d.Schedule.AlphaBar[t];
            double mean = xt.mean().item<float>(), variance = xt.var().item<float>();
            Assert.InRange(mean, Math.Sqrt(ab) * 0.7 - 0.01, Math.Sqrt(ab) * 0.7 + 0.01);
            Assert.InRange(variance, (1 - ab) * 0.97, (1 - ab) * 1.03);
        }
    }

    [Fact]
    public void Q_sample_in_one_draw_matches_iterated_noising_in_distribution()
    {
        // t steps of x ← sqrt(α_s) x + sqrt(β_s) z give the same Gaussian as Eq. 4
        var schedule = NoiseSchedule.Linear();
        using var d = new GaussianDiffusion(schedule);
        torch.manual_seed(4);
        const int n = 20_000, t = 200;
        using var scope = NewDisposeScope();
        Tensor x = full(n, -0.5f);
        for (int s = 1; s <= t; s++) x = Math.Sqrt(schedule.Alpha[s]) * x + Math.Sqrt(schedule.Beta[s]) * randn(n);
        Tensor direct = d.q_sample(full(n, 1, 1, 1, -0.5f), full(n, (long)t, dtype: int64), randn(n, 1, 1, 1));
        Assert.Equal(direct.mean().item<float>(), x.mean().item<float>(), 0.02);
        Assert.Equal(direct.var().item<float>(), x.var().item<float>(), 0.03);
    }

    [Fact]
    public void UNet_maps_images_and_steps_to_images()
    {
        using var net = SmallNet();
        using var x = randn(3, 1, 28, 28);
        using var t = tensor(new long[] { 1, 500, 1000 });
        using var y = net.forward(x, t);
        Assert.Equal(new long[] { 3, 1, 28, 28 }, y.shape);
        Assert.Throws<ArgumentException>(() => net.forward(x, tensor(new long[] { 1, 2 })));
    }

    [Fact]
    public void Time_embedding_distinguishes_steps()
    {
        using var e = TimeEmbedding.Sinusoidal(tensor(new long[] { 0, 1, 999 }), 16);
        Assert.Equal(new long[] { 3, 16 }, e.shape);
        // t = 0: sines 0, cosines 1
        Assert.Equal(0f, e[0, 0].item<float>(), 6);
        Assert.Equal(1f, e[0, 8].item<float>(), 6);
        Assert.True((e[1] - e[2]).abs().max().item<float>() > 0.1f);
    }

    [Fact]
    public void Loss_at_initialisation_is_about_one()
    {
        // ε_θ starts at 0 (zero-initialised output), so L_simple = E‖ε‖²/d = 1
        using var net = SmallNet();
        using var d = new GaussianDiffusion(NoiseSchedule.Linear());
        torch.manual_seed(5);
        using var x0 = rand(64, 1, 28, 28) * 2 - 1;
        using var loss = d.L_simple((a, b) => net.forward(a, b), x0);
        Assert.InRange(loss.item<float>(), 0.97, 1.03);
    }

    [Fact]
    public void Overfitting_one_batch_drives_L_simple_well_down()
    {
        using var net = SmallNet(1);
        using var d = new GaussianDiffusion(NoiseSchedule.Linear());
        var opt = optim.Adam(net.parameters(), lr: 3e-3);
        torch.manual_seed(6);
        using var x0 = (rand(8, 1, 28, 28) > 0.6).to(float32) * 2 - 1;
        var losses = new List<float>();
        for (int i = 0; i < 150; i++)
        {
            using var scope = NewDisposeScope();
            opt.zero_grad();
            var loss = d.L_simple((a, b) => net.forward(a, b), x0);
            loss.backward();
            opt.step();
            losses.Add(loss.item<float>());
        }
        double last = losses.TakeLast(20).Average();
        Assert.True(last < 0.35, $"mean loss of the last 20 steps {last:F3} (first {losses[0]:F3})");
    }

    [Fact]
    public void Posterior_mean_is_Eq_11_and_recovers_the_true_mean_with_the_true_noise()
    {
        // With the true ε, Eq. 11 equals the mean of q(x_{t−1} | x_t, x_0) (Eq. 7):
        // μ̃ = sqrt(ᾱ_{t−1}) β_t/(1 − ᾱ_t) x_0 + sqrt(α_t)(1 − ᾱ_{t−1})/(1 − ᾱ_t) x_t
        var s = NoiseSchedule.Linear();
        using var d = new GaussianDiffusion(s);
        using var scope = NewDisposeScope();
        torch.manual_seed(7);
        Tensor x0 = rand(4, 1, 5, 5) * 2 - 1, eps = randn(4, 1, 5, 5);
        foreach (int t in new[] { 2, 50, 999 })
        {
            Tensor xt = d.q_sample(x0, full(4, (long)t, dtype: int64), eps);
            Tensor mu = d.PosteriorMean(xt, t, eps);
            double c0 = Math.Sqrt(s.AlphaBar[t - 1]) * s.Beta[t] / (1 - s.AlphaBar[t]);
            double ct = Math.Sqrt(s.Alpha[t]) * (1 - s.AlphaBar[t - 1]) / (1 - s.AlphaBar[t]);
            Tensor expected = c0 * x0 + ct * xt;
            Assert.True((mu - expected).abs().max().item<float>() < 1e-4f, $"t = {t}");
            // the sampler's route through the x_0 estimate (Eq. 7) is the same mean
            Assert.True((d.PosteriorMeanFromX0(xt, t, x0) - mu).abs().max().item<float>() < 1e-4f, $"t = {t}, via x_0");
        }
    }

    [Fact]
    public void Sampling_with_a_fixed_seed_is_reproducible()
    {
        using var net = SmallNet(2);
        // give the network something non-zero to say
        using (no_grad()) foreach (var p in net.parameters()) p.add_(randn_like(p) * 0.01);
        net.eval();
        using var d = new GaussianDiffusion(NoiseSchedule.Linear(T: 50));
        Tensor Eps(Tensor a, Tensor b) => net.forward(a, b);
        var shape = new long[] { 2, 1, 28, 28 };
        using var a = d.Sample(Eps, shape, seed: 11).X0;
        using var b = d.Sample(Eps, shape, seed: 11).X0;
        using var c = d.Sample(Eps, shape, seed: 12).X0;
        Assert.True(a.allclose(b, rtol: 0, atol: 0));
        Assert.False(a.allclose(c, rtol: 0, atol: 0));
        using var e = d.SampleDdim(Eps, shape, 10, seed: 11);
        using var f = d.SampleDdim(Eps, shape, 10, seed: 11);
        Assert.True(e.allclose(f, rtol: 0, atol: 0));
    }

    [Fact]
    public void Trajectory_records_the_requested_steps_in_order()
    {
        using var net = SmallNet();
        net.eval();
        using var d = new GaussianDiffusion(NoiseSchedule.Linear(T: 20));
        var (x0, trajectory) = d.Sample((a, b) => net.forward(a, b), new long[] { 1, 1, 28, 28 }, 0, new HashSet<int> { 20, 10, 1 });
        Assert.Equal(new[] { 20, 10, 1 }, trajectory.Select(s => s.T));
        Assert.Equal(new long[] { 1, 1, 28, 28 }, x0.shape);
    }

    [Fact]
    public void Frechet_distance_matches_known_answers()
    {
        // Commuting covariances (same eigenvectors R): d² = ‖Δμ‖² + Σ(√a_i − √b_i)²
        using var scope = NewDisposeScope();
        torch.manual_seed(8);
        var (q, _) = linalg.qr(randn(4, 4, dtype: float64));
        double[] a = { 1, 4, 9, 0.25 }, b = { 4, 1, 1, 1 };
        Tensor sa = q.mm(diag(tensor(a))).mm(q.t()), sb = q.mm(diag(tensor(b))).mm(q.t());
        var ga = new GaussianStatistics(new double[] { 0, 0, 0, 0 }, ToArray(sa), 100);
        var gb = new GaussianStatistics(new double[] { 1, 2, 0, 0 }, ToArray(sb), 100);
        double expected = 5 + a.Zip(b).Sum(p => Math.Pow(Math.Sqrt(p.First) - Math.Sqrt(p.Second), 2));
        Assert.Equal(expected, FrechetDistance.Distance(ga, gb), 8);
        Assert.Equal(FrechetDistance.Distance(gb, ga), FrechetDistance.Distance(ga, gb), 8);
        // Non-commuting: equal Gaussians are at 0; the matrix square root squares back
        var (q2, _) = linalg.qr(randn(4, 4, dtype: float64));
        Tensor sc = q2.mm(diag(tensor(b))).mm(q2.t());
        var gc = new GaussianStatistics(new double[4], ToArray(sc), 100);
        Assert.Equal(0, FrechetDistance.Distance(gc, gc), 8);
        Tensor root = FrechetDistance.SqrtPsd(sc);
        Assert.True((root.mm(root) - sc).abs().max().item<double>() < 1e-10);
        // statistics from samples: unbiased covariance
        Tensor f = tensor(new double[] { 1, 2, 3, 4, 5, 7 }).reshape(3, 2);
        var st = FrechetDistance.Statistics(f);
        Assert.Equal(new[] { 3.0, 13.0 / 3 }, st.Mean);
        Assert.Equal(4.0, st.Covariance[0, 0], 10);
    }

    static double[,] ToArray(Tensor m)
    {
        var r = new double[m.shape[0], m.shape[1]];
        for (int i = 0; i < m.shape[0]; i++) for (int j = 0; j < m.shape[1]; j++) r[i, j] = m[i, j].item<double>();
        return r;
    }

    [Fact]
    public void Ema_moves_towards_the_weights_with_the_warm_up_decay()
    {
        using var model = nn.Linear(2, 1);
        using var shadow = nn.Linear(2, 1);
        var ema = new ExponentialMovingAverage(model, shadow, 0.99);
        using (no_grad()) model.weight!.fill_(1.0);
        using (no_grad()) shadow.weight!.fill_(0.0);
        ema.Update(); // d = min(0.99, 1/10) = 0.1 → 0.9
        Assert.Equal(0.9f, shadow.weight!.data<float>()[0], 5);
        Assert.Equal(0.99, ema.DecayAt(10_000));
        Assert.Throws<ArgumentException>(() => new ExponentialMovingAverage(model, nn.Linear(3, 1), 0.9));
    }

    [Theory]
    [InlineData("--dataset 'cifar10' is neither a built-in dataset nor KIND:PATH", "--dataset", "cifar10")]
    [InlineData("--steps: expected an integer in [1, 100000000], got '0'", "--steps", "0")]
    [InlineData("give --steps or --epochs, not both", "--steps", "5", "--epochs", "1")]
    [InlineData("--channels must be a multiple of 8", "--channels", "12")]
    [InlineData("--sample-steps 200 must be at most --diffusion-steps 100", "--sample-steps", "200", "--diffusion-steps", "100")]
    public void Bad_flags_exit_2_naming_the_option(string message, params string[] args)
    {
        var (exit, stderr) = PaperMain.Run(Experiment.Main, args);
        Assert.Equal(2, exit);
        Assert.Contains(message, stderr);
    }

    [Fact]
    public void The_weight_average_round_trips_through_its_checkpoint_state()
    {
        torch.manual_seed(0);
        using var model = nn.Linear(2, 1);
        using var shadow = nn.Linear(2, 1);
        var ema = new ExponentialMovingAverage(model, shadow, 0.99);
        for (int i = 0; i < 3; i++) { using (no_grad()) model.weight!.add_(1.0); ema.Update(); }
        var bytes = new MemoryStream();
        ema.Save(new BinaryWriter(bytes));
        using var model2 = nn.Linear(2, 1);
        using var shadow2 = nn.Linear(2, 1);
        var copy = new ExponentialMovingAverage(model2, shadow2, 0.99);
        copy.Load(new BinaryReader(new MemoryStream(bytes.ToArray())));
        Assert.Equal(3, copy.Updates);
        Assert.Equal(shadow.weight!.data<float>().ToArray(), shadow2.weight!.data<float>().ToArray());
    }

    static DdpmOptions Smoke => DdpmOptions.Defaults(new(), new RunOptions { Smoke = true });

    [Fact]
    public void Smoke_run_writes_the_summary_and_the_sample_grids()
    {
        using var dir = new TempDir();
        var summary = PaperRun.Run(Experiment.Run, Smoke, PaperRun.Context(Experiment.Paper, dir.File("run")));
        using var json = JsonDocument.Parse(File.ReadAllText(dir.File("run", "summary.json")));
        var root = json.RootElement;
        foreach (var key in new[] { "fd_lenet", "fd_lenet_real_floor", "class_coverage", "train_seconds", "paper", "dataset", "published", "fd_history" })
            Assert.True(root.TryGetProperty(key, out _), $"summary.json lacks {key}");
        Assert.True(summary.FdLenet >= 0);
        Assert.Equal(10, summary.ClassCoverage.Count);
        Assert.Equal(new long[] { 15, 30 }, summary.FdHistory.Select(p => p.Step));
        foreach (var f in new[] { "report.html", "ema.pt", "checkpoint.bin", "samples_ddim.png" })
            Assert.True(File.Exists(dir.File("run", f)), $"{f} missing from the run folder");
        Assert.DoesNotContain("ema.bin", Directory.GetFiles(dir.File("run")).Select(Path.GetFileName));
    }

    [Fact]
    public void Resuming_gives_exactly_the_uninterrupted_run_weight_average_included() =>
        PaperRun.ResumesBitIdentically(Experiment.Paper, Experiment.Run, Smoke with { FinalSamples = 8, AncestralSamples = 2, EvalSamples = 8 }, stopAfter: 17);

    [Fact]
    public void A_bad_classifier_file_is_one_line_naming_it()
    {
        using var dir = new TempDir();
        File.WriteAllBytes(dir.File("random.pt"), Enumerable.Range(0, 500).Select(i => (byte)(i * 37)).ToArray());
        File.WriteAllBytes(dir.File("empty.pt"), Array.Empty<byte>());
        foreach (var bad in new[] { dir.File("random.pt"), dir.File("empty.pt"), dir.File("missing.pt"), dir.Path })
        {
            var (exit, err) = PaperMain.Run(Experiment.Main, new[] { "--smoke", "--classifier", bad, "--out", dir.File("run") });
            Assert.Equal(1, exit);
            Assert.StartsWith($"error: {bad}", err);
            Assert.DoesNotContain(PaperProgram.UnforeseenPrefix, err);
            Assert.False(Directory.Exists(dir.File("run")));
        }
    }
}
