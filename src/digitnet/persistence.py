"""Model files without pickle: a ``.npz`` of named arrays plus JSON metadata, verified on load.

A model file is a zip archive of ``.npy`` members, as ``np.savez`` writes it (so ``np.load``
reads it too). It holds every parameter as ``"<layer>.<name>"``, one ``__metadata__`` member of
UTF-8 JSON bytes that describe the file, and one ``__sha256__`` member: the SHA-256 of those
metadata bytes. Loading rebuilds the network from that description alone::

    {"format": "digitnet-model", "format_version": 2, "digitnet_version": "0.1.0",
     "created": "2026-11-25T01:00:00+00:00",
     "architecture": {"input_shape": [784], "layers": [...], "cost": "quadratic", "dtype": "float32"},
     "arrays": {"0.W": {"shape": [784, 16], "dtype": "float32", "sha256": "..."}, ...},
     "training": {...}, "dataset": {"name": "mnist", "sha256": "..."},
     "history": [{"epoch": 1, "train_cost": ..., "val_accuracy": ..., "seconds": ...}, ...],
     "test_accuracy": 0.9461}

One chain of digests covers every byte that decides what the model does: ``__sha256__`` covers
the metadata, whose ``arrays`` section holds the SHA-256 of each array. Format version 1 files
(no ``__sha256__``) still load, with every array verified and the architecture checked against
the schema below, but a changed metadata byte there is only caught if it breaks the schema.

Nothing in a file is trusted before it is checked, the way safetensors and Pillow read files:
the archive is read member by member with its declared and actual sizes compared (stored or
deflate only, a size cap), ``.npy`` headers are matched against the one form NumPy writes (no
text is evaluated, object arrays are refused), JSON nesting is bounded, and the architecture is
validated (known layer kinds, argument types and ranges, the parameter count and the memory the
network needs, against ``$DIGITNET_MAX_MODEL_GB``) before a single parameter is allocated.
Every failure is a ``ModelFileError``: one line naming the file and what is wrong.

Checkpoints use the same format with optimizer state (``"opt.<i>.<slot>"``) and a ``checkpoint``
section (epoch, generator state, best weights so far) so training resumes bit-identically.

Writes are atomic (``digitnet.safeio.write_atomic``): a reader sees the old file or the new one,
never half of one, and Ctrl-C waits for a save in progress.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import io
import json
import math
import os
import re
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__, safeio
from .detector import forward as detector_features
from .nn.activations import ACTIVATIONS
from .nn.costs import COSTS
from .nn.layers import INITS
from .nn.network import DTYPES, Network

FORMAT = "digitnet-model"
FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)
META_KEY = "__metadata__"
DIGEST_KEY = "__sha256__"

LIMIT_ENV = "DIGITNET_MAX_MODEL_GB"
DEFAULT_LIMIT_GB = 4.0
"""Memory a model may need (parameters, their copies, one inference chunk) unless the env var says more."""
MAX_JSON_DEPTH = 32
MAX_LAYERS = 1000
MAX_DIM = 1 << 31
# The element types a model file may hold: parameters, optimizer step counters, metadata bytes.
_NPY_DTYPES = {"<f4": np.float32, "<f8": np.float64, "<i8": np.int64, "|u1": np.uint8}
_NPY_HEADER = re.compile(
    r"\{'descr': '([<>|=][a-zA-Z][0-9]*)', 'fortran_order': (True|False), 'shape': \(((?:[0-9]+, ?)*[0-9]*)\), \} *\n"
)


class ModelFileError(Exception):
    """A model file that cannot be used: missing, truncated, corrupted, hostile or not ours (one line)."""


def memory_limit_bytes() -> int:
    """The memory a model may need, from ``$DIGITNET_MAX_MODEL_GB`` (default 4 GB)."""
    text = os.environ.get(LIMIT_ENV, "")
    try:
        gb = float(text) if text else DEFAULT_LIMIT_GB
    except ValueError:
        gb = math.nan
    if not (gb > 0 and math.isfinite(gb)):
        raise ValueError(f"{LIMIT_ENV} must be a positive number of gigabytes, not {text!r}")
    return int(gb * 1e9)


def _size(n: int) -> str:
    """Bytes for a message: ``1288.00 GB``, or ``1.3 MB`` below a tenth of a gigabyte."""
    return f"{n / 1e9:.2f} GB" if n >= 1e8 else f"{n / 1e6:.1f} MB"


def _digest(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


# -- writing ------------------------------------------------------------------------------------
def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """The bytes of an uncompressed ``.npz`` holding ``arrays``, as ``np.savez`` lays it out.

    Member times are fixed, so the same arrays always give the same bytes.
    """
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as zf:
        for name, a in arrays.items():
            member = io.BytesIO()
            np.lib.format.write_array(member, np.asarray(a), allow_pickle=False)
            zf.writestr(zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0)), member.getvalue())
    return out.getvalue()


def write_npz_atomic(path: str | os.PathLike, arrays: dict[str, np.ndarray]) -> None:
    """Write ``arrays`` as an uncompressed ``.npz`` at ``path`` atomically (``safeio.write_atomic``)."""
    safeio.write_atomic(path, npz_bytes(arrays))


def save_model(path: str | os.PathLike, net: Network, metadata: dict[str, Any] | None = None,
               extra_arrays: dict[str, np.ndarray] | None = None) -> dict[str, Any]:
    """Save ``net`` and ``metadata`` to ``path`` (atomic); returns the metadata written.

    ``extra_arrays`` (optimizer state, best weights of a checkpoint) are stored and hashed too, and
    so is ``net.detector`` (``"detector.<layer>.<name>"``), whose architecture is the metadata's
    ``reject.detector.architecture``.
    """
    head = {} if net.detector is None else net.detector.state_dict()
    arrays = {**net.state_dict(), **{f"detector.{k}": v for k, v in head.items()}, **(extra_arrays or {})}
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
    text = json.dumps(meta, sort_keys=True).encode("utf-8")
    digest = hashlib.sha256(text).hexdigest().encode("ascii")
    write_npz_atomic(path, {**arrays, META_KEY: np.frombuffer(text, np.uint8),
                            DIGEST_KEY: np.frombuffer(digest, np.uint8)})
    return meta


def carried_metadata(meta: dict[str, Any]) -> dict[str, Any]:
    """The sections of a loaded model's ``meta`` that a model made from it keeps (training,
    dataset, history, reject, ...); ``save_model`` writes the others anew."""
    written = ("arrays", "architecture", "format", "format_version", "created", "digitnet_version")
    return {k: v for k, v in meta.items() if k not in written}


# -- reading the archive ------------------------------------------------------------------------
def _parse_npy(blob: bytes, where: str) -> np.ndarray:
    """An array from the bytes of one ``.npy`` member; only the header form NumPy writes is accepted."""
    if blob[:6] != b"\x93NUMPY" or len(blob) < 10:
        raise ModelFileError(f"{where} is not a NumPy array")
    major = blob[6]
    if major == 1:
        size, start = int.from_bytes(blob[8:10], "little"), 10
    elif major in (2, 3) and len(blob) >= 12:
        size, start = int.from_bytes(blob[8:12], "little"), 12
    else:
        raise ModelFileError(f"{where}: unknown .npy version {major}")
    try:
        header = blob[start:start + size].decode("latin1" if major < 3 else "utf-8")
    except UnicodeDecodeError:
        raise ModelFileError(f"{where}: unreadable array header") from None
    m = _NPY_HEADER.fullmatch(header)
    if m is None or start + size > len(blob):
        raise ModelFileError(f"{where}: malformed array header")
    descr, fortran, dims = m.groups()
    if descr == "|O":
        raise ModelFileError(f"{where} holds pickled Python objects, which digitnet never loads")
    if descr not in _NPY_DTYPES:
        raise ModelFileError(f"{where}: element type {descr!r} is not one a model file holds")
    shape = tuple(int(d) for d in dims.replace(" ", "").split(",") if d)
    dtype = np.dtype(_NPY_DTYPES[descr])
    data = memoryview(blob)[start + size:]
    if math.prod(shape) * dtype.itemsize != len(data):
        raise ModelFileError(f"{where}: header says shape {shape} of {descr}, but {len(data)} bytes follow")
    a = np.frombuffer(data, dtype)
    return a.reshape(shape, order="F" if fortran == "True" else "C").copy(order="C")


def _read_members(data: bytes, name: str, cap: int) -> dict[str, np.ndarray]:
    """The arrays of the zip archive ``data``, every member checked before it is read."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        infos = zf.infolist()
        declared = 0
        for info in infos:
            if not info.filename.endswith(".npy") or info.filename.count("/"):
                raise ModelFileError(f"{name}: member {info.filename!r} is not an array")
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise ModelFileError(f"{name}: member {info.filename!r} uses compression "
                                     f"method {info.compress_type}; only stored or deflate are read")
            if info.flag_bits & 0x1:
                raise ModelFileError(f"{name}: member {info.filename!r} is encrypted")
            declared += info.file_size
        if declared > cap:
            raise ModelFileError(f"{name}: its arrays declare {_size(declared)}, "
                                 f"the limit is {_size(cap)} (raise {LIMIT_ENV})")
        arrays: dict[str, np.ndarray] = {}
        for info in infos:
            key = info.filename[:-4]
            if key in arrays:
                raise ModelFileError(f"{name}: member {info.filename!r} appears twice")
            with zf.open(info) as f:
                blob = f.read(info.file_size + 1)  # one byte more than declared: a longer member is caught
            if len(blob) != info.file_size:
                raise ModelFileError(f"{name}: member {info.filename!r} holds {len(blob)} bytes "
                                     f"where {info.file_size} are declared")
            arrays[key] = _parse_npy(blob, f"{name}: member {info.filename!r}")
    return arrays


