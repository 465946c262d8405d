"""Model files: round trip, atomic writes, and a one-line refusal for every kind of bad file."""

import json
import zipfile

import numpy as np
import pytest

from digitnet.nn.network import Network
from digitnet.persistence import META_KEY, ModelFileError, load_model, save_model


@pytest.fixture
def model_file(tmp_path):
    net = Network([784, 16, 16, 10], seed=1)
    path = tmp_path / "m.npz"
    save_model(path, net, {"test_accuracy": 0.5, "dataset": {"name": "mnist", "sha256": "ab"}})
    return net, path


def test_round_trip_rebuilds_the_same_network(model_file):
    net, path = model_file
    loaded, meta = load_model(path)
    assert loaded.describe() == net.describe()
    for a, b in zip(net.params, loaded.params):
        assert a.tobytes() == b.tobytes() and a.dtype == b.dtype
    X = np.random.default_rng(0).random((3, 784), dtype=np.float32)
    np.testing.assert_array_equal(net.forward(X), loaded.forward(X))
    assert meta["format"] == "digitnet-model" and meta["format_version"] == 1
    assert meta["test_accuracy"] == 0.5 and meta["architecture"]["cost"] == "quadratic"
    assert set(meta["arrays"]) == {"0.W", "0.b", "2.W", "2.b", "4.W", "4.b"}


def test_file_is_a_plain_npz_without_pickles(model_file):
    _, path = model_file
    with np.load(path, allow_pickle=False) as z:
        assert z[META_KEY].dtype == np.uint8
        assert all(z[k].dtype != object for k in z.files)


def test_save_is_atomic_and_leaves_no_temporary_files(model_file, tmp_path, monkeypatch):
    net, path = model_file
    before = path.read_bytes()

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", boom)
    with pytest.raises(OSError):
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
    _, path = model_file
    data = bytearray(path.read_bytes())
    # Find the raw weights of 0.W inside the (uncompressed) archive and flip one of them.
    net, _ = load_model(path)
    start = bytes(data).find(net.params[0].tobytes()[:64])
    assert start > 0
    data[start + 100] ^= 0xFF
    bad = tmp_path / "flipped.npz"
    bad.write_bytes(bytes(data))
    with pytest.raises(ModelFileError):
        load_model(bad)


def _rewrite(src, dst, change):
    with np.load(src, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    change(arrays)
    np.savez(dst, **arrays)


def _rewrite_meta(src, dst, edit):
    def change(a):
        meta = json.loads(a[META_KEY].tobytes())
        edit(meta)
        a[META_KEY] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    _rewrite(src, dst, change)


def test_weights_that_disagree_with_the_metadata_are_refused(model_file, tmp_path):
    _, path = model_file
    bad = tmp_path / "swapped.npz"
    _rewrite(path, bad, lambda a: a.__setitem__("0.W", a["0.W"] * 2))
    with pytest.raises(ModelFileError, match="0.W is corrupted"):
        load_model(bad)


def test_wrong_shape_is_refused(model_file, tmp_path):
    _, path = model_file
    bad = tmp_path / "shape.npz"
    _rewrite_meta(path, bad, lambda meta: meta["architecture"]["layers"][0].update(units=17))
    with pytest.raises(ModelFileError, match="architecture does not match"):
        load_model(bad)


def test_hand_edited_metadata_is_refused_in_one_line(model_file, tmp_path):
    _, path = model_file
    for name, edit in [("not-a-dict.npz", lambda meta: meta["arrays"].update({"0.W": "fine, really"})),
                       ("a-list.npz", lambda meta: meta.update(arrays=[])),
                       ("no-shape.npz", lambda meta: meta["arrays"]["0.W"].pop("shape"))]:
        bad = tmp_path / name
        _rewrite_meta(path, bad, edit)
        with pytest.raises(ModelFileError, match="do not match its metadata|is corrupted"):
            load_model(bad)


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
    with pytest.raises(ModelFileError):
        load_model(other)


def test_future_format_version_is_refused(model_file, tmp_path):
    _, path = model_file
    bad = tmp_path / "v2.npz"
    _rewrite_meta(path, bad, lambda meta: meta.update(format_version=2))
    with pytest.raises(ModelFileError, match="format version 2"):
        load_model(bad)


def test_saved_file_has_ordinary_permissions(model_file):
    import os
    import stat

    _, path = model_file
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask
