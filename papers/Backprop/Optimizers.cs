// Optimisers written against the engine: they read each parameter's Grad and change its Data in place.
//   SGD with momentum: Rumelhart, Hinton & Williams 1986, Eq. 9: Δw(t) = −ε ∂E/∂w(t) + α Δw(t−1).
//     Written as PyTorch's torch.optim.SGD does (v ← μ·v + g, w ← w − lr·v), which is the same update when
//     the learning rate is constant (Δw = −lr·v) and lets the tests compare with PyTorch step for step.
//   Adam: D. P. Kingma, J. Ba. "Adam: A Method for Stochastic Optimization". ICLR 2015, Algorithm 1
//     (bias-corrected first and second moments), in the arithmetic order of torch.optim.Adam.

using System.Numerics;
using System.Numerics.Tensors;

namespace PaperLab.Papers.Backprop;

/// <summary>What every optimiser of the engine offers: a step from the current gradients and clearing them.</summary>
/// <typeparam name="T">float or double.</typeparam>
public abstract class Optimizer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>The parameters updated, in the order given.</summary>
    public IReadOnlyList<Variable<T>> Parameters { get; }

    /// <summary>Step size; may be changed between steps (a schedule).</summary>
    public double LearningRate { get; set; }

    /// <exception cref="ArgumentException">A parameter does not require grad, or the learning rate is not positive.</exception>
    protected Optimizer(IEnumerable<Variable<T>> parameters, double learningRate)
    {
        Parameters = parameters.ToArray();
        var frozen = Parameters.FirstOrDefault(p => !p.RequiresGrad);
        if (frozen is not null) throw new ArgumentException($"optimiser given a Variable that does not require grad: {frozen}", nameof(parameters));
        if (!(learningRate > 0)) throw new ArgumentException($"learning rate must be positive, got {learningRate}", nameof(learningRate));
        LearningRate = learningRate;
    }

    /// <summary>Sets every parameter's gradient to zero (before the next backward pass, which adds to it).</summary>
    public void ZeroGrad()
    {
        foreach (var p in Parameters) if (p.Grad is { } g) Array.Clear(g);
    }

    /// <summary>Updates every parameter from its gradient; a parameter with no gradient yet is left alone.</summary>
    public abstract void Step();
}

/// <summary>Stochastic gradient descent with momentum (Eq. 9 of Rumelhart et al. 1986), as torch.optim.SGD.</summary>
public sealed class Sgd<T> : Optimizer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>μ (the paper's α): the fraction of the previous update carried into this one; 0: plain SGD.</summary>
    public double Momentum { get; }

    readonly T[][] velocity;

    /// <param name="parameters">Variables to update.</param>
    /// <param name="learningRate">lr (the paper's ε).</param>
    /// <param name="momentum">μ in [0, 1).</param>
    /// <exception cref="ArgumentException">Momentum outside [0, 1), or as the base class.</exception>
    public Sgd(IEnumerable<Variable<T>> parameters, double learningRate, double momentum = 0) : base(parameters, learningRate)
    {
        if (momentum is < 0 or >= 1) throw new ArgumentException($"momentum must be in [0, 1), got {momentum}", nameof(momentum));
        Momentum = momentum;
        velocity = Parameters.Select(p => new T[p.Length]).ToArray();
    }

    /// <summary>v ← μ·v + g; w ← w − lr·v. On the first step v = g, as PyTorch.</summary>
    public override void Step()
    {
        T mu = T.CreateChecked(Momentum), lr = T.CreateChecked(LearningRate);
        for (int i = 0; i < Parameters.Count; i++)
        {
            if (Parameters[i].Grad is not { } g) continue;
            var v = velocity[i];
            TensorPrimitives.MultiplyAdd(v, mu, g, v);                         // v ← v·μ + g
            TensorPrimitives.MultiplyAdd(v, -lr, Parameters[i].Data, Parameters[i].Data);   // w ← v·(−lr) + w
        }
    }

    /// <summary>The momentum buffer v of each parameter (to checkpoint and restore).</summary>
    public IReadOnlyList<T[]> Velocity => velocity;
}

