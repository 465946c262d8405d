"""Seconds per training epoch: digitnet against the book's per-example loop and against PyTorch.

A stripped-down training script (nanoGPT's ``bench.py`` idea): no validation, no checkpoints, only
the epoch loop, timed. Every case trains on the same 50,000 real MNIST training images with the
same batch size in each implementation, and the implementations take turns (A, B, C, A, B, C, ...)
so that a busy machine slows them alike; the table gives median seconds per epoch.

    .venv/bin/python benchmarks/bench_train.py                    # every case, 2 threads
    .venv/bin/python benchmarks/bench_train.py --cases seed10,mlp --repeats 7 --threads 1

Cases (``--cases``):

* ``seed10``: the classic 784-16-16-10 sigmoid network, quadratic cost, SGD eta 3, batch 10: the
  per-example reference (``reference.py``), digitnet and PyTorch.
* ``seed128``: the same network at batch 128: digitnet and PyTorch.
* ``mlp``: 784-512-256-10 ReLU, softmax + cross-entropy, He init, SGD eta 0.1, batch 128.
* ``cnn``: the layers of the ``cnn`` preset (``digitnet.presets``) with its optimizer, batch 128.
  On ``--threads 2`` digitnet's kernels run two worker threads and PyTorch two threads.
* ``memory``: peak resident memory of ``digitnet train --preset seed --epochs 2`` in a subprocess.

``--baseline DIR`` times another version of digitnet beside this one, taking turns with the
others: ``DIR`` is the ``src/digitnet`` folder of a checkout of it (``git worktree add /tmp/base
COMMIT``), imported under the name ``digitnet_baseline``; the table then has a ``dn/base`` column.

The floor column is the time the matrix products of an epoch would take at the machine's peak
float32 speed, measured in the same run by a 2048 x 2048 x 2048 ``np.matmul`` on the same thread
count: the forward, ``dW`` and ``dX`` products, 3x the forward multiply-adds (2x for the first
layer, which needs no ``dX``). Everything else (activations, pooling, the optimizer, Python) is
left out, and small matrices never reach peak speed, so no implementation reaches the floor: it
shows how far each one is from the machine's limit. PyTorch is optional
(``pip install -e '.[bench]'``); without it the torch column is skipped.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import operator
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared/data/mnist"
CASES = ("seed10", "seed128", "mlp", "cnn", "memory")
N_TRAIN = 50_000
REFERENCE_EXAMPLES = 10_000  # the per-example loop takes ~4 s per epoch: time a fifth, scale by 5
CNN_EXAMPLES = 5_000  # a tenth of an epoch, scaled by 10
# The goals this benchmark checks: (case, ratio, comparison, bound).
TARGETS = [
    ("seed10", "vs_base", "<=", 1.05),
    ("seed128", "vs_base", "<=", 1.05),
    ("mlp", "vs_base", "<=", 1.05),
    ("seed10", "speedup", ">=", 15.0),
    ("seed10", "vs_torch", "<", 1.0),
    ("seed128", "vs_torch", "<=", 0.67),
    ("mlp", "vs_torch", "<=", 1.0),
    ("cnn", "vs_torch", "<=", 1.5),
]
COMPARE = {">=": operator.ge, "<": operator.lt, "<=": operator.le}
RATIO_NAMES = {"speedup": "reference/digitnet", "vs_torch": "digitnet/torch", "vs_base": "digitnet/baseline"}
MEMORY_TARGET_MB = 1024


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=1, help="epochs per timing (default 1)")
    p.add_argument("--repeats", type=int, default=5, help="timings per implementation; the table shows the median")
    p.add_argument("--threads", type=int, default=2, help="BLAS, OpenMP and torch threads (default 2)")
    p.add_argument("--data-dir", type=Path, default=DATA_DIR if DATA_DIR.is_dir() else None,
                   help=f"folder with the MNIST IDX files (default {DATA_DIR}, else the cache)")
    p.add_argument("--cases", default=",".join(CASES), help=f"comma-separated subset of {','.join(CASES)}")
    p.add_argument("--baseline", type=Path, metavar="DIR",
                   help="the src/digitnet folder of another version to time beside this one")
    args = p.parse_args(argv)
    args.cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = sorted(set(args.cases) - set(CASES))
    if unknown:
        p.error(f"unknown case(s) {', '.join(unknown)}: choose from {', '.join(CASES)}")
    if min(args.epochs, args.repeats, args.threads) < 1:
        p.error("--epochs, --repeats and --threads must be at least 1")
    return args


if __name__ == "__main__":
    # OpenBLAS and OpenMP read their thread counts when they load: set them before numpy is imported.
    for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[_var] = str(parse_args().threads)

import numpy as np  # noqa: E402

import reference  # noqa: E402
from digitnet.data import load_dataset, one_hot  # noqa: E402
from digitnet.nn.layers import (ActivationLayer, BatchNorm, Conv2D, Dense, Dropout, Flatten,  # noqa: E402
                             GlobalAvgPool, MaxPool2D, Reshape, layer_from_config)
from digitnet.nn.network import Network, summarize  # noqa: E402
from digitnet.nn.optimizers import make_optimizer  # noqa: E402
from digitnet.presets import PRESETS  # noqa: E402
from digitnet.training import run_epoch  # noqa: E402

try:
    import torch
    import torch.nn.functional as F
    from torch import nn
except ImportError:
    torch = F = nn = None

from threadpoolctl import threadpool_info, threadpool_limits

Runner = Callable[[int], float]  # trains one shuffled pass over the first n examples; returns seconds


@dataclass
class Case:
    name: str
    batch: int
    description: str
    runners: dict[str, Runner]  # by implementation: "reference", "digitnet", "torch"
    examples: dict[str, int]  # examples each implementation is timed on; scaled to N_TRAIN
    flops: float  # forward + backward matrix-product FLOPs of one epoch of N_TRAIN examples
    seconds: dict[str, float] = field(default_factory=dict)  # median seconds per epoch

    def ratio(self, column: str) -> float | None:
        s = self.seconds
        if column == "speedup" and "reference" in s:
            return s["reference"] / s["digitnet"]
        if column == "vs_torch" and "torch" in s:
            return s["digitnet"] / s["torch"]
        if column == "vs_base" and "baseline" in s:
            return s["digitnet"] / s["baseline"]
        return None


# -- the machine ---------------------------------------------------------------------------------

def set_threads(n: int) -> None:
    """Limit every thread pool (OpenBLAS, OpenMP, torch's) to ``n`` threads."""
    threadpool_limits(limits=n)  # applies at once and stays
    if torch is not None:
        torch.set_num_threads(n)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def peak_flops(repeats: int = 10) -> float:
    """The best float32 FLOP/s of a 2048^3 ``np.matmul`` (the best, not the median: a peak)."""
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((2048, 2048), dtype=np.float32) for _ in range(2))
    out = np.empty_like(a)
    np.matmul(a, b, out=out)  # warm-up: threads started, pages touched
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        np.matmul(a, b, out=out)  # (2048, 2048) @ (2048, 2048)
        best = min(best, time.perf_counter() - start)
    return 2 * 2048 ** 3 / best


def matmul_flops(net: Network) -> float:
    """Forward + backward matrix-product FLOPs of one example (2 FLOPs per multiply-add)."""
    outs = net.trace(np.zeros((1, *net.input_shape), net.dtype))  # each layer's output, batch of 1
    macs, first = 0, True
    for layer, out in zip(net.layers, outs):
        if isinstance(layer, Dense):
            forward = layer.params["W"].size  # n_in * units
        elif isinstance(layer, Conv2D):
            forward = out.shape[1] * out.shape[2] * layer.params["W"].size  # ho * wo * (kh*kw*c*f)
        else:
            continue
        macs += forward * (2 if first else 3)  # forward and dW; dX too, except for the first layer
        first = False
    return 2.0 * macs


# -- the three implementations ---------------------------------------------------------------------

def reference_runner(X: np.ndarray, Y: np.ndarray, batch: int, eta: float) -> Runner:
    rng = np.random.default_rng(0)
    net = reference.ReferenceNetwork([784, 16, 16, 10], rng)
    data = reference.as_columns(X[:REFERENCE_EXAMPLES], Y[:REFERENCE_EXAMPLES])  # the book's loading step

    def run(n: int) -> float:
        start = time.perf_counter()
        reference.run_epoch(net, data[:n], batch, eta, rng)
        return time.perf_counter() - start
    return run


