"""Fine-tuning: teach a trained network one person's handwriting without forgetting MNIST.

A few dozen examples cannot retrain a network, but they can nudge one. Each step backpropagates
one mixed mini-batch: ``own_batch`` of the person's examples, drawn with replacement and each
distorted afresh (``digitnet.augment``: shifts, rotations, rescaling), so ten drawings act like
hundreds; and ``rehearsal_batch`` MNIST training images, so every step also reminds the network
of what it already reads (rehearsal, Robins 1995). Without it, the shipped model fine-tuned on
ten slashed zeros alone loses 4 points on the MNIST test set and learns the style worse
(docs/finetune.md). Adam with a small learning rate moves the weights only as far as the
person's examples need.

Part of the examples (``holdout``) is kept aside and never trained on; accuracy on those, and on
the MNIST test set, is measured before and after, so the person sees what was learnt and what
it cost. Batch normalisation learns with the mixed batches' statistics, as in training.

Examples labelled "not a digit" (``examples.NOT_A_DIGIT``, 10) are trained towards the uniform
row that ``data.one_hot`` gives label 10 (outlier exposure, see ``digitnet.outliers``), and count
as read right when the model's reject option (``digitnet.reject``) answers "not a digit".

A model with a "not a digit" detector (``digitnet.detector``) has it fine-tuned too, after the
classifier: the detector reads the classifier's features, which have moved, and it has never
seen the person's style, so it would refuse most of what the classifier just learnt. Each of its
steps mixes the person's examples (distorted afresh; 1 for a digit, 0 for "not a digit") with
MNIST training digits and generated non-digits whose targets are what the detector said of them
before any fine-tuning (learning without forgetting, Li & Hoiem 2016), so it keeps its judgement
of everything but the person's style. Its threshold stays the base model's.
"""

from __future__ import annotations

import dataclasses
import math
import shlex
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from . import detector, fast, reject
from .data import Split, one_hot
from .examples import NOT_A_DIGIT, digest, file_sha256
from .nn.network import Network
from .nn.optimizers import make_optimizer
from .persistence import carried_metadata, load_model, save_model

MIN_EXAMPLES = 5
"""Fewer examples than this are too few to learn a style from (and to hold one aside)."""
ANCHOR_DIGITS = 4000
"""MNIST training digits whose detector scores before fine-tuning the detector keeps to."""
ANCHOR_OUTLIERS = 2000
"""Generated non-digits (``outliers.training_outliers``) whose detector scores it keeps to."""


class TooFewExamples(ValueError):
    """A profile with too few examples to learn from (one line)."""


@dataclass
class FinetuneConfig:
    """How to fine-tune; stored in the new model's metadata."""

    steps: int = 150
    own_batch: int = 16  # the person's examples per step (augmented)
    rehearsal_batch: int = 48  # MNIST training images per step
    lr: float = 3e-4  # Adam
    detector_steps: int = 100  # steps of the "not a digit" detector, for a model that has one
    detector_batch: int = 96  # MNIST digits per detector step, and as many generated non-digits
    detector_lr: float = 3e-4  # Adam
    holdout: float = 0.2  # fraction of the examples kept aside to measure, at least one
    seed: int = 0
    augment: dict[str, float] = field(default_factory=lambda: {"shift": 2.0, "rotate": 10.0, "scale": 0.1})

    def __post_init__(self) -> None:
        if self.steps < 1 or self.own_batch < 1 or self.rehearsal_batch < 0 or self.detector_steps < 0 \
                or self.detector_batch < 1:
            raise ValueError("fine-tuning needs steps >= 1, own_batch >= 1, rehearsal_batch >= 0, "
                             "detector_steps >= 0 and detector_batch >= 1")
        if not 0 <= self.holdout < 1:
            raise ValueError(f"holdout must be a fraction in [0, 1), not {self.holdout}")
        make_optimizer("adam", self.lr)  # validates the learning rates
        make_optimizer("adam", self.detector_lr)


