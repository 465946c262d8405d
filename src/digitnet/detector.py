"""A "not a digit" detector: a small network that reads the classifier's features.

Outlier exposure (Hendrycks, Mazeika & Dietterich 2019) teaches a model what is *not* in its
classes by showing it generated outliers. Training the whole classifier on them costs it accuracy
on real digits; here the classifier stays as it is and a second, small network learns from its
features instead, the way a detection head shares a backbone:

    F = features(net, X)                       # (n, f): the classifier's own view of each image
    p = sigmoid(relu(F W1 + b1) W2 + b2)       # (n, 1): how much each row looks like a digit

The head (``[f, 64, 1]``, ReLU, sigmoid, binary cross-entropy, Adam) is trained on the training
digits (1) against generated non-digits (0) (:mod:`digitnet.outliers`), each seen plain and once
redrawn as canvas strokes (:mod:`digitnet.augment`), so that a digit drawn with any brush still
counts as a digit. Its inputs are standardised during training; the standardisation is then
folded into the first layer (``W1 / s``, ``b1 - (m / s) W1``), so the saved head is a plain
:class:`~digitnet.nn.network.Network` that reads raw features.

The features are the output of the last ``flatten`` layer (the convolutional features, 1,024 of
them in the ``cnn`` preset) or, in a dense network, the input of the last dense layer.

``digitnet detector MODEL -o OUT`` adds a detector to a model file (:func:`add_to_model`); the
threshold it is held to is fitted on the validation digits the model was not trained on
(:func:`digitnet.reject.fit_detector`).
"""

from __future__ import annotations

import shlex
import time
from pathlib import Path
from typing import Any

import numpy as np

from .nn.layers import Dense, Flatten
from .nn.network import Network
from .nn.optimizers import Adam, learning_rate

OUTLIERS = 20_000
"""Generated non-digits the head learns from, each also seen once distorted."""
STROKES = {"shift": 2.0, "rotate": 10.0, "scale": 0.1, "stroke": 0.5, "radius_min": 0.5, "radius_max": 2.0,
           "slant": 0.3, "aspect": 0.2}
"""The distortion of the second copy (``digitnet.augment``): half of it redrawn as canvas strokes."""
HIDDEN = 64
EPOCHS = 15
BATCH = 256
ETA = 1e-3


def feature_layer(net: Network) -> int:
    """The index of the layer whose output the detector reads (-1: the input itself)."""
    flats = [i for i, layer in enumerate(net.layers) if isinstance(layer, Flatten)]
    if flats:
        return flats[-1]
    dense = [i for i, layer in enumerate(net.layers) if isinstance(layer, Dense)]
    return dense[-1] - 1


def forward(net: Network, X: np.ndarray, at: int, batch_size: int = 2000) -> tuple[np.ndarray, np.ndarray]:
    """One inference pass: ``(features (n, f), output (n, k))``, the features taken after layer
    ``at``, in chunks of ``net.chunk_rows(batch_size)`` rows."""
    feats, outs = [], []
    batch_size = net.chunk_rows(batch_size)
    for start in range(0, len(X), batch_size):
        A = np.asarray(X[start:start + batch_size], net.dtype).reshape(-1, *net.input_shape)  # (b, *input)
        F = A
        for i, layer in enumerate(net.layers):
            A = layer.forward(A, False)
            if i == at:
                F = A
        feats.append(F.reshape(len(F), -1))  # (b, f)
        outs.append(A)
    return np.concatenate(feats), np.concatenate(outs)


def train(net: Network, digits: np.ndarray, outliers: np.ndarray, seed: int = 0,
          epochs: int = EPOCHS) -> Network:
    """A head trained to say 1 on ``digits (n, 784)`` and 0 on ``outliers (m, 784)``, reading the
    features of ``net`` (which is not changed)."""
    at = feature_layer(net)
    F = np.concatenate([forward(net, digits, at)[0], forward(net, outliers, at)[0]])  # (n + m, f)
    Y = np.concatenate([np.ones(len(digits)), np.zeros(len(outliers))])[:, None].astype(net.dtype)  # (n + m, 1)
    mean, std = F.mean(axis=0), F.std(axis=0) + 1e-6  # (f,), (f,)
    F = (F - mean) / std  # (n + m, f)
    rng = np.random.default_rng(seed)
    head = Network([F.shape[1], HIDDEN, 1], activation="relu", output="sigmoid", cost="cross-entropy",
                   init="he", seed=rng, dtype=net.dtype.name)
    optimizer = Adam(ETA)
    for epoch in range(epochs):
        optimizer.lr = learning_rate(ETA, epoch, epochs, "cosine")
        order = rng.permutation(len(F))
        for start in range(0, len(F), BATCH):
            rows = order[start:start + BATCH]
            head.backprop(F[rows], Y[rows])
            optimizer.step(head.params, head.grads)
    first = head.layers[0].params
    first["b"] -= ((mean / std) @ first["W"]).astype(first["b"].dtype)  # (f,) @ (f, h) -> (h,)
    first["W"] /= std[:, None].astype(first["W"].dtype)  # (f, h) / (f, 1)
    return head


