"""Training throughput of the same Transformer in PyTorch, for comparison with the C# experiment (`Transformer.dll --bench`).

The model mirrors papers/Transformer/Transformer.cs at its default size: N 3 encoder and decoder layers,
d_model 256, h 8, d_ff 512, dropout 0.1 (embeddings, sub-layer outputs, attention weights, inside the
feed-forward), post-LN residuals LayerNorm(x + Dropout(Sublayer(x))), separate q/k/v/o projections with the
attention arithmetic written out (q·kᵀ/√d_k, masked_fill −∞, softmax, ·v), sinusoidal positions, token
embeddings N(0, d_model^-½) × √d_model with the <pad> row zeroed, the decoder's input embedding tied to the
output projection, Xavier-uniform projection matrices. The recipe: Adam (β 0.9/0.98, ε 1e−9) with Eq. 3's
learning rate (factor 0.5, warm-up 600) set every step, label-smoothed cross-entropy (ε 0.1, <pad>
ignored), the loss read back every step (`loss.item()`).

The batch is synthetic and fixed, as in papers/Transformer/Bench.cs: 200 pairs, source 14 ids (… EOS),
target 15 (BOS … EOS), random word ids, no padding, vocabularies of the default run (7,881 / 5,898);
throughput depends on the shape, not on the words, and the real length-bucketed Multi30k batches would need
the whole C# pipeline copied.

    LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp /usr/bin/python3 \\
        papers/Transformer/bench/pytorch_transformer_bench.py --threads 1 --steps 30

Prints one JSON line: tokens_per_second (predicted target tokens, wall), tokens_per_cpu_second, threads,
parameters, date, machine.
"""
import argparse
import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "tools", "bench"))
import twin  # noqa: E402  (tools/bench/twin.py: what every twin shares)

PAD, UNK, BOS, EOS = 0, 1, 2, 3


class MultiHeadAttention(nn.Module):
    def __init__(self, d_model, h, p_drop):
        super().__init__()
        self.h, self.d_k = h, d_model // h
        self.w_q, self.w_k, self.w_v, self.w_o = (nn.Linear(d_model, d_model) for _ in range(4))
        self.dropout = nn.Dropout(p_drop)

    def forward(self, query, key, value, mask):
        b = query.shape[0]
        q, k, v = (w(x).view(b, -1, self.h, self.d_k).transpose(1, 2) for w, x in ((self.w_q, query), (self.w_k, key), (self.w_v, value)))
        scores = q @ k.transpose(-2, -1) / math.sqrt(self.d_k)
        scores = scores.masked_fill(mask, float("-inf"))
        heads = self.dropout(F.softmax(scores, -1)) @ v
        return self.w_o(heads.transpose(1, 2).contiguous().view(b, -1, self.h * self.d_k))


class FeedForward(nn.Module):
    def __init__(self, d_model, d_ff, p_drop):
        super().__init__()
        self.w_1, self.w_2, self.dropout = nn.Linear(d_model, d_ff), nn.Linear(d_ff, d_model), nn.Dropout(p_drop)

    def forward(self, x):
        return self.w_2(self.dropout(F.relu(self.w_1(x))))


class Residual(nn.Module):
    """Post-LN, as §3.1: LayerNorm(x + Dropout(Sublayer(x)))."""
    def __init__(self, d_model, p_drop):
        super().__init__()
        self.norm, self.dropout = nn.LayerNorm(d_model), nn.Dropout(p_drop)

    def forward(self, x, sublayer):
        return self.norm(x + self.dropout(sublayer(x)))


class EncoderLayer(nn.Module):
    def __init__(self, d_model, h, d_ff, p_drop):
        super().__init__()
        self.self_attn, self.feed_forward = MultiHeadAttention(d_model, h, p_drop), FeedForward(d_model, d_ff, p_drop)
        self.residual_1, self.residual_2 = Residual(d_model, p_drop), Residual(d_model, p_drop)

    def forward(self, x, src_mask):
        x = self.residual_1(x, lambda y: self.self_attn(y, y, y, src_mask))
        return self.residual_2(x, self.feed_forward)


class DecoderLayer(nn.Module):
    def __init__(self, d_model, h, d_ff, p_drop):
        super().__init__()
        self.self_attn, self.src_attn = MultiHeadAttention(d_model, h, p_drop), MultiHeadAttention(d_model, h, p_drop)
        self.feed_forward = FeedForward(d_model, d_ff, p_drop)
        self.residual_1, self.residual_2, self.residual_3 = (Residual(d_model, p_drop) for _ in range(3))

    def forward(self, x, memory, src_mask, tgt_mask):
        x = self.residual_1(x, lambda y: self.self_attn(y, y, y, tgt_mask))
        x = self.residual_2(x, lambda y: self.src_attn(y, memory, memory, src_mask))
        return self.residual_3(x, self.feed_forward)


