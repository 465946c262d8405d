"""Does fine-tuning learn a handwriting style MNIST lacks, without forgetting MNIST, and how fast?

Styles that MNIST's American writers of the 1990s rarely used, drawn onto MNIST training digits
(``digitnet.styles``): slashed zeros (a stroke across the 0), continental sevens (a crossbar
through the stem), ones with a long flag, which the shipped model was trained with, and zeros
slashed the other way, from top left to bottom right, which it never saw. Each drawing goes
through ``preprocess.to_mnist`` like a canvas drawing.

For each style a simulated person saves N examples of their style (5, 10, 20) into a real
examples database, as the app's "Right" / "Wrong, it is" buttons do, and the shipped model is
fine-tuned on them exactly as ``digitnet finetune`` does (``finetune.teach``). Measured: accuracy
on 200 other examples of the style (made from other MNIST digits) before and after, by the
classifier's top class and as the app reads them (with the reject option, where the detector can
say "not a digit"); the share of 1,000 held-out non-digits (``outliers.held_out_outliers``) refused;
MNIST test accuracy before and after; and the seconds the fine-tuning steps took: wall-clock, and the CPU
time of all threads together (on a machine shared with other work, the wall-clock time grows with
the load; CPU seconds / 2 is what two free cores would take if both were kept busy).

    .venv/bin/python benchmarks/bench_finetune.py [--data-dir DIR] [--counts 5,10,20] [--seeds 1]
                                                  [--detector-steps 100] [--not-a-digit N]

Targets: the style read at >= 95% after 10 examples, MNIST test accuracy down by <= 0.2 points,
fine-tuning < 30 s on two cores.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np

from digitnet import reject
from digitnet.data import load_dataset
from digitnet.examples import NOT_A_DIGIT, ExampleStore
from digitnet.finetune import FinetuneConfig, accuracy, teach
from digitnet.models import default_model_path
from digitnet.outliers import held_out_outliers
from digitnet.persistence import load_model
from digitnet.styles import OTHER_STYLES, STYLES, draw_style

DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared/data/mnist"
HELD_OUT = 200
NON_DIGITS = 1000


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", type=Path, default=DATA_DIR if DATA_DIR.is_dir() else None)
    p.add_argument("--counts", default="5,10,20", help="examples the person saves (default 5,10,20)")
    p.add_argument("--seeds", type=int, default=1, help="simulated people per style and count")
    p.add_argument("--styles", default=",".join([*STYLES, *OTHER_STYLES]))
    p.add_argument("--no-rehearsal", action="store_true",
                   help="batches of 64 of the person's examples and no MNIST images (what rehearsal saves)")
    p.add_argument("--detector-steps", type=int, default=FinetuneConfig.detector_steps,
                   help="steps of the detector's fine-tuning (0: the base model's detector, as it was)")
    p.add_argument("--not-a-digit", type=int, default=0, metavar="N",
                   help="also teach N held-out non-digits the model takes for digits as 'not a digit'")
    args = p.parse_args(argv)
    mix = {"own_batch": 64, "rehearsal_batch": 0} if args.no_rehearsal else {}
    mix["detector_steps"] = args.detector_steps
    counts = [int(c) for c in args.counts.split(",")]
    data = load_dataset("mnist", args.data_dir, validation=0, progress=False)
    base = default_model_path()
    net, meta = load_model(base)
    mnist_before = accuracy(net, data.test.X, data.test.y)
    others = held_out_outliers(NON_DIGITS, np.random.default_rng(5)).reshape(-1, 784)  # (1000, 784)
    not_digits = np.full(NON_DIGITS, NOT_A_DIGIT)
    print(f"shipped model: MNIST test {100 * mnist_before:.2f}%, held-out non-digits refused "
          f"{100 * accuracy(net, others, not_digits, meta):.1f}%")
    print("| style | examples | style before | style after | in the app before | in the app after "
          "| non-digits refused after | MNIST test change | fine-tune s | CPU s |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for style in args.styles.split(","):
        digit, _ = {**STYLES, **OTHER_STYLES}[style]
        pool = data.train.X[data.train.y == digit]  # the MNIST digits the style is drawn on
        rng = np.random.default_rng(1)
        held = draw_style(pool[:HELD_OUT], style, rng)  # (200, 784), never trained on
        before = accuracy(net, held, np.full(HELD_OUT, digit))
        app_before = accuracy(net, held, np.full(HELD_OUT, digit), meta)
        for n in counts:
            after, app_after, refused, change, seconds, cpu = [], [], [], [], [], []
            for seed in range(args.seeds):
                start = HELD_OUT + seed * max(counts)
                person = draw_style(pool[start:start + n], style, np.random.default_rng(100 + seed))
                config = FinetuneConfig(holdout=0, seed=seed, **mix)
                tuned, tuned_meta, report = taught(base, person, digit, data, config)
                after.append(accuracy(tuned, held, np.full(HELD_OUT, digit)))
                app_after.append(accuracy(tuned, held, np.full(HELD_OUT, digit), tuned_meta))
                refused.append(accuracy(tuned, others, not_digits, tuned_meta))
                change.append(report.after["mnist_test"] - report.before["mnist_test"])
                seconds.append(report.seconds)
                cpu.append(report.cpu_seconds)
            print(f"| {style} | {n} | {100 * before:.1f}% | {100 * statistics.mean(after):.1f}% "
                  f"| {100 * app_before:.1f}% | {100 * statistics.mean(app_after):.1f}% "
                  f"| {100 * statistics.mean(refused):.1f}% "
                  f"| {100 * statistics.mean(change):+.2f} | {statistics.median(seconds):.1f} "
                  f"| {statistics.median(cpu):.1f} |", flush=True)
    if args.not_a_digit:
        taught_not_a_digit(base, data, args.not_a_digit, FinetuneConfig(holdout=0, **mix))
    return 0


def taught(base: Path, examples: np.ndarray, label: int, data, config: FinetuneConfig):
    """``(model, meta, report)``: the model ``base`` fine-tuned on ``examples (n, 784)``, each saved
    with ``label`` into a real examples database by one click, as ``digitnet finetune`` does."""
    with tempfile.TemporaryDirectory() as tmp:
        with ExampleStore(Path(tmp) / "examples.sqlite") as store:
            for x in examples:  # one click each
                store.add(x, label, "person", "canvas")
            X, y, _ = store.arrays("person")
        out = Path(tmp) / "mine.npz"
        report = teach(base, X, y, data.train, data.test, out, config, profile="person", log=lambda line: None)
        return (*load_model(out), report)


def taught_not_a_digit(base: Path, data, n: int, config: FinetuneConfig) -> None:
    """Held-out non-digits that the model ``base`` takes for digits: ``n`` of them taught as "not a
    digit", and how many of the others, and of 3,000 MNIST test digits, it refuses after."""
    net, meta = load_model(base)
    candidates = held_out_outliers(3000, np.random.default_rng(9)).reshape(-1, 784)  # (3000, 784)
    taken = candidates[answers(net, meta, candidates) != NOT_A_DIGIT]  # (m, 784) read as digits
    tuned, tuned_meta, _ = taught(base, taken[:n], NOT_A_DIGIT, data, config)
    others, mnist = taken[n:], data.test.X[:3000]
    print(f"{n} of {len(taken)} held-out non-digits taken for digits, taught as not a digit: the other "
          f"{len(others)} refused {np.mean(answers(tuned, tuned_meta, others) == NOT_A_DIGIT):.1%}; "
          f"MNIST test digits kept {np.mean(answers(tuned, tuned_meta, mnist) != NOT_A_DIGIT):.1%} "
          f"(before: {np.mean(answers(net, meta, mnist) != NOT_A_DIGIT):.1%})")


def answers(net, meta, X: np.ndarray) -> np.ndarray:
    """What the app answers for each row of ``X (n, 784)``: a digit, or ``NOT_A_DIGIT``."""
    digits, _, _ = reject.classify(net, meta, X.reshape(len(X), *net.input_shape))
    return np.array([NOT_A_DIGIT if d is None else d for d in digits])


if __name__ == "__main__":
    sys.exit(main())
