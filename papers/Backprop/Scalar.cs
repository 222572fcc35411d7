// The scalar autograd engine: reverse-mode differentiation of one number at a time, from
//   D. E. Rumelhart, G. E. Hinton, R. J. Williams. "Learning representations by back-propagating errors".
//   Nature 323, 533–536, 1986. The backward pass, Eqs. 4–7: starting from ∂E/∂y at the output, each unit
//   turns the derivative with respect to its output into derivatives with respect to its inputs (the chain
//   rule), and a unit that feeds several others sums what comes back from each (Eq. 7).
//
// The design is micrograd's (github.com/karpathy/micrograd, engine.py): a Value holds a number, the
// derivative of the final result with respect to it (Grad), the Values it was computed from, and a closure
// that pushes its own Grad into theirs. Backward() orders the graph so that every Value comes after all the
// Values computed from it, then runs those closures from the output back to the inputs.
//
// The tensor engine (Variable.cs) is the same design with arrays in place of numbers; this one is small
// enough to read in one sitting and to check against finite differences (BackpropScalarTests).

namespace PaperLab.Papers.Backprop;

/// <summary>
/// A scalar in a computation graph: its value, ∂(output)/∂(this value) after <see cref="Backward"/>, and the
/// operation that made it. Operators build the graph; <see cref="Backward"/> fills every Grad.
/// </summary>
public sealed class Value
{
    /// <summary>The number this node holds.</summary>
    public double Data { get; set; }

    /// <summary>∂(the Value <see cref="Backward"/> was called on)/∂(this), accumulated: 0 until a backward pass reaches it.</summary>
    public double Grad { get; set; }

    /// <summary>The operation that produced this Value ("+", "*", "tanh", …); empty for an input.</summary>
    public string Op { get; }

    /// <summary>A name for drawings of the graph (micrograd's label), e.g. "a" or "L"; empty by default.</summary>
    public string Label { get; set; } = "";

    /// <summary>The Values this one was computed from (micrograd's _prev).</summary>
    public IReadOnlyList<Value> Children => children;
    readonly Value[] children;

    /// <summary>Adds this.Grad · ∂this/∂child to each child's Grad (the local chain rule; micrograd's _backward).</summary>
    private Action backward = () => { };

    /// <summary>An input (a leaf of the graph).</summary>
    /// <param name="data">Its value.</param>
    public Value(double data) : this(data, [], "") { }

    private Value(double data, Value[] children, string op)
    {
        Data = data;
        this.children = children;
        Op = op;
    }

    /// <summary>A leaf holding <paramref name="x"/>, so that plain numbers can appear in expressions.</summary>
    public static implicit operator Value(double x) => new(x);

    // Each operation: the forward value, then the backward rule that distributes out.Grad to the inputs.

    /// <summary>a + b; ∂/∂a = ∂/∂b = 1.</summary>
    public static Value operator +(Value a, Value b)
    {
        var output = new Value(a.Data + b.Data, [a, b], "+");
        output.backward = () => { a.Grad += output.Grad; b.Grad += output.Grad; };
        return output;
    }

    /// <summary>a · b; ∂/∂a = b, ∂/∂b = a.</summary>
    public static Value operator *(Value a, Value b)
    {
        var output = new Value(a.Data * b.Data, [a, b], "*");
        output.backward = () => { a.Grad += b.Data * output.Grad; b.Grad += a.Data * output.Grad; };
        return output;
    }

    /// <summary>xⁿ for a constant exponent n; ∂/∂x = n·xⁿ⁻¹.</summary>
    public Value Pow(double n)
    {
        var output = new Value(Math.Pow(Data, n), [this], $"^{n}");
        output.backward = () => Grad += n * Math.Pow(Data, n - 1) * output.Grad;
        return output;
    }

    /// <summary>max(0, x); ∂/∂x = 1 where x &gt; 0, else 0.</summary>
    public Value Relu()
    {
        var output = new Value(Math.Max(0, Data), [this], "relu");
        output.backward = () => Grad += (output.Data > 0 ? 1 : 0) * output.Grad;
        return output;
    }

    /// <summary>tanh x; ∂/∂x = 1 − tanh²x (written with the output y: 1 − y²).</summary>
    public Value Tanh()
    {
        var output = new Value(Math.Tanh(Data), [this], "tanh");
        output.backward = () => Grad += (1 - output.Data * output.Data) * output.Grad;
        return output;
    }

    /// <summary>The logistic unit of Eq. 2, y = 1/(1 + e⁻ˣ); ∂y/∂x = y(1 − y) (the factor in Eq. 5).</summary>
    public Value Sigmoid()
    {
        var output = new Value(1 / (1 + Math.Exp(-Data)), [this], "sigmoid");
        output.backward = () => Grad += output.Data * (1 - output.Data) * output.Grad;
        return output;
    }

