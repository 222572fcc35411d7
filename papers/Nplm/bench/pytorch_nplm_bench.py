"""Training throughput of the same network in PyTorch, for comparison with the C# model (papers/Nplm/Nplm.cs).

The model mirrors Nplm.cs (Bengio et al. 2003, Eq. 1): y = b + W·x + U·tanh(d + H·x), with the same parameter
names (C.weight, H.weight, d, U.weight, W.weight, b), the same initialisation, the same arithmetic (linear with
bias b, then addmm for the direct connections), softmax cross-entropy over the whole vocabulary plus the weight penalty
of Nplm.WeightPenalty (lambda/2 on H, U, W and on the C rows of the batch's windows), and plain SGD. The step is NplmBench.Run's: zero_grad, loss, backward, step, on
random word ids (throughput does not depend on the text). The default shape is Table 1's MLP9 (n 5, m 30,
h 100, no direct connections) over the Brown vocabulary built here (17,907 words).

glibc's malloc would return the large logits buffers to the kernel after every step; like the C# side
(PaperLab.Torch.TorchRuntime.RetainFreedMemory) this keeps freed memory in the process unless --no-retain is given.

Run with Debian's python3-torch and OpenBLAS (the package links the reference BLAS otherwise):

    LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp /usr/bin/python3 \
        papers/Nplm/bench/pytorch_nplm_bench.py --threads 1 --steps 50

Prints one JSON line: words_per_second, model_gflops, the shape, the BLAS library loaded.
"""
import argparse
import ctypes
import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "tools", "bench"))
import twin  # noqa: E402  (tools/bench/twin.py: what every twin shares)


class NPLM(nn.Module):
    def __init__(self, vocab_size, order, features, hidden, direct):
        super().__init__()
        width = (order - 1) * features
        self.C = nn.Embedding(vocab_size, features)
        self.H = nn.Linear(width, hidden, bias=False)
        self.d = nn.Parameter(torch.zeros(hidden))
        self.U = nn.Linear(hidden, vocab_size, bias=False)
        self.W = nn.Linear(width, vocab_size, bias=False) if direct else None
        self.b = nn.Parameter(torch.zeros(vocab_size))
        with torch.no_grad():  # Nplm.Initialise
            nn.init.normal_(self.C.weight, 0.0, 1.0)
            bound = 1.0 / math.sqrt(width)
            nn.init.uniform_(self.H.weight, -bound, bound)
            nn.init.normal_(self.U.weight, 0.0, 0.01)
            if self.W is not None:
                nn.init.normal_(self.W.weight, 0.0, 0.01)

    def penalty(self, context, lam):
        x = self.C(context).view(context.shape[0], -1)      # Nplm.WeightPenalty
        total = x.square().sum() / context.shape[0]
        for layer in (self.H, self.U, self.W):
            if layer is not None:
                total = total + layer.weight.square().sum()
        return 0.5 * lam * total

    def forward(self, context, targets):
        x = self.C(context).view(context.shape[0], -1)      # (B, (n-1)m), oldest word first
        a = torch.tanh(self.H(x) + self.d)                  # (B, h)
        y = F.linear(a, self.U.weight, self.b)              # b + U·a
        if self.W is not None:
            y = y.addmm(x, self.W.weight.t())               # + W·x
        return F.cross_entropy(y, targets)


def retain_freed_memory():
    """mallopt(M_MMAP_MAX, 0) and mallopt(M_TRIM_THRESHOLD, 2^31 - 1), as PaperLab.Torch.TorchRuntime.RetainFreedMemory."""
    libc = ctypes.CDLL("libc.so.6")
    return libc.mallopt(-4, 0) == 1 and libc.mallopt(-1, 2**31 - 1) == 1


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--vocab-size", type=int, default=17907)
    p.add_argument("--order", type=int, default=5)
    p.add_argument("--features", type=int, default=30)
    p.add_argument("--hidden", type=int, default=100)
    p.add_argument("--direct", action="store_true")
    p.add_argument("--no-retain", action="store_true")
    a = p.parse_args()
    retained = False if a.no_retain else retain_freed_memory()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = NPLM(a.vocab_size, a.order, a.features, a.hidden, a.direct)
    opt = torch.optim.SGD(model.parameters(), lr=0.25)
    g = torch.Generator().manual_seed(1)

    def step(_s):
        x = torch.randint(0, a.vocab_size, (a.batch_size, a.order - 1), generator=g)
        y = torch.randint(0, a.vocab_size, (a.batch_size,), generator=g)
        opt.zero_grad(set_to_none=False)
        (model(x, y) + model.penalty(x, 1e-4)).backward()
        opt.step()

    seconds, cpu_seconds = twin.time_steps(step, a.steps, a.warmup)
    width = (a.order - 1) * a.features
    flops_per_word = 6.0 * (a.vocab_size * a.hidden + (a.vocab_size * width if a.direct else 0) + a.hidden * width)
    twin.print_line(a.threads, a.steps, a.steps * a.batch_size, "words", seconds, cpu_seconds,
                    blas=twin.loaded_blas(), vocab_size=a.vocab_size, order=a.order, features=a.features, hidden=a.hidden,
                    direct=a.direct, batch_size=a.batch_size, retain_freed_memory=retained,
                    model_gflops=a.steps * a.batch_size / seconds * flops_per_word / 1e9,
                    parameters=sum(p.numel() for p in model.parameters()))


if __name__ == "__main__":
    main()
