namespace PaperLab.Data;

/// <summary>Which part of a dataset: the published training or test split.</summary>
public enum Split
{
    /// <summary>The training split (MNIST: 60,000 images).</summary>
    Train,
    /// <summary>The test split (MNIST: 10,000 images; files named <c>t10k-*</c>).</summary>
    Test,
}
