"""Training for the app's Train page: one background worker per server, runs queued behind it.

The page never trains in its own thread (that would freeze it, and every other session with it):
:meth:`Trainer.submit` queues a :class:`Job` and returns at once; a single worker thread runs the
jobs one after another, so one training at a time shares the server's cores with the people
drawing. The worker writes into the job (``costs`` after each mini-batch, ``history`` after each
epoch, a picture of the first layer's weights about once a second) and the page reads it; the job's
lists only grow, so a reader sees a consistent prefix without a lock.

Stop sets ``job.stop``; the next mini-batch's ``on_batch`` raises ``training.StopTraining`` and
``fit`` restores the last completed epoch, which is saved like a finished run. The model file goes
to the models folder with the same metadata as ``digitnet train`` writes (command, dataset,
history, test accuracy), so the model card and the picker show it like any other. No Streamlit here.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import itertools
import queue
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..data import Split, load_dataset
from ..persistence import save_model
from ..training import StopTraining, TrainConfig, TrainingDiverged, TrainState, fit
from .views import first_layer_weights, one_line

PICTURE_EVERY_S = 1.0
"""How often, at most, the first layer's weights are drawn again during training."""
VALIDATION_PEEK = 1000
"""Validation images scored within an epoch, for the live accuracy curve (the full validation
set is scored at each epoch's end)."""


@dataclass
class Job:
    """One training run: what to train, and what the worker has done so far."""

    opts: dict[str, Any]  # digitnet train's options (presets.DEFAULTS keys) plus "limit" and "name"
    models_dir: Path
    id: int = 0
    state: str = "queued"  # queued, loading, training, saving, done, stopped, failed
    costs: list[tuple[float, float]] = field(default_factory=list)  # (epoch, as a fraction; batch cost)
    peeks: list[tuple[float, float]] = field(default_factory=list)  # (epoch fraction; accuracy on a slice)
    history: list[dict[str, Any]] = field(default_factory=list)  # one row per completed epoch
    weights: tuple[np.ndarray, str] | None = None  # the first layer's weights as a picture
    epoch: int = 0
    batch: int = 0
    batches: int = 0
    output: Path | None = None
    test_accuracy: float | None = None
    message: str = ""
    stop: threading.Event = field(default_factory=threading.Event)

    @property
    def active(self) -> bool:
        return self.state in ("queued", "loading", "training", "saving")


class Trainer:
    """The server's training queue and its one worker thread (started on the first submit)."""

    def __init__(self) -> None:
        self._queue: queue.Queue[Job] = queue.Queue()
        self._waiting: list[Job] = []
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._worker: threading.Thread | None = None

    def submit(self, job: Job) -> Job:
        with self._lock:
            job.id = next(self._ids)
            self._waiting.append(job)
            if self._worker is None:
                self._worker = threading.Thread(target=self._work, daemon=True, name="digitnet-train")
                self._worker.start()
        self._queue.put(job)
        return job

    def position(self, job: Job) -> int:
        """1 for the next to run, 2 behind it, ...; 0 once it runs."""
        with self._lock:
            return self._waiting.index(job) + 1 if job in self._waiting else 0

    def _work(self) -> None:
        while True:
            job = self._queue.get()
            with self._lock:
                self._waiting.remove(job)
            if job.stop.is_set():
                job.state, job.message = "stopped", "Stopped before it started: no model saved."
                continue
            try:
                run(job)
            except Exception as e:  # the worker must report, never die: the next job waits on it
                job.state, job.message = "failed", f"Training failed: {one_line(e)}"