def _json_depth(text: str) -> int:
    """How deeply the brackets of JSON ``text`` nest, strings left out (``json`` would recurse)."""
    depth = deepest = 0
    for m in re.finditer(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', text):
        c = m.group()
        if c in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif c in "]}":
            depth -= 1
    return deepest


def _metadata(arrays: dict[str, np.ndarray], name: str) -> dict[str, Any]:
    """The metadata JSON, checked against ``__sha256__`` where the file has one."""
    blob = arrays.pop(META_KEY)
    digest = arrays.pop(DIGEST_KEY, None)
    if blob.dtype != np.uint8 or blob.ndim != 1:
        raise ModelFileError(f"{name}: corrupted metadata (not a byte string)")
    raw = blob.tobytes()
    if digest is not None and (digest.dtype != np.uint8 or digest.tobytes() != hashlib.sha256(raw).hexdigest().encode()):
        raise ModelFileError(f"{name}: the metadata does not match its checksum (edited or corrupted)")
    try:
        text = raw.decode("utf-8")
        if _json_depth(text) > MAX_JSON_DEPTH:
            raise ModelFileError(f"{name}: corrupted metadata (JSON nested deeper than {MAX_JSON_DEPTH})")
        meta = json.loads(text)
    except ValueError as e:  # not UTF-8, not JSON, or an integer of more digits than Python parses
        raise ModelFileError(f"{name}: corrupted metadata ({e})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelFileError(f"{name} is not a digitnet model file")
    version = meta.get("format_version")
    if type(version) is not int or version not in READABLE_VERSIONS:
        raise ModelFileError(f"{name} has format version {version}; this digitnet reads "
                             f"{', '.join(map(str, READABLE_VERSIONS))}")
    if (digest is None) != (version == 1):
        raise ModelFileError(f"{name}: format version {version} with{'out' * (digest is None)} a "
                             "metadata checksum (edited or corrupted)")
    return meta


def read_model_file(path: str | os.PathLike, limit: int | None = None
                    ) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Read and verify a model file: its metadata and every array, each checked against the
    shape, dtype and SHA-256 that the metadata records, the metadata against its own checksum
    and the architecture against the schema. Raises ``ModelFileError``.

    ``limit`` is the memory in bytes the model may need (default ``memory_limit_bytes()``).
    """
    path = Path(path)
    cap = memory_limit_bytes() if limit is None else limit
    kind = safeio.not_regular(path)
    if kind:
        raise ModelFileError(f"{path} is {kind}, not a model file")
    try:
        size = path.stat().st_size
        if size > cap:
            raise ModelFileError(f"{path} is {_size(size)}, more than the limit of {_size(cap)} "
                                 f"(raise {LIMIT_ENV})")
        data = path.read_bytes()
    except FileNotFoundError:
        raise ModelFileError(f"model file not found: {path}") from None
    except OSError as e:
        raise ModelFileError(f"cannot read {path}: {e.strerror or e}") from None
    return parse_model_bytes(data, str(path), cap)


def parse_model_bytes(data: bytes, name: str, limit: int | None = None
                      ) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """``read_model_file`` for bytes already in memory; ``name`` is what errors call them."""
    cap = memory_limit_bytes() if limit is None else limit
    if data[:4] != b"PK\x03\x04":
        raise ModelFileError(f"{name} is not a digitnet model file (not an .npz archive)")
    try:
        arrays = _read_members(data, name, cap)
    except ModelFileError:
        raise
    except Exception as e:  # zipfile's and zlib's many ways of saying "broken archive"
        raise ModelFileError(f"{name} is not a readable model file (truncated or corrupted?): "
                             f"{_one_line(e)}") from None
    if META_KEY not in arrays:
        raise ModelFileError(f"{name} is not a digitnet model file (no metadata)")
    meta = _metadata(arrays, name)
    expected = meta.get("arrays")
    if not isinstance(expected, dict) or set(expected) != set(arrays):
        raise ModelFileError(f"{name}: the arrays in the file do not match its metadata")
    for key, a in arrays.items():
        e = expected[key]
        if not isinstance(e, dict) or list(a.shape) != e.get("shape") or a.dtype.name != e.get("dtype") \
                or _digest(a) != e.get("sha256"):
            raise ModelFileError(f"{name}: array {key} is corrupted (shape, dtype or checksum differs)")
    check_metadata(meta, name, cap)
    return meta, arrays


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split()) or type(e).__name__


# -- the schema ---------------------------------------------------------------------------------
class _Invalid(ValueError):
    """A value that breaks the schema; ``check_*`` turn it into a ModelFileError naming the file."""


def _int(v: Any, what: str, low: int = 0, high: int = MAX_DIM) -> int:
    if type(v) is not int or not low <= v <= high:  # bool is an int to Python, not to the schema
        raise _Invalid(f"{what} must be a whole number in [{low}, {high}], not {v!r}")
    return v


def _num(v: Any, what: str, low: float, high: float, low_open: bool = False, high_open: bool = False) -> float:
    ok = type(v) in (int, float) and math.isfinite(v) and (low < v if low_open else low <= v) \
        and (v < high if high_open else v <= high)
    if not ok:
        raise _Invalid(f"{what} must be a finite number in {'(' if low_open else '['}{low:g}, "
                       f"{high:g}{')' if high_open else ']'}, not {v!r}")
    return float(v)


def _choice(v: Any, what: str, choices) -> str:
    if not isinstance(v, str) or v not in choices:
        raise _Invalid(f"{what} must be one of {', '.join(choices)}, not {v!r}")
    return v


def _bool(v: Any, what: str) -> bool:
    if type(v) is not bool:
        raise _Invalid(f"{what} must be true or false, not {v!r}")
    return v


def _dims(v: Any, what: str, lengths=(1, 2, 3)) -> tuple[int, ...]:
    if not isinstance(v, list) or len(v) not in lengths:
        raise _Invalid(f"{what} must be a list of {' or '.join(map(str, lengths))} sizes, not {v!r}")
    return tuple(_int(d, what, 1) for d in v)


_LAYER_KEYS = {
    "dense": {"units", "init", "bias"},
    "activation": {"name"},
    "reshape": {"shape"},
    "flatten": set(),
    "dropout": {"rate"},
    "conv2d": {"filters", "kernel_size", "stride", "padding", "init", "bias"},
    "maxpool2d": {"pool_size", "stride"},
    "globalavgpool": set(),
    "batchnorm": {"momentum", "eps", "relu"},
}


def _image(shape: tuple[int, ...], what: str) -> tuple[int, int, int]:
    if len(shape) != 3:
        raise _Invalid(f"{what} needs (h, w, c) images, not shape {shape}")
    return shape  # type: ignore[return-value]


def _out_length(size: int, k: int, stride: int, padding: int | str, what: str) -> int:
    """An output length as ``layers._pad_amounts`` computes it, refused when the kernel does not fit."""
    if padding == "same":
        return -(-size // stride)
    out = (size + 2 * padding - k) // stride + 1
    if out < 1:
        raise _Invalid(f"{what}: a {k}-pixel kernel does not fit {size} pixels padded by {2 * padding}")
    return out


def _layer(c: Any, shape: tuple[int, ...], what: str) -> tuple[tuple[int, ...], int]:
    """Check one layer config against the input ``shape``; returns its output shape and parameter count."""
    if not isinstance(c, dict):
        raise _Invalid(f"{what} must be an object, not {c!r}")
    kind = _choice(c.get("type"), f"{what} type", list(_LAYER_KEYS))
    unknown = set(c) - _LAYER_KEYS[kind] - {"type"}
    if unknown:
        raise _Invalid(f"{what} ({kind}) has unknown settings {sorted(unknown)}")
    what = f"{what} ({kind})"
    if kind == "dense":
        if len(shape) != 1:
            raise _Invalid(f"{what} needs flat inputs, not shape {shape}")
        units = _int(c.get("units"), f"{what} units", 1)
        _choice(c.get("init", "normal"), f"{what} init", INITS)
        bias = _bool(c.get("bias", True), f"{what} bias")
        return (units,), shape[0] * units + units * bias
    if kind == "activation":
        _choice(c.get("name"), f"{what} name", list(ACTIVATIONS))
        return shape, 0
    if kind == "reshape":
        new = _dims(c.get("shape"), f"{what} shape")
        if math.prod(new) != math.prod(shape):
            raise _Invalid(f"{what} cannot reshape {shape} to {new}")
        return new, 0
    if kind == "flatten":
        return (math.prod(shape),), 0
    if kind == "dropout":
        _num(c.get("rate"), f"{what} rate", 0.0, 1.0, high_open=True)
        return shape, 0
    if kind == "conv2d":
        h, w, ch = _image(shape, what)
        filters = _int(c.get("filters"), f"{what} filters", 1)
        k = c.get("kernel_size", 3)
        kh, kw = (_int(k, f"{what} kernel size", 1),) * 2 if type(k) is int else _dims(k, f"{what} kernel size", (2,))
        stride = _int(c.get("stride", 1), f"{what} stride", 1)
        padding = c.get("padding", 0)
        if padding != "same":
            padding = _int(padding, f"{what} padding", 0, 1 << 16)
        _choice(c.get("init", "he"), f"{what} init", INITS)
        bias = _bool(c.get("bias", True), f"{what} bias")
        out = (_out_length(h, kh, stride, padding, what), _out_length(w, kw, stride, padding, what), filters)
        return out, kh * kw * ch * filters + filters * bias
    if kind == "maxpool2d":
        h, w, ch = _image(shape, what)
        p = _int(c.get("pool_size", 2), f"{what} pool size", 1)
        s = c.get("stride")
        s = p if s is None else _int(s, f"{what} stride", 1)
        if h < p or w < p:
            raise _Invalid(f"{what}: a {p} x {p} pool does not fit {h} x {w} images")
        return ((h - p) // s + 1, (w - p) // s + 1, ch), 0
    if kind == "globalavgpool":
        return (_image(shape, what)[2],), 0
    _num(c.get("momentum", 0.9), f"{what} momentum", 0.0, 1.0, high_open=True)
    _num(c.get("eps", 1e-5), f"{what} eps", 0.0, 1.0, low_open=True)
    _bool(c.get("relu", False), f"{what} relu")
    return shape, 4 * shape[-1]  # gamma, beta and the two running statistics


def architecture_bytes(arch: Any, batch: int = 1, copies: int = 3) -> int:
    """Check an architecture against the schema without building it; returns the bytes it needs.

    The estimate is ``copies`` of every parameter (the file's arrays, the network's, gradients or
    optimizer state) plus the outputs of every layer for ``batch`` samples, twice (the values a
    forward pass keeps and their gradients). Raises ``ValueError`` naming what is wrong.
    """
    if not isinstance(arch, dict):
        raise _Invalid(f"the architecture must be an object, not {arch!r}")
    unknown = set(arch) - {"input_shape", "layers", "cost", "dtype"}
    if unknown:
        raise _Invalid(f"the architecture has unknown settings {sorted(unknown)}")
    shape = _dims(arch.get("input_shape"), "input_shape")
    _choice(arch.get("cost"), "cost", COSTS)
    itemsize = np.dtype(_choice(arch.get("dtype"), "dtype", DTYPES)).itemsize
    layers = arch.get("layers")
    if not isinstance(layers, list) or not 1 <= len(layers) <= MAX_LAYERS:
        raise _Invalid(f"layers must be a list of 1 to {MAX_LAYERS} layers")
    params, values = 0, math.prod(shape)
    for i, c in enumerate(layers):
        shape, n = _layer(c, shape, f"layer {i}")
        params += n
        values += math.prod(shape)
    return (copies * params + 2 * batch * values) * itemsize


def check_architecture(arch: Any, limit: int | None = None, batch: int = 1, copies: int = 3) -> int:
    """``architecture_bytes`` against ``limit`` (default ``memory_limit_bytes()``); a ``ValueError``
    says "needs N GB, the limit is M GB" for a network that would not fit."""
    need = architecture_bytes(arch, batch, copies)
    cap = memory_limit_bytes() if limit is None else limit
    if need > cap:
        raise _Invalid(f"the network needs {_size(need)}, the limit is {_size(cap)} "
                       f"(raise {LIMIT_ENV})")
    return need


def _check_sections(meta: dict[str, Any]) -> None:
    """The sections other code reads besides the architecture: their types, where present."""
    for key in ("digitnet_version", "created"):
        if key in meta and not isinstance(meta[key], str):
            raise _Invalid(f"{key} must be a string")
    if "test_accuracy" in meta and meta["test_accuracy"] is not None:
        _num(meta["test_accuracy"], "test_accuracy", 0.0, 1.0)
    if "epochs_completed" in meta:
        _int(meta["epochs_completed"], "epochs_completed")
    if "dataset" in meta:
        d = meta["dataset"]
        if not (isinstance(d, dict) and isinstance(d.get("name"), str) and isinstance(d.get("sha256"), str)):
            raise _Invalid("dataset must be an object with a name and a sha256")
    if "training" in meta:
        if not isinstance(meta["training"], dict):
            raise _Invalid("training must be an object")
        if not isinstance(meta["training"].get("command", ""), str):
            raise _Invalid("training.command must be a string")
    if "history" in meta:
        history = meta["history"]
        if not isinstance(history, list):
            raise _Invalid("history must be a list")
        for i, record in enumerate(history):
            if not isinstance(record, dict) or record.get("epoch") != i + 1:
                raise _Invalid(f"history entry {i} must be an object for epoch {i + 1}")
            for k, v in record.items():
                if k != "epoch" and not (type(v) in (int, float) and math.isfinite(v)):
                    raise _Invalid(f"history entry {i}: {k} must be a finite number, not {v!r}")


def _check_checkpoint(meta: dict[str, Any], run: bool) -> None:
    """The sections a resume reads from a checkpoint: settings, generator state, history, and
    with ``run`` those of a ``digitnet train`` run (its command, seed, data set)."""
    training, ck = meta.get("training"), meta.get("checkpoint")
    if not (isinstance(training, dict) and isinstance(ck, dict) and isinstance(meta.get("history"), list)):
        raise _Invalid("a checkpoint needs training, checkpoint and history sections")
    config = training.get("config")
    if not isinstance(config, dict):
        raise _Invalid("training.config must be an object")
    for key, v in config.items():
        if key == "augment":
            if not isinstance(v, dict):
                raise _Invalid("training.config.augment must be an object")
            for name, x in v.items():
                _num(x, f"training.config.augment.{name}", -1e6, 1e6)
        elif key in ("optimizer", "schedule"):
            if not isinstance(v, str):
                raise _Invalid(f"training.config.{key} must be a string, not {v!r}")
        elif key in ("epochs", "batch_size"):
            _int(v, f"training.config.{key}", 1, 1 << 24)
        elif key in ("warmup", "early_stopping"):
            _int(v, f"training.config.{key}", 0, 1 << 24)
        elif key == "refresh_bn":
            _bool(v, f"training.config.{key}")
        else:
            _num(v, f"training.config.{key}", -1e6, 1e6)
    if run or "command" in training:
        if not isinstance(training.get("command"), str):
            raise _Invalid("training.command must be a string")
        _int(training.get("seed"), "training.seed")
        _int(training.get("validation"), "training.validation")
        if training.get("limit") is not None:
            _int(training["limit"], "training.limit", 1)
        for key in ("outliers", "styles", "fat_strokes"):
            if training.get(key) is not None:
                _int(training[key], f"training.{key}", 0, 1 << 24)
    if run or "dataset" in meta:
        dataset = meta.get("dataset")
        if not (isinstance(dataset, dict) and isinstance(dataset.get("name"), str)
                and re.fullmatch(r"[0-9a-f]{64}", str(dataset.get("sha256")))):
            raise _Invalid("dataset must name the data and give its 64-digit sha256")
    epoch = _int(ck.get("epoch"), "checkpoint.epoch", 0, config.get("epochs", 0))
    _int(ck.get("best_epoch"), "checkpoint.best_epoch", 0, epoch)
    _num(ck.get("best_accuracy"), "checkpoint.best_accuracy", -1e300, 1e300)
    if len(meta["history"]) != epoch:
        raise _Invalid(f"the history has {len(meta['history'])} epochs, the checkpoint {epoch}")
    rng = ck.get("rng_state")
    if not (isinstance(rng, dict) and set(rng) == {"bit_generator", "state", "has_uint32", "uinteger"}
            and rng["bit_generator"] == "PCG64" and isinstance(rng["state"], dict)
            and set(rng["state"]) == {"state", "inc"}):
        raise _Invalid("checkpoint.rng_state is not the state of a PCG64 generator")
    for key in ("state", "inc"):
        _int(rng["state"][key], f"checkpoint.rng_state.state.{key}", 0, (1 << 128) - 1)
    _int(rng["has_uint32"], "checkpoint.rng_state.has_uint32", 0, 1)
    _int(rng["uinteger"], "checkpoint.rng_state.uinteger", 0, (1 << 32) - 1)


def check_checkpoint(meta: dict[str, Any], name: str, run: bool = False) -> None:
    """Validate the checkpoint sections of verified ``meta`` (see ``training.load_checkpoint``);
    ``run``: also those that ``digitnet train --resume`` needs."""
    try:
        _check_checkpoint(meta, run)
    except _Invalid as e:
        raise ModelFileError(f"{name} is not a usable checkpoint: {e}") from None


def check_metadata(meta: dict[str, Any], name: str, limit: int | None = None) -> None:
    """Validate a file's metadata (architecture and sections) before anything is built from it."""
    try:
        check_architecture(meta.get("architecture"), limit)
        _check_sections(meta)
    except _Invalid as e:
        raise ModelFileError(f"{name}: {e}") from None


def load_model(path: str | os.PathLike, limit: int | None = None) -> tuple[Network, dict[str, Any]]:
    """Rebuild the network stored at ``path``; returns ``(network, metadata)``.

    The file must hold exactly the network's parameters (a checkpoint may hold optimizer state
    and best weights beside them, ``"opt."`` and ``"best."``).
    """
    meta, arrays = read_model_file(path, limit)
    net = build_from_metadata(meta, arrays, str(path))
    return net, meta


def build_from_metadata(meta: dict[str, Any], arrays: dict[str, np.ndarray], name: str) -> Network:
    """The network of verified ``meta`` with its weights from ``arrays`` (extra ``opt.``/``best.`` allowed)."""
    try:
        net = Network.from_config(meta["architecture"])
        own = net.state_dict()
        weights = {k: v for k, v in arrays.items() if not k.startswith(("opt.", "best.", "detector."))}
        if set(weights) != set(own):
            missing, extra = sorted(set(own) - set(weights)), sorted(set(weights) - set(own))
            raise ValueError(f"missing {missing}, unexpected {extra}")
        net.load_state_dict(weights)
    except (KeyError, TypeError, ValueError) as e:
        raise ModelFileError(f"{name}: the architecture does not match the weights ({_one_line(e)})") from None
    head = {k.removeprefix("detector."): v for k, v in arrays.items() if k.startswith("detector.")}
    if head:
        net.detector = _detector(net, meta, head, name)
    return net


def _detector(net: Network, meta: dict[str, Any], weights: dict[str, np.ndarray], name: str) -> Network:
    """The "not a digit" detector of ``net`` (``digitnet.detector``) from its arrays and section."""
    section = meta.get("reject", {}).get("detector") if isinstance(meta.get("reject"), dict) else None
    try:
        if not isinstance(section, dict):
            raise ValueError("no reject.detector section describes them")
        _num(section.get("threshold"), "reject.detector.threshold", 0.0, 1.0)
        _num(section.get("floor"), "reject.detector.floor", 0.0, 1.0)
        at = _int(section.get("features"), "reject.detector.features", -1, len(net.layers) - 1)
        check_architecture(section.get("architecture"))
        head = Network.from_config(section["architecture"])
        head.load_state_dict(weights)
        width = detector_features(net, np.zeros((1, *net.input_shape), net.dtype), at)[0].shape[1]
        if head.input_shape != (width,) or head.output_shape != (1,):
            raise ValueError(f"it reads {head.input_shape} and gives {head.output_shape}, where the "
                             f"features are ({width},) and its answer one number")
    except (_Invalid, KeyError, TypeError, ValueError) as e:
        raise ModelFileError(f"{name}: the detector's arrays do not fit the model ({_one_line(e)})") from None
    return head
