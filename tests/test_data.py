"""Tests for digitnet.data: IDX parsing, SHA-256 checks, splits, downloads, the restricted unpickler."""

import codecs
import functools
import gzip
import hashlib
import http.server
import os
import pickle
import socket
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from digitnet import data
from digitnet.data import (
    DATASETS,
    FILES,
    DataError,
    Split,
    default_data_dir,
    load_dataset,
    load_legacy_pickle,
    one_hot,
    read_idx,
)

FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch, tmp_path):
    """Keep every test away from the real cache and the caller's DIGITNET_* variables."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    for var in ("DIGITNET_DATA_DIR", "DIGITNET_MNIST_URL", "DIGITNET_FASHION_MNIST_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(data, "DOWNLOAD_TIMEOUT", 5.0)


@pytest.fixture(scope="module")
def mnist(mnist_dir):
    return load_dataset("mnist", mnist_dir, download=False, progress=False)


def one_line(excinfo: pytest.ExceptionInfo) -> str:
    message = str(excinfo.value)
    assert message and "\n" not in message
    return message


def idx_bytes(array: np.ndarray, code: int) -> bytes:
    """Encode `array` as IDX: magic 00 00 <code> <ndim>, big-endian uint32 sizes, big-endian data."""
    header = bytes([0, 0, code, array.ndim]) + np.array(array.shape, ">u4").tobytes()
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def link_mnist(mnist_dir: Path, dest: Path, skip: tuple[str, ...] = ()) -> None:
    """Fill `dest` with symlinks to the real MNIST .gz files, except the files named in `skip`."""
    dest.mkdir(parents=True, exist_ok=True)
    for file in FILES:
        if file not in skip:
            (dest / f"{file}.gz").symlink_to(mnist_dir / f"{file}.gz")


def write_corrupt(src: Path, dest: Path) -> None:
    """Write `src` re-gzipped with its last byte flipped: still a valid IDX file, wrong SHA-256."""
    raw = bytearray(gzip.decompress(src.read_bytes()))
    raw[-1] ^= 0xFF
    dest.write_bytes(gzip.compress(bytes(raw), compresslevel=1))


# --- the real MNIST -----------------------------------------------------------------------------


def test_mnist_splits_have_classic_shapes_and_dtypes(mnist):
    assert mnist.name == "mnist"
    for split, n in ((mnist.train, 50_000), (mnist.validation, 10_000), (mnist.test, 10_000)):
        assert split.X.shape == (n, 784) and split.X.dtype == np.float32
        assert split.y.shape == (n,) and split.y.dtype == np.int64
        assert split.X.min() == 0.0 and split.X.max() == 1.0
        assert set(np.unique(split.y)) == set(range(10))


def test_mnist_label_counts(mnist):
    assert np.bincount(mnist.test.y).tolist() == MNIST_TEST_COUNTS
    all_train = np.concatenate([mnist.train.y, mnist.validation.y])
    assert np.bincount(all_train).tolist() == MNIST_TRAIN_COUNTS


def test_validation_is_the_last_rows_and_pixels_are_bytes_over_255(mnist, mnist_dir):
    images = read_idx(mnist_dir / "train-images-idx3-ubyte.gz")  # (60000, 28, 28) uint8
    labels = read_idx(mnist_dir / "train-labels-idx1-ubyte.gz")
    np.testing.assert_array_equal(mnist.validation.y, labels[-10_000:])
    np.testing.assert_array_equal(mnist.train.X[7], images[7].reshape(784) / np.float32(255))
    np.testing.assert_array_equal(mnist.validation.X[-1], images[-1].reshape(784) / np.float32(255))


def test_dataset_sha256_combines_the_file_digests(mnist):
    digests = "".join(DATASETS["mnist"].sha256[file] for file in FILES)
    assert mnist.sha256 == hashlib.sha256(digests.encode()).hexdigest()


def test_validation_zero_trains_on_all_60k(mnist_dir):
    ds = load_dataset("mnist", mnist_dir, validation=0, download=False)
    assert ds.validation is None
    assert ds.train.X.shape == (60_000, 784)
    assert np.bincount(ds.train.y).tolist() == MNIST_TRAIN_COUNTS


def test_data_dir_env_var_names_a_root_and_raw_files_work(monkeypatch, tmp_path, mnist_dir):
    root = tmp_path / "data"
    link_mnist(mnist_dir, root / "mnist", skip=("t10k-labels-idx1-ubyte",))
    raw = gzip.decompress((mnist_dir / "t10k-labels-idx1-ubyte.gz").read_bytes())
    (root / "mnist" / "t10k-labels-idx1-ubyte").write_bytes(raw)
    monkeypatch.setenv("DIGITNET_DATA_DIR", str(root))
    ds = load_dataset(validation=0, download=False)
    assert np.bincount(ds.test.y).tolist() == MNIST_TEST_COUNTS


def test_missing_files_without_download_raise(tmp_path):
    with pytest.raises(DataError) as excinfo:
        load_dataset("mnist", tmp_path / "empty", download=False)
    assert "train-images-idx3-ubyte" in one_line(excinfo)
    assert not (tmp_path / "empty").exists()


def test_unknown_dataset_is_a_value_error():
    with pytest.raises(ValueError, match="kmnist"):
        load_dataset("kmnist")


@pytest.mark.parametrize("damage", ["flip", "truncate"])
def test_bad_file_in_user_dir_is_reported_and_kept(tmp_path, mnist_dir, damage):
    user_dir = tmp_path / "mine"
    link_mnist(mnist_dir, user_dir, skip=("train-labels-idx1-ubyte",))
    bad = user_dir / "train-labels-idx1-ubyte.gz"
    src = mnist_dir / bad.name
    if damage == "flip":
        write_corrupt(src, bad)
    else:
        bad.write_bytes(src.read_bytes()[:-100])
    with pytest.raises(DataError) as excinfo:
        load_dataset("mnist", user_dir, download=False)
    message = one_line(excinfo)
    assert str(bad) in message
    assert ("SHA-256" if damage == "flip" else "decompress") in message
    assert bad.exists()


def test_bad_file_in_cache_is_deleted(mnist_dir):
    cache = default_data_dir("mnist")
    link_mnist(mnist_dir, cache, skip=("train-labels-idx1-ubyte",))
    bad = cache / "train-labels-idx1-ubyte.gz"
    write_corrupt(mnist_dir / bad.name, bad)
    with pytest.raises(DataError) as excinfo:
        load_dataset("mnist", download=False)
    message = one_line(excinfo)
    assert str(bad) in message and "deleted" in message
    assert not bad.exists()
    assert (cache / "train-images-idx3-ubyte.gz").exists()


def test_another_datasets_file_is_named_as_such(tmp_path, mnist_dir):
    mine = tmp_path / "mine"
    link_mnist(mnist_dir, mine)
    with pytest.raises(DataError) as excinfo:
        load_dataset("fashion-mnist", mine, download=False)
    message = one_line(excinfo)
    assert message.endswith("is the mnist train-images-idx3-ubyte file, not fashion-mnist's; "
                            "point --data-dir (or DIGITNET_DATA_DIR) at the fashion-mnist files")
    assert all((mine / f"{file}.gz").exists() for file in FILES)  # the user's files are left alone
    cache = default_data_dir("fashion-mnist")  # in the cache, it is ours to replace
    link_mnist(mnist_dir, cache)
    with pytest.raises(DataError) as excinfo:
        load_dataset("fashion-mnist", download=False)
    message = one_line(excinfo)
    assert "is the mnist train-images-idx3-ubyte file, not fashion-mnist's; deleted this cached copy" in message
    assert not (cache / "train-images-idx3-ubyte.gz").exists() and (mnist_dir / "train-images-idx3-ubyte.gz").exists()


def test_the_evaluation_dataset_of_a_model():
    assert data.evaluation_dataset({"dataset": {"name": "fashion-mnist"}}) == "fashion-mnist"
    assert data.evaluation_dataset({"dataset": {"name": "mnist-legacy"}}) == "mnist"  # the classic pickle is MNIST
    for meta in ({}, {"dataset": "mnist"}, {"dataset": {"name": 7}}):  # absent or hand-edited
        assert data.evaluation_dataset(meta) == "mnist"


def test_fashion_mnist_loads_from_the_debian_package(tmp_path):
    assert FASHION_DIR.is_dir(), f"{FASHION_DIR} missing: apt-get install dataset-fashion-mnist"
    ds = load_dataset("fashion-mnist", tmp_path / "empty", download=False)
    assert ds.name == "fashion-mnist"
    assert ds.train.X.shape == (50_000, 784) and ds.validation.X.shape == (10_000, 784)
    assert ds.test.X.shape == (10_000, 784) and ds.test.X.dtype == np.float32
    assert np.bincount(ds.test.y).tolist() == [1000] * 10
    assert np.bincount(np.concatenate([ds.train.y, ds.validation.y])).tolist() == [6000] * 10
    assert not (tmp_path / "empty").exists()


# --- read_idx on tiny synthetic files -----------------------------------------------------------


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize(
    "array, code",
    [
        (np.arange(24, dtype=np.uint8).reshape(2, 3, 4), 0x08),
        (np.array([-70_000, 0, 3], dtype=np.int32), 0x0C),
        (np.array([[0.5, -1.25]], dtype=np.float32), 0x0D),
    ],
)
def test_read_idx_round_trips(tmp_path, array, code, compress):
    path = tmp_path / "x-idx"
    encoded = idx_bytes(array, code)
    path.write_bytes(gzip.compress(encoded) if compress else encoded)
    out = read_idx(path)
    assert out.dtype == array.dtype and out.dtype.isnative
    np.testing.assert_array_equal(out, array)
    out[...] = 0  # a writable copy, not a view of the file's bytes


GOOD_IDX = idx_bytes(np.arange(6, dtype=np.uint8).reshape(2, 3), 0x08)


@pytest.mark.parametrize(
    "content, phrase",
    [
        (b"\x01" + GOOD_IDX[1:], "not an IDX file"),
        (GOOD_IDX[:3] + b"\x00" + GOOD_IDX[4:], "not an IDX file"),  # ndim 0
        (GOOD_IDX[:2] + b"\x07" + GOOD_IDX[3:], "type code 0x07"),
        (GOOD_IDX[:6], "truncated IDX header"),
        (GOOD_IDX[:-1], "truncated"),  # one item short of the count in the header
        (GOOD_IDX + b"\x00", "trailing bytes"),  # one item more than the header counts
        (gzip.compress(GOOD_IDX)[:-12], "decompress"),
        (b"", "not an IDX file"),
    ],
)
def test_read_idx_rejects_bad_files(tmp_path, content, phrase):
    path = tmp_path / "bad-idx"
    path.write_bytes(content)
    with pytest.raises(DataError) as excinfo:
        read_idx(path)
    message = one_line(excinfo)
    assert phrase in message and str(path) in message


def test_read_idx_missing_file(tmp_path):
    with pytest.raises(DataError, match="not found"):
        read_idx(tmp_path / "nope")


# --- small helpers ------------------------------------------------------------------------------


def test_one_hot():
    Y = one_hot(np.array([3, 0, 9]))
    assert Y.shape == (3, 10) and Y.dtype == np.float32
    np.testing.assert_array_equal(Y.argmax(axis=1), [3, 0, 9])
    np.testing.assert_array_equal(Y.sum(axis=1), 1)
    np.testing.assert_array_equal(one_hot(np.array([1]), k=3), [[0, 1, 0]])
    np.testing.assert_array_equal(one_hot(np.array([10])), np.full((1, 10), 0.1, np.float32))  # not a digit
    with pytest.raises(ValueError):
        one_hot(np.array([11]))
    with pytest.raises(ValueError):
        one_hot(np.array([-1]))


def test_default_data_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_data_dir("mnist") == tmp_path / "xdg" / "digitnet" / "mnist"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_data_dir("fashion-mnist") == tmp_path / "home" / ".cache" / "digitnet" / "fashion-mnist"


def test_split_rejects_mismatched_lengths():
    with pytest.raises(ValueError):
        Split(np.zeros((3, 784), np.float32), np.zeros(2, np.int64))


# --- downloads from a local HTTP server ---------------------------------------------------------


class Handler(http.server.SimpleHTTPRequestHandler):
    """Serves a directory quietly; files named in `cut_short` stop after 1000 bytes of a longer body."""

    def __init__(self, *args, cut_short: tuple[str, ...] = (), **kwargs):
        self.cut_short = cut_short  # set first: the base __init__ handles the request
        super().__init__(*args, **kwargs)

    def do_GET(self):
        name = self.path.lstrip("/")
        if name not in self.cut_short:
            return super().do_GET()
        body = Path(self.directory, name).read_bytes()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[:1000])  # then HTTP/1.0 closes the connection

    def log_message(self, *args):
        pass


@pytest.fixture
def serve(tmp_path, mnist_dir):
    """Start servers on 127.0.0.1; ``serve(cut_short=())`` returns (base URL, served directory)."""
    servers = []

    def start(cut_short: tuple[str, ...] = ()) -> tuple[str, Path]:
        root = tmp_path / f"www{len(servers)}"
        link_mnist(mnist_dir, root)
        handler = functools.partial(Handler, directory=str(root), cut_short=cut_short)
        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True).start()
        servers.append(httpd)
        return f"http://127.0.0.1:{httpd.server_address[1]}/", root

    yield start
    for httpd in servers:
        httpd.shutdown()
        httpd.server_close()


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


def test_download_verifies_and_places_files(serve, monkeypatch, tmp_path, capsys):
    url, _ = serve()
    monkeypatch.setenv("DIGITNET_MNIST_URL", url)
    target = tmp_path / "downloads"
    ds = load_dataset("mnist", target, validation=0)
    assert sorted(os.listdir(target)) == sorted(f"{file}.gz" for file in FILES)  # no temp files left
    for file in FILES:
        assert not (target / f"{file}.gz").is_symlink()
        assert read_idx(target / f"{file}.gz").size > 0
    assert np.bincount(ds.test.y).tolist() == MNIST_TEST_COUNTS
    assert "t10k-labels-idx1-ubyte.gz" in capsys.readouterr().err  # the progress bar


def test_download_falls_back_to_next_mirror_into_cache(serve, monkeypatch):
    url, _ = serve()
    monkeypatch.setitem(DATASETS, "mnist", replace(DATASETS["mnist"], mirrors=(closed_port_url(), url)))
    ds = load_dataset(progress=False)
    cache = default_data_dir("mnist")
    assert sorted(os.listdir(cache)) == sorted(f"{file}.gz" for file in FILES)
    assert ds.train.X.shape == (50_000, 784)


def failed_download(monkeypatch, url: str, target: Path) -> str:
    """Download MNIST from ``url`` into ``target``, which must fail; its one-line message."""
    monkeypatch.setenv("DIGITNET_MNIST_URL", url)
    with pytest.raises(DataError) as excinfo:
        load_dataset("mnist", target, progress=False)
    return one_line(excinfo)


def test_download_with_wrong_hash_leaves_nothing(serve, monkeypatch, tmp_path, mnist_dir):
    url, root = serve()
    served = root / "train-labels-idx1-ubyte.gz"
    served.unlink()
    write_corrupt(mnist_dir / served.name, served)
    target = tmp_path / "downloads"
    message = failed_download(monkeypatch, url, target)
    assert "train-labels-idx1-ubyte.gz" in message and "SHA-256 mismatch" in message
    assert os.listdir(target) == ["train-images-idx3-ubyte.gz"]  # the good file before it stays


@pytest.mark.parametrize("failure", ["closed port", "404"])
def test_download_failure_is_one_line(serve, monkeypatch, tmp_path, failure):
    if failure == "closed port":
        url = closed_port_url()
    else:
        url = serve()[0] + "missing/"
    target = tmp_path / "downloads"
    message = failed_download(monkeypatch, url, target)
    assert "train-images-idx3-ubyte.gz: download failed" in message and "DIGITNET_MNIST_URL" in message
    assert ("refused" if failure == "closed port" else "404") in message
    assert os.listdir(target) == []


def test_interrupted_download_leaves_nothing(serve, monkeypatch, tmp_path):
    url, _ = serve(cut_short=("train-images-idx3-ubyte.gz",))
    target = tmp_path / "downloads"
    assert "connection closed after 1000 of" in failed_download(monkeypatch, url, target)
    assert os.listdir(target) == []


# --- the legacy pickle and its restricted unpickler ---------------------------------------------


def legacy_parts(rng: np.random.Generator, sizes=(30, 10, 10)):
    return tuple(
        (rng.random((n, 784), dtype=np.float32), rng.integers(0, 10, n).astype(np.int64)) for n in sizes
    )


@pytest.mark.parametrize("compress", [True, False])
def test_legacy_pickle_loads(tmp_path, compress):
    parts = legacy_parts(np.random.default_rng(0))
    raw = pickle.dumps(parts, protocol=2)
    path = tmp_path / "mnist.pkl.gz"
    path.write_bytes(gzip.compress(raw) if compress else raw)
    ds = load_legacy_pickle(path)
    assert ds.name == "mnist-legacy" and ds.sha256 == hashlib.sha256(raw).hexdigest()
    for split, (X, y) in zip((ds.train, ds.validation, ds.test), parts):
        assert split.X.dtype == np.float32 and split.y.dtype == np.int64
        np.testing.assert_array_equal(split.X, X)
        np.testing.assert_array_equal(split.y, y)


def test_legacy_pickle_can_be_resplit(tmp_path):
    parts = legacy_parts(np.random.default_rng(1))
    path = tmp_path / "mnist.pkl.gz"
    path.write_bytes(gzip.compress(pickle.dumps(parts, protocol=2)))
    all_y = np.concatenate([parts[0][1], parts[1][1]])
    merged = load_legacy_pickle(path, validation=0)
    assert merged.validation is None
    np.testing.assert_array_equal(merged.train.y, all_y)
    resplit = load_legacy_pickle(path, validation=5)
    np.testing.assert_array_equal(resplit.validation.y, all_y[-5:])
    assert len(resplit.train.y) == 35
    with pytest.raises(ValueError):
        load_legacy_pickle(path, validation=40)


class RunsCommand:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


class RunsCode:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return exec, (f"open({str(self.marker)!r}, 'w').close()",)


class OddCodec:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return codecs.encode, (str(self.marker), "rot13")


@pytest.mark.parametrize("payload, refused", [(RunsCommand, "system"), (RunsCode, "exec"), (OddCodec, "rot13")])
def test_malicious_pickle_is_refused_without_running(tmp_path, payload, refused):
    marker = tmp_path / "pwned"
    parts = legacy_parts(np.random.default_rng(2), sizes=(3, 3, 3))
    evil = ((parts[0][0], payload(marker)), parts[1], parts[2])
    path = tmp_path / "mnist.pkl.gz"
    path.write_bytes(gzip.compress(pickle.dumps(evil, protocol=2)))
    with pytest.raises(DataError) as excinfo:
        load_legacy_pickle(path)
    message = one_line(excinfo)
    assert "refusing" in message and refused in message and str(path) in message
    assert not marker.exists()


@pytest.mark.parametrize(
    "content",
    [
        {"train": 1},
        ((np.zeros((2, 100), np.float32), np.zeros(2, np.int64)),) * 3,
        ((np.zeros((2, 784), np.float32), np.zeros(3, np.int64)),) * 3,
        ((np.full((2, 784), 255, np.float32), np.zeros(2, np.int64)),) * 3,
    ],
)
def test_legacy_pickle_with_wrong_contents_is_rejected(tmp_path, content):
    path = tmp_path / "mnist.pkl.gz"
    path.write_bytes(gzip.compress(pickle.dumps(content, protocol=2)))
    with pytest.raises(DataError) as excinfo:
        load_legacy_pickle(path)
    assert str(path) in one_line(excinfo)


@pytest.mark.parametrize("bad, phrase", [
    (lambda X, y: X.__setitem__((0, 5), np.nan), "NaN or infinite pixels"),
    (lambda X, y: X.__setitem__((1, 0), np.inf), "NaN or infinite pixels"),
    (lambda X, y: X.__setitem__((1, 0), -np.inf), "NaN or infinite pixels"),
    (lambda X, y: X.__setitem__((0, 0), -0.01), "pixels outside [0, 1]"),
    (lambda X, y: X.__setitem__((0, 0), 1.5), "pixels outside [0, 1]"),
    (lambda X, y: y.__setitem__(0, 10), "labels outside 0..9"),
    (lambda X, y: y.__setitem__(0, -1), "labels outside 0..9"),
])
@pytest.mark.parametrize("which", [0, 1, 2])
def test_legacy_pickle_with_bad_values_is_rejected(tmp_path, bad, phrase, which):
    parts = [list(p) for p in legacy_parts(np.random.default_rng(3), sizes=(4, 4, 4))]
    bad(*parts[which])
    path = tmp_path / "mnist.pkl.gz"
    path.write_bytes(gzip.compress(pickle.dumps(tuple(map(tuple, parts)), protocol=2)))
    with pytest.raises(DataError) as excinfo:
        load_legacy_pickle(path)
    message = one_line(excinfo)
    assert phrase in message and ("training", "validation", "test")[which] in message


def test_legacy_pickle_with_float_labels_is_rejected(tmp_path):
    parts = legacy_parts(np.random.default_rng(4), sizes=(3, 3, 3))
    bad = ((parts[0][0], parts[0][1].astype(np.float64)), parts[1], parts[2])
    path = tmp_path / "mnist.pkl.gz"
    path.write_bytes(gzip.compress(pickle.dumps(bad, protocol=2)))
    with pytest.raises(DataError, match="expected float .n, 784. and integer"):
        load_legacy_pickle(path)


def test_a_gzip_bomb_stops_at_the_size_its_header_declares(tmp_path):
    header = b"\x00\x00\x08\x03" + (100).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2
    bomb = tmp_path / "train-images-idx3-ubyte.gz"
    bomb.write_bytes(gzip.compress(header + bytes(200 << 20), compresslevel=9))  # 200 MB of zeros
    assert bomb.stat().st_size < 1 << 20
    with pytest.raises(DataError, match="has trailing bytes: decompresses to more than the 78416 bytes"):
        read_idx(bomb)
    huge = tmp_path / "huge.gz"
    huge.write_bytes(gzip.compress(b"\x00\x00\x08\x03" + (10 ** 9).to_bytes(4, "big") * 3))
    with pytest.raises(DataError, match=r"its header declares shape \(1000000000, 1000000000, 1000000000\)"):
        read_idx(huge)


def test_a_download_longer_than_the_file_can_be_is_cut_off(serve, monkeypatch, tmp_path):
    """A server that sends more than a file can hold (one that never stops) is dropped at that
    size; a temporary file left by a killed download is removed by the next one."""
    url, root = serve()
    served = root / "train-images-idx3-ubyte.gz"
    served.unlink()
    served.write_bytes(os.urandom(50_000_000))  # more than the 47 MB the file has decompressed
    target = tmp_path / "downloads"
    target.mkdir()
    stale = target / ".digitnet-tmp.999999999.0123abcd.tmp"  # its writer is gone
    stale.write_bytes(b"half a download")
    message = failed_download(monkeypatch, url, target)
    assert "more than the 47040016 bytes the file can have" in message
    assert os.listdir(target) == []