def run(job: Job) -> None:
    """Train ``job`` to the end (or its Stop) and save the model; the job records everything."""
    from ..cli import build_network  # the network digitnet train would build from these options

    opts = job.opts
    job.state = "loading"
    data = load_dataset(opts["dataset"], validation=opts["validation"], download=False, progress=False)
    if opts.get("limit"):
        data = dataclasses.replace(data, train=Split(data.train.X[:opts["limit"]], data.train.y[:opts["limit"]]))
    config = TrainConfig(epochs=opts["epochs"], batch_size=opts["batch_size"], optimizer=opts["optimizer"],
                         lr=opts["eta"], momentum=opts["momentum"], weight_decay=opts["weight_decay"],
                         schedule=opts["schedule"], warmup=opts["warmup"], augment=opts["augment"] or {})
    net = build_network(opts)
    peek = data.validation if data.validation is not None else data.test
    peek_X, peek_y = peek.X[:VALIDATION_PEEK], peek.y[:VALIDATION_PEEK]
    job.weights = first_layer_weights(net)
    drawn = time.monotonic()

    def on_batch(step: dict[str, Any]) -> None:
        nonlocal drawn
        if job.stop.is_set():
            raise StopTraining
        # ``step["batch"]`` is fit's progress bar count, which stays 0 with the bar off: count here too.
        counted = job.batch + 1 if step["epoch"] == job.epoch else 1
        job.epoch, job.batch, job.batches = step["epoch"], max(step["batch"], counted), step["batches"]
        at = job.epoch - 1 + job.batch / job.batches
        job.costs.append((at, float(step["cost"])))
        if len(state.history) != len(job.history):  # an epoch ended: its row, validation accuracy included
            job.history = list(state.history)
        if time.monotonic() - drawn >= PICTURE_EVERY_S:
            job.weights = first_layer_weights(net)
            job.peeks.append((at, float(net.evaluate(peek_X, peek_y))))
            drawn = time.monotonic()

    state = TrainState()
    meta = {"training": {"command": command(opts), "seed": opts["seed"], "validation": opts["validation"],
                         "limit": opts.get("limit"), "outliers": 0},
            "dataset": {"name": data.name, "sha256": data.sha256}}
    job.state = "training"
    try:
        fit(net, data, config, state=state, progress=False, log=lambda line: None, metadata=meta,
            on_batch=on_batch)
    except TrainingDiverged as e:
        job.state, job.message = "failed", f"Training stopped: {one_line(e)}. Try a smaller learning rate."
        return
    job.history = list(state.history)
    job.weights = first_layer_weights(net)
    if state.epoch == 0:
        job.state, job.message = "stopped", "Stopped before the first epoch ended: no model saved."
        return
    job.state = "saving"
    job.test_accuracy = float(net.evaluate(data.test.X, data.test.y))
    meta["training"]["config"] = dataclasses.asdict(config)
    meta.update(history=state.history, test_accuracy=job.test_accuracy, epochs_completed=state.epoch)
    job.models_dir.mkdir(parents=True, exist_ok=True)
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    job.output = job.models_dir / f"{opts.get('name') or 'trained'}-{stamp}-{job.id}.npz"
    save_model(job.output, net, meta)
    stopped = state.interrupted
    job.state = "stopped" if stopped else "done"
    job.message = (f"{'Stopped: saved epoch ' + str(state.epoch) if stopped else 'Done'}: "
                   f"{job.test_accuracy:.2%} on the test set, saved as {job.output}.")


def command(opts: dict[str, Any]) -> str:
    """The ``digitnet train`` command line that trains the same network."""
    parts = ["digitnet", "train"]
    if opts.get("layers"):
        parts += ["--preset", opts["preset"]]
    else:
        parts += ["--sizes", ",".join(map(str, opts["sizes"])), "--activation", opts["activation"],
                  "--output-activation", opts["output_activation"]]
    parts += ["--cost", opts["cost"], "--optimizer", opts["optimizer"], "--eta", f"{opts['eta']:g}",
              "--epochs", str(opts["epochs"]), "--batch-size", str(opts["batch_size"]),
              "--dataset", opts["dataset"]]
    if opts.get("limit"):
        parts += ["--limit", str(opts["limit"])]
    return " ".join(parts) + "  # from the app's Train page"