class Embeddings(nn.Module):
    def __init__(self, vocab, d_model, max_length, p_drop):
        super().__init__()
        self.lut = nn.Embedding(vocab, d_model, padding_idx=PAD)
        with torch.no_grad():
            nn.init.normal_(self.lut.weight, 0, d_model ** -0.5)
            self.lut.weight[PAD].zero_()
        self.dropout, self.scale = nn.Dropout(p_drop), math.sqrt(d_model)
        pos = torch.arange(max_length, dtype=torch.float64).unsqueeze(1)
        angle = pos / torch.pow(10000.0, torch.arange(0, d_model, 2, dtype=torch.float64) / d_model)
        pe = torch.zeros(max_length, d_model, dtype=torch.float64)
        pe[:, 0::2], pe[:, 1::2] = torch.sin(angle), torch.cos(angle)
        self.register_buffer("pe", pe.float(), persistent=False)

    def forward(self, ids):
        return self.dropout(self.lut(ids) * self.scale + self.pe[:ids.shape[1]])


class Transformer(nn.Module):
    def __init__(self, src_vocab, tgt_vocab, n=3, d_model=256, h=8, d_ff=512, p_drop=0.1, max_length=512):
        super().__init__()
        self.src_embed, self.tgt_embed = Embeddings(src_vocab, d_model, max_length, p_drop), Embeddings(tgt_vocab, d_model, max_length, p_drop)
        self.encoder = nn.ModuleList(EncoderLayer(d_model, h, d_ff, p_drop) for _ in range(n))
        self.decoder = nn.ModuleList(DecoderLayer(d_model, h, d_ff, p_drop) for _ in range(n))
        for name, p in self.named_parameters():
            if p.dim() == 2 and "embed" not in name:
                nn.init.xavier_uniform_(p)

    def forward(self, src, tgt_in):
        src_mask = src.eq(PAD).unsqueeze(1).unsqueeze(2)
        x = self.src_embed(src)
        for layer in self.encoder:
            x = layer(x, src_mask)
        memory = x
        t = tgt_in.shape[1]
        tgt_mask = torch.ones(t, t, dtype=torch.bool).triu(1).unsqueeze(0).unsqueeze(0) | tgt_in.eq(PAD).unsqueeze(1).unsqueeze(2)
        x = self.tgt_embed(tgt_in)
        for layer in self.decoder:
            x = layer(x, memory, src_mask, tgt_mask)
        return F.linear(x, self.tgt_embed.lut.weight)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--pairs", type=int, default=200)
    p.add_argument("--source-length", type=int, default=14)
    p.add_argument("--target-length", type=int, default=15)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    src_vocab, tgt_vocab, d_model, warmup, factor = 7881, 5898, 256, 600, 0.5
    model = Transformer(src_vocab, tgt_vocab)
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=1.0, betas=(0.9, 0.98), eps=1e-9)
    g = torch.Generator().manual_seed(a.seed + 1)
    src = torch.cat([torch.randint(4, src_vocab, (a.pairs, a.source_length - 1), generator=g), torch.full((a.pairs, 1), EOS)], 1)
    tgt = torch.cat([torch.full((a.pairs, 1), BOS), torch.randint(4, tgt_vocab, (a.pairs, a.target_length - 2), generator=g),
                     torch.full((a.pairs, 1), EOS)], 1)

    def step(s):
        n = s + 1
        for group in opt.param_groups:   # Eq. 3
            group["lr"] = factor * d_model ** -0.5 * min(n ** -0.5, n * warmup ** -1.5)
        opt.zero_grad(set_to_none=True)
        logits = model(src, tgt[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt[:, 1:].reshape(-1), ignore_index=PAD, label_smoothing=0.1)
        if not math.isfinite(loss.item()):
            raise SystemExit(f"non-finite loss at step {s}")
        loss.backward()
        opt.step()

    seconds, cpu_seconds = twin.time_steps(step, a.steps, a.warmup)
    twin.print_line(a.threads, a.steps, a.steps * a.pairs * (a.target_length - 1), "tokens", seconds, cpu_seconds,
                    batch=f"{a.pairs} pairs, source {a.source_length}, target {a.target_length}",
                    parameters=sum(p.numel() for p in model.parameters()))


if __name__ == "__main__":
    main()
