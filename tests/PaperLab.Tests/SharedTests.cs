using PaperLab.Data;
using PaperLab.Metrics;
using PaperLab.Runs;
using PaperLab.Training;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace PaperLab.Tests;

/// <summary>Ten examples whose input is its own index, for checking what a loader hands out.</summary>
sealed class IndexDataset(long count) : ITensorDataset
{
    public long Count => count;
    public (Tensor Input, Tensor Target) Gather(long[] indices) => (tensor(indices).to(float32).unsqueeze(1), tensor(indices));
}

public class BatchLoaderTests
{
    static long[] Epoch(BatchLoader loader, int epoch) =>
        Enumerable.Range(0, loader.BatchesPerEpoch).SelectMany(b => loader.Indices((long)epoch * loader.BatchesPerEpoch + b)).ToArray();

    [Fact]
    public void Shuffle_visits_every_example_once_per_epoch_in_a_new_order()
    {
        var loader = new BatchLoader(new IndexDataset(103), 10, Sampling.Shuffle, seed: 1);
        Assert.Equal(11, loader.BatchesPerEpoch);
        var e0 = Epoch(loader, 0);
        var e1 = Epoch(loader, 1);
        Assert.Equal(Enumerable.Range(0, 103).Select(i => (long)i), e0.Order());
        Assert.Equal(Enumerable.Range(0, 103).Select(i => (long)i), e1.Order());
        Assert.NotEqual(e0, e1);
        Assert.NotEqual(Enumerable.Range(0, 103).Select(i => (long)i), e0);
    }

    [Fact]
    public void The_batch_of_a_step_depends_only_on_seed_and_step()
    {
        var a = new BatchLoader(new IndexDataset(1000), 32, Sampling.Shuffle, seed: 7);
        var b = new BatchLoader(new IndexDataset(1000), 32, Sampling.Shuffle, seed: 7);
        var c = new BatchLoader(new IndexDataset(1000), 32, Sampling.Shuffle, seed: 8);
        // b asked out of order (as after a resume) still agrees with a
        Assert.Equal(a.Indices(40), b.Indices(40));
        Assert.Equal(a.Indices(3), b.Indices(3));
        Assert.NotEqual(a.Indices(3), c.Indices(3));
        var r1 = new BatchLoader(new IndexDataset(1000), 32, Sampling.WithReplacement, seed: 7);
        Assert.Equal(r1.Indices(5), new BatchLoader(new IndexDataset(1000), 32, Sampling.WithReplacement, seed: 7).Indices(5));
        Assert.NotEqual(r1.Indices(5), r1.Indices(6));
    }

    [Fact]
    public void Drop_last_and_sequential_batches()
    {
        var keep = new BatchLoader(new IndexDataset(25), 10, Sampling.Sequential);
        Assert.Equal(3, keep.BatchesPerEpoch);
        Assert.Equal(new long[] { 20, 21, 22, 23, 24 }, keep.Indices(2));
        var drop = new BatchLoader(new IndexDataset(25), 10, Sampling.Sequential, dropLast: true);
        Assert.Equal(2, drop.BatchesPerEpoch);
        Assert.Equal(Enumerable.Range(10, 10).Select(i => (long)i), drop.Indices(1));
        Assert.Throws<ArgumentException>(() => new BatchLoader(new IndexDataset(5), 10, dropLast: true));
        Assert.Throws<ArgumentException>(() => new BatchLoader(new IndexDataset(5), 0));
    }

    [Fact]
    public void Image_tensors_are_scaled_and_normalised()
    {
        byte[] pixels = { 0, 255, 51, 102 };
        using var data = new ImageTensorDataset(pixels, new byte[] { 3 }, 2, 2, mean: 0.5, std: 0.5);
        var (x, y) = data.Gather(new long[] { 0 });
        Assert.Equal(new long[] { 1, 1, 2, 2 }, x.shape);
        Assert.Equal(new[] { -1f, 1f, -0.6f, -0.2f }, x.data<float>().ToArray().Select(v => MathF.Round(v, 5)));
        Assert.Equal(3L, y.item<long>());
        Assert.Throws<ArgumentException>(() => new ImageTensorDataset(pixels, new byte[2], 2, 2));
    }
}

public class ClassificationTests
{
    static float[] OneHot(int[] classes, int k) =>
        classes.SelectMany(c => Enumerable.Range(0, k).Select(j => j == c ? 1f : 0f)).ToArray();

    [Fact]
    public void Class_indices_reach_MLNET_unshifted_including_class_0()
    {
        // Pins how ML.NET reads key-typed labels here: class k passed as k, 0 included.
        int[] labels = { 0, 0, 1, 2, 2, 2 };
        var perfect = Classification.Evaluate(OneHot(labels, 3), labels, 3);
        Assert.Equal(1.0, perfect.Accuracy, 10);
        Assert.Equal(new[] { 2, 0, 0 }, perfect.Confusion[0]);
        Assert.Equal(new[] { 0, 1, 0 }, perfect.Confusion[1]);
        Assert.Equal(new[] { 0, 0, 3 }, perfect.Confusion[2]);

        // every prediction shifted by one class: nothing is right
        int[] shifted = labels.Select(c => (c + 1) % 3).ToArray();
        var wrong = Classification.Evaluate(OneHot(shifted, 3), labels, 3);
        Assert.Equal(0.0, wrong.Accuracy, 10);
        Assert.Equal(2, wrong.Confusion[0][1]); // true 0 predicted 1 (rows: truth, columns: prediction)
    }

    [Fact]
    public void Accuracy_error_and_log_loss_agree_with_their_definitions()
    {
        int[] labels = { 0, 1, 1, 0 };
        float[] p = { 0.9f, 0.1f, 0.2f, 0.8f, 0.6f, 0.4f, 0.7f, 0.3f };
        var r = Classification.Evaluate(p, labels, 2);
        Assert.Equal(0.75, r.Accuracy, 10);
        Assert.Equal(0.25, r.Error, 10);
        double logLoss = -(Math.Log(0.9) + Math.Log(0.8) + Math.Log(0.4) + Math.Log(0.7)) / 4;
        Assert.Equal(logLoss, r.LogLoss, 5);
        Assert.Throws<ArgumentException>(() => Classification.Evaluate(p, new[] { 0, 1, 2, 0 }, 2));
    }

    [Fact]
    public void Running_mean_and_throughput()
    {
        var m = new RunningMean();
        Assert.True(double.IsNaN(m.Mean));
        m.Add(1.0, 3);
        m.Add(3.0, 1);
        Assert.Equal(1.5, m.Mean);
        var t = new Throughput();
        t.Start(); Thread.Sleep(50); t.Add(100); t.Stop();
        Assert.InRange(t.PerSecond, 100, 2100);
    }
}

