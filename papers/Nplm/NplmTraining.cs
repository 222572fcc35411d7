// Training the network by maximising the log-likelihood of the training words (§2), with the paper's
// choices where they carry over to mini-batches:
//   * weight decay on C, H, U, W and not on the biases b, d (§2, R(θ)); 10⁻⁴ on Brown (§4.2);
//   * the learning-rate schedule ε_t = ε_0 / (1 + r·t), t the number of updates (§4: ε_0 = 10⁻³, r = 10⁻⁸
//     per single-word update);
//   * early stopping on the validation set (§4.2: "necessary only in our Brown experiments"): the
//     parameters of the best validation evaluation are kept, and training can stop after `Patience`
//     evaluations without improvement.
// and makemore's for names: SGD, batches of 32 drawn with replacement, learning rate 0.1 then 0.01.
//
// The step is the usual one, written out: zero_grad → loss → backward → (clip) → step → schedule.
// The full softmax over |V| is the cost: per word, forward and backward take about 6·|V|·(h + [direct]·(n−1)m)
// FLOPs (Nplm.ForwardMultiplyAdds × 6), against which the rest is negligible.

using System.Diagnostics;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PaperLab.Papers.Nplm;

/// <summary>The update rule.</summary>
public enum NplmOptimizer
{
    /// <summary>Stochastic gradient descent, weight decay as the L2 penalty of §2 (the paper's rule, here per mini-batch).</summary>
    Sgd,
    /// <summary>AdamW (Loshchilov and Hutter 2019): Adam with decoupled weight decay.</summary>
    AdamW,
}

/// <summary>How batches are drawn.</summary>
public enum NplmSampling
{
    /// <summary>Epochs: each a fresh random permutation of the examples, cut into batches (the last may be smaller).</summary>
    Epochs,
    /// <summary>Every batch drawn uniformly with replacement (makemore's torch.randint).</summary>
    WithReplacement,
}

/// <summary>Hyperparameters of <see cref="NplmTraining.Train"/>.</summary>
public sealed record NplmTrainOptions
{
    /// <summary>Examples per update.</summary>
    public int BatchSize { get; init; } = 256;
    /// <summary>
    /// Passes over the training examples (with <see cref="NplmSampling.WithReplacement"/>, an epoch is ⌈Count / BatchSize⌉
    /// updates); null: as many as <see cref="MaxSteps"/> takes. Training ends at whichever of the two limits comes first.
    /// </summary>
    public int? Epochs { get; init; } = 10;
    /// <summary>Stop after this many updates (makemore: 200,000); null: no limit but <see cref="Epochs"/>.</summary>
    public long? MaxSteps { get; init; }
    /// <summary>How batches are drawn.</summary>
    public NplmSampling Sampling { get; init; } = NplmSampling.Epochs;
    /// <summary>Update rule.</summary>
    public NplmOptimizer Optimizer { get; init; } = NplmOptimizer.AdamW;
    /// <summary>ε_0.</summary>
    public double LearningRate { get; init; } = 1e-3;
    /// <summary>r in ε_t = ε_0 / (1 + r·t), t counted in updates (the paper: 10⁻⁸ per one-word update).</summary>
    public double LrDecay { get; init; }
    /// <summary>From this update on, the rate is multiplied by 0.1 (makemore: 100,000); null: never.</summary>
    public long? LrDropStep { get; init; }
    /// <summary>Weight decay on C, H, U, W (the paper: 10⁻⁴ on Brown); the biases are never decayed.</summary>
    public double WeightDecay { get; init; } = 1e-4;
    /// <summary>SGD momentum (0: the paper's plain SGD).</summary>
    public double Momentum { get; init; }
    /// <summary>Clip the gradient's global norm to this; null: no clipping.</summary>
    public double? ClipGradNorm { get; init; }
    /// <summary>Evaluate on the validation examples every this many updates; 0: at the end of each epoch.</summary>
    public long EvalEvery { get; init; }
    /// <summary>Stop after this many evaluations without a better validation loss; null: never stop early.</summary>
    public int? Patience { get; init; }
    /// <summary>Whether to put back the parameters of the best validation evaluation at the end.</summary>
    public bool RestoreBest { get; init; } = true;
    /// <summary>Examples per forward pass when evaluating (memory: EvalBatchSize·|V| floats).</summary>
    public int EvalBatchSize { get; init; } = 1024;

