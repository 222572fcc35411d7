"""Training throughput of the same DDPM recipe in PyTorch, for comparison with the C# experiment (`Ddpm.dll --bench`).

The network mirrors papers/Ddpm/UNet.cs at the run's default size: base width 24, channel multipliers
1/2/2 (28 → 14 → 7), one residual block per encoder level and two per decoder level (each eating one skip),
self-attention at 7×7 and in the middle, group normalisation with 8 groups, swish, the step t through the
sinusoidal embedding and a two-layer MLP added between each block's convolutions, the last convolution of
every residual block, the attention output projection and the output convolution zero-initialised, nearest
upsampling then a 3×3 convolution, strided 3×3 convolutions down. The recipe mirrors Experiment.cs: the
linear β schedule 1e-4 … 0.02 over T = 1000, L_simple (t ~ U{1..T}, ε ~ N(0, I), mean squared error on
ε), the loss read back every step, gradient clipping at norm 1, Adam 1e-3 with 100 warm-up steps then a
half cosine over 2,500 steps (set every step), and an EMA of the weights (decay min(0.995, (1+n)/(10+n)))
updated after every step.

The batch is synthetic and fixed, as in papers/Ddpm/Bench.cs: 64 images of 1×28×28 uniform in [−1, 1]
(the cost of a step does not depend on the pixels).

    LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp /usr/bin/python3 \\
        papers/Ddpm/bench/pytorch_ddpm_bench.py --threads 1 --steps 30

Prints one JSON line: samples_per_second (wall), samples_per_cpu_second, threads, parameters, date, machine.
"""
import argparse
import copy
import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "tools", "bench"))
import twin  # noqa: E402  (tools/bench/twin.py: what every twin shares)


def sinusoidal(t, dim):
    half = dim // 2
    freqs = torch.exp(torch.arange(half, dtype=torch.float32) * (-math.log(10000.0) / (half - 1)))
    angles = t.float().unsqueeze(1) * freqs.unsqueeze(0)
    return torch.cat([torch.sin(angles), torch.cos(angles)], 1)


def zero_(conv):
    with torch.no_grad():
        conv.weight.zero_()
        conv.bias.zero_()
    return conv


