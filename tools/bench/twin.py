"""What the PyTorch twins in papers/<Paper>/bench/ share: the common options, MNIST and its shuffled batches, the
machine's description, the BLAS loaded, the timed loop, and the one JSON line with its two rates (wall clock and
process CPU time) that every twin prints, as the C# side's BenchClock does.

A twin imports it with

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "tools", "bench"))
    import twin
"""
import argparse
import json
import os
import platform
import time

import numpy as np
import torch

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def read_idx(path):
    """An IDX file (MNIST's format: big-endian dimensions, then unsigned bytes) as a numpy array of its shape."""
    with open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def find_mnist(data_dir=None):
    """The folder holding MNIST's idx files: data_dir, else data/mnist, else $PAPERLAB_DATA/mnist; exits saying so when none has them."""
    for d in filter(None, [data_dir, os.path.join(ROOT, "data", "mnist"),
                           os.environ.get("PAPERLAB_DATA") and os.path.join(os.environ["PAPERLAB_DATA"], "mnist")]):
        if os.path.exists(os.path.join(d, "train-images-idx3-ubyte")):
            return d
    raise SystemExit("MNIST not found: give --data DIR (with train-images-idx3-ubyte), or run bash .ci/setup to fetch it into data/mnist")


def mnist_train(data_dir=None):
    """MNIST's 60,000 training images as float32 (N, 1, 28, 28) in [0, 1] and their labels (N) int64 (find_mnist's folder)."""
    d = find_mnist(data_dir)
    images = torch.from_numpy(read_idx(os.path.join(d, "train-images-idx3-ubyte")).copy()).float().div_(255).unsqueeze(1)
    labels = torch.from_numpy(read_idx(os.path.join(d, "train-labels-idx1-ubyte")).astype(np.int64))
    return images, labels


def arguments(steps, warmup, batch_size, mnist=False):
    """An argument parser with the options every twin takes: --threads, --steps, --warmup, --batch-size, --seed,
    and --data when it reads MNIST; add the twin's own, then parse_args()."""
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--steps", type=int, default=steps)
    p.add_argument("--warmup", type=int, default=warmup)
    p.add_argument("--batch-size", type=int, default=batch_size)
    p.add_argument("--seed", type=int, default=0)
    if mnist:
        p.add_argument("--data", help="directory with MNIST's idx files (default: data/mnist)")
    return p


class ShuffledBatches:
    """batches(s): mini-batch s of a new torch.randperm order every epoch, as (images, labels) rows.
    drop_last: epochs of N // B full batches (else ceil(N / B), the last one short)."""

    def __init__(self, images, labels, batch_size, drop_last):
        self.images, self.labels, self.batch_size = images, labels, batch_size
        n = len(labels)
        self.per_epoch = n // batch_size if drop_last else -(-n // batch_size)
        self.order = None

    def __call__(self, s):
        i = s % self.per_epoch
        if i == 0 or self.order is None:
            self.order = torch.randperm(len(self.labels))
        idx = self.order[i * self.batch_size:(i + 1) * self.batch_size]
        return self.images.index_select(0, idx), self.labels.index_select(0, idx)


def machine():
    """"<CPU model>, <N> logical cores, <memory> GiB", as the C# bench line's machine field."""
    cpu = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2 ** 30
    return f"{cpu}, {os.cpu_count()} logical cores, {mem:.1f} GiB"


def time_steps(step, steps, warmup):
    """Calls step(s) for s = 0 … warmup − 1 untimed, then for s = warmup … warmup + steps − 1 timed.

    Returns (seconds, cpu_seconds): the wall-clock time and this process's CPU time of the timed steps."""
    for s in range(warmup):
        step(s)
    cpu, start = time.process_time(), time.perf_counter()
    for s in range(warmup, warmup + steps):
        step(s)
    return time.perf_counter() - start, time.process_time() - cpu


def loaded_blas():
    """The BLAS shared objects actually mapped into this process (Debian's package links libblas.so.3)."""
    with open("/proc/self/maps") as maps:
        paths = {line.split()[-1] for line in maps if "blas" in line}
    return sorted(paths)


def print_line(threads, steps, items, unit, seconds, cpu_seconds, **fields):
    """Prints and returns the bench line: framework, threads, steps, the given fields, then <unit>_per_second
    (items / seconds), <unit>_per_cpu_second (items / cpu_seconds), date (UTC) and machine."""
    line = {"framework": f"pytorch {torch.__version__}", "threads": threads, "steps": steps, **fields,
            f"{unit}_per_second": items / seconds, f"{unit}_per_cpu_second": items / cpu_seconds,
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "machine": machine()}
    print(json.dumps(line, ensure_ascii=False))
    return line