    /// <summary>The learning rate of update <paramref name="step"/> (0-based): ε_0 / (1 + r·t), × 0.1 from <see cref="LrDropStep"/> on.</summary>
    public double LearningRateAt(long step) =>
        LearningRate / (1 + LrDecay * step) * (LrDropStep is long drop && step >= drop ? 0.1 : 1.0);

    /// <summary>Checks the values; throws naming the field.</summary>
    /// <exception cref="ArgumentException">A value is out of range.</exception>
    public void Validate()
    {
        if (BatchSize < 1) throw new ArgumentException($"batch size must be at least 1, got {BatchSize}");
        if (Epochs is < 1) throw new ArgumentException($"epochs must be at least 1, got {Epochs}");
        if (MaxSteps is < 1) throw new ArgumentException($"max steps must be at least 1, got {MaxSteps}");
        if (Epochs is null && MaxSteps is null) throw new ArgumentException("set epochs or max steps: training needs a limit");
        if (!(LearningRate > 0)) throw new ArgumentException($"learning rate must be positive, got {LearningRate}");
        if (LrDecay < 0) throw new ArgumentException($"learning-rate decay r cannot be negative, got {LrDecay}");
        if (WeightDecay < 0) throw new ArgumentException($"weight decay cannot be negative, got {WeightDecay}");
        if (Momentum is < 0 or >= 1) throw new ArgumentException($"momentum must be in [0, 1), got {Momentum}");
        if (ClipGradNorm is <= 0) throw new ArgumentException($"gradient clipping norm must be positive, got {ClipGradNorm}");
        if (EvalEvery < 0) throw new ArgumentException($"eval every must be 0 (each epoch) or positive, got {EvalEvery}");
        if (Patience is < 1) throw new ArgumentException($"patience must be at least 1, got {Patience}");
        if (EvalBatchSize < 1) throw new ArgumentException($"eval batch size must be at least 1, got {EvalBatchSize}");
    }
}

/// <summary>One update, as reported to the step callback.</summary>
/// <param name="Step">Updates done, this one included (1-based).</param>
/// <param name="Epoch">Examples drawn so far / training examples.</param>
/// <param name="Loss">Mean NLL of the batch before the update (nats per word).</param>
/// <param name="LearningRate">The rate this update used.</param>
/// <param name="Examples">Examples drawn so far.</param>
/// <param name="Seconds">Wall time since training started (evaluations included).</param>
public readonly record struct NplmStep(long Step, double Epoch, float Loss, double LearningRate, long Examples, double Seconds);

/// <summary>One validation evaluation, as reported to the evaluation callback.</summary>
/// <param name="Step">Updates done.</param>
/// <param name="Epoch">Examples drawn so far / training examples.</param>
/// <param name="ValidNll">Mean NLL over every validation example (nats per word).</param>
/// <param name="Improved">Whether this is the best so far (its parameters are kept).</param>
public readonly record struct NplmEvaluation(long Step, double Epoch, double ValidNll, bool Improved)
{
    /// <summary>exp(ValidNll).</summary>
    public double ValidPerplexity => Math.Exp(ValidNll);
}

/// <summary>What <see cref="NplmTraining.Train"/> did.</summary>
/// <param name="Steps">Updates done.</param>
/// <param name="Epochs">Examples drawn / training examples.</param>
/// <param name="Losses">The batch loss of every update, in order.</param>
/// <param name="Evaluations">Every validation evaluation, in order.</param>
/// <param name="Best">The best evaluation (whose parameters the model holds when RestoreBest); null without validation examples.</param>
/// <param name="StoppedEarly">Whether <see cref="NplmTrainOptions.Patience"/> ended training.</param>
/// <param name="TrainSeconds">Wall time of the updates alone (no evaluations).</param>
/// <param name="ExamplesPerSecond">Training words per second of update time.</param>
public sealed record NplmTrainResult(long Steps, double Epochs, IReadOnlyList<float> Losses, IReadOnlyList<NplmEvaluation> Evaluations,
                                     NplmEvaluation? Best, bool StoppedEarly, double TrainSeconds, double ExamplesPerSecond);

