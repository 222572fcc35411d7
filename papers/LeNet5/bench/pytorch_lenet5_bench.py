"""Training throughput of the same LeNet-5 recipe in PyTorch, for comparison with the C# experiment (`LeNet5.dll --bench`).

The network mirrors papers/LeNet5/LeNet5.cs: conv1 1→6 5×5 padding 2, ReLU, 2×2 max-pool, conv2 6→16 5×5,
ReLU, max-pool, fc1 400→120, fc2 120→84, fc3 84→10, ReLU between (61,706 parameters, PyTorch's default
initialisation, which TorchSharp shares, seeded with the same seed). The recipe mirrors Experiment.cs: MNIST
training images scaled to [0, 1] and normalised with mean 0.1307 / std 0.3081, batch 64 of a shuffled epoch,
Adam (lr 2e-3, no weight decay) with a half cosine to 0 over 12 epochs (CosineAnnealingLR, stepped every
step), cross-entropy, the loss read back every step (`loss.item()`, as a logging loop does).
Differences, all outside the timed arithmetic: the epoch's order is torch.randperm's, not .NET's
Fisher–Yates of System.Random (the same kind of order, other indices), and there is no per-step reseeding
(a PyTorch loop does not do it; the C# loop does it for resumable determinism, and pays for it in its rate).

Run with Debian's python3-torch and OpenBLAS (the package links the reference BLAS otherwise):

    LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp /usr/bin/python3 \\
        papers/LeNet5/bench/pytorch_lenet5_bench.py --threads 1 --steps 500

Prints one JSON line: samples_per_second (wall), samples_per_cpu_second (process CPU time), threads,
batch_size, date, machine. --check-conv-grad instead checks this PyTorch's convolution input gradients
(its own oneDNN) against float64 on LeNet-5's two convolutions and prints the largest differences.
"""
import json
import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "tools", "bench"))
import twin  # noqa: E402  (tools/bench/twin.py: what every twin shares)


class LeNet5(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, num_classes)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = F.relu(self.fc1(x.flatten(1)))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


def check_conv_grad():
    """Input and weight gradients of LeNet-5's convolutions (and of the 16→8 3×3 one of DDPM's U-Net that
    libtorch 2.10's AVX-512 oneDNN gets wrong) in float32, with this PyTorch's kernels, against float64."""
    torch.manual_seed(0)
    cases, kernels = {}, set()
    shapes = {"conv1 1→6 5×5": (1, 6, 5, 2, 28), "conv2 6→16 5×5": (6, 16, 5, 0, 14), "U-Net 16→8 3×3": (16, 8, 3, 1, 28)}
    for name, (cin, cout, k, pad, hw) in shapes.items():
        for batch in (1, 16, 32, 64):
            x = torch.randn(batch, cin, hw, hw, requires_grad=True)
            w = torch.randn(cout, cin, k, k, requires_grad=True)
            g = torch.randn(batch, cout, hw + 2 * pad - k + 1, hw + 2 * pad - k + 1)
            with torch.autograd.profiler.profile() as prof:
                dx, dw = torch.autograd.grad(F.conv2d(x, w, padding=pad), (x, w), g)
            kernels |= {e.name for e in prof.function_events if "convolution" in e.name and e.name not in
                        ("aten::convolution", "aten::_convolution", "aten::convolution_backward")}
            x64, w64 = x.detach().double().requires_grad_(), w.detach().double().requires_grad_()
            dx64, dw64 = torch.autograd.grad(F.conv2d(x64, w64, padding=pad), (x64, w64), g.double())
            rel = lambda a, b: ((a.double() - b).abs().max() / b.abs().max()).item()
            cases[f"{name}, batch {batch}"] = {"input_grad_rel_err": rel(dx, dx64), "weight_grad_rel_err": rel(dw, dw64)}
    ok = all(v["input_grad_rel_err"] < 1e-4 and v["weight_grad_rel_err"] < 1e-4 for v in cases.values())
    print(json.dumps({"framework": f"pytorch {torch.__version__}", "float32_kernels": sorted(kernels),
                      "conv_grads_match_float64": ok, "cases": cases}, ensure_ascii=False))


def main():
    p = twin.arguments(steps=500, warmup=20, batch_size=64, mnist=True)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--epochs", type=int, default=12, help="length of the cosine schedule")
    p.add_argument("--check-conv-grad", action="store_true")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    if a.check_conv_grad:
        return check_conv_grad()

    images, labels = twin.mnist_train(a.data)
    images = images.sub_(0.1307).div_(0.3081)
    batches = twin.ShuffledBatches(images, labels, a.batch_size, drop_last=False)

    torch.manual_seed(a.seed)
    model = LeNet5()
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=a.lr, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=a.epochs * batches.per_epoch)

    def step(s):
        x, y = batches(s)
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        if not math.isfinite(loss.item()):
            raise SystemExit(f"non-finite loss at step {s}")
        loss.backward()
        opt.step()
        sched.step()

    seconds, cpu_seconds = twin.time_steps(step, a.steps, a.warmup)
    twin.print_line(a.threads, a.steps, a.steps * a.batch_size, "samples", seconds, cpu_seconds, batch_size=a.batch_size)


if __name__ == "__main__":
    main()
