"""Model files without pickle: a ``.npz`` of named arrays plus JSON metadata.

A model file is a NumPy ``.npz`` archive (read with ``allow_pickle=False``, so loading can never
run code). It holds every parameter as ``"<layer>.<name>"`` and one ``__metadata__`` entry: UTF-8
JSON bytes that describe the file. Loading rebuilds the network from that description alone::

    {"format": "digitnet-model", "format_version": 1, "digitnet_version": "0.1.0",
     "created": "2026-11-25T01:00:00+00:00",
     "architecture": {"input_shape": [784], "layers": [...], "cost": "quadratic", "dtype": "float32"},
     "arrays": {"0.W": {"shape": [784, 16], "dtype": "float32", "sha256": "..."}, ...},
     "training": {...}, "dataset": {"name": "mnist", "sha256": "..."},
     "history": [{"epoch": 1, "train_cost": ..., "val_accuracy": ..., "seconds": ...}, ...],
     "test_accuracy": 0.9461}

Checkpoints use the same format with optimizer state (``"opt.<i>.<slot>"``) and a ``checkpoint``
section (epoch, generator state, best weights so far) so training resumes bit-identically.

Writes are atomic: a temporary file in the target folder, flushed and fsynced, then renamed over
the target. A reader sees the old file or the new one, never half of one.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from .nn.network import Network

FORMAT = "digitnet-model"
FORMAT_VERSION = 1
META_KEY = "__metadata__"


class ModelFileError(Exception):
    """A model file that cannot be used: missing, truncated, corrupted or not ours (one line)."""


def _digest(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


def write_npz_atomic(path: str | os.PathLike, arrays: dict[str, np.ndarray]) -> None:
    """Write ``arrays`` as an uncompressed ``.npz`` at ``path`` atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a model file is as readable as any other
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_model(path: str | os.PathLike, net: Network, metadata: dict[str, Any] | None = None,
               extra_arrays: dict[str, np.ndarray] | None = None) -> dict[str, Any]:
    """Save ``net`` and ``metadata`` to ``path`` (atomic); returns the metadata written.

    ``extra_arrays`` (optimizer state, best weights of a checkpoint) are stored and hashed too.
    """
    arrays = {**net.state_dict(), **(extra_arrays or {})}
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "digitnet_version": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        **(metadata or {}),
        "architecture": net.config(),
        "arrays": {k: {"shape": list(v.shape), "dtype": v.dtype.name, "sha256": _digest(v)}
                   for k, v in arrays.items()},
    }
    blob = np.frombuffer(json.dumps(meta, sort_keys=True).encode("utf-8"), dtype=np.uint8)
    write_npz_atomic(path, {**arrays, META_KEY: blob})
    return meta


def read_model_file(path: str | os.PathLike) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Read and verify a model file: its metadata and every array, each checked against the
    shape, dtype and SHA-256 that the metadata records. Raises ``ModelFileError``."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"model file not found: {path}")
    try:
        with open(path, "rb") as f:
            if f.read(4) != b"PK\x03\x04":  # checked first: np.load would talk about pickles
                raise ModelFileError(f"{path} is not a digitnet model file (not an .npz archive)")
        with np.load(path, allow_pickle=False) as z:
            if META_KEY not in z.files:
                raise ModelFileError(f"{path} is not a digitnet model file (no metadata)")
            arrays = {k: z[k] for k in z.files}
    except ModelFileError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError, RuntimeError) as e:
        if isinstance(e, ValueError) and "allow_pickle" in str(e):
            raise ModelFileError(f"{path} holds pickled Python objects, which digitnet never loads") from None
        raise ModelFileError(f"{path} is not a readable model file (truncated or corrupted?): {e}") from None
    try:
        meta = json.loads(arrays.pop(META_KEY).tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ModelFileError(f"{path}: corrupted metadata ({e})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelFileError(f"{path} is not a digitnet model file")
    if meta.get("format_version") != FORMAT_VERSION:
        raise ModelFileError(
            f"{path} has format version {meta.get('format_version')}; this digitnet reads {FORMAT_VERSION}"
        )
    expected = meta.get("arrays")
    if not isinstance(expected, dict) or set(expected) != set(arrays):
        raise ModelFileError(f"{path}: the arrays in the file do not match its metadata")
    for name, a in arrays.items():
        e = expected[name]
        if not isinstance(e, dict) or list(a.shape) != e.get("shape") or a.dtype.name != e.get("dtype") \
                or _digest(a) != e.get("sha256"):
            raise ModelFileError(f"{path}: array {name} is corrupted (shape, dtype or checksum differs)")
    return meta, arrays


def load_model(path: str | os.PathLike) -> tuple[Network, dict[str, Any]]:
    """Rebuild the network stored at ``path``; returns ``(network, metadata)``."""
    meta, arrays = read_model_file(path)
    try:
        net = Network.from_config(meta["architecture"])
        state = {k: arrays[k] for k in net.state_dict()}
        net.load_state_dict(state)
    except (KeyError, TypeError, ValueError) as e:
        raise ModelFileError(f"{path}: the architecture does not match the weights ({e})") from None
    return net, meta
