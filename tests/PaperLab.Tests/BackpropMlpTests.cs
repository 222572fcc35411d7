using PaperLab.Papers.Backprop;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using static TorchSharp.torch;

namespace PaperLab.Tests;

/// <summary>The MLP, optimisers and training function of the Backprop paper, against TorchSharp and on real MNIST.</summary>
[Collection("mnist")]
public class BackpropMlpTests(MnistFixture mnist)
{
    static double RelativeError(double[] ours, double[] theirs) =>
        ours.Zip(theirs).Max(p => Math.Abs(p.First - p.Second)) / Math.Max(theirs.Max(Math.Abs), 1e-300);

    static double[] Values(Tensor t) => t.detach().to(float64).contiguous().data<double>().ToArray();

    /// <summary>The same network in TorchSharp: nn.Linear layers holding Wᵀ and b, the same activation and loss.</summary>
    static Tensor TorchLoss(Linear[] layers, Activation activation, LossKind loss, Tensor x, long[] labels)
    {
        Tensor h = x;
        for (int l = 0; l < layers.Length; l++)
        {
            h = layers[l].forward(h);
            if (l < layers.Length - 1) h = activation switch
            {
                Activation.ScaledTanh => (h * (2.0 / 3.0)).tanh() * 1.7159,
                Activation.Tanh => h.tanh(),
                Activation.Sigmoid => h.sigmoid(),
                _ => h.relu(),
            };
        }
        var y = tensor(labels);
        return loss == LossKind.CrossEntropy
            ? nn.functional.cross_entropy(h, y)
            : (h - nn.functional.one_hot(y, h.shape[1]).to(h.dtype)).square().sum() * (0.5 / labels.Length);
    }

    [Theory]
    [InlineData(Activation.ScaledTanh, LossKind.SquaredError, OptimizerKind.Sgd)]
    [InlineData(Activation.Relu, LossKind.CrossEntropy, OptimizerKind.Adam)]
    [InlineData(Activation.Sigmoid, LossKind.CrossEntropy, OptimizerKind.Sgd)]
    [InlineData(Activation.Tanh, LossKind.SquaredError, OptimizerKind.Adam)]
    public void Three_steps_give_torchs_losses_and_weights(Activation activation, LossKind loss, OptimizerKind optimizerKind)
    {
        var config = new MlpConfig([20, 16, 12, 5], activation, loss, activation == Activation.Relu ? InitKind.He : InitKind.Glorot);
        var model = new Mlp<double>(config, seed: 3);
        Optimizer<double> optimizer = optimizerKind == OptimizerKind.Sgd
            ? new Sgd<double>(model.Parameters(), 0.1, momentum: 0.9)
            : new Adam<double>(model.Parameters(), 0.01);

        using var scope = NewDisposeScope();
        var layers = model.Layers.Select(l =>
        {
            var linear = nn.Linear(l.W.Shape[0], l.W.Shape[1], dtype: float64);
            using (no_grad())
            {
                linear.weight!.copy_(tensor(l.W.Data, [l.W.Shape[0], l.W.Shape[1]], float64).t());   // nn.Linear stores (out, in)
                linear.bias!.copy_(tensor(l.B.Data, float64));
            }
            return linear;
        }).ToArray();
        var torchParameters = layers.SelectMany(l => l.parameters()).ToArray();
        optim.Optimizer reference = optimizerKind == OptimizerKind.Sgd
            ? optim.SGD(torchParameters, 0.1, momentum: 0.9)
            : optim.Adam(torchParameters, 0.01);

        var random = new Random(5);
        for (int step = 0; step < 3; step++)
        {
            double[] x = Enumerable.Range(0, 8 * 20).Select(_ => random.NextDouble() * 4 - 2).ToArray();
            int[] labels = Enumerable.Range(0, 8).Select(_ => random.Next(5)).ToArray();

            var (ours, _) = MlpTraining.Step(model, optimizer, x, labels);

            reference.zero_grad();
            var theirs = TorchLoss(layers, activation, loss, tensor(x, [8, 20], float64), labels.Select(l => (long)l).ToArray());
            theirs.backward();
            reference.step();
            Assert.True(Math.Abs(ours - theirs.item<double>()) <= 1e-12 * Math.Abs(theirs.item<double>()),
                $"step {step + 1}: loss {ours} vs torch {theirs.item<double>()}");
        }
        for (int l = 0; l < layers.Length; l++)
        {
            double w = RelativeError(model.Layers[l].W.Data, Values(layers[l].weight!.t()));
            double b = RelativeError(model.Layers[l].B.Data, Values(layers[l].bias!));
            Assert.True(w <= 1e-9 && b <= 1e-9, $"layer {l + 1} after 3 steps: W differs by {w:e2}, b by {b:e2}");
        }
        // and the steps did move the weights
        Assert.NotEqual(new Mlp<double>(config, seed: 3).Layers[0].W.Data, model.Layers[0].W.Data);
    }

