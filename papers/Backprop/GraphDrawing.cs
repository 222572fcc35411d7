// Drawing a computational graph, as micrograd's trace_graph.ipynb draws its Values with graphviz: every value
// a box (its label, data and gradient), every operation a small node between its inputs and its output.
// Three forms: Graphviz DOT and Mermaid text (paste into any renderer), and an SVG laid out here, so the
// notebook and the report show the picture offline without a graph-layout program.
// Layout: a node's column is the length of the longest path from an input to it, with each input moved to
// just left of its first use, so every edge points right; within a column nodes keep the topological order.

using System.Globalization;
using System.Numerics;
using System.Security;
using System.Text;

namespace PaperLab.Papers.Backprop;

/// <summary>A computational graph ready to draw: nodes (values and operations) and edges from inputs to outputs.</summary>
public sealed class GraphDrawing
{
    /// <summary>One node: a value (box: label, data, grad) or an operation (ellipse: its name).</summary>
    /// <param name="Id">Unique identifier ("v0", "op0", …).</param>
    /// <param name="Text">Lines of text shown in the node.</param>
    /// <param name="IsOperation">True for an operation node.</param>
    /// <param name="Column">0 for inputs, increasing towards the output.</param>
    /// <param name="Row">Position within its column, from the top.</param>
    public sealed record Node(string Id, string[] Text, bool IsOperation, int Column, int Row);

    /// <summary>The nodes, inputs first (topological order).</summary>
    public IReadOnlyList<Node> Nodes { get; }
    /// <summary>Edges (from Id, to Id): a value into the operation that uses it, an operation into its result.</summary>
    public IReadOnlyList<(string From, string To)> Edges { get; }

    GraphDrawing(List<Node> nodes, List<(string, string)> edges) => (Nodes, Edges) = (nodes, edges);

    /// <summary>The graph of scalar <see cref="Value"/>s that <paramref name="root"/> was computed from.</summary>
    public static GraphDrawing Of(Value root) => Build(root, v => v.Children, v => v.Op,
        v => new[] { v.Label.Length > 0 ? v.Label : "·", $"data {Num(v.Data)}", $"grad {Num(v.Grad)}" });

    /// <summary>The graph of tensor <see cref="Variable{T}"/>s that <paramref name="root"/> was computed from (shapes instead of values).</summary>
    public static GraphDrawing Of<T>(Variable<T> root, Func<Variable<T>, string>? label = null) where T : unmanaged, IFloatingPointIeee754<T> =>
        Build(root, v => v.Parents, v => v.Op, v => new[]
        {
            label?.Invoke(v) is { Length: > 0 } name ? name : v.Parents.Count == 0 ? (v.RequiresGrad ? "parameter" : "input") : "·",
            Variable<T>.Format(v.Shape),
        });

    static GraphDrawing Build<TNode>(TNode root, Func<TNode, IReadOnlyList<TNode>> children, Func<TNode, string> op, Func<TNode, string[]> text)
        where TNode : class
    {
        // topological order (depth-first, children first), as Backward() orders the graph
        var order = new List<TNode>();
        var seen = new HashSet<TNode>(ReferenceEqualityComparer.Instance);
        void Visit(TNode n)
        {
            if (!seen.Add(n)) return;
            foreach (var c in children(n)) Visit(c);
            order.Add(n);
        }
        Visit(root);

        // columns: an operation one right of its rightmost input, its result one right of it; then each input
        // (a leaf) moves to just left of its first use, so short edges do not cross the whole picture
        var column = new Dictionary<TNode, int>(ReferenceEqualityComparer.Instance);
        foreach (var n in order) column[n] = children(n).Count == 0 ? 0 : children(n).Max(c => column[c]) + 2;
        var firstUse = new Dictionary<TNode, int>(ReferenceEqualityComparer.Instance);
        foreach (var n in order.Where(n => children(n).Count > 0))
            foreach (var c in children(n).Where(c => children(c).Count == 0))
                firstUse[c] = Math.Min(firstUse.TryGetValue(c, out int k) ? k : int.MaxValue, column[n] - 2);
        foreach (var (leaf, k) in firstUse) column[leaf] = k;

        var ids = new Dictionary<TNode, string>(ReferenceEqualityComparer.Instance);
        var placed = new List<(string Id, string[] Text, bool IsOp, int Column)>();
        var edges = new List<(string, string)>();
        foreach (var n in order)
        {
            ids[n] = $"v{ids.Count}";
            var inputs = children(n);
            if (inputs.Count == 0) { placed.Add((ids[n], text(n), false, column[n])); continue; }
            string opId = $"op{ids[n][1..]}";
            placed.Add((opId, new[] { op(n) }, true, column[n] - 1));
            foreach (var c in inputs.Distinct(ReferenceEqualityComparer.Instance).Cast<TNode>()) edges.Add((ids[c], opId));
            placed.Add((ids[n], text(n), false, column[n]));
            edges.Add((opId, ids[n]));
        }
        var rows = new Dictionary<int, int>();
        var nodes = placed.Select(p =>
        {
            int row = rows.TryGetValue(p.Column, out int r) ? r : 0;
            rows[p.Column] = row + 1;
            return new Node(p.Id, p.Text, p.IsOp, p.Column, row);
        }).ToList();
        return new GraphDrawing(nodes, edges);
    }

