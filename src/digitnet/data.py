"""Data files: IDX and legacy-pickle readers, SHA-256 checks, the per-user cache, downloads, splits.

MNIST ships as four IDX files (LeCun et al.). An IDX file is a big-endian header -- the magic
``00 00 <type code> <ndim>`` and then ``ndim`` uint32 sizes -- followed by the raw array. Each file
is checked against the SHA-256 of its *decompressed* bytes before it is used, so one digest holds
for a ``.gz`` and a raw copy alike, and a model file can record exactly which data it was trained
on (`Dataset.sha256`).

The splits follow Nielsen's ``mnist_loader``: the first 50,000 training images train, the last
10,000 validate, and the 10,000 ``t10k`` images test. Images become rows of 784 float32 pixels in
[0, 1] (batches are rows: ``X.shape == (n, 784)``); labels stay int64, and `one_hot` turns them
into the ``(n, 10)`` targets a cost compares against.
"""

from __future__ import annotations

import codecs
import hashlib
import http.client
import io
import math
import os
import pickle
import urllib.request
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
from tqdm import tqdm

from . import safeio

try:
    from numpy._core import multiarray as _multiarray  # NumPy >= 2
except ImportError:
    from numpy.core import multiarray as _multiarray  # NumPy 1.x


class DataError(Exception):
    """One-line, user-facing problem with a data file: which file, what is wrong, what to do."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.splitlines()))


@dataclass(frozen=True)
class Split:
    """One part of a dataset.

    Attributes
    ----------
    X : np.ndarray
        Images as rows, shape ``(n, 784)``, float32 in [0, 1].
    y : np.ndarray
        Labels, shape ``(n,)``, int64 in 0..9.
    """

    X: np.ndarray
    y: np.ndarray

    def __post_init__(self) -> None:
        if self.X.ndim != 2 or self.y.ndim != 1 or len(self.X) != len(self.y):
            raise ValueError(f"Split needs X (n, d) and y (n,), got {self.X.shape} and {self.y.shape}")


@dataclass(frozen=True)
class Dataset:
    """Train, validation and test splits, with a digest that identifies the source files.

    Attributes
    ----------
    name : str
        ``"mnist"``, ``"fashion-mnist"`` or ``"mnist-legacy"``.
    train, validation, test : Split
        `validation` is None when every training image is used for training.
    sha256 : str
        Hex digest identifying the data: for IDX datasets the SHA-256 of the four file digests
        concatenated in `FILES` order, for a legacy pickle the SHA-256 of its decompressed bytes.
    """

    name: str
    train: Split
    validation: Split | None
    test: Split
    sha256: str


FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
TEST_FILES = FILES[2:]
"""The two files of the test set: all that scoring a model needs."""


@dataclass(frozen=True)
class DatasetSpec:
    """Where a dataset's four IDX files come from and what they must hash to.

    Attributes
    ----------
    sha256 : dict[str, str]
        SHA-256 of each *decompressed* file, keyed by the names in `FILES`.
    mirrors : tuple[str, ...]
        Base URLs tried in order; ``<base>/<file>.gz`` is fetched.
    url_env : str
        Environment variable whose value, when set, replaces `mirrors` with a single base URL.
    system_dirs : tuple[Path, ...]
        Read-only directories (a distribution package) searched after the data directory.
    """

    sha256: dict[str, str]
    mirrors: tuple[str, ...]
    url_env: str
    system_dirs: tuple[Path, ...] = ()


DATASETS: dict[str, DatasetSpec] = {
    "mnist": DatasetSpec(
        sha256={
            "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
            "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
            "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
            "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
        },
        mirrors=(
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
        ),
        url_env="DIGITNET_MNIST_URL",
    ),
    "fashion-mnist": DatasetSpec(
        sha256={
            "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
            "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
            "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
            "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
        },
        mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        url_env="DIGITNET_FASHION_MNIST_URL",
        system_dirs=(Path("/usr/share/datasets/fashion-mnist"),),
    ),
}

DOWNLOAD_TIMEOUT = 30.0  # seconds a connection may stay silent before a download is abandoned

# IDX type code -> element dtype; multi-byte types are big-endian on disk.
_IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def evaluation_dataset(meta: dict) -> str:
    """The dataset whose test set measures a model, read from its metadata (MNIST if it does not say).

    A model trained on the legacy ``mnist.pkl.gz`` is an MNIST model, measured on MNIST's test set.
    """
    dataset = meta.get("dataset")
    name = dataset.get("name") if isinstance(dataset, dict) else None
    return name if isinstance(name, str) and name != "mnist-legacy" else "mnist"


def _identify(file: str, sha256: str) -> str | None:
    """The other dataset whose ``file`` has this hash, if any (MNIST files given for Fashion-MNIST...)."""
    return next((name for name, spec in DATASETS.items() if spec.sha256.get(file) == sha256), None)


def default_data_dir(name: str) -> Path:
    """Per-user cache for dataset `name`: ``$XDG_CACHE_HOME/digitnet/<name>`` (default ``~/.cache``)."""
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "digitnet" / name


def one_hot(y: np.ndarray, k: int = 10) -> np.ndarray:
    """Turn labels into one-hot rows: ``Y[i] = e_{y[i]}``; the label ``k`` gives the uniform row.

    The label ``k`` marks an image of no class at all (``digitnet.outliers``: not a digit). Its
    target ``1/k`` in every column is outlier exposure's (Hendrycks et al. 2019): trained towards
    it, the network answers such images with low confidence everywhere.

    Parameters
    ----------
    y : np.ndarray
        Integer labels, shape ``(n,)``, each in ``0..k`` (``k``: none of the classes).
    k : int
        Number of classes.

    Returns
    -------
    np.ndarray
        Shape ``(n, k)``, float32, a single 1 per row (``1/k`` everywhere for the label ``k``).
    """
    y = np.asarray(y)
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"one_hot needs 1-D integer labels, got {y.dtype} {y.shape}")
    if y.size and (y.min() < 0 or y.max() > k):
        raise ValueError(f"labels must lie in 0..{k} ({k}: none of the classes), got {y.min()}..{y.max()}")
    table = np.vstack([np.eye(k, dtype=np.float32), np.full((1, k), 1 / k, np.float32)])  # (k + 1, k)
    return table[y]  # (n, k)


MAX_IDX_BYTES = 1 << 30
"""The largest IDX file ``read_idx`` decompresses (MNIST's largest is 47 MB)."""
MAX_LEGACY_BYTES = 300 << 20
"""The largest legacy pickle read (the classic ``mnist.pkl.gz`` holds 220 MB)."""
# The decompressed size of each file of MNIST and Fashion-MNIST (the same for both).
IDX_SIZES = {
    "train-images-idx3-ubyte": 16 + 60_000 * 28 * 28,
    "train-labels-idx1-ubyte": 8 + 60_000,
    "t10k-images-idx3-ubyte": 16 + 10_000 * 28 * 28,
    "t10k-labels-idx1-ubyte": 8 + 10_000,
}


def _inflate(raw: bytes, limit: int, path: Path, partial: bool = False) -> bytes | bytearray:
    """Gunzip ``raw`` if it starts with the gzip magic ``1f 8b`` (else return it), never producing
    more than ``limit`` bytes: a gzip bomb stops as soon as it passes the size it may have.

    Sniffing the magic (IDX files start with ``00 00``) means a file's name does not matter.
    With ``partial``, return the first ``limit`` bytes (or fewer, for a short stream) quietly.
    The output grows 1 MB at a time in one buffer, so the memory taken is the output's own.
    """
    if raw[:2] != b"\x1f\x8b":
        if len(raw) > limit and not partial:
            raise DataError(f"{path}: {len(raw)} bytes, more than the {limit} it may have")
        return raw[:limit]
    out = bytearray()
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    data = raw
    while True:
        out += inflater.decompress(data, min(1 << 20, limit + 1 - len(out)))  # at most one byte past the limit
        data = inflater.unconsumed_tail
        if len(out) > limit:
            if partial:
                del out[limit:]
                return out
            raise DataError(f"{path}: has trailing bytes: decompresses to more than the {limit} bytes "
                            "it may have (a gzip bomb, or the wrong file)")
        if inflater.eof:
            data = inflater.unused_data
            if not data.strip(b"\x00"):  # gzip allows zero padding after the last member
                return out
            inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)  # another gzip member follows
        elif not data:
            if partial:
                return out
            raise DataError(f"{path}: cannot decompress: the gzip stream is cut short")


