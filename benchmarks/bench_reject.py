"""The reject option measured: digits kept, non-digits rejected, accuracy on what is kept, calibration.

With the model's own reject settings (``digitnet.reject``: a temperature, and a threshold on the
detector's score or, for a model without a detector, on the top calibrated probability, fitted
on validation digits the model was not trained on):

* MNIST test digits kept (target >= 99 %) and the accuracy on those kept (target >= 99.6 %);
* MNIST test digits redrawn as canvas strokes (``bench_strokes``: brushes 4 % to 20 % of the
  digit's height, through ``to_mnist``) kept (target >= 99 %);
* held-out non-digits rejected (target >= 90 %): Liberation and FreeFont letters and symbols,
  spirals, zigzags, waves, triangles and stars (``outliers.held_out_outliers``), no font and no
  generator of which the model saw in training; and the training family, for comparison;
* the AUROC of the score between MNIST test digits and held-out non-digits;
* expected calibration error on MNIST test before and after temperature scaling, and a
  reliability diagram, ``docs/reliability.png``.

    .venv/bin/python benchmarks/bench_reject.py [--model PATH] [--outliers 3000] [--strokes 1000]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from bench_strokes import stroke_set
from digitnet import reject
from digitnet.data import load_dataset
from digitnet.models import default_model_path
from digitnet.outliers import held_out_outliers, training_outliers
from digitnet.persistence import load_model

STROKE_WIDTHS = (0.04, 0.08, 0.12, 0.2)


def auroc(positive: np.ndarray, negative: np.ndarray) -> float:
    """P(score of a positive > score of a negative), ties counting half (Mann-Whitney)."""
    scores = np.concatenate([positive, negative])
    ranks = np.empty(len(scores))
    ranks[np.argsort(scores, kind="stable")] = np.arange(1, len(scores) + 1)
    for value in np.unique(scores):  # average ranks over ties
        tied = scores == value
        ranks[tied] = ranks[tied].mean()
    n_pos, n_neg = len(positive), len(negative)
    return float((ranks[:n_pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def reliability_png(path: Path, before: tuple, after: tuple) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, hist) = plt.subplots(2, 1, figsize=(4.5, 6), dpi=100, height_ratios=(3, 1), sharex=True)
    ax.plot([0, 1], [0, 1], color="0.6", lw=1, label="perfect calibration")
    edges = np.linspace(0, 1, len(before[2]) + 1)
    for (conf, acc, count), name in ((before, "before"), (after, "after temperature scaling")):
        used = count > 0
        ax.plot(conf[used], acc[used], marker="o", ms=3, label=name)
        hist.stairs(count, edges, label=name)
    ax.set(ylabel="accuracy", title="MNIST test: reliability (15 bins)", xlim=(0, 1), ylim=(0, 1))
    ax.legend(loc="upper left", fontsize=8)
    hist.set(xlabel="confidence", ylabel="digits per bin", yscale="log")
    fig.tight_layout()
    fig.savefig(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=str(default_model_path()))
    parser.add_argument("--outliers", type=int, default=3000, help="non-digits of each family")
    parser.add_argument("--strokes", type=int, default=1000, help="MNIST test digits per brush width")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--png", default=str(Path(__file__).resolve().parents[1] / "docs" / "reliability.png"))
    args = parser.parse_args()
    net, meta = load_model(args.model)
    fitted = reject.settings(meta)
    if not fitted:
        raise SystemExit(f"{args.model} has no reject settings: train it with digitnet train (validation > 0)")
    T = fitted["temperature"]
    data = load_dataset("mnist", args.data_dir, validation=10_000)
    test = data.test
    detector = meta["reject"].get("detector") if net.detector is not None else None
    kind = (f"detector (threshold {detector['threshold']:.4f}, keeps {detector['keep']:.1%}"
            if detector else f"top calibrated probability (threshold {fitted['threshold']:.4f}, keeps "
            f"{meta['reject'].get('keep', 0.99):.0%}")
    print(f"model {args.model}; temperature {T:.3f}; 'not a digit' by the {kind} of "
          f"{meta['reject'].get('validation', '?')} validation digits)")

    def evidence(X: np.ndarray) -> tuple[np.ndarray, float]:
        _, e, threshold = reject.assess(net, meta, X)
        return e, threshold

    P = net.predict_proba(test.X)  # (n, 10)
    calibrated = reject.calibrate(P, T)  # (n, 10)
    score, threshold = evidence(test.X)  # (n,)
    kept = score >= threshold
    right = calibrated.argmax(axis=1) == test.y
    print(f"MNIST test digits kept:            {kept.mean():7.2%}  (target >= 99%)")
    print(f"accuracy on kept MNIST test:       {right[kept].mean():7.2%}  (target >= 99.6%; all: {right.mean():.2%})")

    images = test.X[:args.strokes].reshape(-1, 28, 28)
    stroke_scores = np.concatenate([evidence(stroke_set(images, w))[0] for w in STROKE_WIDTHS])
    print(f"stroke-drawn digits kept:          {np.mean(stroke_scores >= threshold):7.2%}  (target >= 99%; "
          f"{args.strokes} digits x brushes {', '.join(f'{w:.0%}' for w in STROKE_WIDTHS)})")

    rng = np.random.default_rng(2024)
    held = evidence(held_out_outliers(args.outliers, rng))[0]
    train_family = evidence(training_outliers(args.outliers, test.X, rng))[0]
    print(f"held-out non-digits rejected:      {np.mean(held < threshold):7.2%}  (target >= 90%)")
    print(f"training-family non-digits rejected: {np.mean(train_family < threshold):5.2%}  "
          "(made from MNIST test digits and DejaVu; for comparison)")
    print(f"AUROC, MNIST test vs held-out:     {auroc(score, held):7.4f}")

    before, after = reject.reliability(P, test.y), reject.reliability(calibrated, test.y)
    print(f"ECE on MNIST test: before {reject.ece(P, test.y):.4f}, after {reject.ece(calibrated, test.y):.4f} "
          f"(15 bins)")
    reliability_png(Path(args.png), before, after)
    print(f"reliability diagram: {args.png}")


if __name__ == "__main__":
    main()