def timed(fn: Callable, *args) -> float:
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def digitnet_runner(net: Network, optimizer, X: np.ndarray, Y: np.ndarray, batch: int) -> Runner:
    def run(n: int) -> float:
        start = time.perf_counter()
        run_epoch(net, X[:n], Y[:n], batch, optimizer)
        return time.perf_counter() - start
    return run


class ToImages(object if torch is None else nn.Module):
    """Rows ``(n, h*w*c)`` to NCHW images ``(n, c, h, w)``: our ``Reshape`` to channels-last, permuted."""

    def __init__(self, shape: tuple[int, int, int]) -> None:
        super().__init__()
        self.shape = shape

    def forward(self, x):
        return x.view(len(x), *self.shape).permute(0, 3, 1, 2)  # (n, h, w, c) -> (n, c, h, w)


def conv_padding(layer: Conv2D, size: int, out: int, axis: int) -> tuple[int, int]:
    """Zeros before and after one spatial axis: ``"same"`` puts an odd pixel after, as TensorFlow does."""
    if layer.padding != "same":
        return layer.padding, layer.padding
    total = max((out - 1) * layer.stride + layer.kernel_size[axis] - size, 0)
    return total // 2, total - total // 2


def torch_model(net: Network) -> tuple[nn.Module, str]:
    """The same architecture in PyTorch, and its loss: "quadratic", "softmax-ce" or "sigmoid-ce".

    Images are NCHW in torch (channels-last in digitnet); a softmax or sigmoid output that the
    cross-entropy takes is left to the loss, which fuses it as our cost's ``delta`` does.
    """
    outs = net.trace(np.zeros((1, *net.input_shape), net.dtype))
    shapes_in = [net.input_shape] + [o.shape[1:] for o in outs[:-1]]  # each layer's input shape
    loss = "quadratic" if net.cost_name == "quadratic" else f"{net.output}-ce"
    modules: list[nn.Module] = []
    for i, (layer, shape) in enumerate(zip(net.layers, shapes_in)):
        if isinstance(layer, Dense):
            modules.append(nn.Linear(shape[0], layer.units, bias=layer.bias))
        elif isinstance(layer, Conv2D):
            out_hw = outs[i].shape[1:3]
            (top, bottom), (left, right) = (conv_padding(layer, shape[a], out_hw[a], a) for a in (0, 1))
            padding = (top, left)
            if (top, left) != (bottom, right):  # TensorFlow's "same" with an odd total: pad explicitly
                modules.append(nn.ZeroPad2d((left, right, top, bottom)))
                padding = (0, 0)
            modules.append(nn.Conv2d(shape[2], layer.filters, layer.kernel_size, layer.stride, padding, bias=layer.bias))
        elif isinstance(layer, MaxPool2D):
            modules.append(nn.MaxPool2d(layer.pool_size, layer.stride or layer.pool_size))
        elif isinstance(layer, BatchNorm):
            norm = nn.BatchNorm2d if len(shape) == 3 else nn.BatchNorm1d
            modules.append(norm(shape[-1], eps=layer.eps, momentum=1 - layer.momentum))
            if layer.relu:  # ours runs inside the norm's passes; torch's is a module of its own
                modules.append(nn.ReLU())
        elif isinstance(layer, Dropout):
            modules.append(nn.Dropout(layer.rate))
        elif isinstance(layer, Flatten):
            modules.append(nn.Flatten())
        elif isinstance(layer, GlobalAvgPool):
            modules += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        elif isinstance(layer, Reshape) and len(layer.shape) == 3:
            modules.append(ToImages(layer.shape))
        elif isinstance(layer, ActivationLayer):
            if i == len(net.layers) - 1 and loss.endswith("-ce"):
                continue  # the loss takes the logits
            modules.append({"sigmoid": nn.Sigmoid(), "relu": nn.ReLU(), "tanh": nn.Tanh(),
                            "softmax": nn.Softmax(dim=1)}[layer.name])
        else:
            raise ValueError(f"no torch equivalent for {layer!r}")
    return nn.Sequential(*modules), loss


def torch_loss(kind: str, out, Y, y):
    """The mean cost of a batch, as digitnet's costs define it."""
    if kind == "quadratic":
        return 0.5 * (out - Y).square().sum() / len(out)  # 1/(2n) sum ||a - y||^2
    if kind == "softmax-ce":
        return F.cross_entropy(out, y)  # softmax + categorical cross-entropy on the logits
    return F.binary_cross_entropy_with_logits(out, Y, reduction="sum") / len(out)


