"""Model files: round trip, atomic writes, the metadata checksum, the schema, and a one-line
refusal for every kind of bad file (the generated cases are in test_hostile.py)."""

import hashlib
import json
import os
import stat
import zipfile

import numpy as np
import pytest

from digitnet import persistence
from digitnet.models import default_model_path
from digitnet.nn.network import Network
from digitnet.persistence import (DIGEST_KEY, META_KEY, ModelFileError, check_architecture, load_model,
                                  npz_bytes, read_model_file, save_model)


@pytest.fixture
def model_file(tmp_path):
    net = Network([784, 16, 16, 10], seed=1)
    path = tmp_path / "m.npz"
    save_model(path, net, {"test_accuracy": 0.5, "dataset": {"name": "mnist", "sha256": "ab"}})
    return net, path


def _arrays(path):
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def rewrite_meta(src, dst, edit, digest=True):
    """Copy ``src`` to ``dst`` with its metadata edited by ``edit``; ``digest``: recompute
    the metadata checksum (a deliberate edit), else keep the old one (a corruption)."""
    arrays = _arrays(src)
    meta = json.loads(arrays[META_KEY].tobytes())
    edit(meta)
    text = json.dumps(meta).encode()
    arrays[META_KEY] = np.frombuffer(text, np.uint8)
    if digest:
        arrays[DIGEST_KEY] = np.frombuffer(hashlib.sha256(text).hexdigest().encode(), np.uint8)
    dst.write_bytes(npz_bytes(arrays))


def test_round_trip_rebuilds_the_same_network(model_file):
    net, path = model_file
    loaded, meta = load_model(path)
    assert loaded.describe() == net.describe()
    for a, b in zip(net.params, loaded.params):
        assert a.tobytes() == b.tobytes() and a.dtype == b.dtype
    X = np.random.default_rng(0).random((3, 784), dtype=np.float32)
    np.testing.assert_array_equal(net.forward(X), loaded.forward(X))
    assert meta["format"] == "digitnet-model" and meta["format_version"] == 2
    assert meta["test_accuracy"] == 0.5 and meta["architecture"]["cost"] == "quadratic"
    assert set(meta["arrays"]) == {"0.W", "0.b", "2.W", "2.b", "4.W", "4.b"}


def test_file_is_a_plain_npz_without_pickles(model_file):
    _, path = model_file
    arrays = _arrays(path)
    assert arrays[META_KEY].dtype == np.uint8 and arrays[DIGEST_KEY].dtype == np.uint8
    assert arrays[DIGEST_KEY].tobytes() == hashlib.sha256(arrays[META_KEY].tobytes()).hexdigest().encode()
    assert all(a.dtype != object for a in arrays.values())


def test_the_same_network_and_metadata_give_the_same_bytes(tmp_path):
    net = Network([784, 10], seed=3)
    meta = {"created": "2026-01-01T00:00:00+00:00"}
    save_model(tmp_path / "a.npz", net, meta)
    save_model(tmp_path / "b.npz", net, meta)
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()


def test_the_shipped_model_loads_and_is_covered_by_the_checksum():
    net, meta = load_model(default_model_path())
    assert meta["format_version"] in (1, 2) and net.output_shape == (10,)


def test_format_version_1_files_still_load(model_file, tmp_path):
    net, path = model_file
    old = tmp_path / "v1.npz"

    def v1(meta):
        meta["format_version"] = 1
    arrays = _arrays(path)
    meta = json.loads(arrays.pop(META_KEY).tobytes())
    arrays.pop(DIGEST_KEY)
    v1(meta)
    arrays[META_KEY] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    np.savez(old, **arrays)
    loaded, meta = load_model(old)
    assert meta["format_version"] == 1
    assert all(a.tobytes() == b.tobytes() for a, b in zip(net.params, loaded.params))


def test_save_is_atomic_and_leaves_no_temporary_files(model_file, tmp_path, monkeypatch):
    net, path = model_file
    before = path.read_bytes()

    def boom(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", boom)
    with pytest.raises(OSError, match="No space"):
        save_model(path, Network([784, 10], seed=2))
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz"]


def test_missing_file(tmp_path):
    with pytest.raises(ModelFileError, match="not found"):
        load_model(tmp_path / "nope.npz")


def test_truncated_file(model_file, tmp_path):
    _, path = model_file
    bad = tmp_path / "cut.npz"
    bad.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(ModelFileError, match="truncated or corrupted"):
        load_model(bad)


def test_flipped_byte_in_weights_is_detected(model_file, tmp_path):
    net, path = model_file
    data = bytearray(path.read_bytes())
    start = bytes(data).find(net.params[0].tobytes()[:64])
    assert start > 0
    data[start + 100] ^= 0xFF
    bad = tmp_path / "flipped.npz"
    bad.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="Bad CRC-32 for file '0.W.npy'"):
        load_model(bad)