    /// <summary>eˣ; ∂/∂x = eˣ.</summary>
    public Value Exp()
    {
        var output = new Value(Math.Exp(Data), [this], "exp");
        output.backward = () => Grad += output.Data * output.Grad;
        return output;
    }

    /// <summary>ln x; ∂/∂x = 1/x. NaN for x ≤ 0 is passed on, as in IEEE arithmetic.</summary>
    public Value Log()
    {
        var output = new Value(Math.Log(Data), [this], "log");
        output.backward = () => Grad += output.Grad / Data;
        return output;
    }

    // The rest are compositions of the above, so they need no backward of their own.
    /// <summary>−a = a · (−1).</summary>
    public static Value operator -(Value a) => a * -1;
    /// <summary>a − b = a + (−b).</summary>
    public static Value operator -(Value a, Value b) => a + (-b);
    /// <summary>a / b = a · b⁻¹.</summary>
    public static Value operator /(Value a, Value b) => a * b.Pow(-1);

    /// <summary>
    /// Reverse-mode differentiation: sets Grad of this Value to 1 and adds ∂this/∂v to the Grad of every
    /// Value v it depends on. Inputs' Grads accumulate across calls (as in PyTorch): zero them between steps.
    /// </summary>
    public void Backward()
    {
        // Topological order: a Value is listed after all the Values it was computed from, so walking the
        // list backwards visits each Value only once every use of it has added its share to its Grad.
        var order = new List<Value>();
        var visited = new HashSet<Value>(ReferenceEqualityComparer.Instance);
        void Visit(Value v)
        {
            if (!visited.Add(v)) return;
            foreach (var child in v.children) Visit(child);
            order.Add(v);
        }
        Visit(this);

        foreach (var v in order) if (v.children.Length > 0) v.Grad = 0;   // computed Values start each pass from 0
        Grad = 1;   // ∂this/∂this
        for (int i = order.Count - 1; i >= 0; i--) order[i].backward();
    }

    /// <inheritdoc/>
    public override string ToString() => $"Value(data={Data:G6}, grad={Grad:G6})";
}

// A tiny neural-network library on Values (micrograd's nn.py): enough for the two-moons example.

/// <summary>One unit: act(Σᵢ wᵢ·xᵢ + b), Eq. 1 with a bias, then the activation (ReLU or none).</summary>
public sealed class Neuron
{
    /// <summary>The weights w, one per input.</summary>
    public Value[] W { get; }
    /// <summary>The bias b.</summary>
    public Value B { get; }
    readonly bool nonlinear;

    /// <param name="inputs">Number of inputs.</param>
    /// <param name="nonlinear">Apply ReLU (false: a linear output unit).</param>
    /// <param name="random">Source of the initial weights, uniform in [−1, 1] as micrograd's.</param>
    public Neuron(int inputs, bool nonlinear, Random random)
    {
        W = Enumerable.Range(0, inputs).Select(_ => new Value(random.NextDouble() * 2 - 1)).ToArray();
        B = new Value(0);
        this.nonlinear = nonlinear;
    }

    /// <summary>The unit's output for inputs <paramref name="x"/> (length = number of weights).</summary>
    public Value Forward(IReadOnlyList<Value> x)
    {
        Value total = B;
        for (int i = 0; i < W.Length; i++) total += W[i] * x[i];
        return nonlinear ? total.Relu() : total;
    }

    /// <summary>The weights then the bias.</summary>
    public IEnumerable<Value> Parameters() => W.Append(B);
}

/// <summary>A multi-layer perceptron of <see cref="Neuron"/>s: ReLU hidden layers, linear output layer.</summary>
public sealed class ScalarMlp
{
    /// <summary>Layers in forward order, each a list of units.</summary>
    public Neuron[][] Layers { get; }

    /// <param name="inputs">Input size.</param>
    /// <param name="widths">Units per layer, the last being the output layer (e.g. [16, 16, 1]).</param>
    /// <param name="seed">Seed of the initial weights.</param>
    public ScalarMlp(int inputs, int[] widths, int seed)
    {
        var random = new Random(seed);
        var sizes = widths.Prepend(inputs).ToArray();
        Layers = Enumerable.Range(0, widths.Length)
            .Select(l => Enumerable.Range(0, sizes[l + 1]).Select(_ => new Neuron(sizes[l], l < widths.Length - 1, random)).ToArray())
            .ToArray();
    }

    /// <summary>The outputs (one per unit of the last layer) for one input vector.</summary>
    public Value[] Forward(IReadOnlyList<Value> x)
    {
        foreach (var layer in Layers) x = layer.Select(n => n.Forward(x)).ToArray();
        return (Value[])x;
    }

    /// <summary>Every weight and bias.</summary>
    public IEnumerable<Value> Parameters() => Layers.SelectMany(layer => layer.SelectMany(n => n.Parameters()));
}
