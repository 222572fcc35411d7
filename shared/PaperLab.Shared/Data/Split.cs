namespace PaperLab.Data;

/// <summary>Which part of a dataset: the published training, validation or test split.</summary>
public enum Split
{
    /// <summary>The training split (MNIST: 60,000 images).</summary>
    Train,
    /// <summary>A published validation split, where the dataset has one (Multi30k's <c>val</c>).</summary>
    Validation,
    /// <summary>The test split (MNIST: 10,000 images; files named <c>t10k-*</c>).</summary>
    Test,
}
