"""The training loop: epochs of shuffled mini-batches, metrics, early stopping and checkpoints.

``fit`` runs mini-batch gradient descent as in Nielsen's ``SGD``, vectorised: each epoch draws a
permutation from the network's generator, walks the shuffled training set in slices of
``batch_size`` rows, backpropagates each slice in one pass and lets the optimizer update the
weights. After each epoch it records the mean training cost over the epoch's batches, the
validation accuracy, the learning rate and the seconds taken.

All randomness (shuffling, augmentation, dropout) is drawn from ``net.rng`` in a fixed order, so
the same seed gives the same bits, and a checkpoint that stores the generator's state resumes
exactly where an uninterrupted run would be.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
from tqdm.auto import tqdm

from . import fast
from .fast import fused
from .data import Dataset, one_hot
from .nn.layers import BatchNorm
from .nn.network import Network
from .nn.optimizers import Optimizer, learning_rate, make_optimizer
from .persistence import ModelFileError, build_from_metadata, check_checkpoint, read_model_file, save_model
from .safeio import deferred_signals


class TrainingDiverged(Exception):
    """The cost became NaN or infinite: the weights are garbage and must not be saved."""


class StopTraining(KeyboardInterrupt):
    """Raised by an ``on_batch`` callback (a Stop button) to end a run as Ctrl-C does: ``fit``
    restores the weights of the last completed epoch and returns with ``state.interrupted``."""


@dataclass
class TrainConfig:
    """How to train; every field is a ``digitnet train`` flag and is stored in the model file."""

    epochs: int = 30
    batch_size: int = 10
    optimizer: str = "sgd"
    lr: float = 3.0
    momentum: float = 0.9
    weight_decay: float = 0.0
    schedule: str = "constant"
    warmup: int = 0
    early_stopping: int = 0  # patience in epochs without a better validation accuracy; 0 = off
    augment: dict[str, float] = field(default_factory=dict)  # see digitnet.augment; empty = off
    refresh_bn: bool = False  # batch-norm statistics measured again on the plain images at the end

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise ValueError(f"epochs must be at least 1, not {self.epochs}")
        if self.batch_size < 1:
            raise ValueError(f"batch size must be at least 1, not {self.batch_size}")
        if self.warmup < 0:
            raise ValueError(f"warm-up must be >= 0 epochs, not {self.warmup}")
        if self.early_stopping < 0:
            raise ValueError(f"early-stopping patience must be >= 0, not {self.early_stopping}")
        learning_rate(self.lr, 0, self.epochs, self.schedule, self.warmup)  # validates the schedule
        self.make_optimizer()  # validates the optimizer's hyper-parameters

    def make_optimizer(self) -> Optimizer:
        return make_optimizer(self.optimizer, self.lr, self.momentum, self.weight_decay)


@dataclass
class TrainState:
    """Where a run stands after an epoch: enough, with the weights, to resume it exactly."""

    epoch: int = 0  # epochs completed
    history: list[dict[str, Any]] = field(default_factory=list)
    best_accuracy: float = -1.0
    best_epoch: int = 0
    best_weights: dict[str, np.ndarray] | None = None
    interrupted: bool = False
    stopped_early: bool = False


def _copy_weights(net: Network) -> dict[str, np.ndarray]:
    return {k: v.copy() for k, v in net.state_dict().items()}


def fit(
    net: Network,
    data: Dataset,
    config: TrainConfig,
    optimizer: Optimizer | None = None,
    state: TrainState | None = None,
    augment: Callable[[np.ndarray, np.random.Generator], np.ndarray] | None = None,
    checkpoint: str | Path | None = None,
    progress: bool = True,
    log: Callable[[str], None] = print,
    metadata: dict[str, Any] | None = None,
    on_batch: Callable[[dict[str, Any]], None] | None = None,
    reference: bool = False,
) -> TrainState:
    """Train ``net`` on ``data.train`` for ``config.epochs`` epochs (continuing ``state`` if given).

    Returns the final ``TrainState``. Ctrl-C ends the run at once and restores the weights of the
    last completed epoch (``state.interrupted``); with early stopping the best epoch's weights
    are restored at the end. A NaN or infinite cost raises ``TrainingDiverged``, leaving the
    weights of the last completed epoch in place.

    ``on_batch`` is called after every mini-batch with ``{"epoch", "batch", "batches", "cost"}``
    (1-based epoch and batch, the batch's mean cost); it may raise ``StopTraining``.
    ``reference=True`` trains with the textbook layers only (``digitnet.nn``), never a fast kernel.
    """
    optimizer = optimizer or config.make_optimizer()
    state = state or TrainState()
    smallest = min(config.batch_size, len(data.train.X))
    if smallest < net.min_batch:
        raise ValueError(f"batch normalisation of single values per channel needs batches of at least "
                         f"{net.min_batch}, not {smallest}")
    X, Y = data.train.X, one_hot(data.train.y)  # (n, 784), (n, 10)
    n_batches = len(batch_bounds(len(X), config.batch_size, net.min_batch))
    last_good = _copy_weights(net)
    use_kernels = contextlib.nullcontext() if reference else fast.kernels(net, optimizer)
    try:
        # A diverging run overflows before its cost turns NaN; we report that ourselves, once.
        with use_kernels, np.errstate(over="ignore", invalid="ignore"):
            # A run that stopped early is finished: resuming its checkpoint only restores the best epoch.
            first = config.epochs if state.stopped_early else state.epoch
            for epoch in range(first, config.epochs):
                start = time.perf_counter()
                optimizer.lr = learning_rate(config.lr, epoch, config.epochs, config.schedule, config.warmup)
                with tqdm(total=n_batches, desc=f"epoch {epoch + 1}/{config.epochs}", leave=False,
                          disable=not progress, mininterval=0.5, unit="batch") as bar:
                    done = [0]  # batches of this epoch so far (a disabled bar does not count them)

                    def batch_done(k: int, cost: float, epoch: int = epoch) -> None:
                        bar.update(k)
                        done[0] += k
                        if on_batch is not None:
                            on_batch({"epoch": epoch + 1, "batch": done[0], "batches": n_batches, "cost": cost})

                    cost = run_epoch(net, X, Y, config.batch_size, optimizer, augment, batch_done, reference)
                if not math.isfinite(cost):
                    broken = f"the cost became {cost}"
                elif not all(np.isfinite(p).all() for p in net.params):
                    # Saturating activations (tanh, sigmoid) can keep the cost finite as weights overflow.
                    broken = "the weights overflowed"
                else:
                    broken = ""
                if broken:
                    raise TrainingDiverged(
                        f"{broken} in epoch {epoch + 1}: the learning rate "
                        f"({optimizer.lr:g}) is probably too high; try a smaller --eta"
                    )
                record = {"epoch": epoch + 1, "train_cost": cost, "lr": optimizer.lr}
                if data.validation is not None:
                    record["val_accuracy"] = net.evaluate(data.validation.X, data.validation.y)
                record["seconds"] = time.perf_counter() - start
                # The epoch's record, weights and checkpoint change together: an interrupt waits.
                with deferred_signals():
                    state.history.append(record)
                    state.epoch = epoch + 1
                    last_good = _copy_weights(net)
                    acc = record.get("val_accuracy", -record["train_cost"])
                    if acc > state.best_accuracy:
                        state.best_accuracy, state.best_epoch = acc, epoch + 1
                        if config.early_stopping:
                            state.best_weights = last_good
                    log(format_epoch(record, config.epochs))
                    state.stopped_early = _patience_spent(config, state.epoch, state.best_epoch)
                    if checkpoint is not None:
                        save_checkpoint(checkpoint, net, optimizer, config, state, metadata)
                if state.stopped_early:
                    log(f"early stopping: no better validation accuracy for {config.early_stopping} epochs")
                    break
    except KeyboardInterrupt:
        with deferred_signals():  # a second Ctrl-C waits until the weights are whole again
            state.interrupted = True
            net.load_state_dict(last_good)
        return state
    except TrainingDiverged:
        net.load_state_dict(last_good)
        raise
    if state.best_weights is not None:
        net.load_state_dict(state.best_weights)
    if config.refresh_bn:
        with contextlib.nullcontext() if reference else fast.kernels(net):
            refresh_batchnorm(net, X)
    return state


def refresh_batchnorm(net: Network, X: np.ndarray, batch_size: int = 500) -> None:
    """Measure every batch-norm layer's running mean and variance again on ``X (n, 784)``.

    In training the running statistics follow the augmented batches (shifted, redrawn, styled),
    as a moving average over the last few dozen; the finished network then reads plain digits.
    Here the plain images pass through in training mode, the momentum of the ``k``-th batch set to
    ``k / (k + 1)``, so each running value becomes the plain mean over all batches (as SWA's
    ``update_bn``, Izmailov et al. 2018). The weights are not changed.
    """
    norms = [layer for layer in net.layers if isinstance(layer, BatchNorm)]
    saved = [layer.momentum for layer in norms]
    try:
        for k, (a, b) in enumerate(batch_bounds(len(X), batch_size, net.min_batch)):
            for layer in norms:
                layer.momentum = k / (k + 1)
            net.forward(X[a:b].reshape(-1, *net.input_shape), training=True)  # (b - a, 10), discarded
    finally:
        for layer, momentum in zip(norms, saved):
            layer.momentum = momentum


def _patience_spent(config: TrainConfig, epoch: int, best_epoch: int) -> bool:
    """Whether early stopping ends a run after ``epoch`` when its best was ``best_epoch``."""
    return bool(config.early_stopping) and epoch - best_epoch >= config.early_stopping


def batch_bounds(n: int, batch_size: int, min_batch: int = 1) -> list[tuple[int, int]]:
    """``(start, stop)`` of each mini-batch of an epoch of ``n`` examples.

    The last batch holds what is left over, unless that is fewer than ``min_batch`` examples
    (dense batch norm needs two): then it joins the batch before it.
    """
    starts = list(range(0, n, batch_size))
    if len(starts) > 1 and n - starts[-1] < min_batch:
        starts.pop()
    return list(zip(starts, starts[1:] + [n]))


def run_epoch(net: Network, X: np.ndarray, Y: np.ndarray, batch_size: int, optimizer: Optimizer,
              augment=None, on_batch: Callable[[int, float], Any] = lambda k, cost: None,
              reference: bool = False) -> float:
    """One pass over a permutation of ``(X, Y)`` drawn from ``net.rng``; returns the mean batch cost.

    Stops at the first batch whose cost is not finite and returns that cost (NaN or inf).
    ``on_batch(k, cost)`` reports ``k`` more batches done and the last one's mean cost. Unless
    ``reference``, the layers and optimizer run their fast kernels (``digitnet.fast``), and the
    classic network with plain SGD takes a faster road to the same arithmetic (``fast.fused``).
    """
    bounds = batch_bounds(len(X), batch_size, net.min_batch)
    if not reference and augment is None and fused.supports(net, optimizer):
        return fused.sgd_epoch(net, X, Y, bounds, optimizer, on_batch)
    with contextlib.nullcontext() if reference else fast.kernels(net, optimizer):
        return _epoch_by_layers(net, X, Y, bounds, optimizer, augment, on_batch)


def _epoch_by_layers(net: Network, X: np.ndarray, Y: np.ndarray, bounds: list[tuple[int, int]],
                     optimizer: Optimizer, augment, on_batch: Callable[[int, float], Any]) -> float:
    """``run_epoch`` through the layers: backprop each mini-batch, then one optimizer step."""
    perm = net.rng.permutation(len(X))  # (n,)
    total = 0.0
    for i, j in bounds:
        # Gathering each batch as it is needed stays in cache; a shuffled copy of the whole set
        # would be written to and read back from memory (150 MB for MNIST) every epoch.
        idx = perm[i:j]  # (b,)
        xb = X[idx]  # (b, 784)
        if augment is not None:
            xb = augment(xb, net.rng)
        cost = net.backprop(xb, Y[idx])
        if not math.isfinite(cost):
            return cost
        optimizer.step(net.params, net.grads)
        total += cost * len(xb)
        on_batch(1, cost)
    return total / len(X)


def format_epoch(record: dict[str, Any], epochs: int) -> str:
    """One line per epoch: epoch, training cost, validation accuracy, learning rate, seconds."""
    val = f"  val acc {record['val_accuracy']:.4f}" if "val_accuracy" in record else ""
    return (f"epoch {record['epoch']:>3}/{epochs}  cost {record['train_cost']:.4f}{val}"
            f"  lr {record['lr']:.4g}  {record['seconds']:.2f} s")


def save_checkpoint(path: str | Path, net: Network, optimizer: Optimizer, config: TrainConfig,
                    state: TrainState, metadata: dict[str, Any] | None = None) -> None:
    """Save everything ``resume`` needs: weights, optimizer state, generator state, history."""
    extra = {f"opt.{k}": v for k, v in optimizer.state_dict().items()}
    if state.best_weights is not None:
        extra.update({f"best.{k}": v for k, v in state.best_weights.items()})
    meta = {
        **(metadata or {}),
        "training": {**(metadata or {}).get("training", {}), "config": dataclasses.asdict(config)},
        "history": state.history,
        "checkpoint": {
            "epoch": state.epoch,
            "rng_state": net.rng.bit_generator.state,
            "best_accuracy": state.best_accuracy,
            "best_epoch": state.best_epoch,
        },
    }
    save_model(path, net, meta, extra)


def load_checkpoint(path: str | Path, run: bool = False
                    ) -> tuple[Network, Optimizer, TrainConfig, TrainState, dict[str, Any]]:
    """Rebuild the network, optimizer, config and state saved by ``save_checkpoint``.

    Every section is checked before it is used (``persistence.check_checkpoint``; with ``run``
    also the command, seed and data set that ``digitnet train --resume`` needs), and the
    optimizer state and best weights must have exactly the names and shapes the network gives
    them: a ``ModelFileError`` in one line otherwise.
    """
    meta, arrays = read_model_file(path)
    check_checkpoint(meta, str(path), run)
    net = build_from_metadata(meta, arrays, str(path))
    try:
        ck = meta["checkpoint"]
        config = TrainConfig(**meta["training"]["config"])
        net.rng.bit_generator.state = ck["rng_state"]
        optimizer = config.make_optimizer()
        opt_state = {k[4:]: v for k, v in arrays.items() if k.startswith("opt.")}
        t = opt_state.get("t")
        if t is None or t.shape != () or t.dtype != np.int64 or int(t) < 0:
            raise ValueError("no step counter opt.t")
        optimizer.load_state_dict(opt_state, net.params)
        best = {k[5:]: v for k, v in arrays.items() if k.startswith("best.")} or None
        # Loading assigns by broadcasting: names, shapes and dtypes must match exactly.
        for what, got, want in [("optimizer arrays", opt_state, optimizer.state_dict()),
                                ("best weights", best or {}, net.state_dict() if best else {})]:
            if set(got) != set(want) or any(v.shape != want[k].shape or v.dtype != want[k].dtype
                                            for k, v in got.items()):
                raise ValueError(f"its {what} do not fit the network")
        # Whether the run stopped early follows from the patience, so older checkpoints know it too.
        state = TrainState(epoch=ck["epoch"], history=meta["history"], best_accuracy=ck["best_accuracy"],
                           best_epoch=ck["best_epoch"], best_weights=best,
                           stopped_early=_patience_spent(config, ck["epoch"], ck["best_epoch"]))
    except (KeyError, TypeError, ValueError) as e:
        raise ModelFileError(f"{path} is not a usable checkpoint ({' '.join(str(e).split())})") from None
    return net, optimizer, config, state, meta