def test_weights_that_disagree_with_the_metadata_are_refused(model_file, tmp_path):
    _, path = model_file
    arrays = _arrays(path)
    arrays["0.W"] = arrays["0.W"] * 2
    bad = tmp_path / "swapped.npz"
    bad.write_bytes(npz_bytes(arrays))
    with pytest.raises(ModelFileError, match="0.W is corrupted"):
        load_model(bad)


@pytest.mark.parametrize("edit", [
    lambda m: m["architecture"]["layers"][0].update(units=17),
    lambda m: m["architecture"]["layers"][0].update(bias=False),
    lambda m: m.update(test_accuracy=0.99),
    lambda m: m["dataset"].update(name="fashion-mnist"),
])
def test_any_edit_of_the_metadata_breaks_its_checksum(model_file, tmp_path, edit):
    _, path = model_file
    bad = tmp_path / "edited.npz"
    rewrite_meta(path, bad, edit, digest=False)
    with pytest.raises(ModelFileError, match="does not match its checksum"):
        load_model(bad)


@pytest.mark.parametrize("edit,message", [
    (lambda m: m["architecture"]["layers"][0].update(units=17), "architecture does not match the weights"),
    (lambda m: m["architecture"]["layers"][0].update(bias=False), r"unexpected \['0.b'\]"),
    (lambda m: m["architecture"]["layers"][1].update(name="swish"), "layer 1 .activation. name must be one of"),
    (lambda m: m["architecture"]["layers"][0].update(units=True), "units must be a whole number"),
    (lambda m: m["architecture"]["layers"].append({"type": "batchnorm", "eps": 1e9}), r"eps must be .* \(0, 1\]"),
    (lambda m: m["architecture"]["layers"].append({"type": "lstm"}), "type must be one of"),
    (lambda m: m["architecture"].update(input_shape=[10 ** 12]), "input_shape must be a whole number"),
    (lambda m: m["architecture"]["layers"][0].update(units=2 ** 30), r"needs \d+\.\d+ GB, the limit is 4.00 GB"),
    (lambda m: m.update(history=[{"epoch": 1, "train_cost": "NaN"}]), "train_cost must be a finite number"),
    (lambda m: m.update(dataset=None), "dataset must be an object"),
    (lambda m: m.update(arrays=[]), "do not match its metadata"),
    (lambda m: m["arrays"]["0.W"].pop("shape"), "0.W is corrupted"),
    (lambda m: m.update(format_version=3), "format version 3; this digitnet reads 1, 2"),
    (lambda m: m.update(format_version=1), "format version 1 with a metadata checksum"),
])
def test_edited_metadata_with_a_fresh_checksum_meets_the_schema(model_file, tmp_path, edit, message):
    _, path = model_file
    bad = tmp_path / "edited.npz"
    rewrite_meta(path, bad, edit)
    with pytest.raises(ModelFileError, match=message) as e:
        load_model(bad)
    assert str(bad) in str(e.value) and "\n" not in str(e.value)


def test_the_memory_limit_comes_from_the_environment(model_file, monkeypatch):
    _, path = model_file
    monkeypatch.setenv(persistence.LIMIT_ENV, "0.0001")
    with pytest.raises(ModelFileError, match=r"needs \d\.\d MB, the limit is 0.1 MB"):
        load_model(path)
    monkeypatch.setenv(persistence.LIMIT_ENV, "lots")
    with pytest.raises(ValueError, match="positive number of gigabytes"):
        persistence.memory_limit_bytes()
    monkeypatch.setenv(persistence.LIMIT_ENV, "1000")
    assert check_architecture({"input_shape": [784], "layers": [{"type": "dense", "units": 2 ** 24}],
                               "cost": "quadratic", "dtype": "float32"}) > 4e9


def test_foreign_files_are_refused(tmp_path):
    plain = tmp_path / "plain.npz"
    np.savez(plain, W=np.zeros(3))
    with pytest.raises(ModelFileError, match="not a digitnet model file"):
        load_model(plain)
    text = tmp_path / "text.npz"
    text.write_text("hello")
    with pytest.raises(ModelFileError, match=r"not a digitnet model file \(not an .npz archive\)"):
        load_model(text)
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, **{META_KEY: np.array([{"format": "digitnet-model"}], dtype=object)})
    with pytest.raises(ModelFileError, match="pickled Python objects, which digitnet never loads"):
        load_model(pickled)
    other = tmp_path / "zip.npz"
    with zipfile.ZipFile(other, "w") as zf:
        zf.writestr("x.txt", "not numpy")
    with pytest.raises(ModelFileError, match="'x.txt' is not an array"):
        load_model(other)


def test_fifos_and_folders_are_refused_without_reading(tmp_path):
    fifo = tmp_path / "model.npz"
    os.mkfifo(fifo)
    with pytest.raises(ModelFileError, match="is a FIFO, not a model file"):
        read_model_file(fifo)  # would block forever if opened
    with pytest.raises(ModelFileError, match="is a folder"):
        read_model_file(tmp_path)


def test_saved_file_has_ordinary_permissions(model_file):
    _, path = model_file
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask
