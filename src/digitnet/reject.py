"""The reject option: answer "not a digit" instead of a confident guess.

A network trained with outlier exposure (:mod:`digitnet.outliers`) spreads its belief evenly over
the ten digits on anything that is not one, so its top probability separates digits from the
rest. Two numbers, fitted once on validation digits after training and kept in the model file's
metadata under ``"reject"``, turn that into a decision:

* a temperature ``T`` (Guo et al. 2017): ``p_T = softmax(log p / T)`` is the softmax of the
  logits divided by ``T`` (``log p`` differs from the logits by a constant per row), with ``T``
  chosen to minimise the validation negative log-likelihood, so that "90 %" is right 90 % of the
  time;
* a threshold on the top calibrated probability that keeps :data:`KEEP` of the validation digits.

A model may also carry a detector (:mod:`digitnet.detector`, ``digitnet detector``): a small
network trained by outlier exposure on the classifier's features, which leaves the classifier's
accuracy as it is. Where it is present, a row is "not a digit" when the detector's score, the
probability that the row is a digit, is under a threshold that keeps :data:`KEEP_DETECTOR` of the
validation digits, or when the model cannot tell which digit it is: its top calibrated probability
under a floor that :data:`KEEP_FLOOR` of the validation digits reach (a scribble the detector
lets through rarely looks like one digit more than like the others).

``classify(net, meta, X)`` is what the CLI and the app call; ``assess`` gives the evidence and the
threshold behind it. A model file without ``"reject"`` (trained before it existed) is never
rejected.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import detector

REASON = "not a digit"
KEEP = 0.99
"""The share of validation digits the top-probability threshold keeps."""
KEEP_DETECTOR = 0.998
"""The share of validation digits the detector's threshold keeps."""
KEEP_FLOOR = 0.999
"""The share of validation digits whose top calibrated probability reaches the floor."""
TEMPERATURES = np.exp(np.linspace(np.log(0.25), np.log(8.0), 241))  # (241,) the grid T is chosen on
EPS = 1e-12


def calibrate(P: np.ndarray, temperature: float) -> np.ndarray:
    """``softmax(log P / T)`` row by row: probabilities ``P (n, k)`` at temperature ``T``."""
    Z = np.log(np.clip(P, EPS, 1.0)) / temperature  # (n, k) logits up to a constant per row
    Z -= Z.max(axis=1, keepdims=True)  # (n, k) stable softmax
    E = np.exp(Z)  # (n, k)
    return E / E.sum(axis=1, keepdims=True)  # (n, k)


def fit_temperature(P: np.ndarray, y: np.ndarray) -> float:
    """The ``T`` on :data:`TEMPERATURES` that minimises the mean ``-log p_T[y]`` of ``P (n, k)``."""
    logp = np.log(np.clip(P, EPS, 1.0))  # (n, k)
    rows = np.arange(len(y))
    costs = []
    for T in TEMPERATURES:
        Z = logp / T  # (n, k)
        lse = Z.max(axis=1) + np.log(np.exp(Z - Z.max(axis=1, keepdims=True)).sum(axis=1))  # (n,)
        costs.append(float(np.mean(lse - Z[rows, y])))
    return float(TEMPERATURES[int(np.argmin(costs))])


def fit(net: Any, X: np.ndarray, y: np.ndarray, keep: float = KEEP) -> dict[str, Any]:
    """Fit the temperature and the threshold on validation digits ``X (n, 784)``, ``y (n,)``.

    Returns the ``"reject"`` section of a model's metadata.
    """
    P = net.predict_proba(X)  # (n, 10)
    T = fit_temperature(P, y)
    confidence = calibrate(P, T).max(axis=1)  # (n,)
    threshold = float(np.quantile(confidence, 1.0 - keep))
    return {"score": "max-softmax", "temperature": T, "threshold": threshold, "keep": keep,
            "validation": int(len(y)), "ece_before": ece(P, y), "ece_after": ece(calibrate(P, T), y)}


def settings(meta: dict[str, Any]) -> dict[str, Any] | None:
    """A model's fitted reject settings, or None when the model has none."""
    section = meta.get("reject")
    if not isinstance(section, dict):
        return None
    T, threshold = section.get("temperature"), section.get("threshold")
    if not all(isinstance(v, (int, float)) and np.isfinite(v) for v in (T, threshold)) or not T > 0:
        return None
    return {"temperature": float(T), "threshold": float(threshold)}


def fit_detector(net: Any, head: Any, X: np.ndarray, temperature: float) -> dict[str, Any]:
    """The detector part of the ``"reject"`` section for ``head`` on ``net``: its feature layer,
    the threshold on its score that keeps :data:`KEEP_DETECTOR` of the validation digits
    ``X (n, 784)``, and the floor on the top probability at ``temperature`` that keeps :data:`KEEP_FLOOR`."""
    at = detector.feature_layer(net)
    F, A = detector.forward(net, X, at)  # (n, f), (n, 10)
    score = head.predict_raw(F)[:, 0]  # (n,)
    top = calibrate(net.to_proba(A), temperature).max(axis=1)  # (n,)
    return {"features": at, "threshold": float(np.quantile(score, 1.0 - KEEP_DETECTOR)), "keep": KEEP_DETECTOR,
            "floor": float(np.quantile(top, 1.0 - KEEP_FLOOR)), "keep_floor": KEEP_FLOOR,
            "architecture": head.config()}


def assess(net: Any, meta: dict[str, Any], X: np.ndarray, floor: float | None = None
           ) -> tuple[np.ndarray, np.ndarray, float]:
    """``(scores (n, 10), evidence (n,), threshold)`` for the rows of ``X (n, 784)``: a row is
    "not a digit" when its evidence is under the threshold.

    The evidence is the detector's score where the model has one (``net.detector``, with its
    section ``meta["reject"]["detector"]``), set to 0 where the top calibrated probability is
    under the section's floor (or under ``floor``, where given; 0: the detector's score alone); else
    the top calibrated probability. For a model without reject settings it is the top raw
    probability, with a threshold of 0 (nothing is rejected).
    """
    fitted = settings(meta)
    head = getattr(net, "detector", None) if fitted else None  # any object with predict_proba will do
    if head is not None:
        section = meta["reject"]["detector"]
        F, A = detector.forward(net, X, section["features"])  # (n, f), (n, 10)
        P = net.to_proba(A)  # (n, 10)
    else:
        P = net.predict_proba(X)  # (n, 10)
    scores = calibrate(P, fitted["temperature"]) if fitted else P  # (n, 10)
    if head is not None:
        least = section["floor"] if floor is None else floor
        evidence = np.where(scores.max(axis=1) >= least, head.predict_raw(F)[:, 0], 0.0)  # (n,)
        return scores, evidence, float(section["threshold"])
    return scores, scores.max(axis=1), fitted["threshold"] if fitted else 0.0


def classify(net: Any, meta: dict[str, Any], X: np.ndarray, reject: bool = True
             ) -> tuple[list[int | None], np.ndarray, list[str | None]]:
    """Read each row of ``X (n, 784)``: ``(digits, scores, reasons)``.

    ``scores (n, 10)`` are the calibrated probabilities (the raw ones for a model without reject
    settings). ``digits[i]`` is the top digit, or None with ``reasons[i] == "not a digit"`` when
    its evidence (``assess``) is under the model's threshold and ``reject`` is on.
    """
    scores, evidence, threshold = assess(net, meta, X)
    top = scores.argmax(axis=1)  # (n,)
    digits: list[int | None] = []
    reasons: list[str | None] = []
    for d, e in zip(top, evidence):
        rejected = reject and e < threshold
        digits.append(None if rejected else int(d))
        reasons.append(REASON if rejected else None)
    return digits, scores, reasons


def reliability(P: np.ndarray, y: np.ndarray, bins: int = 15) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per confidence bin: mean confidence, accuracy and count of ``P (n, k)`` against ``y (n,)``."""
    confidence = P.max(axis=1)  # (n,)
    correct = (P.argmax(axis=1) == y).astype(np.float64)  # (n,)
    which = np.minimum((confidence * bins).astype(int), bins - 1)  # (n,) bin of each sample
    count = np.bincount(which, minlength=bins).astype(np.float64)  # (bins,)
    with np.errstate(invalid="ignore"):
        conf = np.bincount(which, confidence, bins) / count  # (bins,)
        acc = np.bincount(which, correct, bins) / count  # (bins,)
    return conf, acc, count


def ece(P: np.ndarray, y: np.ndarray, bins: int = 15) -> float:
    """Expected calibration error: ``sum_b (n_b / n) |accuracy_b - confidence_b|`` over 15 bins."""
    conf, acc, count = reliability(P, y, bins)
    used = count > 0
    return float(np.sum(count[used] / count.sum() * np.abs(acc[used] - conf[used])))