def torch_optimizer(name: str, params, lr: float, momentum: float):
    if name == "adam":
        return torch.optim.Adam(params, lr=lr)
    if name in ("momentum", "nesterov"):
        return torch.optim.SGD(params, lr=lr, momentum=momentum, nesterov=name == "nesterov")
    return torch.optim.SGD(params, lr=lr)


def torch_runner(net: Network, optimizer: str, lr: float, momentum: float,
                 X: np.ndarray, Y: np.ndarray, y: np.ndarray, batch: int) -> Runner:
    """PyTorch eager, float32, no DataLoader: each batch is gathered from a permutation, as in digitnet.

    ``index_select`` per batch is faster than slicing a shuffled copy of the whole set, which costs
    a 150 MB write per epoch (measured: 0.18 against 0.24 CPU-s per epoch at batch 128), and far
    faster than ``X[idx]`` (2 against 280 us per batch of 10). ``torch.compile`` made the seed
    network slower (1.33 against 1.10 s per epoch at batch 10), so eager it is.
    """
    torch.manual_seed(0)
    model, loss_kind = torch_model(net)
    model.train()
    opt = torch_optimizer(optimizer, model.parameters(), lr, momentum)
    Xt, Yt, yt = torch.from_numpy(X), torch.from_numpy(Y), torch.from_numpy(y)  # shared memory
    gen = torch.Generator().manual_seed(0)

    def run(n: int) -> float:
        start = time.perf_counter()
        perm = torch.randperm(n, generator=gen)  # (n,)
        for i in range(0, n, batch):
            idx = perm[i:i + batch]  # (b,)
            out = model(torch.index_select(Xt, 0, idx))  # (b, 10)
            loss = torch_loss(loss_kind, out, torch.index_select(Yt, 0, idx), torch.index_select(yt, 0, idx))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        return time.perf_counter() - start
    return run


def load_baseline(src: Path):
    """Another version's package from its ``src/digitnet`` folder, as ``digitnet_baseline`` (its
    modules import each other relatively); returns a namespace with ``Network``,
    ``layer_from_config``, ``make_optimizer`` and ``run_epoch``."""
    spec = importlib.util.spec_from_file_location("digitnet_baseline", src / "__init__.py",
                                                  submodule_search_locations=[str(src)])
    package = importlib.util.module_from_spec(spec)
    sys.modules["digitnet_baseline"] = package
    spec.loader.exec_module(package)

    def module(*names):
        for name in names:
            try:
                return importlib.import_module(f"digitnet_baseline.{name}")
            except ModuleNotFoundError:
                continue
        raise ModuleNotFoundError(f"none of {names} in {src}")

    network, layers, optimizers = module("nn.network", "network"), module("nn.layers", "layers"), \
        module("nn.optimizers", "optimizers")
    return argparse.Namespace(Network=network.Network, layer_from_config=layers.layer_from_config,
                              make_optimizer=optimizers.make_optimizer,
                              run_epoch=module("training").run_epoch)


# -- the cases -------------------------------------------------------------------------------------

def build_network(lib, name: str) -> Network:
    """The network of case ``name``, built with ``lib`` (this digitnet or the baseline's)."""
    if name in ("seed10", "seed128"):
        return lib.Network([784, 16, 16, 10], seed=0)  # sigmoid, quadratic, N(0, 1): the seed preset
    if name == "mlp":
        return lib.Network([784, 512, 256, 10], activation="relu", output="softmax", cost="cross-entropy",
                           init="he", seed=0)
    preset = PRESETS["cnn"]
    return lib.Network([lib.layer_from_config(c) for c in preset["layers"]], cost=preset["cost"], seed=0)


