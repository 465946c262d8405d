"""Pictures and tables for the app, as plain NumPy: no Streamlit here, so each piece is testable.

Images are returned as ``uint8`` arrays, ``(H, W)`` grey or ``(H, W, 3)`` RGB, ready for
``st.image``. Signed quantities (weights, saliency) use one diverging colour map throughout:
blue for negative, black for zero, red for positive, so a black background means "no effect",
as black means "no ink" on the canvas.
"""

from __future__ import annotations

import argparse
import base64
import io
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from PIL import Image

from ..models import default_model_path
from ..nn.network import Network
from ..preprocess import one_line

TRAIN_HINT = "digitnet train --preset seed -o {path}"
"""The command that trains a model file, shown when one is missing or corrupt."""

_HEAT = np.array(  # anchors of a dark-to-bright sequential map (black, purple, orange, pale yellow)
    [[0, 0, 4], [80, 18, 123], [182, 54, 121], [251, 136, 97], [252, 253, 191]], dtype=np.float64
)


@dataclass(frozen=True)
class AppOptions:
    """What the page was started with: ``-- --model PATH --models-dir DIR [--no-reject]`` or the
    environment. ``no_reject``: the sidebar's "Say \"not a digit\"" starts off."""

    model: Path
    models_dir: Path
    no_reject: bool = False


def parse_options(argv: Sequence[str], environ: dict[str, str] | None = None) -> AppOptions:
    """Read ``--model`` and ``--models-dir`` from ``argv``, else ``$DIGITNET_MODEL`` and
    ``$DIGITNET_MODELS_DIR``, else the shipped model and ``./models``; and ``--no-reject``. Unknown
    arguments are ignored (the page may run under a test runner with arguments of its own)."""
    env = os.environ if environ is None else environ
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False, exit_on_error=False)
    parser.add_argument("--model", type=Path)
    parser.add_argument("--models-dir", type=Path)
    parser.add_argument("--no-reject", action="store_true")
    try:
        args, _ = parser.parse_known_args(list(argv))
    except (argparse.ArgumentError, SystemExit):
        args = argparse.Namespace(model=None, models_dir=None, no_reject=False)
    model = args.model or (Path(env["DIGITNET_MODEL"]) if env.get("DIGITNET_MODEL") else default_model_path())
    models_dir = args.models_dir or Path(env.get("DIGITNET_MODELS_DIR") or "models")
    return AppOptions(model=model, models_dir=models_dir, no_reject=args.no_reject)


def list_models(options: AppOptions) -> list[Path]:
    """The model picker's choices: the starting model, the shipped one, then ``*.npz`` in the
    models folder (sorted), each file once."""
    found = sorted(options.models_dir.glob("*.npz")) if options.models_dir.is_dir() else []
    seen: set[Path] = set()
    choices = []
    for path in [options.model, default_model_path(), *found]:
        key = path.resolve()
        if key not in seen:
            seen.add(key)
            choices.append(path)
    return choices


# -- colour maps ------------------------------------------------------------------------------
def heat(values: np.ndarray) -> np.ndarray:
    """Map values in [0, 1] to RGB on a dark-to-bright scale; shape ``(...,)`` -> ``(..., 3)``."""
    t = np.clip(np.nan_to_num(np.asarray(values, np.float64)), 0.0, 1.0) * (len(_HEAT) - 1)
    i = np.minimum(t.astype(int), len(_HEAT) - 2)  # lower anchor of each value
    f = (t - i)[..., None]
    return np.round(_HEAT[i] * (1 - f) + _HEAT[i + 1] * f).astype(np.uint8)


def diverging(values: np.ndarray, scale: float | None = None) -> np.ndarray:
    """Map signed values to RGB: blue < 0, black at 0, red > 0, full colour at ``|v| = scale``
    (default: the largest ``|v|``); shape ``(...,)`` -> ``(..., 3)``."""
    v = np.nan_to_num(np.asarray(values, np.float64))
    scale = float(np.abs(v).max()) if scale is None else scale
    t = np.clip(v / scale, -1.0, 1.0) if scale > 0 else np.zeros_like(v)
    pos, neg = np.maximum(t, 0), np.maximum(-t, 0)
    rgb = np.stack([255 * pos + 60 * neg, 60 * pos + 110 * neg, 40 * pos + 255 * neg], axis=-1)
    return np.round(rgb).astype(np.uint8)