/// <summary>Adam (Kingma &amp; Ba 2015, Algorithm 1), as torch.optim.Adam without weight decay or amsgrad.</summary>
public sealed class Adam<T> : Optimizer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>β₁: decay of the first-moment (mean) estimate.</summary>
    public double Beta1 { get; }
    /// <summary>β₂: decay of the second-moment (uncentred variance) estimate.</summary>
    public double Beta2 { get; }
    /// <summary>ε: added to √v̂ so the step stays finite.</summary>
    public double Eps { get; }
    /// <summary>t: steps taken so far (the bias corrections depend on it); set it when restoring a checkpoint.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Set below 0.</exception>
    public int StepCount
    {
        get => stepCount;
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value, nameof(StepCount));
            stepCount = value;
        }
    }
    int stepCount;

    readonly T[][] m, v;

    /// <param name="parameters">Variables to update.</param>
    /// <param name="learningRate">α, the step size.</param>
    /// <param name="beta1">β₁ in [0, 1).</param>
    /// <param name="beta2">β₂ in [0, 1).</param>
    /// <param name="eps">ε &gt; 0.</param>
    /// <exception cref="ArgumentException">A β outside [0, 1), ε not positive, or as the base class.</exception>
    public Adam(IEnumerable<Variable<T>> parameters, double learningRate = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8)
        : base(parameters, learningRate)
    {
        if (beta1 is < 0 or >= 1 || beta2 is < 0 or >= 1) throw new ArgumentException($"betas must be in [0, 1), got ({beta1}, {beta2})");
        if (!(eps > 0)) throw new ArgumentException($"eps must be positive, got {eps}", nameof(eps));
        (Beta1, Beta2, Eps) = (beta1, beta2, eps);
        m = Parameters.Select(p => new T[p.Length]).ToArray();
        v = Parameters.Select(p => new T[p.Length]).ToArray();
    }

    /// <summary>
    /// t ← t + 1; m ← β₁m + (1−β₁)g; v ← β₂v + (1−β₂)g²;
    /// w ← w − (α / (1−β₁ᵗ)) · m / (√v / √(1−β₂ᵗ) + ε).
    /// </summary>
    public override void Step()
    {
        StepCount++;
        T b1 = T.CreateChecked(Beta1), b2 = T.CreateChecked(Beta2), eps = T.CreateChecked(Eps);
        T stepSize = T.CreateChecked(LearningRate / (1 - Math.Pow(Beta1, StepCount)));
        T sqrtCorrection2 = T.CreateChecked(Math.Sqrt(1 - Math.Pow(Beta2, StepCount)));
        var vb1 = new Vector<T>(b1); var vc1 = new Vector<T>(T.One - b1);
        var vb2 = new Vector<T>(b2); var vc2 = new Vector<T>(T.One - b2);
        var veps = new Vector<T>(eps); var vstep = new Vector<T>(stepSize); var vcorr = new Vector<T>(sqrtCorrection2);
        for (int i = 0; i < Parameters.Count; i++)
        {
            if (Parameters[i].Grad is not { } g) continue;
            T[] w = Parameters[i].Data, mi = m[i], vi = v[i];
            int j = 0, lanes = Vector<T>.Count;
            for (; j <= w.Length - lanes; j += lanes)
            {
                var gj = new Vector<T>(g, j);
                var mj = vb1 * new Vector<T>(mi, j) + vc1 * gj;
                var vj = vb2 * new Vector<T>(vi, j) + vc2 * gj * gj;
                mj.CopyTo(mi, j);
                vj.CopyTo(vi, j);
                var denom = Vector.SquareRoot(vj) / vcorr + veps;
                (new Vector<T>(w, j) - vstep * (mj / denom)).CopyTo(w, j);
            }
            for (; j < w.Length; j++)
            {
                mi[j] = b1 * mi[j] + (T.One - b1) * g[j];
                vi[j] = b2 * vi[j] + (T.One - b2) * g[j] * g[j];
                w[j] -= stepSize * (mi[j] / (T.Sqrt(vi[j]) / sqrtCorrection2 + eps));
            }
        }
    }

    /// <summary>First-moment estimates m, per parameter (to checkpoint and restore).</summary>
    public IReadOnlyList<T[]> FirstMoments => m;
    /// <summary>Second-moment estimates v, per parameter (to checkpoint and restore).</summary>
    public IReadOnlyList<T[]> SecondMoments => v;
}
