using PaperLab.Papers.Backprop;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace PaperLab.Tests;

/// <summary>The scalar engine (Scalar.cs): against TorchSharp, finite differences, and micrograd's two-moons demo.</summary>
public class BackpropScalarTests
{
    [Fact]
    public void Micrograds_expression_gives_torchs_value_and_gradients()
    {
        // micrograd's test_more_ops, with Pow for **; its PyTorch reference values are 24.70408163265306,
        // a.grad 138.83381924198252, b.grad 645.5772594752186; here TorchSharp recomputes them.
        static (TOut G, TOut A, TOut B) Expression<TOut>(TOut a, TOut b, Func<TOut, TOut, TOut> add, Func<TOut, TOut, TOut> mul,
            Func<TOut, TOut, TOut> div, Func<TOut, double, TOut> pow, Func<TOut, TOut> relu, Func<double, TOut> constant, Func<TOut, TOut> neg)
        {
            var c = add(a, b);
            var d = add(mul(a, b), pow(b, 3));
            c = add(c, add(c, constant(1)));
            c = add(c, add(add(constant(1), c), neg(a)));
            d = add(d, add(mul(d, constant(2)), relu(add(b, a))));
            d = add(d, add(mul(constant(3), d), relu(add(b, neg(a)))));
            var e = add(c, neg(d));
            var f = pow(e, 2);
            var g = div(f, constant(2.0));
            g = add(g, div(constant(10.0), f));
            return (g, a, b);
        }

        var (g, a, b) = Expression<Value>(new Value(-4.0), new Value(2.0), (x, y) => x + y, (x, y) => x * y, (x, y) => x / y,
            (x, n) => x.Pow(n), x => x.Relu(), x => x, x => -x);
        g.Backward();

        using var scope = NewDisposeScope();
        var (tg, ta, tb) = Expression<Tensor>(tensor(-4.0, float64).requires_grad_(), tensor(2.0, float64).requires_grad_(),
            (x, y) => x + y, (x, y) => x * y, (x, y) => x / y, (x, n) => x.pow(n), x => x.relu(), x => tensor(x, float64), x => -x);
        tg.backward();

        Assert.Equal(tg.item<double>(), g.Data, 12);
        Assert.Equal(ta.grad!.item<double>(), a.Grad, 10);
        Assert.Equal(tb.grad!.item<double>(), b.Grad, 10);
        Assert.Equal(24.70408163265306, g.Data, 12);
        Assert.Equal(138.83381924198252, a.Grad, 10);
        Assert.Equal(645.5772594752186, b.Grad, 10);
    }

    [Fact]
    public void Every_operation_matches_central_finite_differences()
    {
        // One expression using every operation; each input's gradient against (f(x+h) − f(x−h)) / 2h.
        static Value F(Value[] x) =>
            (x[0] * x[1]).Tanh() + (x[2] / x[3]).Sigmoid() * x[0].Exp() - (x[3] * x[3]).Log() + (x[1] - x[2]).Relu().Pow(3) + x[2].Pow(-0.5);

        double[] point = [0.3, -1.2, 0.7, 1.9];
        var inputs = point.Select(v => new Value(v)).ToArray();
        F(inputs).Backward();
        const double h = 1e-6;
        for (int i = 0; i < point.Length; i++)
        {
            double Shifted(double delta)
            {
                var p = (double[])point.Clone();
                p[i] += delta;
                return F(p.Select(v => new Value(v)).ToArray()).Data;
            }
            double numeric = (Shifted(h) - Shifted(-h)) / (2 * h);
            Assert.True(Math.Abs(numeric - inputs[i].Grad) < 1e-7 * Math.Max(1, Math.Abs(numeric)),
                $"x[{i}]: backward {inputs[i].Grad}, finite differences {numeric}");
        }
    }

    [Fact]
    public void A_value_used_twice_collects_both_gradients()
    {
        // Eq. 7's sum over the units a unit feeds: y = x·x + x has dy/dx = 2x + 1 = 7 at x = 3.
        var x = new Value(3);
        var y = x * x + x;
        y.Backward();
        Assert.Equal(12, y.Data);
        Assert.Equal(7, x.Grad);
        Assert.Equal(1, y.Grad);
        y.Backward();   // an input's gradient accumulates; the intermediate x·x is recomputed from 0
        Assert.Equal(14, x.Grad);
    }

    /// <summary>scikit-learn's make_moons: two interleaved half circles with Gaussian noise, labels ±1.</summary>
    static (double[][] X, int[] Y) Moons(int n, double noise, int seed)
    {
        var random = new Random(seed);
        double Gaussian() => Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
        var x = new double[n][];
        var y = new int[n];
        for (int i = 0; i < n; i++)
        {
            bool outer = i < n / 2;
            double t = Math.PI * (outer ? i : i - n / 2) / (n / 2 - 1);
            x[i] = outer
                ? [Math.Cos(t) + noise * Gaussian(), Math.Sin(t) + noise * Gaussian()]
                : [1 - Math.Cos(t) + noise * Gaussian(), 0.5 - Math.Sin(t) + noise * Gaussian()];
            y[i] = outer ? -1 : 1;
        }
        return (x, y);
    }

