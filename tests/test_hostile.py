"""Hostile input, tried as an attacker and as an unlucky user would: broken and crafted model
files, edited metadata and checkpoints, generated command lines, signals at every moment of a
run, and resource bombs under a memory ceiling.

Each case must end in one of two ways: refused with one line (a ``ModelFileError``, or exit 2
and one line on stderr), or a result identical to the intact input's. Each test prints
``hostile: <what>: <counts>`` (run with ``-s`` to see them; docs/reliability.md quotes them).
"""

import hashlib
import json
import os
import signal
import struct
import subprocess
import sys
import tempfile
import textwrap
import time
import zipfile
import zlib
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from digitnet import cli, safeio, training
from digitnet.nn.layers import ActivationLayer, BatchNorm, Conv2D, Dense, Dropout, Flatten, MaxPool2D, Reshape
from digitnet.nn.network import Network
from digitnet.persistence import (DIGEST_KEY, META_KEY, ModelFileError, build_from_metadata, load_model,
                                  npz_bytes, parse_model_bytes, save_model)

from test_cli import tiny_data  # noqa: F401  (a fixture: synthetic data in place of MNIST)

NAME = "fuzz.npz"


def report(what: str, counts: Counter) -> None:
    print(f"\nhostile: {what}: tried {sum(counts.values())}: "
          + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))


def small_model() -> bytes:
    """A model with one layer of every kind that holds settings, and metadata of every section."""
    net = Network([Reshape([4, 4, 1]), Conv2D(2, 3, bias=True), BatchNorm(relu=True), MaxPool2D(2),
                   Flatten(), Dropout(0.25), Dense(3, init="he"), ActivationLayer("softmax")],
                  cost="cross-entropy", seed=0, input_shape=(16,))
    meta = {"created": "2026-01-01T00:00:00+00:00", "test_accuracy": 0.5, "epochs_completed": 2,
            "history": [{"epoch": 1, "train_cost": 0.9, "lr": 0.1, "val_accuracy": 0.4, "seconds": 0.1},
                        {"epoch": 2, "train_cost": 0.7, "lr": 0.1, "val_accuracy": 0.5, "seconds": 0.1}],
            "dataset": {"name": "mnist", "sha256": "ab" * 32},
            "training": {"command": "digitnet train", "seed": 0, "validation": 100, "limit": None}}
    with tempfile.TemporaryDirectory() as d:
        save_model(Path(d) / NAME, net, meta)
        return (Path(d) / NAME).read_bytes()


def load_bytes(data: bytes):
    """``load_model`` of bytes: the metadata, the arrays and the rebuilt network."""
    meta, arrays = parse_model_bytes(data, NAME)
    return meta, arrays, build_from_metadata(meta, arrays, NAME)


def outcome(data: bytes, intact) -> str:
    """``refused`` (one line naming the file), ``identical`` (same weights and metadata), else a failure."""
    try:
        meta, arrays, _ = load_bytes(data)
    except ModelFileError as e:
        message = str(e)
        assert "\n" not in message and NAME in message, message
        return "refused"
    ref_meta, ref_arrays = intact
    assert meta == ref_meta, "loaded with different metadata"
    assert set(arrays) == set(ref_arrays) and all(
        arrays[k].tobytes() == ref_arrays[k].tobytes() and arrays[k].dtype == ref_arrays[k].dtype
        and arrays[k].shape == ref_arrays[k].shape for k in arrays), "loaded with different arrays"
    return "identical"


@pytest.fixture(scope="module")
def model():
    data = small_model()
    meta, arrays = parse_model_bytes(data, NAME)
    return data, (meta, arrays)


def with_meta(intact, edit=None, digest=True, arrays_edit=None) -> bytes:
    """The model's bytes with its metadata edited; ``digest``: with a fresh metadata checksum
    (a deliberate edit that only the schema can catch), else the old one (a corruption)."""
    meta, arrays = json.loads(json.dumps(intact[0])), dict(intact[1])
    if edit:
        edit(meta)
    if arrays_edit:
        arrays_edit(arrays, meta)
    text = json.dumps(meta).encode()
    members = {**arrays, META_KEY: np.frombuffer(text, np.uint8)}
    if digest:
        members[DIGEST_KEY] = np.frombuffer(hashlib.sha256(text).hexdigest().encode(), np.uint8)
    return npz_bytes(members)


# -- byte-level fuzzing -------------------------------------------------------------------------
def test_truncated_at_every_offset_is_refused(model):
    data, intact = model
    counts = Counter(outcome(data[:i], intact) for i in range(len(data)))
    report(f"model file ({len(data)} bytes) truncated at every offset", counts)
    assert counts == Counter(refused=len(data))


def test_every_byte_flipped_is_refused_or_changes_nothing(model):
    """Each offset changed two ways: all bits flipped, and the lowest bit flipped (2 cases each)."""
    data, intact = model
    counts = Counter()
    for i in range(len(data)):
        for mask in (0xFF, 0x01):
            b = bytearray(data)
            b[i] ^= mask
            counts[outcome(bytes(b), intact)] += 1
    report(f"model file ({len(data)} bytes): one byte changed at each of {len(data)} offsets", counts)
    assert len(data) >= 2000 and counts["refused"] > 0.8 * sum(counts.values())


# -- crafted files ------------------------------------------------------------------------------
def _zip_with(members: dict[str, bytes], method=zipfile.ZIP_STORED) -> bytes:
    import io

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", method) as zf:
        for name, blob in members.items():
            zf.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), blob, compress_type=method)
    return out.getvalue()


def _npy(header: str, payload: bytes = b"") -> bytes:
    text = header.encode("latin1")
    text += b" " * ((64 - (10 + len(text) + 1) % 64) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text + payload


def _members(data: bytes) -> dict[str, bytes]:
    import io

    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {i.filename: zf.read(i) for i in zf.infolist()}


def _set_method(data: bytes, method: int) -> bytes:
    """Rewrite the compression method of every member, in the local and central headers."""
    b = bytearray(data)
    for sig, off in ((b"PK\x03\x04", 8), (b"PK\x01\x02", 10)):
        i = b.find(sig)
        while i >= 0:
            b[i + off:i + off + 2] = struct.pack("<H", method)
            i = b.find(sig, i + 4)
    return bytes(b)


def crafted_cases(data: bytes, intact) -> dict[str, bytes]:
    members = _members(data)
    w = members["0.W.npy"] if "0.W.npy" in members else members["1.W.npy"]
    meta_blob = members[META_KEY + ".npy"]

    def replace(name, blob):
        return _zip_with({**members, name: blob})

    deep = "[" * 100_000 + "]" * 100_000
    cases = {
        "array header with a broken literal": replace("1.W.npy", w.replace(b"'descr'", b"'descr\"", 1)),
        "array header that is Python code": replace("1.W.npy", _npy("{'descr': __import__('os').system('x'), }")),
        "array header declaring 10**15 elements": replace("1.W.npy", _npy(
            "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000000000,), }")),
        "array header with a negative size": replace("1.W.npy", _npy(
            "{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }")),
        "object array (a pickle)": replace("1.W.npy", _npy(
            "{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", b"\x80\x02N.")),
        "big-endian array": replace("1.W.npy", _npy("{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }",
                                                     b"\0" * 4)),
        "unknown .npy version": replace("1.W.npy", b"\x93NUMPY\x09\x00" + w[8:]),
        "member that is not an array": replace("1.W.npy", b"just some text"),
        "member with a path": _zip_with({**members, "../evil.npy": w}),
        "member named twice": _duplicate(members),
        "LZMA compression method": _set_method(data, zipfile.ZIP_LZMA),
        "bzip2 compression method": _set_method(data, zipfile.ZIP_BZIP2),
        "unknown compression method": _set_method(data, 99),
        "deflated members": _zip_with(members, zipfile.ZIP_DEFLATED),
        "metadata JSON nested 100,000 deep": _digested(members, deep.encode()),
        "metadata that is not UTF-8": _digested(members, b"\xff\xfe{}"),
        "metadata that is a list": _digested(members, b"[1, 2]"),
        "metadata with an integer of 5,000 digits": _digested(members, b'{"format": "digitnet-model", "x": '
                                                              + b"9" * 5000 + b"}"),
        "metadata with NaN accuracy": with_meta(intact, lambda m: m.update(test_accuracy=float("nan"))),
        "no metadata": _zip_with({k: v for k, v in members.items() if not k.startswith("__")}),
        "no checksum, format 2": _zip_with({k: v for k, v in members.items() if k != DIGEST_KEY + ".npy"}),
        "checksum of other metadata": replace(DIGEST_KEY + ".npy", _npy(
            "{'descr': '|u1', 'fortran_order': False, 'shape': (64,), }", b"0" * 64)),
        "metadata array of floats": replace(META_KEY + ".npy", _npy(
            "{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }", b"\0" * 8)),
        "encrypted member flag": _set_flag(data),
        "empty file": b"",
        "zip end record only": b"PK\x05\x06" + b"\0" * 18,
        "a pickle": b"\x80\x04\x95" + b"cos\nsystem\n(S'true'\ntR.",
        "bias dropped, arrays intact": with_meta(intact, lambda m: m["architecture"]["layers"][1].update(bias=False)),
        "batch-norm eps 1e9": with_meta(intact, lambda m: m["architecture"]["layers"][2].update(eps=1e9)),
        "kernel size 0": with_meta(intact, lambda m: m["architecture"]["layers"][1].update(kernel_size=[0, 0])),
        "kernel size of one number in a list": with_meta(intact, lambda m: m["architecture"]["layers"][1]
                                                         .update(kernel_size=[3])),
        "infinite dropout rate": with_meta(intact, lambda m: m["architecture"]["layers"][5].update(rate=float("inf"))),
        "empty input shape": with_meta(intact, lambda m: m["architecture"].update(input_shape=[])),
        "layer list empty": with_meta(intact, lambda m: m["architecture"].update(layers=[])),
        "dense of 10**9 units": with_meta(intact, lambda m: m["architecture"]["layers"][6].update(units=10 ** 9)),
        "reshape to 10**5 x 10**5": with_meta(intact, lambda m: m["architecture"]["layers"][0]
                                             .update(shape=[100000, 100000, 1])),
        "history null": with_meta(intact, lambda m: m.update(history=None)),
        "dataset null": with_meta(intact, lambda m: m.update(dataset=None)),
    }
    return cases


def _digested(members, text: bytes) -> bytes:
    return _zip_with({**members, META_KEY + ".npy": _npy(
        f"{{'descr': '|u1', 'fortran_order': False, 'shape': ({len(text)},), }}", text),
        DIGEST_KEY + ".npy": _npy("{'descr': '|u1', 'fortran_order': False, 'shape': (64,), }",
                                  hashlib.sha256(text).hexdigest().encode())})


def _duplicate(members) -> bytes:
    import io
    import warnings

    out = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate name
        with zipfile.ZipFile(out, "w") as zf:
            for name, blob in members.items():
                zf.writestr(name, blob)
            zf.writestr("1.W.npy", members["1.W.npy"])
    return out.getvalue()


def _set_flag(data: bytes) -> bytes:
    b = bytearray(data)
    for sig, off in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        i = b.find(sig)
        while i >= 0:
            b[i + off] |= 1
            i = b.find(sig, i + 4)
    return bytes(b)


def test_crafted_model_files_are_refused_in_one_line(model):
    data, intact = model
    cases = crafted_cases(data, intact)
    counts = Counter()
    for name, blob in cases.items():
        result = outcome(blob, intact)
        counts[result] += 1
        assert result == "refused" or name == "deflated members", name
    report("crafted model files", counts)
    assert counts == Counter(refused=len(cases) - 1, identical=1)


# -- metadata edited field by field -------------------------------------------------------------
EDITS = {"null": None, "true": True, "string": "x", "-1": -1, "0": 0, "1e9": 10 ** 9, "2**70": 2 ** 70,
         "0.5": 0.5, "inf": float("inf"), "nan": float("nan"), "list": [1], "object": {"a": 1}}


def leaves(node, path=()):
    """Every path to a value inside ``node`` (dict keys and list indices), containers too."""
    yield path
    if isinstance(node, dict):
        for k, v in node.items():
            yield from leaves(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from leaves(v, (*path, i))


def _set(meta, path, value):
    node = meta
    for k in path[:-1]:
        node = node[k]
    if value is KeyError:
        node.pop(path[-1])
    else:
        node[path[-1]] = value


def test_every_metadata_field_edited(model):
    """Every field (architecture, arrays, training, history, ...) set to each of 12 values or
    removed: refused as corrupted when the checksum is kept; with a fresh checksum, refused by
    the schema or loaded as the file now says, never an error of another kind."""
    data, intact = model
    fields = [p for p in leaves(intact[0]) if p]
    kept, fresh = Counter(), Counter()
    for path in fields:
        for label, value in [*EDITS.items(), ("removed", KeyError)]:
            def edit(meta, path=path, value=value):
                _set(meta, path, value)
            try:
                blob = with_meta(intact, edit, digest=False)
            except (TypeError, IndexError):
                continue
            kept[outcome(blob, intact) if blob != data else "identical"] += 1
            try:
                meta, arrays, net = load_bytes(with_meta(intact, edit, digest=True))
            except ModelFileError as e:
                assert "\n" not in str(e) and NAME in str(e)
                fresh["refused by the schema"] += 1
                continue
            fresh["loaded as edited"] += 1
            assert set(net.state_dict()) == {k for k in arrays}  # no stored array left unused
    report(f"metadata edited, checksum kept ({len(fields)} fields)", kept)
    report(f"metadata edited, checksum recomputed ({len(fields)} fields)", fresh)
    assert kept["refused"] == sum(kept.values())


# -- checkpoints edited, then --resume ------------------------------------------------------------
@pytest.fixture
def checkpoint(tiny_data, tmp_path):  # noqa: F811
    ck = tmp_path / "run.ckpt.npz"
    argv = ["train", "--sizes", "784,8,10", "--epochs", "2", "--limit", "60", "--optimizer", "adam",
            "--eta", "0.01", "--early-stopping", "5", "--no-progress", "--checkpoint", str(ck),
            "-o", str(tmp_path / "first.npz")]
    assert cli.main(argv) == 0
    return ck


def _resume(ck: Path, out: Path, capsys) -> tuple[int, str]:
    capsys.readouterr()
    rc = cli.main(["train", "--resume", str(ck), "--no-progress", "-o", str(out)])
    return rc, capsys.readouterr().err.strip()


def test_checkpoint_sections_edited_then_resumed(checkpoint, tmp_path, capsys):
    """Each checkpoint field (training settings, history, generator state, dataset) set to each of
    12 values or removed, and its arrays (optimizer state, best weights) dropped, reshaped or
    added, with a fresh checksum; then ``--resume``: exit 2 and one line, or a run that finishes."""
    data = checkpoint.read_bytes()
    intact = parse_model_bytes(data, str(checkpoint))
    meta = intact[0]
    paths = [p for p in leaves(meta) if p and p[0] in ("history", "dataset", "checkpoint", "training")]
    cases = []
    for path in paths:
        values = [*EDITS.items(), ("removed", KeyError)] if len(path) <= 2 or path[0] == "checkpoint" else \
            [("null", None), ("string", "x"), ("removed", KeyError)]
        cases += [(path, label, value) for label, value in values]

    def array_edit(kind, key):
        def edit(arrays, meta):
            if kind == "drop":
                arrays.pop(key)
                meta["arrays"].pop(key)
                return
            a = arrays[key]
            arrays[key] = a.reshape(-1)[:1].copy() if kind == "shrink" else np.zeros(a.shape, np.float64)
            meta["arrays"][key] = {"shape": list(arrays[key].shape), "dtype": arrays[key].dtype.name,
                                   "sha256": hashlib.sha256(arrays[key].tobytes()).hexdigest()}
        return edit

    array_cases = [(kind, key) for key in intact[1] if key.startswith(("opt.", "best."))
                   for kind in ("drop", "shrink", "float64")]
    counts = Counter()
    out = tmp_path / "resumed.npz"
    for i, case in enumerate([*cases, *array_cases]):
        if len(case) == 3:
            path, label, value = case
            try:
                blob = with_meta((meta, intact[1]), lambda m: _set(m, path, value))
            except (TypeError, IndexError, KeyError):
                continue
        else:
            blob = with_meta((meta, intact[1]), arrays_edit=array_edit(*case))
        checkpoint.write_bytes(blob)
        out.unlink(missing_ok=True)
        rc, err = _resume(checkpoint, out, capsys)
        assert rc in (0, 2), (case, rc, err)
        if rc == 2:
            assert len(err.splitlines()) == 1 and err.startswith("digitnet: error:"), (case, err)
            assert not out.exists()
            counts["refused in one line"] += 1
        else:
            load_model(out)
            counts["resumed and finished"] += 1
    report("checkpoint edited, then --resume", counts)
    assert counts["refused in one line"] > counts["resumed and finished"]


# -- command lines generated by hypothesis ------------------------------------------------------
@pytest.fixture
def places(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    text = tmp_path / "text.npz"
    text.write_text("hello")
    return {"ok": str(tmp_path / "m.npz"), "fifo": str(fifo), "dir": str(tmp_path), "null": "/dev/null",
            "under-a-file": str(blocker / "m.npz"), "long": str(tmp_path / ("n" * 300)),
            "text": str(text), "missing": str(tmp_path / "missing.npz"), "link-to-fifo": _link(tmp_path, fifo)}


def _link(tmp_path, target):
    link = tmp_path / "link.npz"
    link.symlink_to(target)
    return str(link)


TRAIN_FLAGS = {
    "--sizes": ["784,10", "784,8,10", "784,100000000,10", "784,0,10", "10,10", "784,-1,10", "a,b", "", "784"],
    "--epochs": ["0", "1", "-1", "x", "2.5", ""],
    "--batch-size": ["0", "1", "-5", "x", "100000"],
    "--limit": ["0", "1", "50", "x"],
    "--validation": ["0", "-1", "10", "60000", "x"],
    "--eta": ["0", "-1", "nan", "inf", "1e308", "3"],
    "--dropout": ["0", "0.5", "1", "-0.1", "nan"],
    "--momentum": ["nan", "-1", "0.5", "1"],
    "--weight-decay": ["nan", "-1", "0.01", "inf"],
    "--optimizer": ["sgd", "adam", "momentum", "bogus"],
    "--schedule": ["constant", "cosine", "bogus"],
    "--warmup": ["0", "2", "-1"],
    "--early-stopping": ["0", "1", "-2"],
    "--augment": ["none", "shift=1", "shift=nan", "x=1", "shift", "rotate=1e9"],
    "--seed": ["-1", "0", "x", str(2 ** 70)],
    "--dtype": ["float16", "float64"],
    "--preset": ["seed", "mlp", "bogus"],
    "--activation": ["relu", "swish"],
    "--cost": ["cross-entropy", "hinge"],
    "--output-activation": ["softmax", "relu"],
    "--init": ["he", "zero"],
}
PATH_FLAGS = ["-o", "--checkpoint", "--resume"]


@st.composite
def train_argv(draw):
    flags = draw(st.lists(st.sampled_from(sorted(TRAIN_FLAGS)), max_size=5, unique=True))
    argv = ["train", "--no-progress"]
    for flag in flags:
        argv += [flag, draw(st.sampled_from(TRAIN_FLAGS[flag]))]
    if "--epochs" not in flags:
        argv += ["--epochs", "1"]
    if "--limit" not in flags:
        argv += ["--limit", "40"]
    paths = draw(st.lists(st.sampled_from(PATH_FLAGS), max_size=2, unique=True))
    return argv, [(flag, draw(st.sampled_from(["ok", "fifo", "dir", "null", "under-a-file", "long", "text",
                                                 "missing", "link-to-fifo"]))) for flag in paths]


def test_generated_command_lines(tiny_data, places, tmp_path, capsys, monkeypatch):  # noqa: F811
    """200 generated train, predict and evaluate command lines: exit 0, or exit 1 or 2 with one line."""
    monkeypatch.chdir(tmp_path)
    counts = Counter()
    image = tmp_path / "digit.png"
    from PIL import Image

    a = np.zeros((28, 28), np.uint8)
    a[5:23, 12:16] = 255
    Image.fromarray(a).save(image)
    places["image"] = str(image)

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(train_argv())
    def train(case):
        argv, paths = case
        for flag, place in paths:
            argv += [flag, places[place]]
        run(argv)

    @settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(st.lists(st.sampled_from(["image", "fifo", "dir", "null", "text", "missing", "link-to-fifo"]),
                    min_size=1, max_size=3),
           st.sampled_from([None, "fifo", "dir", "null", "text", "missing", "link-to-fifo"]),
           st.booleans())
    def predict(images, model, evaluate):
        if evaluate:
            argv = ["evaluate", places[model or "text"]]
        else:
            argv = ["predict", *[places[i] for i in images], *(["--model", places[model]] if model else [])]
        run(argv)

    def run(argv):
        capsys.readouterr()
        rc = cli.main(argv)
        err = capsys.readouterr().err.strip()
        assert rc in (0, 1, 2), (argv, rc, err)
        if rc:
            lines = err.splitlines()
            one = len(lines) == 1 or (argv[0] == "predict" and all(l.startswith("digitnet: error:") for l in lines))
            assert lines and one, (argv, err)
        counts[f"exit {rc}"] += 1
        assert not list(Path(places["dir"]).glob(f"{safeio.TEMP_PREFIX}*"))

    train()
    predict()
    report("generated command lines", counts)
    assert sum(counts.values()) >= 200 and counts["exit 0"] > 0 and counts["exit 2"] > 0


# -- signals at every moment of a real run --------------------------------------------------------
TINY = ["--limit", "500", "--epochs", "3", "--sizes", "784,10,10", "--validation", "100", "--no-progress"]


@pytest.fixture(scope="module")
def epoch_weights(mnist_dir, tmp_path_factory):
    """The weights after each epoch of the tiny run, from an uninterrupted run in this process."""
    folder = tmp_path_factory.mktemp("reference")
    seen = []
    real = training.save_checkpoint

    def keep(path, net, *args, **kwargs):
        seen.append({k: v.copy() for k, v in net.state_dict().items()})
        return real(path, net, *args, **kwargs)

    training.save_checkpoint = keep
    try:
        assert cli.main(["train", *TINY, "--data-dir", str(mnist_dir), "--checkpoint", str(folder / "ck.npz"),
                         "-o", str(folder / "m.npz")]) == 0
    finally:
        training.save_checkpoint = real
    return seen


def _signalled_run(mnist_dir, folder: Path, moment: str, sig: int, delay: float = 0.0) -> dict:
    """Run the tiny training in a subprocess and send ``sig`` at ``moment``: ``epoch-k`` (as the
    line of epoch k appears), ``save`` / ``checkpoint-save`` / ``after-fit`` (paused there by
    $DIGITNET_TEST_PAUSE_AT), ``start`` (``delay`` seconds after the process starts), else
    ``delay`` seconds after the data is loaded."""
    folder.mkdir()
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    if moment in ("save", "after-fit", "checkpoint-save"):
        env[safeio.PAUSE_ENV] = "save" if moment == "checkpoint-save" else moment
    extra = ["--checkpoint", str(folder / "ck.npz")] if moment != "save" else []
    proc = subprocess.Popen([sys.executable, "-m", "digitnet", "train", *TINY, "--data-dir", str(mnist_dir),
                             *extra, "-o", str(folder / "m.npz")], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    if moment.startswith("epoch-"):
        wanted = f"epoch {moment[6:]:>3}/3"
        for line in proc.stdout:
            if line.startswith(wanted):
                proc.send_signal(sig)
                break
    elif moment in ("save", "after-fit", "checkpoint-save"):
        for line in proc.stderr:
            if line.startswith("digitnet: pause"):
                proc.send_signal(sig)
                break
    elif moment == "start":
        time.sleep(delay)
        proc.send_signal(sig)
    else:  # ``delay`` seconds after the data is loaded (the line that describes the run)
        proc.stdout.readline()
        time.sleep(delay)
        proc.send_signal(sig)
    out, err = proc.communicate(timeout=120)
    return {"rc": proc.returncode, "err": err, "folder": folder}


def _check_run(run: dict, epoch_weights, sig: int) -> str:
    folder, rc = run["folder"], run["rc"]
    assert not list(folder.glob(f"{safeio.TEMP_PREFIX}*")), "a temporary file was left behind"
    model = folder / "m.npz"
    if rc == -sig and not model.exists():  # while Python itself starts, before digitnet's first line runs
        assert not (folder / "ck.npz").exists()
        return "ended by the signal during Python's start-up, nothing written"
    assert rc in (0, 130, -sig), (rc, run["err"])  # -sig: as Python exits, after digitnet returned
    if not model.exists():
        assert rc == 130 and run["err"].strip().splitlines()[-1] in (
            "digitnet: interrupted", "interrupted before the first epoch ended: no model written"), run["err"]
        return "exit 130 before epoch 1, nothing written"
    net, meta = load_model(model)
    k = meta["epochs_completed"]
    assert 1 <= k <= 3 and len(meta["history"]) == k
    assert all(v.tobytes() == epoch_weights[k - 1][name].tobytes() for name, v in net.state_dict().items()), \
        f"the model is not epoch {k}'s"
    if (folder / "ck.npz").exists():
        load_model(folder / "ck.npz")
    if rc == -sig:
        return f"ended by the signal as Python exits, model of epoch {k}"
    return f"exit {rc}, model of epoch {k}"


def test_signals_at_every_moment_keep_the_last_completed_epoch(mnist_dir, epoch_weights, tmp_path):
    """SIGINT and SIGTERM as each epoch ends, during the checkpoint save, between the last epoch
    and the save, during the save, at start-up, and 0 to 80 ms into training."""
    INT, TERM = signal.SIGINT, signal.SIGTERM
    runs = [(moment, sig, 0.0) for moment in ("epoch-1", "epoch-3", "checkpoint-save", "after-fit", "save")
            for sig in (INT, TERM)]
    runs += [("start", TERM, 0.05), ("epoch-2", INT, 0.0)]
    runs += [(f"{d * 1000:.0f} ms", (INT, TERM)[i % 2], d) for i, d in enumerate((0, 0.003, 0.01, 0.03, 0.08))]
    with ThreadPoolExecutor(3) as pool:
        done = list(pool.map(lambda r: _signalled_run(mnist_dir, tmp_path / f"{r[0]}-{r[1]}".replace(" ", ""), *r),
                             runs))
    counts = Counter()
    for (moment, sig, _), run in zip(runs, done):
        result = _check_run(run, epoch_weights, sig)
        counts[f"{signal.Signals(sig).name}: {result}"] += 1
        if moment in ("after-fit", "save"):
            assert result == "exit 130, model of epoch 3", (moment, sig, result)
        if moment == "epoch-3":  # the run may have finished before the signal came
            assert result.endswith("model of epoch 3"), (moment, sig, result)
        if moment == "checkpoint-save":
            assert result == "exit 130, model of epoch 1", (moment, sig, result)
    report(f"signals at {len(runs)} moments of a run", counts)


def test_stale_temporaries_of_killed_writers_are_removed(tmp_path):
    """A writer killed with SIGKILL mid-save leaves its temporary file; the next save in that
    folder removes it, and never one whose writer is alive."""
    script = textwrap.dedent(f"""
        import os, time
        from digitnet import safeio
        os.environ[safeio.PAUSE_ENV] = "save"
        safeio.write_atomic({str(tmp_path / 'm.bin')!r}, b"new" * 1000)
    """)
    (tmp_path / "m.bin").write_bytes(b"old")
    proc = subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.PIPE, text=True)
    assert proc.stderr.readline().startswith("digitnet: pause save")
    proc.kill()
    proc.wait()
    stale = list(tmp_path.glob(f"{safeio.TEMP_PREFIX}*"))
    assert len(stale) == 1 and (tmp_path / "m.bin").read_bytes() == b"old"
    live = tmp_path / f"{safeio.TEMP_PREFIX}{os.getppid()}.0123abcd.tmp"
    live.write_bytes(b"a writer that is still running")
    safeio.write_atomic(tmp_path / "other.bin", b"x")
    assert not stale[0].exists() and live.exists()
    assert (tmp_path / "m.bin").read_bytes() == b"old"


# -- resource bombs under a memory ceiling --------------------------------------------------------
CEILING = 1_500_000_000  # RLIMIT_AS of the child: address space, NumPy and OpenBLAS included

BOMB = textwrap.dedent("""
    import gzip, io, json, resource, sys, time, zipfile
    resource.setrlimit(resource.RLIMIT_AS, ({ceiling}, {ceiling}))
    kind, path = sys.argv[1], sys.argv[2]
    from digitnet import cli, data, persistence, preprocess

    def peak_kb():  # this process's peak resident memory; ru_maxrss would count the parent's from before exec
        with open("/proc/self/status") as f:
            return int(next(line for line in f if line.startswith("VmHWM:")).split()[1])

    before = peak_kb()
    start = time.perf_counter()
    try:
        if kind == "idx":
            data.read_idx(path)
        elif kind == "model":
            persistence.load_model(path)
        elif kind == "image":
            preprocess.to_mnist(preprocess.load_image(path))
        elif kind == "sizes":
            sys.exit(cli.main(["train", "--sizes", "784,100000000,10", "-o", path]))
        outcome = "accepted"
    except (data.DataError, persistence.ModelFileError, ValueError) as e:
        outcome = "refused: " + str(e)
    grown = peak_kb() - before
    print(json.dumps({{"outcome": outcome, "grown_mb": grown / 1024, "seconds": time.perf_counter() - start}}))
""")


def _bomb(kind: str, path: Path) -> dict:
    run = subprocess.run([sys.executable, "-c", BOMB.format(ceiling=CEILING), kind, str(path)],
                         capture_output=True, text=True, timeout=120,
                         env={**os.environ, "OPENBLAS_NUM_THREADS": "1"})
    assert run.returncode in (0, 2), run.stderr
    return json.loads(run.stdout.strip().splitlines()[-1]) if run.returncode == 0 else {"outcome": run.stderr}


def test_resource_bombs_are_refused_within_a_memory_bound(tmp_path, model):
    from PIL import Image

    header = b"\x00\x00\x08\x03" + struct.pack(">III", 60000, 28, 28)
    idx = tmp_path / "train-images-idx3-ubyte.gz"
    idx.write_bytes(gzip_bomb(header, 6 << 30))  # 6 GB of zeros behind a 47 MB header
    members = _members(model[0])
    big_w = _zip_with({**members, "1.W.npy": _npy(
        "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000000000,), }")})
    (tmp_path / "elements.npz").write_bytes(big_w)
    (tmp_path / "units.npz").write_bytes(with_meta(
        model[1], lambda m: m["architecture"]["layers"][6].update(units=2 ** 30)))
    (tmp_path / "deflate.npz").write_bytes(deflate_bomb(members))
    a = np.zeros((6000, 6600, 4), np.uint8)
    a[2000:4000, 3000:3600] = 255
    Image.fromarray(a, "RGBA").save(tmp_path / "big.png")
    cases = {"gzip bomb as an IDX file": ("idx", idx), "array of 10**15 elements": ("model", tmp_path / "elements.npz"),
             "dense layer of 2**30 units": ("model", tmp_path / "units.npz"),
             "deflate bomb in a model file": ("model", tmp_path / "deflate.npz"),
             "39.6 MP RGBA PNG": ("image", tmp_path / "big.png"),
             "--sizes 784,100000000,10": ("sizes", tmp_path / "m.npz")}
    with ThreadPoolExecutor(2) as pool:
        results = dict(zip(cases, pool.map(lambda c: _bomb(*c), cases.values())))
    for name, r in results.items():
        print(f"\nhostile: {name}: {r['outcome'].replace(str(tmp_path) + '/', '')[:150]}; "
              f"grew {r.get('grown_mb', 0):.0f} MB in {r.get('seconds', 0):.2f} s")
        if name == "39.6 MP RGBA PNG":
            assert r["outcome"] == "accepted" and r["grown_mb"] < 250  # the decoded image is 158 MB
        elif name == "--sizes 784,100000000,10":
            assert "needs 1288.00 GB, the limit is 4.00 GB" in r["outcome"]
        else:
            assert r["outcome"].startswith("refused") and r["grown_mb"] < 100, (name, r)


def gzip_bomb(header: bytes, size: int) -> bytes:
    """``header`` then ``size`` zero bytes, gzipped as one member per 16 MB (gzip allows many)."""
    import gzip

    return gzip.compress(header) + gzip.compress(bytes(1 << 24), 9) * (size >> 24)


def deflate_bomb(members: dict[str, bytes]) -> bytes:
    """A model archive whose first array member inflates to 1 GB while declaring its true size."""
    data = bytearray(_zip_with(members, zipfile.ZIP_DEFLATED))
    name = b"1.W.npy"
    z = zlib.compressobj(9, zlib.DEFLATED, -15)
    bomb = z.compress(members["1.W.npy"]) + b"".join(z.compress(bytes(1 << 24)) for _ in range(64)) + z.flush()
    local = data.find(name) - 30
    size = struct.unpack("<I", data[local + 18:local + 22])[0]
    start = local + 30 + len(name) + struct.unpack("<H", data[local + 28:local + 30])[0]
    data[start:start + size] = bomb
    data[local + 18:local + 22] = struct.pack("<I", len(bomb))
    central = data.find(b"PK\x01\x02" + bytes(data[local + 4:local + 6]), start + len(bomb))
    data[central + 20:central + 24] = struct.pack("<I", len(bomb))
    shift = len(bomb) - size
    for sig in (b"PK\x01\x02",):
        j = data.find(sig, central + 4)
        while j >= 0:
            off = struct.unpack("<I", data[j + 42:j + 46])[0]
            if off > local:
                data[j + 42:j + 46] = struct.pack("<I", off + shift)
            j = data.find(sig, j + 4)
    end = data.rfind(b"PK\x05\x06")
    cd_offset = struct.unpack("<I", data[end + 16:end + 20])[0]
    data[end + 16:end + 20] = struct.pack("<I", cd_offset + shift)
    return bytes(data)
