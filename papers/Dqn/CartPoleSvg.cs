using System.Globalization;
using System.Text;

namespace PaperLab.Papers.Dqn;

/// <summary>
/// Draws CartPole states as SVG text: a strip of frames, each the track with its ±2.4 m limits, the cart and
/// the pole at its angle, labelled with the step and time. Geometry in metres, as the equations have it:
/// cart 0.4 m × 0.24 m, pole 2·l = 1 m long from the top of the cart, θ measured from upright toward +x.
/// </summary>
public static class CartPoleSvg
{
    /// <summary>Width of one frame, px.</summary>
    public const double FrameWidth = 240;
    /// <summary>Height of one frame, px.</summary>
    public const double FrameHeight = 150;
    /// <summary>Pixels per metre: the track from −2.6 m to +2.6 m fills the frame's width.</summary>
    public const double Scale = FrameWidth / 5.2;
    /// <summary>Height of the track line from the top of a frame, px.</summary>
    public const double TrackY = 118;
    const double CartWidth = 0.4, CartHeight = 0.24, PoleWidth = 0.08;

    /// <summary>
    /// A horizontal strip of <paramref name="frames"/> frames of <paramref name="states"/>, evenly spaced from
    /// the first state to the last.
    /// </summary>
    /// <param name="states">s_0 … s_T of one episode (e.g. <see cref="Rollouts.GreedyTrajectory"/>).</param>
    /// <param name="frames">Frames to draw (at most the number of states).</param>
    /// <param name="title">Text above the strip; null: none.</param>
    /// <returns>A standalone SVG document.</returns>
    /// <exception cref="ArgumentException">No states, or frames is less than 1.</exception>
    public static string Strip(IReadOnlyList<CartPoleState> states, int frames = 8, string? title = null)
    {
        if (states.Count == 0) throw new ArgumentException("no states to draw", nameof(states));
        if (frames < 1) throw new ArgumentException($"draw at least one frame, got {frames}", nameof(frames));
        frames = Math.Min(frames, states.Count);
        var steps = Enumerable.Range(0, frames).Select(i => frames == 1 ? 0 : (int)Math.Round((double)i * (states.Count - 1) / (frames - 1))).ToArray();
        double top = title == null ? 0 : 24;
        var svg = new StringBuilder();
        svg.Append($"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{F(frames * FrameWidth)}\" height=\"{F(FrameHeight + top)}\" viewBox=\"0 0 {F(frames * FrameWidth)} {F(FrameHeight + top)}\" font-family=\"sans-serif\" font-size=\"12\">\n");
        if (title != null) svg.Append($"  <text x=\"6\" y=\"16\" font-size=\"14\">{Escape(title)}</text>\n");
        for (int i = 0; i < frames; i++)
            svg.Append(Frame(states[steps[i]], steps[i], i * FrameWidth, top));
        svg.Append("</svg>\n");
        return svg.ToString();
    }

    /// <summary>Pixel coordinates (within a frame whose left edge is at 0 and top at 0) of the pole's base and tip.</summary>
    /// <returns>(baseX, baseY, tipX, tipY) px.</returns>
    public static (double BaseX, double BaseY, double TipX, double TipY) PolePixels(CartPoleState s)
    {
        double baseX = FrameWidth / 2 + s.X * Scale;
        double baseY = TrackY - CartHeight * Scale;
        double pole = 2 * CartPole.Length * Scale;
        return (baseX, baseY, baseX + pole * Math.Sin(s.Theta), baseY - pole * Math.Cos(s.Theta));
    }

    static string Frame(CartPoleState s, int step, double left, double top)
    {
        var (bx, by, tx, ty) = PolePixels(s);
        double limit = CartPole.XThreshold * Scale;
        double cartW = CartWidth * Scale, cartH = CartHeight * Scale;
        bool failed = CartPole.Fails(s);
        var g = new StringBuilder();
        g.Append($"  <g class=\"frame\" data-step=\"{step}\" transform=\"translate({F(left)},{F(top)})\">\n");
        g.Append($"    <rect x=\"0.5\" y=\"0.5\" width=\"{F(FrameWidth - 1)}\" height=\"{F(FrameHeight - 1)}\" fill=\"white\" stroke=\"#ccc\"/>\n");
        g.Append($"    <line x1=\"4\" y1=\"{F(TrackY)}\" x2=\"{F(FrameWidth - 4)}\" y2=\"{F(TrackY)}\" stroke=\"#444\"/>\n");
        foreach (double edge in new[] { FrameWidth / 2 - limit, FrameWidth / 2 + limit })
            g.Append($"    <line x1=\"{F(edge)}\" y1=\"{F(TrackY - 6)}\" x2=\"{F(edge)}\" y2=\"{F(TrackY + 6)}\" stroke=\"#c33\"/>\n");
        g.Append($"    <rect class=\"cart\" x=\"{F(bx - cartW / 2)}\" y=\"{F(by)}\" width=\"{F(cartW)}\" height=\"{F(cartH)}\" fill=\"#345\"/>\n");
        g.Append($"    <line class=\"pole\" x1=\"{F(bx)}\" y1=\"{F(by)}\" x2=\"{F(tx)}\" y2=\"{F(ty)}\" stroke=\"{(failed ? "#c33" : "#c80")}\" stroke-width=\"{F(PoleWidth * Scale)}\" stroke-linecap=\"round\"/>\n");
        g.Append($"    <circle cx=\"{F(bx)}\" cy=\"{F(by)}\" r=\"2\" fill=\"#88a\"/>\n");
        g.Append($"    <text x=\"6\" y=\"{F(FrameHeight - 8)}\">t = {step} ({F(step * CartPole.Tau)} s)  θ = {F(s.Theta * 180 / Math.PI)}°</text>\n");
        g.Append("  </g>\n");
        return g.ToString();
    }

    static string F(double v) => Math.Round(v, 2).ToString("0.##", CultureInfo.InvariantCulture);
    static string Escape(string text) => text.Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;");
}
