// The pieces of training the experiment's step uses (Experiment.cs holds the loop itself), with the paper's
// choices where they carry over to mini-batches:
//   * stochastic gradient descent (§2: θ ← θ + ε ∂log P̂(w_t | w_{t−1}, …, w_{t−n+1})/∂θ), here on the mean over
//     a batch of B words, so a rate of ε_0·B per batch is the paper's ε_0 per word;
//   * the weight-decay penalty R(θ) on C, H, U, W and not on the biases (§2), 10⁻⁴ on Brown (§4.2), with C
//     penalised only on the rows its updates visit (Nplm.WeightPenalty);
//   * the learning-rate schedule ε_t = ε_0 / (1 + r·t), t the number of words trained on (§4: ε_0 = 10⁻³,
//     r = 10⁻⁸), and makemore's drop to a tenth halfway for names.
// Why SGD and not Adam(W): with Adam a word absent from a batch still moves (its first moment is not zero)
// and AdamW's decay shrinks every row of C at every update; worse, the output bias of a word never seen in
// training gets a small gradient of one sign at every step, which Adam normalises into a full step of the
// learning rate, so its log-probability falls without bound (measured: −ln p of those words 16.3 after one
// AdamW epoch, against 13.6 for the Kneser-Ney trigram; see README). SGD's step shrinks with the gradient.
//
// Evaluation: mean NLL over every example, accumulated in float64; perplexity = exp of it (§2).

using static TorchSharp.torch;

namespace PaperLab.Papers.Nplm;

/// <summary>The optimizer, learning-rate schedule and evaluation of the network.</summary>
public static class NplmTraining
{
    /// <summary>Plain SGD over every parameter (no momentum, no built-in weight decay: the penalty is in the loss, <see cref="Nplm.WeightPenalty"/>).</summary>
    /// <param name="model">The network.</param>
    /// <param name="lr">Learning rate per update on the batch-mean loss (the schedule overrides it each step).</param>
    public static optim.Optimizer CreateOptimizer(Nplm model, double lr) => optim.SGD(model.parameters(), lr);

    /// <summary>
    /// The learning rate of update <paramref name="step"/> (0-based): ε_0 / (1 + r·t) with t = step·B the words
    /// trained on so far (§4), times 0.1 from update <paramref name="dropStep"/> on (makemore); null: no drop.
    /// </summary>
    /// <param name="lr">ε_0·B: the rate of the first update on the batch mean.</param>
    /// <param name="decayPerWord">r (the paper: 10⁻⁸ per word).</param>
    /// <param name="batchSize">B, words per update.</param>
    /// <param name="dropStep">The update from which the rate is a tenth; null: never.</param>
    public static Func<long, double> Schedule(double lr, double decayPerWord, int batchSize, long? dropStep) =>
        step => lr / (1 + decayPerWord * step * batchSize) * (dropStep is long drop && step >= drop ? 0.1 : 1.0);

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

}
