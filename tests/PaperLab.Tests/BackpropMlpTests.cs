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
        using var exported = new TorchMlp(model);   // the export adapter: nn.Linear layers holding Wᵀ, b
        var layers = exported.Layers.ToArray();
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
        var model = new Mlp<float>(BackpropOptions.For("800", "paper").Model() with { Activation = Activation.ScaledTanh, Init = InitKind.LeCun1998 }, seed: 0);
        var (loss, _) = model.Loss(Variable<float>.Constant(data.TrainImages, 256, 784), data.TrainLabels);
        Assert.InRange(loss.Item(), Math.Log(10) - 0.01, Math.Log(10) + 0.01);
        // squared error on one-hot targets starts at ½·1 = 0.5 per case (outputs ≈ 0, one target of 1)
        var squared = new Mlp<float>(BackpropOptions.For("300", "paper").Model() with { Init = InitKind.LeCun1998 }, seed: 0);
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

    /// <summary>One epoch of the 784-64-10 ReLU network on 6,000 digits, as Experiment.cs trains it.</summary>
    static (Mlp<float> Model, double[] Losses) TrainOneEpoch(MnistArrays<float> data, int threads, int seed)
    {
        int previous = Gemm.Threads;
        Gemm.Threads = threads;
        try
        {
            var model = new Mlp<float>(new MlpConfig([784, 64, 10], Activation.Relu, LossKind.CrossEntropy, InitKind.He), seed);
            var optimizer = MlpTraining.CreateOptimizer(model, OptimizerKind.Adam, 1e-3, 0);
            var batches = new ShuffledBatches<float>(data.TrainImages, data.TrainLabels, 784, 64, seed);
            var losses = new double[batches.BatchesPerEpoch];
            for (int step = 0; step < batches.BatchesPerEpoch; step++)
            {
                var (x, labels) = batches.Batch(step);
                losses[step] = MlpTraining.Step(model, optimizer, x, labels).Loss;
            }
            return (model, losses);
        }
        finally { Gemm.Threads = previous; }
    }

    [Fact]
    public void Training_learns_digits_and_is_identical_whatever_the_thread_count()
    {
        var data = MnistArrays<float>.From(mnist.Train, mnist.Test, trainLimit: 6000, testLimit: 1000);
        var (one, losses) = TrainOneEpoch(data, threads: 1, seed: 7);
        var test = MlpTraining.Evaluate(one, data.TestImages, data.TestLabels);
        Assert.True(test.Error < 0.15, $"test error after one epoch on 6,000 images: {test.Error}");
        Assert.True(losses.TakeLast(10).Average() < 0.5 * losses.Take(10).Average(), "the training loss did not halve over the epoch");

        var (two, lossesAt2) = TrainOneEpoch(data, threads: 2, seed: 7);
        Assert.Equal(losses, lossesAt2);
        Assert.Equal(one.Layers[0].W.Data, two.Layers[0].W.Data);
        Assert.NotEqual(losses, TrainOneEpoch(data, threads: 1, seed: 8).Losses);
    }

    [Fact]
    public void The_presets_have_the_papers_parameter_counts()
    {
        Assert.Equal(238_510, BackpropOptions.For("300", "paper").Model().ParameterCount());      // 785·300 + 301·10
        Assert.Equal(266_610, BackpropOptions.For("300-100", "paper").Model().ParameterCount());  // + 301·100 + 101·10 − 301·10
        Assert.Equal(636_010, BackpropOptions.For("800", "modern").Model().ParameterCount());    // 785·800 + 801·10
        var model = new Mlp<float>(BackpropOptions.For("300-100", "paper").Model(), seed: 0);
        Assert.Equal(266_610, model.Parameters().Sum(p => (long)p.Length));
    }

    [Fact]
    public void Efficient_backprop_initialisation_gives_hidden_units_unit_variance_on_mnist()
    {
        // std fan_in^−½ (LeCun et al., Efficient BackProp, §4.6): with inputs of mean square ≈ 1, each total input
        // a_j = Σ_i x_i w_ij has variance ≈ Σ_i x_i² / fan_in ≈ 1, where 1.7159·tanh(2a/3) is in its useful range
        var data = MnistArrays<float>.From(mnist.Train, mnist.Test, trainLimit: 512, testLimit: 10);
        var model = new Mlp<float>(BackpropOptions.For("300", "paper").Model(), seed: 0);
        Assert.Equal(InitKind.EfficientBackprop, model.Config.Init);
        var w = model.Layers[0].W.Data;
        double std = Math.Sqrt(w.Average(v => (double)v * v));
        Assert.InRange(std, 0.97 / Math.Sqrt(784), 1.03 / Math.Sqrt(784));
        using var _ = Autograd.NoGrad();
        var a = Variable<float>.Constant(data.TrainImages, 512, 784).MatMul(model.Layers[0].W).Data;
        double variance = a.Average(v => (double)v * v);
        Assert.InRange(variance, 0.7, 1.4);
        // LeCun 1998's ±2.4/fan_in gives total inputs about 20 times smaller: the units start almost linear
        var small = new Mlp<float>(model.Config with { Init = InitKind.LeCun1998 }, seed: 0);
        double smallVariance = Variable<float>.Constant(data.TrainImages, 512, 784).MatMul(small.Layers[0].W).Data.Average(v => (double)v * v);
        Assert.InRange(Math.Sqrt(variance / smallVariance), 15, 25);
    }

    [Fact]
    public void LeCun_initialisation_stays_within_2_point_4_over_fan_in()
    {
        var model = new Mlp<double>(BackpropOptions.For("300-100", "paper").Model() with { Init = InitKind.LeCun1998 }, seed: 0);
        foreach (var layer in model.Layers)
        {
            double bound = 2.4 / layer.W.Shape[0];
            Assert.True(layer.W.Data.Max(Math.Abs) <= bound);
            Assert.True(layer.W.Data.Max(Math.Abs) > 0.95 * bound);   // and fills the range
            Assert.All(layer.B.Data, b => Assert.Equal(0.0, b));
        }
    }
}