# -- images -----------------------------------------------------------------------------------
def upscale(image: np.ndarray, factor: int) -> np.ndarray:
    """Enlarge by repeating each pixel ``factor`` times on both axes (nearest neighbour: the
    28 x 28 pixels stay visible as squares instead of being blurred)."""
    return np.repeat(np.repeat(image, factor, axis=0), factor, axis=1)


def to_grey_image(x: np.ndarray, factor: int = 8) -> np.ndarray:
    """A 784-vector in [0, 1] as the enlarged 28 x 28 grey picture the network sees."""
    return upscale(np.round(np.clip(x.reshape(28, 28), 0, 1) * 255).astype(np.uint8), factor)


def saliency_image(x: np.ndarray, grad: np.ndarray, factor: int = 8) -> np.ndarray:
    """The gradient of the winning output w.r.t. each input pixel over the faint input.

    Red pixels raise the winning score when made brighter, blue ones lower it; the drawing shows
    through in grey so one sees which strokes (and which empty places) matter.
    """
    colour = diverging(grad.reshape(28, 28)).astype(np.float64)  # (28, 28, 3)
    ink = np.clip(x.reshape(28, 28), 0, 1)[..., None] * 90.0  # (28, 28, 1)
    return upscale(np.round(np.clip(colour + ink, 0, 255)).astype(np.uint8), factor)


def tile(images: np.ndarray, cols: int, pad: int = 1, fill: int = 40) -> np.ndarray:
    """Lay ``images`` ``(n, h, w)`` or ``(n, h, w, 3)`` out in a grid ``cols`` wide, ``pad``
    pixels of grey ``fill`` between them."""
    n, h, w = images.shape[:3]
    rows = math.ceil(n / cols)
    out = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad, *images.shape[3:]), fill, np.uint8)
    for k, img in enumerate(images):
        r, c = divmod(k, cols)
        out[pad + r * (h + pad):pad + r * (h + pad) + h, pad + c * (w + pad):pad + c * (w + pad) + w] = img
    return out


def _grid_side(n: int) -> tuple[int, int]:
    """Rows and columns of the most nearly square grid that holds ``n`` cells."""
    cols = math.ceil(math.sqrt(n))
    return math.ceil(n / cols), cols


def first_layer_weights(net: Network, limit: int = 256) -> tuple[np.ndarray, str] | None:
    """The first layer's weights as pictures: for a dense layer on 784 inputs, each unit's 784
    incoming weights as a 28 x 28 image (what the unit looks for); for a convolution, its kernels.
    Returns ``(image, caption)``, or None when the first weighted layer is neither."""
    layer = next((l for l in net.layers if "W" in l.params), None)
    if layer is None:
        return None
    W = layer.params["W"]
    if W.ndim == 2 and W.shape[0] == 784:
        units = W.T[:limit].reshape(-1, 28, 28)  # (units, 28, 28)
        cells = np.stack([diverging(u) for u in units])  # each unit on its own colour scale
        cols = _grid_side(len(units))[1]
        caption = (f"{len(units)} of {W.shape[1]} units of the first dense layer: red pixels excite the unit, "
                   "blue ones inhibit it")
        return upscale(tile(cells, cols), 2), caption
    if W.ndim == 4:
        k = np.transpose(W, (3, 2, 0, 1))  # (kh, kw, c, f) -> (f, c, kh, kw)
        kernels = k[:limit, 0]  # (f, kh, kw): the first input channel of each kernel
        cells = np.stack([diverging(kk) for kk in kernels])
        return upscale(tile(cells, cols=min(8, len(kernels)), pad=1), 16), (
            f"{len(kernels)} convolution kernels of {k.shape[2]} x {k.shape[3]}: red weights excite, blue inhibit")
    return None


def png_data_url(image: np.ndarray) -> str:
    """An image as a ``data:image/png`` URL (for thumbnails inside a table)."""
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