    static string Num(double x) => x.ToString("0.####", CultureInfo.InvariantCulture);

    /// <summary>Graphviz DOT, left to right: <c>dot -Tsvg graph.dot</c> renders it.</summary>
    public string ToDot()
    {
        var sb = new StringBuilder("digraph G {\n  rankdir=LR;\n");
        foreach (var n in Nodes)
            sb.Append(n.IsOperation
                ? $"  {n.Id} [label=\"{Escape(n.Text[0])}\", shape=circle];\n"
                : $"  {n.Id} [label=\"{{ {string.Join(" | ", n.Text.Select(Escape))} }}\", shape=record];\n");
        foreach (var (from, to) in Edges) sb.Append($"  {from} -> {to};\n");
        return sb.Append("}\n").ToString();

        static string Escape(string s) => s.Replace("\\", "\\\\").Replace("\"", "\\\"").Replace("|", "\\|").Replace("{", "\\{").Replace("}", "\\}");
    }

    /// <summary>Mermaid flowchart text, left to right (GitHub renders it inside a ```mermaid block).</summary>
    public string ToMermaid()
    {
        var sb = new StringBuilder("flowchart LR\n");
        foreach (var n in Nodes)
        {
            string text = string.Join("<br/>", n.Text).Replace("\"", "#quot;");
            sb.Append(n.IsOperation ? $"  {n.Id}((\"{text}\"))\n" : $"  {n.Id}[\"{text}\"]\n");
        }
        foreach (var (from, to) in Edges) sb.Append($"  {from} --> {to}\n");
        return sb.ToString();
    }

    /// <summary>A self-contained SVG picture (no scripts, no external fonts): boxes for values, ellipses for operations, arrows left to right.</summary>
    public string ToSvg()
    {
        const int boxWidth = 120, opHeight = 36, columnGap = 36, rowHeight = 78, lineHeight = 15, margin = 12;
        static int Width(Node n) => n.IsOperation ? Math.Max(opHeight, 7 * n.Text[0].Length + 16) : boxWidth;
        int ColumnWidth(int c) => Nodes.Where(n => n.Column == c).Select(Width).DefaultIfEmpty(opHeight).Max();
        int columns = Nodes.Max(n => n.Column) + 1;
        var x = new int[columns];
        for (int c = 1; c < columns; c++) x[c] = x[c - 1] + ColumnWidth(c - 1) + columnGap;
        int width = x[^1] + ColumnWidth(columns - 1) + 2 * margin;
        int height = (Nodes.Max(n => n.Row) + 1) * rowHeight + 2 * margin;
        var centre = new Dictionary<string, (double X, double Y, double HalfWidth)>();
        foreach (var n in Nodes)
        {
            double half = Width(n) / 2.0;
            centre[n.Id] = (margin + x[n.Column] + ColumnWidth(n.Column) / 2.0, margin + n.Row * rowHeight + rowHeight / 2.0, half);
        }

        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" font-family=\"sans-serif\" font-size=\"11\">\n");
        sb.Append("<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"6\" markerHeight=\"6\" orient=\"auto\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#555\"/></marker></defs>\n");
        foreach (var (from, to) in Edges)
        {
            var (a, b) = (centre[from], centre[to]);
            sb.Append(CultureInfo.InvariantCulture,
                $"<line x1=\"{a.X + a.HalfWidth:0.#}\" y1=\"{a.Y:0.#}\" x2=\"{b.X - b.HalfWidth:0.#}\" y2=\"{b.Y:0.#}\" stroke=\"#555\" marker-end=\"url(#arrow)\"/>\n");
        }
        foreach (var n in Nodes)
        {
            var (cx, cy, half) = centre[n.Id];
            if (n.IsOperation)
                sb.Append(CultureInfo.InvariantCulture, $"<ellipse cx=\"{cx:0.#}\" cy=\"{cy:0.#}\" rx=\"{half:0.#}\" ry=\"{opHeight / 2}\" fill=\"#fde9c9\" stroke=\"#a66\"/>\n");
            else
            {
                double h = n.Text.Length * lineHeight + 8;
                sb.Append(CultureInfo.InvariantCulture, $"<rect x=\"{cx - half:0.#}\" y=\"{cy - h / 2:0.#}\" width=\"{2 * half:0.#}\" height=\"{h:0.#}\" rx=\"4\" fill=\"#e8f0fb\" stroke=\"#469\"/>\n");
            }
            double top = cy - (n.Text.Length - 1) * lineHeight / 2.0;
            for (int i = 0; i < n.Text.Length; i++)
                sb.Append(CultureInfo.InvariantCulture,
                    $"<text x=\"{cx:0.#}\" y=\"{top + i * lineHeight + 4:0.#}\" text-anchor=\"middle\"{(i == 0 && !n.IsOperation ? " font-weight=\"bold\"" : "")}>{SecurityElement.Escape(n.Text[i])}</text>\n");
        }
        return sb.Append("</svg>\n").ToString();
    }
}
