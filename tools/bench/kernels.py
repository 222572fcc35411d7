"""The operations of tools/bench/Kernels/Program.cs, same shapes, timed the same way in PyTorch (see there).

    LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp /usr/bin/python3 tools/bench/kernels.py --threads 1

Prints one JSON line per operation: op, ms (median of 5 timed repeats of R calls, per call), threads.
"""
import argparse
import json

import torch
import torch.nn.functional as F

import twin  # tools/bench/twin.py, beside this file: the timed loop every twin uses


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeats", type=int, default=100)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    g = torch.Generator().manual_seed(0)
    R = lambda *shape: torch.randn(*shape, generator=g)

    def timed(op, f, calls):
        # warm up before the first repeat only
        per_call = sorted(twin.time_steps(lambda _s: f(), calls, max(3, calls // 10) if r == 0 else 0)[0] * 1000 / calls
                          for r in range(5))
        print(json.dumps({"op": op, "ms": round(per_call[2], 4), "threads": a.threads,
                          "framework": f"pytorch {torch.__version__}"}, ensure_ascii=False))

    B, h, V = 256, 100, 17907
    act, U, b, dy = R(B, h), R(V, h), R(V), R(B, V)
    targets = torch.randint(0, V, (B,), generator=g)
    logits = R(B, V).requires_grad_()

    def cross_entropy():
        loss = F.cross_entropy(logits, targets)
        loss.backward()
        return loss

    timed("nplm linear y = a·Uᵀ + b (256×100 · 100×17907)", lambda: F.linear(act, U, b), a.repeats)
    timed("nplm grad a = dy·U (256×17907 · 17907×100)", lambda: dy.mm(U), a.repeats)
    timed("nplm grad U = dyᵀ·a (17907×256 · 256×100)", lambda: dy.t().mm(act), a.repeats)
    timed("nplm grad b = dy.sum(0) (256×17907)", lambda: dy.sum(0), a.repeats)
    timed("nplm cross_entropy forward+backward (256×17907)", cross_entropy, a.repeats)

    N, C = 12 * 64, 128
    x, w, bias, dh = R(N, C), R(4 * C, C), R(4 * C), R(N, 4 * C)
    timed("gpt linear c_fc (768×128 · 128×512)", lambda: F.linear(x, w, bias), a.repeats * 10)
    timed("gpt grad x = dh·W (768×512 · 512×128)", lambda: dh.mm(w), a.repeats * 10)
    timed("gpt grad W = dhᵀ·x (512×768 · 768×128)", lambda: dh.t().mm(x), a.repeats * 10)
    timed("gpt gelu (768×512)", lambda: F.gelu(dh), a.repeats * 10)
    timed("gpt layer_norm (768×128)", lambda: F.layer_norm(x, (C,)), a.repeats * 10)

    img, w1, c1in = R(64, 1, 28, 28), R(6, 1, 5, 5).requires_grad_(), R(64, 6, 14, 14).requires_grad_()
    w2, pin = R(16, 6, 5, 5).requires_grad_(), R(64, 6, 28, 28).requires_grad_()

    def backward_of(f):
        def run():
            out = f()
            out.sum().backward()
            return out
        return run

    timed("lenet5 conv1 1→6 5×5 forward+backward (64×1×28×28)", backward_of(lambda: F.conv2d(img, w1, padding=2)), a.repeats)
    timed("lenet5 conv2 6→16 5×5 forward+backward (64×6×14×14)", backward_of(lambda: F.conv2d(c1in, w2)), a.repeats)
    timed("lenet5 max_pool2d 2×2 forward+backward (64×6×28×28)", backward_of(lambda: F.max_pool2d(pin, 2)), a.repeats)

    m1, m2 = R(1024, 1024), R(1024, 1024)
    timed("sgemm 1024² (2.1 GFLOP)", lambda: m1.mm(m2), max(1, a.repeats // 5))


if __name__ == "__main__":
    main()
