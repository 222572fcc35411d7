namespace PaperLab.Data;

/// <summary>Which part of a dataset: training, validation or test.</summary>
public enum Split
{
    /// <summary>The training split (MNIST: 60,000 images).</summary>
    Train,
    /// <summary>A validation split: a folder of one's own images with valid/ (or a held-out part of train/).</summary>
    Validation,
    /// <summary>The test split (MNIST: 10,000 images; files named <c>t10k-*</c>).</summary>
    Test,
}