def build_case(name: str, X: np.ndarray, Y: np.ndarray, y: np.ndarray, baseline=None) -> Case:
    """The case called ``name``, with a runner for each implementation."""
    optimizer, lr, momentum, batch = "sgd", 3.0, 0.9, 128
    examples = {"digitnet": N_TRAIN, "torch": N_TRAIN}
    net = build_network(argparse.Namespace(Network=Network, layer_from_config=layer_from_config), name)
    if name in ("seed10", "seed128"):
        batch = 10 if name == "seed10" else 128
        description = "784-16-16-10 sigmoid, quadratic, SGD eta 3"
    elif name == "mlp":
        lr = 0.1
        description = "784-512-256-10 relu, softmax + cross-entropy, SGD eta 0.1"
    else:  # cnn
        preset = PRESETS["cnn"]
        optimizer, lr = preset["optimizer"], preset["eta"]
        examples = {"digitnet": CNN_EXAMPLES, "torch": CNN_EXAMPLES}
        description = f"cnn preset: {summarize(preset['layers'])}, {optimizer} eta {lr:g}"
    runners = {"digitnet": digitnet_runner(net, make_optimizer(optimizer, lr, momentum), X, Y, batch)}
    if baseline is not None:
        base_net, base_opt = build_network(baseline, name), baseline.make_optimizer(optimizer, lr, momentum)
        runners["baseline"] = lambda n: timed(baseline.run_epoch, base_net, X[:n], Y[:n], batch, base_opt)
        examples["baseline"] = examples["digitnet"]
    if name == "seed10":
        runners = {"reference": reference_runner(X, Y, batch, lr), **runners}
        examples["reference"] = REFERENCE_EXAMPLES
    if torch is not None:
        runners["torch"] = torch_runner(net, optimizer, lr, momentum, X, Y, y, batch)
    return Case(name, batch, description, runners, examples, matmul_flops(net) * N_TRAIN)