def _read_raw(path: Path, limit: int) -> bytes:
    """The bytes of ``path`` as stored, refused unread when not a regular file or larger than
    ``limit`` (plus what gzip may add to a file that does not compress)."""
    if path.exists() and not path.is_file():
        raise DataError(f"{path}: not a regular file")
    if path.stat().st_size > limit + (limit >> 10) + 1024:
        raise DataError(f"{path}: {path.stat().st_size} bytes, more than the {limit} it may have")
    return path.read_bytes()


def _read_bytes(path: Path, limit: int) -> bytes | bytearray:
    """The decompressed contents of `path` (at most ``limit`` bytes), or a DataError that names the file."""
    try:
        return _inflate(_read_raw(path, limit), limit, path)
    except FileNotFoundError as e:
        raise DataError(f"{path}: file not found") from e
    except (OSError, zlib.error) as e:
        raise DataError(f"{path}: cannot read or decompress ({e})") from e


def _read_idx_bytes(path: Path, limit: int = MAX_IDX_BYTES) -> bytes | bytearray:
    """The decompressed IDX bytes of `path`: no more than its header declares, nor than ``limit``.

    Of a gzipped file the header (at most 1 KB) is inflated first, then the whole file up to the
    size the header declares, so a stream that goes on is refused after that many bytes, not
    after gigabytes. A raw file was refused by its size on disk; ``_parse_idx`` checks the rest.
    """
    try:
        raw = _read_raw(path, limit)
        head = _inflate(raw, 4 + 4 * 255, path, partial=True)
        gzipped = raw[:2] == b"\x1f\x8b"
        if gzipped and head[:2] == b"\x00\x00" and len(head) >= 4 and head[2] in _IDX_DTYPES and head[3] \
                and len(head) >= 4 + 4 * head[3]:
            ndim = head[3]
            shape = [int.from_bytes(head[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
            declared = 4 + 4 * ndim + math.prod(shape) * _IDX_DTYPES[head[2]].itemsize
            if declared > limit:
                raise DataError(f"{path}: its header declares shape {tuple(shape)}, {declared} bytes, "
                                f"more than the {limit} it may have")
            limit = declared
        return _inflate(raw, limit, path)
    except FileNotFoundError as e:
        raise DataError(f"{path}: file not found") from e
    except (OSError, zlib.error) as e:
        raise DataError(f"{path}: cannot read or decompress ({e})") from e


def _parse_idx(data: bytes | bytearray, path: Path) -> np.ndarray:
    """Decode the IDX bytes `data` (read from `path`, named in errors) into a native-endian array."""
    if len(data) < 4 or data[:2] != b"\x00\x00" or data[3] == 0:
        raise DataError(f"{path}: not an IDX file (magic {data[:4].hex()}, expected 0000<type><ndim>)")
    dtype = _IDX_DTYPES.get(data[2])
    if dtype is None:
        raise DataError(f"{path}: unknown IDX type code 0x{data[2]:02x}")
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"{path}: truncated IDX header ({len(data)} bytes, {ndim} sizes expected)")
    shape = tuple(int(d) for d in np.frombuffer(data, ">u4", ndim, offset=4))
    expected = header + math.prod(shape) * dtype.itemsize
    if len(data) != expected:
        problem = "truncated" if len(data) < expected else "has trailing bytes"
        raise DataError(f"{path}: {problem}: header says shape {shape} = {expected} bytes, file has {len(data)}")
    array = np.frombuffer(data, dtype, offset=header).reshape(shape)
    return array.astype(dtype.newbyteorder("="))  # a writable, native-endian copy


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file, gzipped or raw.

    The header is checked against the file: the magic, the type code, a non-zero number of
    dimensions, and that the sizes it gives account for exactly the bytes that follow.

    Parameters
    ----------
    path : str or os.PathLike
        An IDX file such as ``train-images-idx3-ubyte.gz``.

    Returns
    -------
    np.ndarray
        The array with the shape from the header, e.g. ``(60000, 28, 28)`` uint8 for images.

    Raises
    ------
    DataError
        When the file is missing, cannot be decompressed, or its header does not fit its size.
    """
    path = Path(path)
    try:
        return _parse_idx(_read_idx_bytes(path), path)
    except DataError as e:
        raise DataError(f"{e}; replace it with an intact copy") from e


def _find(file: str, dirs: Iterable[Path]) -> Path | None:
    """The first ``<dir>/<file>`` or ``<dir>/<file>.gz`` that exists, searching `dirs` in order."""
    for d in dirs:
        for candidate in (d / file, d / f"{file}.gz"):
            if candidate.is_file():
                return candidate
    return None


def _fetch(url: str, out: BinaryIO, progress: bool, limit: int) -> None:
    """Stream `url` into `out`, with a progress bar; a short body raises ConnectionError, one
    longer than ``limit`` bytes (a server that never stops) ValueError.

    ``http.client`` returns an empty read when a server closes early, even with a Content-Length
    still unmet, so the byte count is checked here.
    """
    with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT) as response:
        length = response.headers.get("Content-Length")
        total = int(length) if length else None
        received = 0
        desc = url.rsplit("/", 1)[-1]
        with tqdm(total=total, unit="B", unit_scale=True, desc=desc, disable=not progress, leave=False) as bar:
            while chunk := response.read(1 << 16):
                out.write(chunk)
                received += len(chunk)
                bar.update(len(chunk))
                if received > limit:
                    raise ValueError(f"more than the {limit} bytes the file can have")
    if total is not None and received != total:
        raise ConnectionError(f"connection closed after {received} of {total} bytes")


def _download(file: str, spec: DatasetSpec, target: Path, progress: bool) -> Path:
    """Fetch ``<file>.gz`` into `target`, verify it, and move it into place atomically.

    The bytes go to a hidden temporary file in `target` (``safeio.new_temporary``, so `os.replace`
    is a rename on one file system, and one left by a killed run is cleaned up by the next); only
    a file whose decompressed SHA-256 matches is renamed to ``<file>.gz``. Each mirror is tried in
    turn; the temporary file is removed whatever happens.
    """
    env_url = os.environ.get(spec.url_env)
    bases = (env_url,) if env_url else spec.mirrors
    try:
        target.mkdir(parents=True, exist_ok=True)
        fd, tmp = safeio.new_temporary(target)
    except OSError as e:
        raise DataError(f"{target}: cannot write {file}.gz there ({e}); choose a writable data_dir") from e
    os.close(fd)
    errors = []
    try:
        for base in bases:
            url = f"{base.rstrip('/')}/{file}.gz"
            try:
                with tmp.open("wb") as out:
                    _fetch(url, out, progress, IDX_SIZES[file])
                actual = hashlib.sha256(_inflate(tmp.read_bytes(), IDX_SIZES[file], tmp)).hexdigest()
            except (OSError, zlib.error, http.client.HTTPException, ValueError, DataError) as e:
                errors.append(f"{url} ({e})")
                continue
            if actual != spec.sha256[file]:
                expected = spec.sha256[file]
                errors.append(f"{url} (SHA-256 mismatch: got {actual[:12]}..., expected {expected[:12]}...)")
                continue
            dest = target / f"{file}.gz"
            os.replace(tmp, dest)
            return dest
    finally:
        tmp.unlink(missing_ok=True)
    raise DataError(
        f"{file}.gz: download failed from {'; '.join(errors)}; check the network, "
        f"set {spec.url_env} to a working mirror, or copy the files into {target}"
    )


def _split(X: np.ndarray, y: np.ndarray, validation: int) -> tuple[Split, Split | None]:
    """Hold out the *last* `validation` rows, as the classic loader does; 0 holds out nothing."""
    is_int = isinstance(validation, (int, np.integer)) and not isinstance(validation, bool)
    if not is_int or not 0 <= validation < len(X):
        raise ValueError(f"validation must be an int in [0, {len(X)}), got {validation!r}")
    if validation == 0:
        return Split(X, y), None
    n_train = len(X) - validation
    return Split(X[:n_train], y[:n_train]), Split(X[n_train:], y[n_train:])


def _images_to_rows(images: np.ndarray) -> np.ndarray:
    """uint8 images ``(n, 28, 28)`` -> float32 rows ``(n, 784)`` in [0, 1]."""
    X = images.reshape(len(images), -1).astype(np.float32)  # (n, 784)
    X /= 255
    return X


def load_dataset(
    name: str = "mnist",
    data_dir: str | os.PathLike[str] | None = None,
    validation: int = 10_000,
    download: bool = True,
    progress: bool = True,
) -> Dataset:
    """Load MNIST or Fashion-MNIST from IDX files, downloading them first if needed.

    Each of the four files (see `FILES`) is looked up as ``<file>`` or ``<file>.gz`` in the data
    directory -- `data_dir` if given, else ``$DIGITNET_DATA_DIR``, each as the dataset's folder or
    its parent (see :func:`dataset_dir`), else ``default_data_dir(name)`` -- and then in the
    dataset's read-only system directories (``/usr/share/datasets/fashion-mnist`` from Debian's
    ``dataset-fashion-mnist``). Missing files
    are downloaded into the data directory from the mirrors, or from the single base URL in
    ``$DIGITNET_MNIST_URL`` / ``$DIGITNET_FASHION_MNIST_URL`` when set.

    Every file must match its SHA-256. A mismatching file in the default cache is one we
    downloaded, so it is deleted (the next run fetches it again); a mismatching file anywhere else
    belongs to the user and is left alone. Either way a DataError names it (as the other dataset's
    file, when it is a genuine file of another dataset).

    Parameters
    ----------
    name : str
        A key of `DATASETS`: ``"mnist"`` or ``"fashion-mnist"``.
    data_dir : str or os.PathLike, optional
        Directory that holds (or receives) the four files.
    validation : int
        How many of the 60,000 training images, taken from the end, form the validation split;
        0 trains on all of them and leaves ``Dataset.validation`` None.
    download : bool
        Fetch missing files; if False, a missing file raises DataError.
    progress : bool
        Show a progress bar while downloading.

    Returns
    -------
    Dataset
        ``train`` (60,000 - validation rows), ``validation``, ``test`` (10,000 rows).

    Raises
    ------
    DataError
        A file is missing, corrupt, fails its SHA-256, or cannot be downloaded.
    ValueError
        `name` is unknown or `validation` is out of range.
    """
    spec = DATASETS.get(name)
    if spec is None:
        raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    arrays = _load_files(name, spec, data_dir, FILES, download, progress)
    X = _images_to_rows(arrays["train-images-idx3-ubyte"])  # (60000, 784)
    y = arrays["train-labels-idx1-ubyte"].astype(np.int64)  # (60000,)
    train, held_out = _split(X, y, validation)
    X_test = _images_to_rows(arrays["t10k-images-idx3-ubyte"])  # (10000, 784)
    test = Split(X_test, arrays["t10k-labels-idx1-ubyte"].astype(np.int64))
    digest = hashlib.sha256("".join(spec.sha256[file] for file in FILES).encode()).hexdigest()
    return Dataset(name, train, held_out, test, digest)


def load_test_set(
    name: str = "mnist",
    data_dir: str | os.PathLike[str] | None = None,
    download: bool = True,
    progress: bool = True,
) -> Split:
    """The 10,000 test images of `name`, from its two test files alone (``t10k-*``): scoring a
    model needs neither the training files nor their download. Looked up, checked and
    downloaded as in :func:`load_dataset`, whose parameters these are."""
    spec = DATASETS.get(name)
    if spec is None:
        raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    arrays = _load_files(name, spec, data_dir, TEST_FILES, download, progress)
    X = _images_to_rows(arrays["t10k-images-idx3-ubyte"])  # (10000, 784)
    return Split(X, arrays["t10k-labels-idx1-ubyte"].astype(np.int64))


def dataset_dir(name: str, folder: str | os.PathLike[str], parent: bool = False) -> Path:
    """The folder that holds `name`'s files, given either that folder or its parent.

    ``--data-dir`` and ``$DIGITNET_DATA_DIR`` both accept either: ``folder`` itself when it holds
    one of the dataset's files, else ``folder/<name>`` when that does. A folder holding neither
    receives the downloads: in ``folder/<name>`` when ``parent`` (how ``$DIGITNET_DATA_DIR`` is
    documented), else in ``folder`` (how ``--data-dir`` is).
    """
    base = Path(folder)
    if any(_find(file, (base,)) for file in FILES):
        return base
    if parent or any(_find(file, (base / name,)) for file in FILES):
        return base / name
    return base


def _load_files(name: str, spec: DatasetSpec, data_dir: str | os.PathLike[str] | None, files: Iterable[str],
                download: bool, progress: bool) -> dict[str, np.ndarray]:
    """Find (or download), check and parse ``files`` of dataset `name`: ``{file: array}``."""
    cache = default_data_dir(name)
    if data_dir is not None:
        target = dataset_dir(name, data_dir)
    elif os.environ.get("DIGITNET_DATA_DIR"):
        target = dataset_dir(name, os.environ["DIGITNET_DATA_DIR"], parent=True)
    else:
        target = cache

    paths = {file: _find(file, (target, *spec.system_dirs)) for file in files}
    missing = [file for file, path in paths.items() if path is None]
    if missing and not download:
        raise DataError(f"{name}: {', '.join(missing)} not found in {target}; allow downloads or copy the files there")
    for file in missing:
        paths[file] = _download(file, spec, target, progress)

    arrays = {}
    for file, path in paths.items():
        owned = path.parent == cache  # only the cache is ours to clean up
        hint = f"replace it with an original {name} file, or delete it to download again"
        try:
            data = _read_idx_bytes(path, IDX_SIZES[file])
            actual = hashlib.sha256(data).hexdigest()
            if actual != spec.sha256[file]:
                other = _identify(file, actual)
                if other is not None:  # a good file, of another dataset: say so, and do not call it corrupt
                    hint = f"point --data-dir (or DIGITNET_DATA_DIR) at the {name} files"
                    raise DataError(f"{path} is the {other} {file} file, not {name}'s")
                expected = spec.sha256[file]
                raise DataError(f"{path}: SHA-256 mismatch (got {actual[:12]}..., expected {expected[:12]}...)")
            arrays[file] = _parse_idx(data, path)
        except DataError as e:
            if owned:
                path.unlink(missing_ok=True)
                raise DataError(f"{e}; deleted this cached copy, run again to download it afresh") from e
            raise DataError(f"{e}; {hint}") from e
    return arrays


def _latin1_encode(text: str, encoding: str) -> bytes:
    """Stand-in for ``_codecs.encode``: Python 3 writes bytes into protocol-2 pickles that way."""
    if encoding != "latin1":
        raise DataError(f"refusing _codecs.encode with encoding {encoding!r}")
    return codecs.encode(text, "latin1")


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that rebuilds NumPy arrays and nothing else.

    A pickle is a small program: a GLOBAL opcode imports any callable by name and REDUCE calls it
    with arguments from the file, so unpickling a hostile file without restrictions can run ``os.system``.
    Arrays need only the constructors below; every other name is refused before it is imported.
    """

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"): _multiarray._reconstruct,
        ("numpy._core.multiarray", "_reconstruct"): _multiarray._reconstruct,
        ("numpy.core.multiarray", "scalar"): _multiarray.scalar,
        ("numpy._core.multiarray", "scalar"): _multiarray.scalar,
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("_codecs", "encode"): _latin1_encode,
    }

    def find_class(self, module: str, name: str) -> object:
        try:
            return self._ALLOWED[module, name]
        except KeyError:
            raise DataError(f"refusing to unpickle {module}.{name}: only NumPy arrays are allowed") from None


def _legacy_split(part: object, path: Path, which: str) -> Split:
    """Check one ``(images, labels)`` pair of a legacy pickle and convert it to a Split."""
    if not (isinstance(part, tuple) and len(part) == 2 and all(isinstance(a, np.ndarray) for a in part)):
        raise DataError(f"{path}: the {which} part is not an (images, labels) pair of arrays")
    X, y = part
    if X.ndim != 2 or X.shape[1] != 784 or X.dtype.kind != "f" or y.shape != (len(X),) or y.dtype.kind not in "iu":
        raise DataError(
            f"{path}: the {which} part has images {X.dtype} {X.shape} and labels {y.dtype} {y.shape}, "
            "expected float (n, 784) and integer (n,)"
        )
    if X.size and not np.isfinite(X).all():  # NaN compares false with everything: test it first
        raise DataError(f"{path}: the {which} part has NaN or infinite pixels")
    if X.size and (X.min() < 0 or X.max() > 1) or y.size and (y.min() < 0 or y.max() > 9):
        raise DataError(f"{path}: the {which} part has pixels outside [0, 1] or labels outside 0..9")
    return Split(X.astype(np.float32, copy=False), y.astype(np.int64, copy=False))


def _legacy_splits(data: bytes, path: Path) -> tuple[Split, Split, Split]:
    """Unpickle `data` with `RestrictedUnpickler` and check it is three (images, labels) pairs."""
    try:
        parts = RestrictedUnpickler(io.BytesIO(data), encoding="latin1").load()
    except Exception as e:  # a damaged pickle can fail with almost any exception type
        raise DataError(f"{path}: not a legacy MNIST pickle ({e})") from e
    if not (isinstance(parts, tuple) and len(parts) == 3):
        raise DataError(f"{path}: expected a tuple (training, validation, test), got {type(parts).__name__}")
    train, held_out, test = parts
    return (
        _legacy_split(train, path, "training"),
        _legacy_split(held_out, path, "validation"),
        _legacy_split(test, path, "test"),
    )