    [Fact]
    public void Micrograds_two_moons_demo_reaches_100_percent()
    {
        // micrograd's demo.ipynb: 100 points, MLP 2-16-16-1, max-margin loss + 1e-4 L2, SGD with lr 1 − 0.9·k/100;
        // the demo runs 100 steps, this the first 50 (100% from about step 31 on), to stay within seconds.
        var (x, y) = Moons(100, 0.1, seed: 1);
        var model = new ScalarMlp(2, [16, 16, 1], seed: 1337);
        var parameters = model.Parameters().ToArray();
        Assert.Equal(337, parameters.Length);

        (Value Loss, double Accuracy) Evaluate()
        {
            var scores = x.Select(xi => model.Forward(xi.Select(v => new Value(v)).ToArray())[0]).ToArray();
            Value dataLoss = 0;
            for (int i = 0; i < scores.Length; i++) dataLoss += (1 + -y[i] * scores[i]).Relu();
            Value l2 = 0;
            foreach (var p in parameters) l2 += p * p;
            var loss = dataLoss * (1.0 / scores.Length) + 1e-4 * l2;
            double accuracy = scores.Zip(y).Count(s => s.First.Data > 0 == s.Second > 0) / (double)y.Length;
            return (loss, accuracy);
        }

        double firstLoss = 0, accuracy = 0;
        for (int k = 0; k < 50; k++)
        {
            var (loss, acc) = Evaluate();
            if (k == 0) firstLoss = loss.Data;
            foreach (var p in parameters) p.Grad = 0;
            loss.Backward();
            double lr = 1.0 - 0.9 * k / 100;
            foreach (var p in parameters) p.Data -= lr * p.Grad;
            accuracy = acc;
        }
        var (finalLoss, finalAccuracy) = Evaluate();
        Assert.True(finalLoss.Data < firstLoss / 10, $"loss {firstLoss} → {finalLoss.Data}");
        Assert.Equal(1.0, finalAccuracy);
    }

    /// <summary>micrograd's first example: L = (a·b + c)·f with a = 2, b = −3, c = 10, f = −2.</summary>
    static (Value L, Value[] Inputs) MicrogradExample()
    {
        var a = new Value(2.0) { Label = "a" };
        var b = new Value(-3.0) { Label = "b" };
        var c = new Value(10.0) { Label = "c" };
        var e = a * b; e.Label = "e";
        var d = e + c; d.Label = "d";
        var f = new Value(-2.0) { Label = "f" };
        var L = d * f; L.Label = "L";
        return (L, [a, b, c, f]);
    }

    [Fact]
    public void Micrograds_first_example_has_the_hand_derived_gradients()
    {
        var (L, inputs) = MicrogradExample();
        L.Backward();
        Assert.Equal(-8.0, L.Data);
        // dL/dd = f = −2, dL/df = d = 4; dL/dc = dL/dd = −2; dL/de = −2; dL/da = dL/de·b = 6; dL/db = dL/de·a = −4
        Assert.Equal(new[] { 6.0, -4.0, -2.0, 4.0 }, inputs.Select(v => v.Grad));
    }

    [Fact]
    public void Graph_drawing_has_a_node_per_value_and_operation_and_every_edge_points_towards_the_output()
    {
        var (L, _) = MicrogradExample();
        L.Backward();
        var graph = GraphDrawing.Of(L);
        Assert.Equal(7, graph.Nodes.Count(n => !n.IsOperation));   // a, b, c, f, e, d, L
        Assert.Equal(3, graph.Nodes.Count(n => n.IsOperation));    // *, +, *
        Assert.Equal(9, graph.Edges.Count);                        // two inputs and one output per operation
        var column = graph.Nodes.ToDictionary(n => n.Id, n => n.Column);
        Assert.All(graph.Edges, e => Assert.True(column[e.From] < column[e.To], $"{e.From} → {e.To} does not point right"));
        Assert.Equal("L", graph.Nodes[^1].Text[0]);
        Assert.Equal(6, graph.Nodes.Max(n => n.Column));            // a → * → e → + → d → * → L
        Assert.Contains("grad 6", graph.Nodes.Single(n => n.Text[0] == "a").Text);

        string dot = graph.ToDot();
        Assert.StartsWith("digraph G {", dot);
        Assert.Equal(9, dot.Split('\n').Count(l => l.Contains("->")));
        Assert.Equal(10, graph.ToMermaid().Split('\n').Count(l => l.Contains("[\"") || l.Contains("((")));
        var svg = System.Xml.Linq.XDocument.Parse(graph.ToSvg());
        System.Xml.Linq.XNamespace ns = "http://www.w3.org/2000/svg";
        Assert.Equal(7, svg.Descendants(ns + "rect").Count());
        Assert.Equal(3, svg.Descendants(ns + "ellipse").Count());
        Assert.Equal(9, svg.Descendants(ns + "line").Count());

        // a value used twice feeds its operation once in the picture (its gradient is the sum of both uses, Eq. 7)
        var x = new Value(3.0);
        var square = x * x;
        square.Backward();
        Assert.Equal(6.0, x.Grad);
        Assert.Single(GraphDrawing.Of(square).Edges, e => e.To.StartsWith("op"));
    }
}
