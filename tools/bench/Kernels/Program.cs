// The single tensor operations the papers' training steps spend their time in, timed one at a time in
// TorchSharp; ../kernels.py times the same operations, same shapes, in PyTorch, and ../kernels.sh alternates the
// two and prints a table. It answers what a whole-step ratio (tools/bench/compare-all.sh) cannot: which
// kernel makes one framework slower than the other. Shapes: NPLM's output layer (Table 1's MLP9 over the
// Brown vocabulary, batch 256), the GPT's default block (B·T = 12·64 rows, n_embd 128), LeNet-5's convolutions
// and pooling (batch 64), and a square 1024² product for the BLAS alone.
//
//   dotnet tools/bench/Kernels/bin/Release/net10.0/Kernels.dll [--threads N] [--repeats R]
//
// Prints one JSON line per operation: op, ms (median of 5 timed repeats of R calls, per call), and the bench line's
// fields (framework, threads, date, machine: BenchClock.Line).

using PaperLab.Training;
using static TorchSharp.torch;

int threads = 1, repeats = 100;
for (int i = 0; i + 1 < args.Length; i += 2)
{
    bool ok = args[i] switch
    {
        "--threads" => int.TryParse(args[i + 1], out threads) && threads >= 1,
        "--repeats" => int.TryParse(args[i + 1], out repeats) && repeats >= 1,
        _ => false,
    };
    if (!ok)
    {
        Console.Error.WriteLine($"Kernels: bad option '{args[i]} {args[i + 1]}'. Usage: Kernels [--threads N ≥ 1] [--repeats R ≥ 1]");
        return 2;
    }
}
if (args.Length % 2 != 0)
{
    Console.Error.WriteLine("Kernels: options come in '--name value' pairs. Usage: Kernels [--threads N ≥ 1] [--repeats R ≥ 1]");
    return 2;
}

// libtorch set up as every run sets it (RunContext): freed memory kept (the twin: kernels.sh sets glibc the same
// way), oneDNN off (TorchRuntime: its convolution gradients are wrong on the reference machine), so that each
// operation runs the kernel it runs in training, e.g. libtorch's own GELU rather than oneDNN's
PaperLab.Torch.TorchRuntime.RetainFreedMemory();
PaperLab.Torch.TorchRuntime.UseNativeConvolutions();
set_num_threads(threads);
var g = new Generator(0);
Tensor R(params long[] shape) => randn(shape, generator: g);

void Time(string op, Func<Tensor> f, int calls)
{
    void Call(long _) { using var s = NewDisposeScope(); f(); }
    var perCall = new double[5];
    for (int r = 0; r < perCall.Length; r++)   // warm up before the first repeat only
        perCall[r] = BenchClock.Time(Call, calls, warmup: r == 0 ? Math.Max(3, calls / 10) : 0).Seconds * 1000 / calls;
    Array.Sort(perCall);
    var line = BenchClock.Line(threads, calls);
    line["op"] = op;
    line["ms"] = Math.Round(perCall[2], 4);
    BenchClock.Print(line);
}

// NPLM, MLP9 on Brown: a (256, 100) hidden layer, U (17907, 100), b (17907), logits (256, 17907)
long B = 256, h = 100, V = 17907;
Tensor a = R(B, h), U = R(V, h), b = R(V), dy = R(B, V);
Tensor targets = randint(0, V, new long[] { B }, generator: g);
Tensor logits = R(B, V).requires_grad_();
Time("nplm linear y = a·Uᵀ + b (256×100 · 100×17907)", () => nn.functional.linear(a, U, b), repeats);
Time("nplm grad a = dy·U (256×17907 · 17907×100)", () => dy.mm(U), repeats);
Time("nplm grad U = dyᵀ·a (17907×256 · 256×100)", () => dy.t().mm(a), repeats);
Time("nplm grad b = dy.sum(0) (256×17907)", () => dy.sum(0), repeats);
Time("nplm cross_entropy forward+backward (256×17907)", () => { var l = nn.functional.cross_entropy(logits, targets); l.backward(); return l; }, repeats);

// GPT default block: x (768, 128), the MLP's c_fc (512, 128)
long N = 12 * 64, C = 128;
Tensor x = R(N, C), w = R(4 * C, C), bias = R(4 * C), dh = R(N, 4 * C);
Time("gpt linear c_fc (768×128 · 128×512)", () => nn.functional.linear(x, w, bias), repeats * 10);
Time("gpt grad x = dh·W (768×512 · 512×128)", () => dh.mm(w), repeats * 10);
Time("gpt grad W = dhᵀ·x (512×768 · 768×128)", () => dh.t().mm(x), repeats * 10);
Time("gpt gelu (768×512)", () => nn.functional.gelu(dh), repeats * 10);
Time("gpt layer_norm (768×128)", () => nn.functional.layer_norm(x, new long[] { C }), repeats * 10);

// LeNet-5's convolutions and pooling, batch 64, forward and backward (input and weight gradients): libtorch's
// native kernels here (oneDNN off), PyTorch 1.13's oneDNN in the twin
Tensor img = R(64, 1, 28, 28), w1 = R(6, 1, 5, 5).requires_grad_(), c1in = R(64, 6, 14, 14).requires_grad_();
Tensor w2 = R(16, 6, 5, 5).requires_grad_(), pin = R(64, 6, 28, 28).requires_grad_();
Time("lenet5 conv1 1→6 5×5 forward+backward (64×1×28×28)", () => { var o = nn.functional.conv2d(img, w1, padding: new long[] { 2, 2 }); o.sum().backward(); return o; }, repeats);
Time("lenet5 conv2 6→16 5×5 forward+backward (64×6×14×14)", () => { var o = nn.functional.conv2d(c1in, w2); o.sum().backward(); return o; }, repeats);
Time("lenet5 max_pool2d 2×2 forward+backward (64×6×28×28)", () => { var o = nn.functional.max_pool2d(pin, 2); o.sum().backward(); return o; }, repeats);

// the BLAS alone
Tensor m1 = R(1024, 1024), m2 = R(1024, 1024);
Time("sgemm 1024² (2.1 GFLOP)", () => m1.mm(m2), Math.Max(1, repeats / 5));
return 0;