def load_legacy_pickle(path: str | os.PathLike[str], validation: int | None = None) -> Dataset:
    """Load the classic ``mnist.pkl.gz`` (Nielsen / deeplearning.net) without trusting pickle.

    The file is a gzipped protocol-2 pickle of ``(training, validation, test)``, each a pair
    ``(images float32 (n, 784), labels int64 (n,))``; Python 2 wrote it, hence latin1 decoding.
    It is read with `RestrictedUnpickler`, so it can only ever produce arrays.

    Parameters
    ----------
    path : str or os.PathLike
        The pickle, gzipped or not.
    validation : int, optional
        None keeps the split stored in the file (50,000 / 10,000 for the classic one). An int
        re-splits training + validation the way `load_dataset` does: the last `validation` rows
        validate, 0 trains on all of them.

    Returns
    -------
    Dataset
        Named ``"mnist-legacy"``; its ``sha256`` is that of the decompressed file.

    Raises
    ------
    DataError
        The file is unreadable, asks for anything but arrays, or holds the wrong shapes.
    ValueError
        `validation` is out of range.
    """
    path = Path(path)
    try:
        data = _read_bytes(path, MAX_LEGACY_BYTES)
        train, held_out, test = _legacy_splits(data, path)
    except DataError as e:
        raise DataError(f"{e}; use an intact original mnist.pkl.gz") from e
    if validation is not None:
        X = np.concatenate([train.X, held_out.X])  # (n_train + n_validation, 784)
        y = np.concatenate([train.y, held_out.y])  # (n_train + n_validation,)
        train, held_out = _split(X, y, validation)
    return Dataset("mnist-legacy", train, held_out, test, hashlib.sha256(data).hexdigest())
