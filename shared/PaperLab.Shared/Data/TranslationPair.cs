namespace PaperLab.Data;

/// <summary>One sentence and its translation, as raw text.</summary>
/// <param name="Source">The sentence to translate.</param>
/// <param name="Target">Its reference translation.</param>
public sealed record TranslationPair(string Source, string Target);