def check_enough(n: int, profile: str) -> None:
    """Refuse, in one line, a profile with fewer than ``MIN_EXAMPLES`` examples."""
    if n < MIN_EXAMPLES:
        raise TooFewExamples(
            f"profile {profile!r} has {n} example{'s' * (n != 1)}; fine-tuning needs at least {MIN_EXAMPLES} "
            "(add some with 'digitnet examples add' or the app's Right / Wrong buttons)")


def split_holdout(n: int, fraction: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(train, held_out)`` of ``n`` examples: ``ceil(fraction * n)`` held out when
    ``fraction > 0`` (at least one), never leaving fewer than ``MIN_EXAMPLES - 1`` to train on."""
    perm = rng.permutation(n)  # (n,)
    held = min(math.ceil(fraction * n), max(n - (MIN_EXAMPLES - 1), 0)) if fraction > 0 else 0
    return np.sort(perm[held:]), np.sort(perm[:held])


def finetune(net: Network, X: np.ndarray, y: np.ndarray, rehearsal: Split, config: FinetuneConfig,
             on_step: Callable[[int, int, float], None] | None = None) -> list[float]:
    """Fine-tune ``net`` in place on examples ``X (n, 784)``, labels ``y (n,)`` in 0..10, mixed with
    ``rehearsal`` (MNIST training images); returns each step's mean cost. A detector
    (``net.detector``) is fine-tuned after the classifier (:func:`finetune_detector`).

    ``on_step(step, steps, cost)`` is called after every step (1-based). A cost that is not finite
    raises ValueError and leaves the weights as they were.
    """
    from .augment import Augmenter  # scipy, loaded only to fine-tune

    rng = np.random.default_rng(config.seed)
    augment = Augmenter(**config.augment)
    optimizer = make_optimizer("adam", config.lr)
    before = {k: v.copy() for k, v in net.state_dict().items()}
    tune_head = getattr(net, "detector", None) is not None and config.detector_steps > 0
    anchors = detector_anchors(net, rehearsal, np.random.default_rng([config.seed, 1])) if tune_head else None
    head_before = {k: v.copy() for k, v in net.detector.state_dict().items()} if tune_head else {}
    costs = []
    with fast.kernels(net, optimizer):
        for step in range(1, config.steps + 1):
            own = rng.integers(0, len(X), config.own_batch)  # (b_own,) drawn with replacement
            old = rng.integers(0, len(rehearsal.X), config.rehearsal_batch)  # (b_mnist,)
            xb = np.concatenate([augment(X[own], rng), rehearsal.X[old]])  # (b, 784)
            yb = np.concatenate([y[own], rehearsal.y[old]])  # (b,)
            cost = net.backprop(xb.reshape(len(xb), *net.input_shape), one_hot(yb))
            if not math.isfinite(cost):
                net.load_state_dict(before)
                raise ValueError(f"fine-tuning diverged at step {step} (cost {cost}): try a smaller learning rate")
            optimizer.step(net.params, net.grads)
            costs.append(cost)
            if on_step is not None:
                on_step(step, config.steps, cost)
    if tune_head:
        try:
            finetune_detector(net, X, y, anchors, config, augment, np.random.default_rng([config.seed, 2]))
        except ValueError:
            net.load_state_dict(before)
            net.detector.load_state_dict(head_before)
            raise
    return costs


def detector_anchors(net: Network, rehearsal: Split, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``(images (m, 784), targets (m,))``: ``ANCHOR_DIGITS`` of the ``rehearsal`` digits, then
    ``ANCHOR_OUTLIERS`` generated non-digits, each with what ``net.detector`` says of it now."""
    from .outliers import training_outliers  # fonts and scipy, loaded only to fine-tune a detector

    digits = rehearsal.X[rng.integers(0, len(rehearsal.X), ANCHOR_DIGITS)]  # (d, 784)
    images = np.concatenate([digits, training_outliers(ANCHOR_OUTLIERS, rehearsal.X, rng)])  # (m, 784)
    with fast.kernels(net):
        F, _ = detector.forward(net, images, detector.feature_layer(net))  # (m, f)
    return images, net.detector.predict_raw(F)[:, 0]  # (m, 784), (m,)


def finetune_detector(net: Network, X: np.ndarray, y: np.ndarray, anchors: tuple[np.ndarray, np.ndarray],
                      config: FinetuneConfig, augment: Callable, rng: np.random.Generator) -> None:
    """Fine-tune ``net.detector`` in place on the features of the fine-tuned ``net``: each step reads
    ``own_batch`` of the examples ``X (n, 784)``, distorted by ``augment`` (target 1, or 0 for
    ``NOT_A_DIGIT`` in ``y (n,)``), and ``detector_batch`` of the anchor digits and as many of the
    anchor non-digits (:func:`detector_anchors`), whose features are computed once. A cost that is
    not finite raises ValueError."""
    head, (images, targets) = net.detector, anchors
    at = detector.feature_layer(net)
    optimizer = make_optimizer("adam", config.detector_lr)
    digit = (y != NOT_A_DIGIT).astype(head.dtype)  # (n,) the detector's target for each example
    with fast.kernels(net):
        F_anchor, _ = detector.forward(net, images, at)  # (m, f) what the fine-tuned classifier sees
        for step in range(1, config.detector_steps + 1):
            own = rng.integers(0, len(X), config.own_batch)  # (b_own,)
            kept = np.concatenate([rng.integers(0, ANCHOR_DIGITS, config.detector_batch),
                                   rng.integers(ANCHOR_DIGITS, len(images), config.detector_batch)])  # (2 b,)
            F_own, _ = detector.forward(net, augment(X[own], rng), at)  # (b_own, f)
            F = np.concatenate([F_own, F_anchor[kept]])  # (b, f)
            Y = np.concatenate([digit[own], targets[kept]])[:, None].astype(head.dtype)  # (b, 1)
            cost = head.backprop(F, Y)
            if not math.isfinite(cost):
                raise ValueError(f"fine-tuning the detector diverged at step {step} (cost {cost}): "
                                 "try a smaller learning rate")
            optimizer.step(head.params, head.grads)


def accuracy(net: Network, X: np.ndarray, y: np.ndarray, meta: dict[str, Any] | None = None) -> float | None:
    """The fraction of rows read as their label (None for no rows).

    With a model's ``meta``, rows are read as the app reads them (``reject.classify``): a digit the
    model is unsure of counts as ``NOT_A_DIGIT``, so "not a digit" examples can be right too.
    Without, the top class is the answer (the MNIST test accuracy of every model file).
    """
    if len(X) == 0:
        return None
    X = X.reshape(len(X), *net.input_shape)  # (n, 784) or (n, 28, 28, 1)
    with fast.kernels(net):
        if meta is None:
            return float(np.mean(net.predict(X) == y))
        digits, _, _ = reject.classify(net, meta, X)
    read = np.array([NOT_A_DIGIT if d is None else d for d in digits])  # (n,)
    return float(np.mean(read == y))


@dataclass
class Report:
    """What a fine-tuning run did: the counts and the accuracies before and after."""

    trained_on: int
    held_out: int
    before: dict[str, float | None]
    after: dict[str, float | None]
    seconds: float  # wall-clock time of the fine-tuning steps
    cpu_seconds: float  # CPU time of the process meanwhile, every thread's together

    def rows(self) -> list[tuple[str, str, str]]:
        """``(measure, before, after)`` for the held-out examples and the MNIST test set."""
        def pct(v: float | None) -> str:
            return "-" if v is None else f"{100 * v:.2f}%"

        names = {"held_out": f"held-out examples ({self.held_out})", "mnist_test": "MNIST test set"}
        return [(name, pct(self.before[key]), pct(self.after[key])) for key, name in names.items()]

    def lines(self) -> list[str]:
        return [f"{'':24}{'before':>10}{'after':>10}", *(f"{a:24}{b:>10}{c:>10}" for a, b, c in self.rows())]


def teach(base: str | Path, X: np.ndarray, y: np.ndarray, rehearsal: Split, test: Split, output: str | Path,
          config: FinetuneConfig | None = None, command: str = "", profile: str = "",
          on_step: Callable[[int, int, float], None] | None = None, log: Callable[[str], None] = print) -> Report:
    """Fine-tune the model file ``base`` on a profile's examples and save the result at ``output``.

    ``X (n, 784)``, ``y (n,)`` are all the profile's examples (labels 0-9 and ``NOT_A_DIGIT``);
    ``rehearsal`` is MNIST's training set and ``test`` its test set. Raises ``TooFewExamples``.
    The new model keeps the base model's metadata (its reject settings too) and adds ``finetune``.
    """
    config = config or FinetuneConfig()
    check_enough(len(X), profile)
    net, meta = load_model(base)
    train, held = split_holdout(len(X), config.holdout, np.random.default_rng(config.seed))
    head = (f", then {config.detector_steps} steps of its \"not a digit\" detector"
            if getattr(net, "detector", None) is not None and config.detector_steps else "")
    log(f"fine-tuning {Path(base).name} on {len(train)} examples, {len(held)} held aside, "
        f"{config.steps} steps of {config.own_batch} + {config.rehearsal_batch} MNIST images{head}")
    before = {"held_out": accuracy(net, X[held], y[held], meta), "mnist_test": accuracy(net, test.X, test.y)}
    start, cpu_start = time.perf_counter(), time.process_time()
    finetune(net, X[train], y[train], rehearsal, config, on_step)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    after = {"held_out": accuracy(net, X[held], y[held], meta), "mnist_test": accuracy(net, test.X, test.y)}
    report = Report(len(train), len(held), before, after, seconds, cpu_seconds)
    new_meta = carried_metadata(meta)
    new_meta.update(
        test_accuracy=after["mnist_test"],
        finetune={
            "base_model": str(base), "base_sha256": file_sha256(base), "profile": profile,
            "examples": {"count": int(len(X)), "sha256": digest(X, y), "trained_on": len(train),
                         "held_out": len(held), "not_a_digit": int((y == NOT_A_DIGIT).sum())},
            "command": command, "config": dataclasses.asdict(config), "seconds": round(seconds, 2),
            "before": before, "after": after,
        },
    )
    save_model(output, net, new_meta)
    return report


def register(sub) -> None:
    """Add ``digitnet finetune`` to the CLI's subparsers."""
    from .examples import add_arguments

    f = sub.add_parser("finetune", help="fine-tune a model on a profile's own examples",
                       description="Fine-tune a model on a profile's examples, mixed with MNIST so MNIST is not "
                                   "forgotten; prints accuracy before and after on held-out examples and on "
                                   "the MNIST test set.")
    f.add_argument("--model", type=Path, help="base model (default: the model shipped with digitnet)")
    f.add_argument("-o", "--output", type=Path, required=True, help="the new model file")
    f.add_argument("--steps", type=int, default=FinetuneConfig.steps, help="mini-batches (default %(default)s)")
    f.add_argument("--lr", type=float, default=FinetuneConfig.lr, help="Adam learning rate (default %(default)s)")
    f.add_argument("--seed", type=int, default=0)
    f.add_argument("--data-dir", type=Path, help="folder with the MNIST IDX files")
    add_arguments(f)


def cmd_finetune(args, argv) -> int:
    """``digitnet finetune --model BASE --profile NAME -o OUT``: the handler ``cli.main`` calls."""
    from .data import load_dataset
    from .examples import ExampleStore
    from .models import default_model_path
    from .safeio import check_output

    base = args.model or default_model_path()
    check_output(args.output, "-o")
    config = FinetuneConfig(steps=args.steps, lr=args.lr, seed=args.seed)
    with ExampleStore(args.db) as store:
        X, y, _ = store.arrays(args.profile)
    check_enough(len(y), args.profile)  # before loading 60,000 images
    data = load_dataset("mnist", args.data_dir, validation=0, progress=False)

    def progress(step: int, steps: int, cost: float) -> None:
        if step % 25 == 0 or step == steps:
            print(f"step {step}/{steps} cost {cost:.4f}", file=sys.stderr)

    report = teach(base, X, y, data.train, data.test, args.output, config,
                   command=shlex.join(["digitnet", *argv]), profile=args.profile, on_step=progress)
    for line in report.lines():
        print(line)
    print(f"fine-tuned in {report.seconds:.1f} s; saved {args.output}")
    return 0