    [Fact]
    public void Loss_at_initialisation_is_log_10_with_LeCuns_small_weights()
    {
        // ±2.4/fan_in keeps the output layer's inputs near 0, so softmax is near uniform: −log(1/10).
        var data = MnistArrays<float>.From(mnist.Train, mnist.Test, trainLimit: 256, testLimit: 10);
        var model = new Mlp<float>(TrainConfig.Hidden800.Model, seed: 0);
        var (loss, _) = model.Loss(Variable<float>.Constant(data.TrainImages, 256, 784), data.TrainLabels);
        Assert.InRange(loss.Item(), Math.Log(10) - 0.01, Math.Log(10) + 0.01);
        // squared error on one-hot targets starts at ½·1 = 0.5 per case (outputs ≈ 0, one target of 1)
        var squared = new Mlp<float>(TrainConfig.Hidden300.Model, seed: 0);
        Assert.InRange(squared.Loss(Variable<float>.Constant(data.TrainImages, 256, 784), data.TrainLabels).Loss.Item(), 0.49, 0.51);
    }

    [Fact]
    public void Overfits_one_batch_of_64_digits()
    {
        var data = MnistArrays<float>.From(mnist.Train, mnist.Test, trainLimit: 64, testLimit: 10);
        var model = new Mlp<float>(new MlpConfig([784, 128, 10], Activation.Relu, LossKind.CrossEntropy, InitKind.He), seed: 1);
        var optimizer = new Adam<float>(model.Parameters(), 2e-3);
        double first = 0, loss = 0;
        int errors = 0;
        for (int step = 0; step < 150; step++)
        {
            (loss, errors) = MlpTraining.Step(model, optimizer, data.TrainImages, data.TrainLabels);
            if (step == 0) first = loss;
        }
        Assert.True(first > 1, $"initial loss {first}");
        Assert.True(loss < 0.01, $"loss after 150 steps on one batch: {loss}");
        Assert.Equal(0, errors);
    }

    [Fact]
    public void Training_learns_digits_and_is_identical_whatever_the_thread_count()
    {
        var data = MnistArrays<float>.From(mnist.Train, mnist.Test, trainLimit: 6000, testLimit: 1000);
        var config = new TrainConfig(new MlpConfig([784, 64, 10], Activation.Relu, LossKind.CrossEntropy, InitKind.He),
            Epochs: 2, BatchSize: 64, OptimizerKind.Adam, LearningRate: 1e-3, Threads: 1);
        var seen = new List<EpochReport>();
        var one = MlpTraining.Train(data, config, seed: 7, seen.Add);
        Assert.Equal(2, seen.Count);
        Assert.Equal([1, 2], seen.Select(r => r.Epoch));
        Assert.True(one.TestError < 0.15, $"test error after 2 epochs on 6,000 images: {one.TestError}");
        Assert.True(seen[1].TrainLoss < seen[0].TrainLoss);

        var two = MlpTraining.Train(data, config with { Threads = 2 }, seed: 7);
        Assert.Equal(one.Epochs.Select(e => (e.TrainLoss, e.TestError)), two.Epochs.Select(e => (e.TrainLoss, e.TestError)));
        Assert.Equal(one.Model.Layers[0].W.Data, two.Model.Layers[0].W.Data);
        var other = MlpTraining.Train(data, config with { Epochs = 1 }, seed: 8);
        Assert.NotEqual(one.Epochs[0].TrainLoss, other.Epochs[0].TrainLoss);
    }

    [Fact]
    public void The_1998_squared_error_preset_learns_in_one_epoch_on_a_subset()
    {
        var data = MnistArrays<float>.From(mnist.Train, mnist.Test, trainLimit: 3000, testLimit: 1000);
        var result = MlpTraining.Train(data, TrainConfig.Hidden300 with { Epochs = 1 }, seed: 0);
        Assert.True(result.TestError < 0.25, $"test error after one epoch on 3,000 images: {result.TestError}");
        Assert.Equal(238_510, TrainConfig.Hidden300.Model.ParameterCount());
        Assert.Equal(266_610, TrainConfig.Hidden300x100.Model.ParameterCount());
        Assert.Equal(636_010, TrainConfig.Hidden800.Model.ParameterCount());
        Assert.Equal(TrainConfig.Hidden300.Model.ParameterCount(), result.Model.Parameters().Sum(p => (long)p.Length));
    }

    [Fact]
    public void LeCun_initialisation_stays_within_2_point_4_over_fan_in()
    {
        var model = new Mlp<double>(TrainConfig.Hidden300x100.Model, seed: 0);
        foreach (var layer in model.Layers)
        {
            double bound = 2.4 / layer.W.Shape[0];
            Assert.True(layer.W.Data.Max(Math.Abs) <= bound);
            Assert.True(layer.W.Data.Max(Math.Abs) > 0.95 * bound);   // and fills the range
            Assert.All(layer.B.Data, b => Assert.Equal(0.0, b));
        }
    }
}