def time_case(case: Case, repeats: int, epochs: int) -> None:
    """Median seconds per epoch of each implementation, taking turns in a turning order, after one
    short warm-up each."""
    for name, run in case.runners.items():
        run(min(case.examples[name], 1000))
    times: dict[str, list[float]] = {name: [] for name in case.runners}
    names = list(case.runners)
    for r in range(repeats):
        # The order turns, and runs backwards every other repeat, so that each implementation
        # follows each other one as often: PyTorch's OpenMP threads keep spinning after its epoch
        # and slow whatever runs next.
        order = names[r // 2 % len(names):] + names[:r // 2 % len(names)]
        for name in order[::-1] if r % 2 else order:
            run = case.runners[name]
            n = case.examples[name]
            seconds = sum(run(n) for _ in range(epochs)) / epochs
            times[name].append(seconds * N_TRAIN / n)
    case.seconds = {name: statistics.median(t) for name, t in times.items()}


# Starts a command and prints its peak RSS in KiB. A child inherits its parent's high-water mark
# through fork and exec, so the trainer is started from this small launcher, not from the benchmark.
LAUNCHER = """
import os, subprocess, sys
proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
_, status, usage = os.wait4(proc.pid, 0)
proc.returncode = os.waitstatus_to_exitcode(status)
print(usage.ru_maxrss, proc.returncode)
"""


def peak_memory(data_dir: Path | None) -> tuple[float, float]:
    """Peak resident MB and seconds of ``digitnet train --preset seed --epochs 2`` in a subprocess."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "digitnet", "train", "--preset", "seed", "--epochs", "2", "--no-progress",
               "-o", str(Path(tmp) / "seed.npz")]
        if data_dir is not None:
            cmd += ["--data-dir", str(data_dir)]
        start = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", LAUNCHER, *cmd], capture_output=True, text=True)
        seconds = time.perf_counter() - start
    try:
        maxrss_kib, code = (int(v) for v in out.stdout.split())
    except ValueError:
        code = None
    if out.returncode != 0 or code != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {out.stderr.strip()}")
    return maxrss_kib / 1024, seconds  # ru_maxrss is in KiB on Linux


# -- the report ------------------------------------------------------------------------------------

def _s(v: float | None, fmt: str = "{:.3f}") -> str:
    return "-" if v is None else fmt.format(v)


def print_table(cases: list[Case], peak: float) -> None:
    head = (f"{'case':<8} {'batch':>5} {'reference':>10} {'digitnet':>9} {'baseline':>9} {'torch':>8} "
            f"{'ref/dn':>7} {'dn/base':>7} {'dn/torch':>8} {'floor':>8} {'dn/floor':>8}")
    print(head)
    print("-" * len(head))
    for c in cases:
        floor = c.flops / peak
        s = c.seconds
        print(f"{c.name:<8} {c.batch:>5} {_s(s.get('reference'), '{:.2f}'):>10} {_s(s['digitnet']):>9} "
              f"{_s(s.get('baseline')):>9} {_s(s.get('torch')):>8} {_s(c.ratio('speedup'), '{:.1f}x'):>7} "
              f"{_s(c.ratio('vs_base'), '{:.2f}'):>7} {_s(c.ratio('vs_torch'), '{:.2f}'):>8} {floor:>8.4f} "
              f"{s['digitnet'] / floor:>7.0f}x")
    print("\nseconds per epoch of 50,000 images, median of the repeats; ref/dn = reference / digitnet "
          "(speed-up), dn/torch = digitnet / torch (time ratio, < 1: digitnet faster)")
    for c in cases:
        scaled = sorted({n for k, n in c.examples.items() if n < N_TRAIN and k in c.runners})
        who = [k for k, n in c.examples.items() if n < N_TRAIN and k in c.runners]
        note = f"; {' and '.join(who)} timed on {scaled[0]:,} images, scaled to 50,000" if len(scaled) == 1 else ""
        print(f"  {c.name}: {c.description}, {c.flops / 1e9:.1f} GFLOP per epoch{note}")


def print_targets(cases: list[Case], memory_mb: float | None, asked: list[str]) -> None:
    print("\ntargets:")
    by_name = {c.name: c for c in cases}
    for name, column, op, bound in TARGETS:
        if name not in asked:
            continue
        text = f"{RATIO_NAMES[column]} {op} {bound:g}"
        value = by_name[name].ratio(column) if name in by_name else None
        if value is None:
            print(f"  {name:<8} {text:<28} not measured")
            continue
        print(f"  {name:<8} {text:<28} {value:7.2f}  {'met' if COMPARE[op](value, bound) else 'MISSED'}")
    if memory_mb is not None:
        met = memory_mb < MEMORY_TARGET_MB
        print(f"  {'memory':<8} {'peak RSS < 1024 MB':<28} {memory_mb:7.0f}  {'met' if met else 'MISSED'}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    set_threads(args.threads)
    blas = ", ".join(f"{i['internal_api']} {i.get('version') or ''} ({i['num_threads']} threads)".replace("  ", " ")
                     for i in threadpool_info())
    print(f"{cpu_model()}, {os.cpu_count()} CPUs; --threads {args.threads}; numpy {np.__version__}; {blas}")
    print(f"torch {torch.__version__}" if torch is not None else "torch is not installed: its column is skipped "
          "(pip install -e '.[bench]')")
    peak = peak_flops()
    load = os.getloadavg()
    print(f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    if args.threads > 1 and load[0] + args.threads > (os.cpu_count() or 1) + 0.5:
        # Measured here: with 2 threads on 2 busy cores, batch-128 epochs ran 25-70x slower than with 1.
        print(f"warning: other processes keep the CPUs busy; a {args.threads}-thread matrix product waits for "
              f"every thread, so multi-threaded timings measure the scheduler more than the code: "
              f"compare with --threads 1")
    print()

    data = load_dataset("mnist", data_dir=args.data_dir, progress=False)
    X, y = data.train.X, data.train.y  # (50000, 784) float32, (50000,) int64
    Y = one_hot(y)  # (50000, 10)
    cases = []
    baseline = load_baseline(args.baseline) if args.baseline else None
    for name in args.cases:
        if name == "memory":
            continue
        case = build_case(name, X, Y, y, baseline)
        time_case(case, args.repeats, args.epochs)
        cases.append(case)
    if cases:
        peak = max(peak, peak_flops())  # again at the end: a busy machine lowers the measured peak
        print(f"peak float32 matmul (2048^3, best of 10 at the start and 10 at the end): {peak / 1e9:.0f} GFLOP/s\n")
        print_table(cases, peak)

    memory_mb = None
    if "memory" in args.cases:
        memory_mb, seconds = peak_memory(args.data_dir)
        print(f"\npeak memory of `digitnet train --preset seed --epochs 2`: {memory_mb:.0f} MB max RSS "
              f"({seconds:.1f} s including start-up and data loading)")
    print_targets(cases, memory_mb, args.cases)
    return 0


if __name__ == "__main__":
    sys.exit(main())