/// <summary>The training loop and evaluation of the network.</summary>
public static class NplmTraining
{
    /// <summary>
    /// Trains <paramref name="model"/> on <paramref name="train"/>, evaluating on <paramref name="valid"/>.
    /// Deterministic: the same seed, data, options and torch thread count give the same losses. Does not
    /// seed the model's initialisation (build the model after torch.manual_seed).
    /// </summary>
    /// <param name="model">The network; trained in place.</param>
    /// <param name="train">Training examples.</param>
    /// <param name="valid">Validation examples, or null for none (no evaluations, no early stopping).</param>
    /// <param name="options">Hyperparameters.</param>
    /// <param name="seed">Seed of the batch order.</param>
    /// <param name="onStep">Called after every update.</param>
    /// <param name="onEvaluation">Called after every validation evaluation.</param>
    /// <param name="cancellation">Stops training after the current update (the result covers what was done).</param>
    /// <exception cref="ArgumentException">The options are invalid, or the examples do not fit the model.</exception>
    public static NplmTrainResult Train(Nplm model, NgramExamples train, NgramExamples? valid, NplmTrainOptions options, int seed,
                                       Action<NplmStep>? onStep = null, Action<NplmEvaluation>? onEvaluation = null,
                                       CancellationToken cancellation = default)
    {
        options.Validate();
        foreach (var (name, set) in new[] { ("training", train), ("validation", valid) })
            if (set is not null && set.ContextLength != model.Config.ContextLength)
                throw new ArgumentException($"the {name} examples have {set.ContextLength} words of context, the model of order {model.Config.Order} reads {model.Config.ContextLength}");

        var optimizer = CreateOptimizer(model, options);
        var parameters = model.parameters().ToArray();
        var generator = new Generator((ulong)seed);
        long n = train.Count;
        long stepsPerEpoch = (n + options.BatchSize - 1) / options.BatchSize;
        long maxSteps = Math.Min(options.MaxSteps ?? long.MaxValue, options.Epochs is int epochs ? stepsPerEpoch * epochs : long.MaxValue);

        var losses = new List<float>();
        var evaluations = new List<NplmEvaluation>();
        NplmEvaluation? best = null;
        Dictionary<string, Tensor>? bestState = null;
        int sinceBest = 0;
        bool stoppedEarly = false;
        long step = 0, examples = 0;
        var wall = Stopwatch.StartNew();
        var updateTime = new Stopwatch();

        bool Evaluate()   // returns true to stop early
        {
            if (valid is null) return false;
            double nll = MeanNll(model, valid, options.EvalBatchSize);
            bool improved = best is null || nll < best.Value.ValidNll;
            var e = new NplmEvaluation(step, (double)examples / n, nll, improved);
            evaluations.Add(e);
            if (improved)
            {
                best = e;
                sinceBest = 0;
                if (options.RestoreBest) bestState = Snapshot(model, bestState);
            }
            else sinceBest++;
            onEvaluation?.Invoke(e);
            return options.Patience is int patience && sinceBest >= patience;
        }

        model.train();
        Tensor? permutation = null;
        try
        {
            while (step < maxSteps && !cancellation.IsCancellationRequested)
            {
                long inEpoch = step % stepsPerEpoch;
                if (options.Sampling == NplmSampling.Epochs && inEpoch == 0)
                {
                    permutation?.Dispose();
                    permutation = randperm(n, generator: generator).DetachFromDisposeScope();
                }
                updateTime.Start();
                float loss;
                double lr = options.LearningRateAt(step);
                using (var scope = NewDisposeScope())
                {
                    Tensor indices = options.Sampling == NplmSampling.Epochs
                        ? permutation![TensorIndex.Slice(inEpoch * options.BatchSize, Math.Min(n, (inEpoch + 1) * options.BatchSize))]
                        : randint(0, n, new long[] { options.BatchSize }, generator: generator);
                    var (x, y) = train.Batch(indices);
                    foreach (var group in optimizer.ParamGroups) group.LearningRate = lr;
                    optimizer.zero_grad();
                    Tensor lossTensor = model.Loss(x, y);
                    lossTensor.backward();
                    if (options.ClipGradNorm is double clip) nn.utils.clip_grad_norm_(parameters, clip);
                    optimizer.step();
                    loss = lossTensor.item<float>();
                    examples += indices.shape[0];
                }
                updateTime.Stop();
                step++;
                losses.Add(loss);
                if (!float.IsFinite(loss))
                    throw new InvalidOperationException($"the training loss is {loss} at update {step}: lower the learning rate ({lr:g3}) or clip the gradient");
                onStep?.Invoke(new NplmStep(step, (double)examples / n, loss, lr, examples, wall.Elapsed.TotalSeconds));

                bool evaluate = options.EvalEvery > 0 ? step % options.EvalEvery == 0 : step % stepsPerEpoch == 0;
                if ((evaluate || step == maxSteps) && (evaluations.Count == 0 || evaluations[^1].Step != step))
                {
                    if (Evaluate()) { stoppedEarly = true; break; }
                    model.train();
                }
            }
            if (options.RestoreBest && bestState is not null)
            {
                using var _ = no_grad();
                foreach (var (name, p) in model.named_parameters()) p.copy_(bestState[name]);
            }
        }
        finally
        {
            permutation?.Dispose();
            if (bestState is not null) foreach (var t in bestState.Values) t.Dispose();
            model.train();
        }
        double seconds = updateTime.Elapsed.TotalSeconds;
        return new NplmTrainResult(step, (double)examples / n, losses, evaluations, best, stoppedEarly, seconds,
                                   seconds > 0 ? examples / seconds : 0);
    }

