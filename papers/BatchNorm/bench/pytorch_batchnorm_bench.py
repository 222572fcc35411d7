"""Training throughput of the same Batch Normalization experiment step in PyTorch, for comparison with the C#
one (`BatchNorm.dll --bench`).

The network mirrors papers/BatchNorm/MnistMlp.cs: the §4.1 MNIST network of Ioffe & Szegedy 2015, three fully
connected hidden layers of 100 sigmoid units (with BN before each sigmoid and no hidden biases in the `bn`
network) and a 10-way linear output, weights N(0, 0.1²), biases 0. The layer mirrors papers/BatchNorm/BatchNorm.cs:
Algorithm 1 as the forward of a torch.autograd.Function whose backward is the chain rule written under
Algorithm 1 (the same tensor operations in the same order), and the running estimates updated with momentum 0.1
(unbiased variance), not torch.nn.BatchNorm1d. The step mirrors Bench.cs: a shuffled batch of 60 MNIST training
images scaled to [0, 1], then for each network (plain and bn by default, the same batch) zero_grad, forward,
cross-entropy, the loss read back (`loss.item()`, the loop's NaN guard), backward, SGD at 0.1.
Differences, outside the timed arithmetic: the epoch's order is torch.randperm's, not .NET's Fisher–Yates, and
there is no per-step reseeding (the C# loop does it for resumable determinism, and pays for it in its rate).

Run with Debian's python3-torch and OpenBLAS (the package links the reference BLAS otherwise):

    LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp /usr/bin/python3 \\
        papers/BatchNorm/bench/pytorch_batchnorm_bench.py --threads 1 --steps 1000

Prints one JSON line: samples_per_second (wall), samples_per_cpu_second (process CPU time), networks, threads,
batch_size, date, machine. --check-gradients instead checks the layer's backward against autograd's in float64.
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


class BatchNormFunction(torch.autograd.Function):
    """Algorithm 1 forward, the backward of §3 (BatchNormFunction in BatchNorm.cs), for (B, C) inputs."""

    @staticmethod
    def forward(ctx, x, gamma, beta, eps):
        mu = x.mean(0)                                   # μ_B
        xc = x - mu                                      # x_i − μ_B
        variance = (xc * xc).mean(0)                     # σ²_B, divided by m
        xhat = xc * (variance + eps).rsqrt()             # x̂_i
        y = gamma * xhat + beta                          # y_i
        ctx.save_for_backward(x, gamma, mu, variance, xhat)
        ctx.eps = eps
        ctx.mark_non_differentiable(mu, variance)
        ctx.set_materialize_grads(False)
        return y, mu, variance

    @staticmethod
    def backward(ctx, dy, _dmu, _dvar):
        x, gamma, mu, variance, xhat = ctx.saved_tensors
        if dy is None:
            return None, None, None, None
        m = x.numel() / x.shape[1]
        xc = x - mu
        var_eps = variance + ctx.eps
        dxhat = dy * gamma                                               # ∂ℓ/∂x̂_i
        dvar = (dxhat * xc * -0.5 * var_eps.pow(-1.5)).sum(0)            # ∂ℓ/∂σ²_B
        dmu = (dxhat * -var_eps.rsqrt()).sum(0) + dvar * (-2.0 * xc).sum(0) / m   # ∂ℓ/∂μ_B
        dx = dxhat * var_eps.rsqrt() + dvar * 2.0 * xc / m + dmu / m     # ∂ℓ/∂x_i
        dgamma = (dy * xhat).sum(0)                                      # ∂ℓ/∂γ
        dbeta = dy.sum(0)                                                # ∂ℓ/∂β
        return dx, dgamma, dbeta, None


class BatchNorm(nn.Module):
    """BatchNorm.cs's layer in training mode: BatchNormFunction, then the running estimates (momentum 0.1)."""

    def __init__(self, num_features, eps=1e-5, momentum=0.1):
        super().__init__()
        self.eps, self.momentum = eps, momentum
        self.weight = nn.Parameter(torch.ones(num_features))
        self.bias = nn.Parameter(torch.zeros(num_features))
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))
        self.register_buffer("num_batches_tracked", torch.tensor(0))

    def forward(self, x):
        m = x.numel() // x.shape[1]
        y, mu, variance = BatchNormFunction.apply(x, self.weight, self.bias, self.eps)
        with torch.no_grad():
            self.num_batches_tracked.add_(1)
            self.running_mean.mul_(1 - self.momentum).add_(mu, alpha=self.momentum)
            self.running_var.mul_(1 - self.momentum).add_(variance * (m / (m - 1)), alpha=self.momentum)
        return y


class MnistMlp(nn.Module):
    def __init__(self, batch_norm, init_std=0.1, hidden=100):
        super().__init__()
        self.fc1 = nn.Linear(784, hidden, bias=not batch_norm)
        self.fc2 = nn.Linear(hidden, hidden, bias=not batch_norm)
        self.fc3 = nn.Linear(hidden, hidden, bias=not batch_norm)
        self.fc4 = nn.Linear(hidden, 10)
        self.bns = nn.ModuleList([BatchNorm(hidden) for _ in range(3)]) if batch_norm else None
        with torch.no_grad():
            for layer in (self.fc1, self.fc2, self.fc3, self.fc4):
                nn.init.normal_(layer.weight, 0.0, init_std)
                if layer.bias is not None:
                    layer.bias.zero_()

    def forward(self, x):
        u = x.reshape(x.shape[0], 784)
        for i, fc in enumerate((self.fc1, self.fc2, self.fc3)):
            a = fc(u)
            u = torch.sigmoid(self.bns[i](a) if self.bns is not None else a)
        return self.fc4(u)


def check_gradients():
    """The hand-written backward against autograd through the same forward, float64, and gradcheck."""
    torch.manual_seed(0)
    x = torch.randn(8, 5, dtype=torch.float64, requires_grad=True)
    gamma = torch.rand(5, dtype=torch.float64, requires_grad=True)
    beta = torch.randn(5, dtype=torch.float64, requires_grad=True)
    ok = torch.autograd.gradcheck(lambda a, g, b: BatchNormFunction.apply(a, g, b, 1e-5)[0], (x, gamma, beta))
    print(json.dumps({"gradcheck": ok}))


def main():
    p = twin.arguments(steps=1000, warmup=300, batch_size=60, mnist=True)
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--init-std", type=float, default=0.1)
    p.add_argument("--networks", choices=["both", "plain", "bn"], default="both")
    p.add_argument("--check-gradients", action="store_true")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    if a.check_gradients:
        return check_gradients()

    images, labels = twin.mnist_train(a.data)
    batches = twin.ShuffledBatches(images, labels, a.batch_size, drop_last=True)   # as the run's loader

    networks = []
    for batch_norm in (False, True):
        if a.networks == ("bn" if not batch_norm else "plain"):
            continue
        torch.manual_seed(a.seed)
        model = MnistMlp(batch_norm, a.init_std)
        model.train()
        networks.append((model, torch.optim.SGD(model.parameters(), lr=a.lr)))

    def step(s):
        x, y = batches(s)
        for model, opt in networks:
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(x), y)
            if not math.isfinite(loss.item()):
                raise SystemExit(f"non-finite loss at step {s}")
            loss.backward()
            opt.step()

    seconds, cpu_seconds = twin.time_steps(step, a.steps, a.warmup)
    twin.print_line(a.threads, a.steps, a.steps * a.batch_size, "samples", seconds, cpu_seconds,
                    batch_size=a.batch_size, networks=a.networks)


if __name__ == "__main__":
    main()