# -- the model card ---------------------------------------------------------------------------
def parameter_count(net: Network) -> int:
    return int(sum(p.size for p in net.params))


def describe_layers(net: Network) -> list[dict[str, Any]]:
    """One row per layer: its type, settings and parameter count."""
    rows = []
    for layer in net.layers:
        cfg = {k: v for k, v in layer.config().items() if k != "type"}
        rows.append({
            "layer": type(layer).__name__,
            "settings": ", ".join(f"{k}={v}" for k, v in cfg.items()),
            "parameters": int(sum(p.size for p in layer.params.values())),
        })
    return rows


def output_label(net: Network) -> str:
    """What the bar chart shows: softmax outputs are probabilities; sigmoid outputs are
    independent scores that the app divides by their sum."""
    if net.output == "softmax":
        return "probability"
    return "normalised score"


def history_rows(meta: dict[str, Any]) -> list[dict[str, float]]:
    """The per-epoch training record of the model file (may be empty)."""
    history = meta.get("history") or []
    return [r for r in history if isinstance(r, dict) and "epoch" in r]


def model_problem(path: Path, error: Exception) -> str:
    """One line for a model file that cannot be used, with the command that trains one."""
    return f"{error}. Train a model with: {TRAIN_HINT.format(path=path)}"


def accuracy_text(meta: dict[str, Any]) -> str:
    """The test accuracy recorded in a model file, e.g. ``97.89%``."""
    acc = meta.get("test_accuracy")
    return f"{acc:.2%}" if isinstance(acc, (int, float)) else "not recorded"


def upload_problem(name: str, error: Exception) -> str:
    """A one-line message in plain words for an uploaded file that cannot be read, naming the file
    (never a Python object's address)."""
    message = one_line(error)
    if "cannot identify image file" in message or "not an image" in message:
        return f"{name} is not an image that PNG, JPEG, GIF, WebP or BMP can read."
    if message.startswith("image too large"):
        return f"{name} is too large: {message.split(': ', 1)[-1]}."
    if message.startswith("cannot read image"):  # "cannot read image <file object>: reason"
        message = message.split(": ", 1)[-1]
    return f"Cannot read {name}: {message}"


# -- words ------------------------------------------------------------------------------------
def percent(p: float) -> str:
    """A share as a percentage with one decimal, rounded down (so 99.96% never reads as 100.0%)."""
    return f"{math.floor(float(p) * 1000 + 1e-9) / 10:.1f}%"


_DATASET_TITLES = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST"}
"""How the app writes the dataset names stored in model files."""

_KINDS = {"Conv2D": "convolution", "Dense": "dense", "MaxPool2D": "pooling", "BatchNorm": "batch-norm",
          "Dropout": "dropout"}


def summary(net: Network, meta: dict[str, Any]) -> str:
    """The model in one plain sentence, e.g. "A convolutional network: 4 convolution layers and 2
    dense layers; 99.62% right on MNIST's test set." (the layer code is in the model card)."""
    counts: dict[str, int] = {}
    for layer in net.layers:
        kind = _KINDS.get(type(layer).__name__)
        if kind in ("convolution", "dense"):
            counts[kind] = counts.get(kind, 0) + 1
    kind = "A convolutional network" if counts.get("convolution") else "A fully connected network"
    parts = [f"{n} {name} layer{'s' * (n != 1)}" for name, n in counts.items()]
    acc = meta.get("test_accuracy")
    name = (meta.get("dataset") or {}).get("name", "its")
    dataset = _DATASET_TITLES.get(name, name)
    score = (f"; {acc:.2%} right on {dataset}'s test set" if isinstance(acc, (int, float))
             else "; no test accuracy recorded")
    return f"{kind}: {' and '.join(parts) or 'no weighted layers'}{score}."


def preview(image: np.ndarray, side: int = 400) -> np.ndarray:
    """An uploaded image as ``uint8`` for display, shrunk so its longer side is at most ``side``."""
    a = np.asarray(image)
    if a.dtype != np.uint8:
        a = np.round(np.clip(a.astype(np.float64), 0, 1) * 255).astype(np.uint8)
    img = Image.fromarray(a)
    img.thumbnail((side, side))
    return np.asarray(img)