def add_to_model(model: str | Path, output: str | Path, data_dir: str | Path | None = None,
                 outliers: int = OUTLIERS, seed: int = 0, command: str = "", limit: int | None = None
                 ) -> dict[str, Any]:
    """Train a detector for the model file ``model`` and save the model with it at ``output``.

    The model's classifier is unchanged. Its training digits (the same validation split held out)
    and ``outliers`` generated non-digits, each plain and once distorted (:data:`STROKES`), train
    the head (only the first ``limit`` digits, for quick runs); a model trained with ``--styles N``
    or ``--fat-strokes N`` also has N styled digits of each style or N fat-brush drawings
    (``digitnet.styles``) count as digits. Its threshold and the temperature are fitted on the
    validation digits. Returns the new ``"reject"`` section.
    """
    from . import reject  # reject and persistence import this module: their imports wait until here
    from .augment import Augmenter
    from .data import load_dataset
    from .fast import accelerate
    from .outliers import training_outliers
    from .persistence import carried_metadata, load_model, save_model

    net, meta = load_model(model)
    accelerate(net)
    training = meta.get("training", {})
    validation = training.get("validation")
    if not isinstance(validation, int) or validation < 1:
        raise ValueError(f"{model} records no validation split, so no digits are left to fit the "
                         "detector's threshold on: train it with --validation N")
    data = load_dataset(meta.get("dataset", {}).get("name", "mnist"), data_dir, validation, progress=False)
    if data.sha256 != meta.get("dataset", {}).get("sha256"):
        raise ValueError(f"{model} was trained on other {data.name} files than those in the data folder")
    rng = np.random.default_rng(seed)
    start = time.perf_counter()
    own = data.train.X[:limit]  # (n, 784)
    styles, fat = (training.get(key) or 0 for key in ("styles", "fat_strokes"))
    for key, n in (("styles", styles), ("fat_strokes", fat)):
        if type(n) is not int or not 0 <= n <= 1 << 24:
            raise ValueError(f"{model} records training.{key} {n!r}, not a number of digits")
    labels = data.train.y[:limit]  # (n,)
    if styles:  # a model taught slashed zeros and the like: they are digits too
        from .styles import styled

        own = np.concatenate([own, styled(own, labels, styles, rng)[0]])
    if fat:  # and one taught fat-brush drawings
        from .styles import fat_drawn

        own = np.concatenate([own, fat_drawn(own[:len(labels)], labels, min(fat, len(labels)), rng)[0]])
    strange = training_outliers(outliers, own, rng)  # (m, 784)
    distort = Augmenter(**STROKES)
    digits = np.concatenate([own, distort(own, rng)])  # (2n, 784)
    strange = np.concatenate([strange, distort(strange, rng)])  # (2m, 784)
    net.detector = train(net, digits, strange, seed)
    section = reject.fit(net, data.validation.X, data.validation.y)
    section = {**section,
               "detector": {**reject.fit_detector(net, net.detector, data.validation.X, section["temperature"]),
                            "outliers": outliers, "seed": seed, "command": command,
                            "seconds": round(time.perf_counter() - start, 1)}}
    save_model(output, net, {**carried_metadata(meta), "reject": section})
    return section


def register(sub) -> None:
    """Add ``digitnet detector`` to the CLI's subparsers."""
    d = sub.add_parser("detector", help="give a model a 'not a digit' detector (outlier exposure)",
                       description="Train a small network on a model's features to tell digits from generated "
                                   "non-digits (letters, scribbles, cut, overlapped and paired digits), and save the "
                                   "model with it; the model's digit classifier is not changed.")
    d.add_argument("model", type=Path, nargs="?", metavar="MODEL",
                   help="model file (default: the model shipped with digitnet)")
    d.add_argument("-o", "--output", type=Path, required=True, help="the model file to write")
    d.add_argument("--outliers", type=int, default=OUTLIERS, metavar="N",
                   help="generated non-digits to learn from (default %(default)s)")
    d.add_argument("--seed", type=int, default=0, help="seed of all randomness (default 0)")
    d.add_argument("--limit", type=int, metavar="N", help="learn from the first N training digits only (quick runs)")
    d.add_argument("--data-dir", type=Path, help="folder with the MNIST IDX files (default: $DIGITNET_DATA_DIR)")


def cmd_detector(args, argv) -> int:
    """``digitnet detector [MODEL] -o OUT``: the handler ``cli.main`` calls."""
    from .models import default_model_path
    from .safeio import check_output

    check_output(args.output, "-o")
    if args.outliers < 1 or (args.limit is not None and args.limit < 1):
        raise ValueError("--outliers and --limit must be at least 1")
    model = args.model or default_model_path()
    section = add_to_model(model, args.output, args.data_dir, args.outliers, args.seed,
                           shlex.join(["digitnet", *argv]), args.limit)
    d = section["detector"]
    print(f"detector trained in {d['seconds']:.0f} s; threshold {d['threshold']:.4f} (keeps {d['keep']:.1%} of "
          f"the validation digits), floor {d['floor']:.4f} on the top probability; saved {args.output}")
    return 0