    /// <summary>The optimizer of <paramref name="options"/> with the paper's two groups: weight decay on C, H, U, W; none on b, d.</summary>
    public static optim.Optimizer CreateOptimizer(Nplm model, NplmTrainOptions options)
    {
        var (decay, noDecay) = model.WeightDecayGroups();
        double lr = options.LearningRate;
        return options.Optimizer switch
        {
            NplmOptimizer.Sgd => optim.SGD(new[]
            {
                new SGD.ParamGroup(decay, new SGD.Options { LearningRate = lr, momentum = options.Momentum, weight_decay = options.WeightDecay }),
                new SGD.ParamGroup(noDecay, new SGD.Options { LearningRate = lr, momentum = options.Momentum, weight_decay = 0 }),
            }, lr),
            NplmOptimizer.AdamW => optim.AdamW(new[]
            {
                new AdamW.ParamGroup(decay, lr: lr, weight_decay: options.WeightDecay),
                new AdamW.ParamGroup(noDecay, lr: lr, weight_decay: 0.0),
            }, lr: lr),
            _ => throw new ArgumentOutOfRangeException(nameof(options), $"unknown optimizer {options.Optimizer}"),
        };
    }

    /// <summary>Mean negative log-likelihood (nats per word) of every example, in eval mode without gradients.</summary>
    /// <param name="model">The network.</param>
    /// <param name="examples">The words to score.</param>
    /// <param name="batchSize">Examples per forward pass.</param>
    /// <returns>Σ −ln P̂(target | context) / N, accumulated in float64; exp of it is the perplexity.</returns>
    public static double MeanNll(Nplm model, NgramExamples examples, int batchSize = 1024)
    {
        bool wasTraining = model.training;
        model.eval();
        try
        {
            using var _ = no_grad();
            double sum = 0;
            for (long start = 0; start < examples.Count; start += batchSize)
            {
                using var scope = NewDisposeScope();
                var (x, y) = examples.Slice(start, batchSize);
                sum += nn.functional.cross_entropy(model.forward(x), y, reduction: nn.Reduction.Sum).to_type(ScalarType.Float64).item<double>();
            }
            return sum / examples.Count;
        }
        finally
        {
            model.train(wasTraining);
        }
    }

    /// <summary>P̂(target | context) of every example, in order (for mixtures with an n-gram model).</summary>
    public static double[] TargetProbabilities(Nplm model, NgramExamples examples, int batchSize = 1024)
    {
        bool wasTraining = model.training;
        model.eval();
        try
        {
            using var _ = no_grad();
            var p = new double[examples.Count];
            for (long start = 0; start < examples.Count; start += batchSize)
            {
                using var scope = NewDisposeScope();
                var (x, y) = examples.Slice(start, batchSize);
                float[] logp = model.TargetLogProbabilities(x, y).data<float>().ToArray();
                for (int i = 0; i < logp.Length; i++) p[start + i] = Math.Exp(logp[i]);
            }
            return p;
        }
        finally
        {
            model.train(wasTraining);
        }
    }

    // Copies of the parameters, outside any dispose scope (reusing the previous copies' storage).
    static Dictionary<string, Tensor> Snapshot(Nplm model, Dictionary<string, Tensor>? previous)
    {
        using var _ = no_grad();
        var state = previous ?? new Dictionary<string, Tensor>();
        foreach (var (name, p) in model.named_parameters())
        {
            if (state.TryGetValue(name, out var copy)) copy.copy_(p);
            else state[name] = p.detach().clone().DetachFromDisposeScope();
        }
        return state;
    }
}
