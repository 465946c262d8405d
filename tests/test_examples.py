"""The examples database: real SQLite files, migrations, damaged and foreign files, concurrent
writers, a writer killed mid-run, export and import, and the ``digitnet examples`` commands."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from PIL import Image

from digitnet import cli
from digitnet.examples import (APPLICATION_ID, FORMATS, MIGRATIONS, NOT_A_DIGIT, SCHEMA_VERSION, ExamplesError,
                               ExampleStore, default_path, export_examples, read_export)


def _inputs(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((n, 784), dtype=np.float32)  # (n, 784)


def _writer_script(db, count: int, profile: str) -> str:
    return textwrap.dedent(f"""
        import numpy as np
        from digitnet.examples import ExampleStore
        with ExampleStore({str(db)!r}) as store:
            for i in range({count}):
                x = np.full(784, (i % 10) / 10, np.float32)
                print(store.add(x, i % 10, {profile!r}), flush=True)
    """)


def test_add_list_undo_delete_keep_each_profile_apart(tmp_path):
    X = _inputs(3)
    with ExampleStore(tmp_path / "e.sqlite") as store:
        a = store.add(X[0], 7, "ann", drawing=b"\x89PNG...", answer=1, confidence=0.75, model_sha256="ab" * 32)
        b = store.add(X[1], NOT_A_DIGIT, "ann")
        c = store.add(X[2], 3, "bob")
        assert store.count("ann") == 2 and store.count("bob") == 1
        assert store.profiles() == [("ann", 2), ("bob", 1)]
        Xa, ya, rows = store.arrays("ann")
        np.testing.assert_array_equal(Xa, X[:2])  # the input exactly as the network saw it
        assert ya.tolist() == [7, NOT_A_DIGIT] and [r.id for r in rows] == [a, b]
        assert rows[0].drawing == b"\x89PNG..." and rows[0].answer == 1 and rows[0].confidence == 0.75
        assert [r.label_text for r in rows] == ["7", "not a digit"]
        stored = store.conn.execute("SELECT label, label_text FROM examples ORDER BY id").fetchall()
        assert stored == [(7, "7"), (None, "not a digit"), (3, "3")]
        assert store.undo_last("ann") == b and store.count("ann") == 1
        assert store.delete([c, a], profile="bob") == 1  # ann's example is not bob's to delete
        assert store.count("bob") == 0 and store.count("ann") == 1
        assert store.undo_last("bob") is None


def test_database_is_wal_and_versioned(tmp_path):
    with ExampleStore(tmp_path / "new" / "folder" / "e.sqlite") as store:  # folders are created
        assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert store.version == SCHEMA_VERSION
        assert store.conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID


def test_default_path_follows_xdg_and_digitnet_db(tmp_path, monkeypatch):
    monkeypatch.delenv("DIGITNET_DB", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert default_path() == tmp_path / "data" / "digitnet" / "examples.sqlite"
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_path() == tmp_path / "home" / ".local" / "share" / "digitnet" / "examples.sqlite"
    monkeypatch.setenv("DIGITNET_DB", str(tmp_path / "mine.sqlite"))
    assert default_path() == tmp_path / "mine.sqlite"


def test_migration_from_version_1_keeps_the_examples(tmp_path):
    db = tmp_path / "v1.sqlite"
    conn = sqlite3.connect(db)
    conn.executescript(MIGRATIONS[0])
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    conn.execute("PRAGMA user_version = 1")
    x = _inputs(1)[0]
    conn.execute("INSERT INTO examples (profile, created, label, label_text, source, input) "
                 "VALUES ('ann', '2026-01-01T00:00:00+00:00', 4, '4', 'canvas', ?)", (x.astype("<f4").tobytes(),))
    conn.commit()
    conn.close()
    with ExampleStore(db) as store:
        assert store.version == 2
        (row,) = store.list("ann")
        assert row.label == 4 and row.confidence is None and row.created.startswith("2026-01-01")
        np.testing.assert_array_equal(row.x, x)
        indexes = {r[0] for r in store.conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert "examples_profile" in indexes
        store.add(x, 5, "ann", confidence=0.5)  # the new column takes values
        assert store.list("ann")[-1].confidence == 0.5


def _refused_untouched(path, match: str) -> None:
    before = path.read_bytes()
    with pytest.raises(ExamplesError, match=match) as e:
        ExampleStore(path)
    assert "\n" not in str(e.value) and str(path) in str(e.value)
    assert path.read_bytes() == before
    assert not path.with_name(path.name + "-wal").exists()


def test_newer_schema_foreign_and_garbage_files_are_refused_and_left_alone(tmp_path):
    newer = tmp_path / "newer.sqlite"
    with ExampleStore(newer) as store:
        store.add(_inputs(1)[0], 1)
        store.conn.execute("PRAGMA user_version = 99")
        store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    _refused_untouched(newer, "newer digitnet")

    foreign = tmp_path / "foreign.sqlite"
    conn = sqlite3.connect(foreign)
    conn.execute("CREATE TABLE songs (title TEXT)")
    conn.commit()
    conn.close()
    _refused_untouched(foreign, "another program's SQLite database")

    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"these are not the bytes of a database " * 200)
    _refused_untouched(garbage, "not a usable examples database")

    with pytest.raises(ExamplesError, match="not a regular file"):
        ExampleStore(tmp_path)


def test_damaged_database_is_reported_not_repaired(tmp_path):
    db = tmp_path / "e.sqlite"
    with ExampleStore(db) as store:
        store.add_many(_inputs(40), [3] * 40, "ann")
        store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    page = sqlite3.connect(db).execute("PRAGMA page_size").fetchone()[0]
    raw = bytearray(db.read_bytes())
    raw[page:3 * page] = b"\xff" * (2 * page)  # the table's pages, after the header page
    db.write_bytes(bytes(raw))
    _refused_untouched(db, "damaged|not a usable|malformed")


def test_command_line_reports_a_bad_database_in_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(b"garbage" * 100)
    assert cli.main(["examples", "list", "--db", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "bad.sqlite" in err and "Traceback" not in err
    assert bad.read_bytes() == b"garbage" * 100


def test_invalid_examples_write_nothing(tmp_path):
    with ExampleStore(tmp_path / "e.sqlite") as store:
        store.add(_inputs(1)[0], 2)
        with pytest.raises(ValueError, match="label"):
            store.add_many(_inputs(3), [1, 11, 2])  # one bad label: none of the three is stored
        with pytest.raises(ValueError, match=r"\[0, 1\]"):
            store.add_many(_inputs(2) * 2, [1, 2])
        with pytest.raises(ValueError, match="profile"):
            store.add(_inputs(1)[0], 2, profile="")
        assert store.count() == 1


def test_concurrent_writers_lose_nothing(tmp_path):
    db = tmp_path / "e.sqlite"
    ExampleStore(db).close()
    procs = [subprocess.Popen([sys.executable, "-c", _writer_script(db, 40, f"p{k}")],
                              stdout=subprocess.PIPE, text=True) for k in range(3)]
    ids = [int(line) for p in procs for line in p.communicate(timeout=120)[0].split()]
    assert all(p.returncode == 0 for p in procs)
    with ExampleStore(db) as store:
        assert store.profiles() == [("p0", 40), ("p1", 40), ("p2", 40)]
        assert sorted(ids) == sorted(r.id for k in range(3) for r in store.list(f"p{k}"))


def test_a_writer_killed_mid_run_loses_nothing_it_confirmed(tmp_path):
    db = tmp_path / "e.sqlite"
    proc = subprocess.Popen([sys.executable, "-c", _writer_script(db, 100_000, "ann")],
                            stdout=subprocess.PIPE, text=True)
    confirmed = [int(proc.stdout.readline()) for _ in range(30)]
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    proc.stdout.close()
    with ExampleStore(db) as store:  # opens (quick_check passes) and holds every confirmed example
        stored = {r.id: r for r in store.list("ann")}
        assert set(confirmed) <= set(stored)
        assert all(stored[i].label == (i - 1) % 10 for i in confirmed)


@pytest.mark.parametrize("fmt", FORMATS)
def test_export_then_import_round_trip(tmp_path, fmt):
    X = np.round(_inputs(5) * 255) / 255  # (5, 784) values idx and csv keep exactly
    with ExampleStore(tmp_path / "e.sqlite") as store:
        store.add_many(X, [0, 5, 9, NOT_A_DIGIT, 3], "ann", "canvas", drawings=[b"a", None, b"ccc", b"", b"e"],
                       answers=[1, 5, 9, NOT_A_DIGIT, None])
        paths = export_examples(store.list("ann"), tmp_path / f"out.{fmt}", fmt)
        back = read_export(paths[0], fmt)
        np.testing.assert_allclose(back.X, X.astype(np.float32), atol=1e-6)
        assert back.y.tolist() == [0, 5, 9, NOT_A_DIGIT, 3]
        if fmt == "npz":
            assert back.drawings == [b"a", None, b"ccc", None, b"e"] and back.answers == [1, 5, 9, NOT_A_DIGIT, None]
        store.add_many(back.X, back.y.tolist(), "bob", "import", back.drawings)
        assert store.arrays("bob")[1].tolist() == [0, 5, 9, NOT_A_DIGIT, 3]


def test_import_refuses_bad_files_in_one_line(tmp_path):
    text = tmp_path / "notes.npz"
    text.write_text("hello")
    with pytest.raises(ValueError, match="not an .npz archive"):
        read_export(text)
    csv = tmp_path / "short.csv"
    csv.write_text("label,pixel0\n3,0\n")
    with pytest.raises(ValueError, match="line 2 has 2 values"):
        read_export(csv)
    with pytest.raises(ValueError, match="cannot import"):
        read_export(tmp_path / "missing-images-idx3-ubyte")
    np.savez(tmp_path / "answers.npz", X=np.zeros((1, 784), np.float32), y=np.array([3]), answer=np.array([11]))
    with pytest.raises(ValueError, match="answers outside 0-9 and 10"):
        read_export(tmp_path / "answers.npz")


def _png(path, digit_pixels: np.ndarray) -> None:
    Image.fromarray((digit_pixels.reshape(28, 28) * 255).astype(np.uint8)).save(path)


def test_examples_commands(tmp_path, capsys, monkeypatch, mnist_dir):
    from digitnet.data import load_dataset

    monkeypatch.setenv("DIGITNET_DB", str(tmp_path / "env.sqlite"))
    test = load_dataset("mnist", mnist_dir, validation=0, progress=False).test
    images = []
    for i in range(3):
        images.append(str(tmp_path / f"d{i}.png"))
        _png(images[-1], test.X[i])
    assert cli.main(["examples", "add", "--label", "7", *images[:2], "--profile", "ann"]) == 0
    out = capsys.readouterr().out
    assert f"the model read {test.y[0]}" in out and "profile 'ann' has 2 examples" in out
    with ExampleStore(tmp_path / "env.sqlite") as store:  # DIGITNET_DB chose the file
        rows = store.list("ann")
        assert [r.source for r in rows] == ["upload", "upload"] and rows[0].answer == test.y[0]
        assert rows[0].drawing.startswith(b"\x89PNG") and len(rows[0].model_sha256) == 64

    db = tmp_path / "other.sqlite"
    blank = tmp_path / "blank.png"
    Image.new("L", (28, 28)).save(blank)
    assert cli.main(["examples", "add", "--label", "1", images[2], str(blank), "--db", str(db)]) == 2
    assert "blank.png" in capsys.readouterr().err
    assert cli.main(["examples", "add", "--label", "eleven", images[2], "--db", str(db)]) == 2
    cross = np.zeros((28, 28), np.float32)
    cross[np.arange(6, 22), np.arange(6, 22)] = cross[np.arange(6, 22), np.arange(21, 5, -1)] = 1.0
    _png(blank, cross)  # an x, which the shipped model's reject option refuses
    assert cli.main(["examples", "add", "--label", "not a digit", str(blank), "--db", str(db)]) == 0
    assert "label not a digit (the model read not a digit)" in capsys.readouterr().out
    assert cli.main(["examples", "list", "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert "not a digit  upload   not a digit\n" in out  # no confidence for a refusal
    assert "profile 'default': 1 example in" in out  # the blank one was not stored

    assert cli.main(["examples", "export", "--profile", "ann", "--format", "csv", "-o", str(tmp_path / "a.csv")]) == 0
    assert cli.main(["examples", "import", str(tmp_path / "a.csv"), "--db", str(db), "--profile", "bob"]) == 0
    assert cli.main(["examples", "delete", "1", "999", "--db", str(db)]) == 2
    capsys.readouterr()
    with ExampleStore(db) as store:
        assert store.count("default") == 0 and store.arrays("bob")[1].tolist() == [7, 7]