class ResBlock(nn.Module):
    def __init__(self, cin, cout, temb_dim, groups):
        super().__init__()
        self.norm1, self.conv1 = nn.GroupNorm(groups, cin), nn.Conv2d(cin, cout, 3, padding=1)
        self.temb_proj = nn.Linear(temb_dim, cout)
        self.norm2, self.conv2 = nn.GroupNorm(groups, cout), zero_(nn.Conv2d(cout, cout, 3, padding=1))
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x, temb):
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.temb_proj(F.silu(temb))[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return h + (self.skip(x) if self.skip is not None else x)


class AttnBlock(nn.Module):
    def __init__(self, c, groups):
        super().__init__()
        self.norm, self.qkv, self.proj_out = nn.GroupNorm(groups, c), nn.Conv2d(c, 3 * c, 1), zero_(nn.Conv2d(c, c, 1))

    def forward(self, x):
        b, c, h, w = x.shape
        q, k, v = self.qkv(self.norm(x)).reshape(b, 3, c, h * w).unbind(1)
        weights = F.softmax(q.transpose(1, 2).bmm(k) / math.sqrt(c), -1)
        o = weights.bmm(v.transpose(1, 2)).transpose(1, 2).reshape(b, c, h, w)
        return x + self.proj_out(o)


class UNet(nn.Module):
    def __init__(self, ch=24, mult=(1, 2, 2), res_blocks=1, attn=(7,), groups=8, image_channels=1, size=28):
        super().__init__()
        self.ch, temb_dim = ch, 4 * ch
        self.temb_dense0, self.temb_dense1 = nn.Linear(ch, temb_dim), nn.Linear(temb_dim, temb_dim)
        self.conv_in = nn.Conv2d(image_channels, ch, 3, padding=1)
        self.down, self.down_kinds, skips, cur = nn.ModuleList(), [], [ch], ch
        for level, m in enumerate(mult):
            for _ in range(res_blocks):
                self.down.append(ResBlock(cur, ch * m, temb_dim, groups)); self.down_kinds.append("res"); cur = ch * m
                if size in attn:
                    self.down.append(AttnBlock(cur, groups)); self.down_kinds.append("attn")
                skips.append(cur)
            if level < len(mult) - 1:
                self.down.append(nn.Conv2d(cur, cur, 3, stride=2, padding=1)); self.down_kinds.append("down"); size //= 2
                skips.append(cur)
        self.mid_block1, self.mid_attn, self.mid_block2 = ResBlock(cur, cur, temb_dim, groups), AttnBlock(cur, groups), ResBlock(cur, cur, temb_dim, groups)
        self.up, self.up_kinds = nn.ModuleList(), []
        for level in reversed(range(len(mult))):
            for _ in range(res_blocks + 1):
                self.up.append(ResBlock(cur + skips.pop(), ch * mult[level], temb_dim, groups)); self.up_kinds.append("res"); cur = ch * mult[level]
                if size in attn:
                    self.up.append(AttnBlock(cur, groups)); self.up_kinds.append("attn")
            if level > 0:
                self.up.append(nn.Conv2d(cur, cur, 3, padding=1)); self.up_kinds.append("up"); size *= 2
        self.norm_out, self.conv_out = nn.GroupNorm(groups, cur), zero_(nn.Conv2d(cur, image_channels, 3, padding=1))

    def forward(self, x, t):
        temb = self.temb_dense1(F.silu(self.temb_dense0(sinusoidal(t, self.ch))))
        h = self.conv_in(x)
        skips = [h]
        for i, (block, kind) in enumerate(zip(self.down, self.down_kinds)):
            if kind == "res":
                h = block(h, temb)
                if i + 1 >= len(self.down_kinds) or self.down_kinds[i + 1] != "attn":
                    skips.append(h)
            else:
                h = block(h)
                skips.append(h)
        h = self.mid_block2(self.mid_attn(self.mid_block1(h, temb)), temb)
        for block, kind in zip(self.up, self.up_kinds):
            if kind == "res":
                h = block(torch.cat([h, skips.pop()], 1), temb)
            elif kind == "attn":
                h = block(h)
            else:
                h = block(F.interpolate(h, scale_factor=2.0, mode="nearest"))
        return self.conv_out(F.silu(self.norm_out(h)))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--channels", type=int, default=24)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    T, lr, warmup_steps, total, clip, ema_decay = 1000, 1e-3, 100, 2500, 1.0, 0.995
    unet = UNet(a.channels)
    unet.train()
    shadow = copy.deepcopy(unet).requires_grad_(False).eval()
    beta = torch.tensor([1e-4 + (0.02 - 1e-4) * i / (T - 1) for i in range(T)], dtype=torch.float64)
    alpha_bar = torch.cat([torch.ones(1, dtype=torch.float64), torch.cumprod(1 - beta, 0)])   # indexed by t = 0 … T
    sqrt_ab, sqrt_1mab = alpha_bar.sqrt().float(), (1 - alpha_bar).sqrt().float()
    opt = torch.optim.Adam(unet.parameters(), lr=lr)
    params, shadow_params = list(unet.parameters()), list(shadow.parameters())
    x0 = torch.rand(a.batch_size, 1, 28, 28, generator=torch.Generator().manual_seed(a.seed + 1)) * 2 - 1

    def step(s):
        rate = lr * (s + 1) / (warmup_steps + 1) if s < warmup_steps else lr * 0.5 * (1 + math.cos(math.pi * (s - warmup_steps) / max(1, total - warmup_steps)))
        for group in opt.param_groups:
            group["lr"] = rate
        opt.zero_grad(set_to_none=True)
        t = torch.randint(1, T + 1, (x0.shape[0],))
        eps = torch.randn_like(x0)
        xt = sqrt_ab[t].view(-1, 1, 1, 1) * x0 + sqrt_1mab[t].view(-1, 1, 1, 1) * eps
        loss = F.mse_loss(unet(xt, t), eps)
        if not math.isfinite(loss.item()):
            raise SystemExit(f"non-finite loss at step {s}")
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, clip)
        opt.step()
        d = min(ema_decay, (1.0 + s) / (10.0 + s))
        with torch.no_grad():
            for sp, pp in zip(shadow_params, params):
                sp.mul_(d).add_(pp, alpha=1 - d)

    seconds, cpu_seconds = twin.time_steps(step, a.steps, a.warmup)
    twin.print_line(a.threads, a.steps, a.steps * a.batch_size, "samples", seconds, cpu_seconds,
                    batch_size=a.batch_size, parameters=sum(p.numel() for p in unet.parameters()))


if __name__ == "__main__":
    main()
