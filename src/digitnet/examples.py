"""A person's own examples, kept in SQLite: the inputs they corrected or confirmed, per profile.

One row per example: the 28 x 28 input the network saw (784 little-endian float32, as
``preprocess.to_mnist`` made it), the original drawing or upload as PNG bytes, the label, where it
came from (``canvas``, ``upload`` or ``import``), the model's answer (with its reject option: a
digit, or "not a digit") and the SHA-256 of the model file that gave it, a profile name (several
people on one machine) and the time (UTC, ISO 8601).

Labels are 0-9 or "not a digit". The table stores a digit as itself and "not a digit" as NULL,
beside a text (``"7"``, ``"not a digit"``) that a person reading the file understands; arrays
handed to Python use ``NOT_A_DIGIT = 10``. The model's answer is stored as 0-9 or 10, NULL
meaning that no answer was recorded.

Safety, which is the point of a database here:

* WAL journal, ``synchronous=FULL``: every write is one transaction, committed to disk before
  ``add`` returns; a process killed at any moment loses nothing that was committed, and several
  browser tabs of the app may write at once (a writer waits up to ``BUSY_MS`` for another).
* The file is recognised by ``PRAGMA application_id`` before anything is written to it. A file
  that is not SQLite, a damaged one, or some other program's database is reported in one line
  (``ExamplesError``) and left exactly as it was.
* ``PRAGMA user_version`` is the schema version. ``MIGRATIONS[i]`` takes version ``i`` to ``i + 1``
  inside the same transaction that records the new version, so a migration happens entirely or
  not at all. A file from a newer digitnet is refused rather than guessed at.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import io
import os
import sqlite3
import stat
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

APPLICATION_ID = 0x64676E78  # "dgnx": marks a digitnet examples database
NOT_A_DIGIT = 10
NOT_A_DIGIT_TEXT = "not a digit"
SOURCES = ("canvas", "upload", "import")
BUSY_MS = 10_000
PIXELS = 784
DEFAULT_PROFILE = "default"

MIGRATIONS: tuple[str, ...] = (
    # 0 -> 1: the examples table.
    """
    CREATE TABLE examples (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        profile TEXT NOT NULL,
        created TEXT NOT NULL,
        label INTEGER CHECK (label IS NULL OR label BETWEEN 0 AND 9),
        label_text TEXT NOT NULL,
        source TEXT NOT NULL,
        input BLOB NOT NULL CHECK (length(input) = 3136),
        drawing BLOB,
        answer INTEGER,
        model_sha256 TEXT
    );
    """,
    # 1 -> 2: the model's confidence in its answer, and listing a profile without a full scan.
    """
    ALTER TABLE examples ADD COLUMN confidence REAL;
    CREATE INDEX examples_profile ON examples (profile, id);
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


class ExamplesError(ValueError):
    """The examples database cannot be used (one line, naming the file); nothing was changed."""


@dataclass(frozen=True)
class Example:
    """One stored example. ``label`` is 0-9 or ``NOT_A_DIGIT``; ``x`` the (784,) float32 input."""

    id: int
    profile: str
    created: str
    label: int
    source: str
    x: np.ndarray
    drawing: bytes | None
    answer: int | None
    confidence: float | None
    model_sha256: str | None

    @property
    def label_text(self) -> str:
        return label_text(self.label)


def label_text(label: int) -> str:
    """``"7"`` for a digit, ``"not a digit"`` for ``NOT_A_DIGIT``."""
    return NOT_A_DIGIT_TEXT if label == NOT_A_DIGIT else str(label)


def parse_label(text: str | int) -> int:
    """A label from ``0``-``9``, ``"not a digit"`` (or ``"none"``, ``10``); raises ValueError."""
    if isinstance(text, str) and text.strip().lower() in (NOT_A_DIGIT_TEXT, "none", "not-a-digit"):
        return NOT_A_DIGIT
    try:
        label = int(text)
    except (TypeError, ValueError):
        raise ValueError(f"a label is a digit 0-9 or 'not a digit', not {text!r}") from None
    if not 0 <= label <= NOT_A_DIGIT:
        raise ValueError(f"a label is a digit 0-9 or 'not a digit', not {text!r}")
    return label


def default_path() -> Path:
    """``$DIGITNET_DB``, else ``$XDG_DATA_HOME/digitnet/examples.sqlite`` (``~/.local/share``)."""
    if os.environ.get("DIGITNET_DB"):
        return Path(os.environ["DIGITNET_DB"])
    data = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(data) / "digitnet" / "examples.sqlite"


def file_sha256(path: str | os.PathLike) -> str:
    """The SHA-256 of a file's bytes (a model file's identity in ``model_sha256``)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def digest(X: np.ndarray, y: np.ndarray) -> str:
    """SHA-256 of examples' inputs ``(n, 784)`` and labels ``(n,)`` in order: what a model learnt from."""
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(X, "<f4").tobytes())
    h.update(np.ascontiguousarray(y, "<i8").tobytes())
    return h.hexdigest()


class ExampleStore:
    """The examples database at ``path`` (created with its folder when missing).

    Use as a context manager, or call ``close()``. Every method is one transaction.
    """

    def __init__(self, path: str | os.PathLike | None = None) -> None:
        self.path = Path(path) if path is not None else default_path()
        self._check_file()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.conn = sqlite3.connect(self.path, timeout=BUSY_MS / 1000, isolation_level=None)
        except (OSError, sqlite3.Error) as e:
            raise ExamplesError(f"cannot open examples database {self.path}: {e}") from None
        try:
            self._open()
        except sqlite3.DatabaseError as e:
            self.conn.close()
            raise ExamplesError(f"{self.path} is not a usable examples database ({e}); "
                                "it was left as it is: move it away or give another --db") from None
        except ExamplesError:
            self.conn.close()
            raise

    def _check_file(self) -> None:
        try:
            mode = self.path.stat().st_mode
        except FileNotFoundError:
            return
        except OSError as e:
            raise ExamplesError(f"cannot open examples database {self.path}: {e.strerror or e}") from None
        if not stat.S_ISREG(mode):
            raise ExamplesError(f"{self.path} is not a regular file: give a database file with --db")

    def _open(self) -> None:
        c = self.conn
        c.execute(f"PRAGMA busy_timeout = {BUSY_MS}")
        app_id = c.execute("PRAGMA application_id").fetchone()[0]
        version = c.execute("PRAGMA user_version").fetchone()[0]
        tables = c.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        if app_id != APPLICATION_ID and (app_id != 0 or version != 0 or tables):
            raise ExamplesError(f"{self.path} is another program's SQLite database, not digitnet's "
                                "examples; it was left as it is: give another --db")
        if version > SCHEMA_VERSION:
            raise ExamplesError(f"{self.path} has schema version {version}, made by a newer digitnet "
                                f"(this one reads up to {SCHEMA_VERSION}); it was left as it is")
        if app_id == APPLICATION_ID:
            problem = c.execute("PRAGMA quick_check").fetchone()[0]
            if problem != "ok":
                raise ExamplesError(f"{self.path} is damaged ({problem}); it was left as it is")
        c.execute("PRAGMA journal_mode = WAL")
        c.execute("PRAGMA synchronous = FULL")
        self.migrate()

    def migrate(self, target: int = SCHEMA_VERSION) -> None:
        """Bring the schema to version ``target``, one migration per transaction."""
        while True:
            with self._write() as c:
                version = c.execute("PRAGMA user_version").fetchone()[0]
                if version >= target:
                    return
                for statement in _statements(MIGRATIONS[version]):
                    c.execute(statement)
                c.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                c.execute(f"PRAGMA user_version = {version + 1}")

    @property
    def version(self) -> int:
        return self.conn.execute("PRAGMA user_version").fetchone()[0]

    def _write(self) -> _Transaction:
        return _Transaction(self.conn)

    # -- writing ------------------------------------------------------------------------------
    def add(self, x: np.ndarray, label: int, profile: str = DEFAULT_PROFILE, source: str = "canvas",
            drawing: bytes | None = None, answer: int | None = None, confidence: float | None = None,
            model_sha256: str | None = None) -> int:
        """Store one example (committed when this returns); returns its id."""
        return self.add_many(np.asarray(x)[None], [label], profile, source, [drawing], [answer],
                             [confidence], model_sha256)[0]

    def add_many(self, X: np.ndarray, labels, profile: str = DEFAULT_PROFILE, source: str = "import",
                 drawings=None, answers=None, confidences=None, model_sha256: str | None = None,
                 created: list[str] | None = None) -> list[int]:
        """Store several examples in ONE transaction (all or none); returns their ids."""
        X = np.asarray(X, np.float32)
        if X.ndim != 2 or X.shape[1] != PIXELS:
            raise ValueError(f"examples are rows of {PIXELS} pixels, got shape {X.shape}")
        if not np.isfinite(X).all() or X.min(initial=0) < 0 or X.max(initial=0) > 1:
            raise ValueError("example pixels must lie in [0, 1]")
        labels = [parse_label(v) for v in labels]
        if len(labels) != len(X):
            raise ValueError(f"{len(X)} examples but {len(labels)} labels")
        if source not in SOURCES:
            raise ValueError(f"source must be one of {', '.join(SOURCES)}, not {source!r}")
        profile = check_profile(profile)
        n = len(X)
        drawings = drawings if drawings is not None else [None] * n
        answers = answers if answers is not None else [None] * n
        confidences = confidences if confidences is not None else [None] * n
        now = _now()
        rows = [(profile, created[i] if created else now, None if lab == NOT_A_DIGIT else lab,
                 label_text(lab), source, X[i].astype("<f4").tobytes(),
                 None if drawings[i] is None else bytes(drawings[i]),
                 None if answers[i] is None else int(answers[i]),
                 None if confidences[i] is None else float(confidences[i]), model_sha256)
                for i, lab in enumerate(labels)]
        ids = []
        with self._write() as c:
            for row in rows:
                cur = c.execute(
                    "INSERT INTO examples (profile, created, label, label_text, source, input, drawing, "
                    "answer, confidence, model_sha256) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", row)
                ids.append(cur.lastrowid)
        return ids

    def delete(self, ids, profile: str | None = None) -> int:
        """Delete examples by id (only the profile's, when given); returns how many went."""
        ids = [int(i) for i in ids]
        where = "id = ?" + (" AND profile = ?" if profile is not None else "")
        with self._write() as c:
            return sum(c.execute(f"DELETE FROM examples WHERE {where}",
                                 (i, profile) if profile is not None else (i,)).rowcount for i in ids)

    def undo_last(self, profile: str = DEFAULT_PROFILE) -> int | None:
        """Delete the profile's newest example; returns its id (None when there is none)."""
        with self._write() as c:
            row = c.execute("SELECT max(id) FROM examples WHERE profile = ?", (profile,)).fetchone()
            if row[0] is None:
                return None
            c.execute("DELETE FROM examples WHERE id = ?", (row[0],))
            return row[0]

    # -- reading ------------------------------------------------------------------------------
    def count(self, profile: str = DEFAULT_PROFILE) -> int:
        return self.conn.execute("SELECT count(*) FROM examples WHERE profile = ?", (profile,)).fetchone()[0]

    def profiles(self) -> list[tuple[str, int]]:
        """Each profile with its number of examples."""
        return self.conn.execute(
            "SELECT profile, count(*) FROM examples GROUP BY profile ORDER BY profile").fetchall()

    def list(self, profile: str = DEFAULT_PROFILE) -> list[Example]:
        """The profile's examples, oldest first."""
        rows = self.conn.execute(
            "SELECT id, profile, created, label, source, input, drawing, answer, confidence, model_sha256 "
            "FROM examples WHERE profile = ? ORDER BY id", (profile,)).fetchall()
        return [Example(r[0], r[1], r[2], NOT_A_DIGIT if r[3] is None else r[3], r[4],
                        np.frombuffer(r[5], "<f4").astype(np.float32), r[6], r[7], r[8], r[9])
                for r in rows]

    def arrays(self, profile: str = DEFAULT_PROFILE) -> tuple[np.ndarray, np.ndarray, list[Example]]:
        """The profile's inputs ``X (n, 784)`` float32 and labels ``y (n,)`` int64, with the rows."""
        examples = self.list(profile)
        X = np.stack([e.x for e in examples]) if examples else np.zeros((0, PIXELS), np.float32)  # (n, 784)
        y = np.array([e.label for e in examples], dtype=np.int64)  # (n,)
        return X, y, examples

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> ExampleStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _Transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` (``ROLLBACK`` on any exception): one write, whole or not at all.

    IMMEDIATE takes the write lock at the start, so two writers queue (up to the busy timeout)
    instead of one failing half-way with "database is locked".
    """

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type, exc, tb) -> None:
        self.conn.execute("ROLLBACK" if exc_type else "COMMIT")


def _statements(script: str) -> list[str]:
    """The statements of a migration script (ours hold no ``;`` inside a literal)."""
    return [s.strip() for s in script.split(";") if s.strip()]


def check_profile(name: str) -> str:
    """A profile name: 1-64 printable characters."""
    if not isinstance(name, str) or not 0 < len(name) <= 64 or not name.isprintable():
        raise ValueError(f"a profile name has 1-64 printable characters, not {name!r}")
    return name


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


# -- export and import --------------------------------------------------------------------------
# npz: everything (inputs as float32, drawings, answers, times); idx and csv: the inputs as
# uint8 (0-255, as MNIST itself) with their labels, for other tools. Labels are 0-9 and 10 for
# "not a digit" in npz and idx; csv writes the label's text.
FORMATS = ("npz", "idx", "csv")
IDX_IMAGES, IDX_LABELS = "-images-idx3-ubyte", "-labels-idx1-ubyte"


def export_paths(path: str | os.PathLike, fmt: str) -> list[Path]:
    """The files an export writes: ``PATH`` itself, or for idx ``PATH-images-idx3-ubyte`` and
    ``PATH-labels-idx1-ubyte`` (MNIST's own names with ``PATH`` in front)."""
    path = Path(path)
    if fmt == "idx":
        return [Path(f"{path}{IDX_IMAGES}"), Path(f"{path}{IDX_LABELS}")]
    return [path]


def export_examples(examples: list[Example], path: str | os.PathLike, fmt: str) -> list[Path]:
    """Write ``examples`` to ``path`` in ``fmt`` (each file atomically); returns the files written."""
    from .safeio import check_output, write_atomic

    if fmt not in FORMATS:
        raise ValueError(f"export format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    paths = export_paths(path, fmt)
    for p in paths:
        check_output(p, "-o")
    X = np.stack([e.x for e in examples]) if examples else np.zeros((0, PIXELS), np.float32)  # (n, 784)
    y = np.array([e.label for e in examples], dtype=np.int64)  # (n,)
    if fmt == "npz":
        write_atomic(paths[0], npz_bytes(examples))
    elif fmt == "idx":
        n = len(examples)
        pixels = np.round(X * 255).astype(np.uint8).reshape(n, 28, 28)  # (n, 28, 28)
        write_atomic(paths[0], _idx_header(0x08, (n, 28, 28)) + pixels.tobytes())
        write_atomic(paths[1], _idx_header(0x08, (n,)) + y.astype(np.uint8).tobytes())
    else:
        lines = ["label," + ",".join(f"pixel{i}" for i in range(PIXELS))]
        pixels = np.round(X * 255).astype(np.uint8)  # (n, 784)
        lines += [label_text(int(lab)) + "," + ",".join(map(str, row)) for lab, row in zip(y, pixels)]
        write_atomic(paths[0], ("\n".join(lines) + "\n").encode("ascii"))
    return paths


def npz_bytes(examples: list[Example]) -> bytes:
    """The npz export of ``examples`` as bytes: inputs, labels, drawings (one byte string with
    offsets), answers (-1: none), confidences (NaN: none), times, sources, model digests."""
    X = np.stack([e.x for e in examples]) if examples else np.zeros((0, PIXELS), np.float32)  # (n, 784)
    y = np.array([e.label for e in examples], dtype=np.int64)  # (n,)
    drawings = [e.drawing or b"" for e in examples]
    offsets = np.cumsum([0] + [len(d) for d in drawings]).astype(np.int64)  # (n + 1,)
    arrays = {
        "X": X, "y": y,
        "created": np.array([e.created for e in examples], dtype="U40"),
        "source": np.array([e.source for e in examples], dtype="U16"),
        "answer": np.array([-1 if e.answer is None else e.answer for e in examples], dtype=np.int64),
        "confidence": np.array([np.nan if e.confidence is None else e.confidence for e in examples]),
        "model_sha256": np.array([e.model_sha256 or "" for e in examples], dtype="U64"),
        "drawing_bytes": np.frombuffer(b"".join(drawings), dtype=np.uint8),
        "drawing_offsets": offsets,
    }
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _idx_header(type_code: int, shape: tuple[int, ...]) -> bytes:
    """IDX magic ``00 00 <type> <ndim>`` and the sizes as big-endian uint32."""
    return bytes([0, 0, type_code, len(shape)]) + np.array(shape, ">u4").tobytes()


@dataclass
class Imported:
    """Examples read from an export: ``X (n, 784)`` float32, ``y (n,)`` labels, and what else it held."""

    X: np.ndarray
    y: np.ndarray
    drawings: list[bytes | None] | None = None
    answers: list[int | None] | None = None
    confidences: list[float | None] | None = None
    created: list[str] | None = None


def guess_format(path: str | os.PathLike) -> str:
    name = str(path)
    if name.endswith(".npz"):
        return "npz"
    if name.endswith(".csv"):
        return "csv"
    return "idx"


def read_export(path: str | os.PathLike, fmt: str | None = None) -> Imported:
    """Read a file written by ``export_examples`` (or any MNIST-like IDX pair / CSV); ValueError
    names the file and what is wrong with it."""
    fmt = fmt or guess_format(path)
    if fmt not in FORMATS:
        raise ValueError(f"import format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    try:
        out = {"npz": _read_npz, "idx": _read_idx_pair, "csv": _read_csv}[fmt](Path(path))
    except (OSError, KeyError, zipfile.BadZipFile) as e:
        raise ValueError(f"cannot import {path} as {fmt}: {e}") from None
    if out.X.ndim != 2 or out.X.shape[1] != PIXELS or len(out.y) != len(out.X):
        raise ValueError(f"cannot import {path}: expected {PIXELS}-pixel images with one label each")
    if not np.isfinite(out.X).all() or out.X.min(initial=0) < 0 or out.X.max(initial=0) > 1:
        raise ValueError(f"cannot import {path}: pixels outside [0, 1]")
    if len(out.y) and (out.y.min() < 0 or out.y.max() > NOT_A_DIGIT):
        raise ValueError(f"cannot import {path}: labels outside 0-9 and {NOT_A_DIGIT} (not a digit)")
    if any(a is not None and a > NOT_A_DIGIT for a in out.answers or []):
        raise ValueError(f"cannot import {path}: answers outside 0-9 and {NOT_A_DIGIT} (not a digit)")
    return out


def _read_npz(path: Path) -> Imported:
    if not path.is_file():
        raise ValueError(f"cannot import {path}: not a file")
    with open(path, "rb") as f:
        if f.read(4) != b"PK\x03\x04":  # checked first: np.load would offer to unpickle it
            raise ValueError(f"cannot import {path}: not an .npz archive")
    with np.load(path, allow_pickle=False) as z:
        X, y = z["X"].astype(np.float32), z["y"].astype(np.int64)
        n = len(y)
        offsets = z["drawing_offsets"] if "drawing_offsets" in z.files else None
        blob = z["drawing_bytes"].tobytes() if "drawing_bytes" in z.files else b""
        drawings = None
        if offsets is not None and len(offsets) == n + 1:
            drawings = [blob[offsets[i]:offsets[i + 1]] or None for i in range(n)]
        answers = [None if a < 0 else int(a) for a in z["answer"]] if "answer" in z.files else None
        conf = [None if np.isnan(c) else float(c) for c in z["confidence"]] if "confidence" in z.files else None
        created = [str(c) for c in z["created"]] if "created" in z.files else None
    return Imported(X, y, drawings, answers, conf, created)


def _read_idx_pair(path: Path) -> Imported:
    from .data import DataError, read_idx

    prefix = str(path)
    for suffix in (IDX_IMAGES, IDX_LABELS):
        if prefix.endswith(suffix):
            prefix = prefix[: -len(suffix)]
    try:
        images = read_idx(prefix + IDX_IMAGES)  # (n, 28, 28)
        labels = read_idx(prefix + IDX_LABELS)  # (n,)
    except DataError as e:
        raise ValueError(f"cannot import {path} as idx: {e}") from None
    if images.ndim != 3 or images.shape[1:] != (28, 28) or images.dtype != np.uint8 or labels.ndim != 1:
        raise ValueError(f"cannot import {path}: expected uint8 images of 28 x 28 and a label per image")
    X = images.reshape(len(images), PIXELS).astype(np.float32) / np.float32(255)  # (n, 784)
    return Imported(X, labels.astype(np.int64))


def _read_csv(path: Path) -> Imported:
    rows, labels = [], []
    with open(path, encoding="ascii") as f:
        for number, line in enumerate(f, 1):
            if number == 1 and line.startswith("label"):
                continue
            if not line.strip():
                continue
            cells = line.rstrip("\n").split(",")
            if len(cells) != PIXELS + 1:
                raise ValueError(f"cannot import {path}: line {number} has {len(cells)} values, not {PIXELS + 1}")
            try:
                labels.append(parse_label(cells[0]))
                rows.append([int(v) for v in cells[1:]])
            except ValueError as e:
                raise ValueError(f"cannot import {path}: line {number}: {e}") from None
    pixels = np.array(rows, dtype=np.int64).reshape(len(rows), PIXELS)  # (n, 784)
    if pixels.size and (pixels.min() < 0 or pixels.max() > 255):
        raise ValueError(f"cannot import {path}: pixel values must be 0-255")
    return Imported(pixels.astype(np.float32) / np.float32(255), np.array(labels, dtype=np.int64))


# -- the command line: digitnet examples add | list | delete | export | import ------------------
def add_arguments(parser) -> None:
    """``--profile`` and ``--db``, which every examples command and ``finetune`` take."""
    parser.add_argument("--profile", default=DEFAULT_PROFILE, help=f"whose examples (default: {DEFAULT_PROFILE!r})")
    parser.add_argument("--db", type=Path, default=None,
                        help="examples database (default $DIGITNET_DB, else "
                             "$XDG_DATA_HOME/digitnet/examples.sqlite, ~/.local/share if unset)")


def register(sub) -> None:
    """Add ``digitnet examples`` and its subcommands to the CLI's subparsers."""
    ex = sub.add_parser("examples", help="your own examples, to fine-tune on: add, list, delete, export, import",
                        description="The examples a person corrected or confirmed, kept in SQLite per profile.")
    cmds = ex.add_subparsers(dest="examples_command", required=True, metavar="ACTION")
    add = cmds.add_parser("add", help="add image files as examples of one label")
    add.add_argument("images", nargs="+", type=Path, metavar="IMAGE")
    add.add_argument("--label", required=True, help="0-9 or 'not a digit'")
    add.add_argument("--model", type=Path, help="model whose answer is recorded (default: the shipped model)")
    lst = cmds.add_parser("list", help="list the profile's examples")
    delete = cmds.add_parser("delete", help="delete examples by id")
    delete.add_argument("ids", nargs="+", type=int, metavar="ID")
    exp = cmds.add_parser("export", help="write the profile's examples to a file")
    exp.add_argument("--format", choices=FORMATS, default="npz",
                     help="npz (everything, default), idx (PATH-images-idx3-ubyte and PATH-labels-idx1-ubyte) or csv")
    exp.add_argument("-o", "--output", type=Path, required=True)
    imp = cmds.add_parser("import", help="add the examples of an exported file to the profile")
    imp.add_argument("path", type=Path, metavar="PATH")
    imp.add_argument("--format", choices=FORMATS, help="default: from the name (.npz, .csv, else idx)")
    for p in (add, lst, delete, exp, imp):
        add_arguments(p)


def run(args) -> int:
    """The handler ``cli.main`` calls for ``digitnet examples ...``."""
    try:
        with ExampleStore(args.db) as store:
            return _COMMANDS[args.examples_command](store, args)
    except sqlite3.Error as e:
        raise ExamplesError(f"examples database {args.db or default_path()}: {e}") from None


def _add(store: ExampleStore, args) -> int:
    from PIL import Image

    from . import reject
    from .models import default_model_path
    from .persistence import load_model
    from .preprocess import load_image, to_mnist

    label = parse_label(args.label)
    model = args.model or default_model_path()
    net, meta = load_model(model)
    inputs, drawings = [], []
    for path in args.images:  # every image is read before anything is stored: all or none
        image = load_image(path)
        try:
            x = to_mnist(image)  # (784,)
        except ValueError as e:  # a blank image
            raise ValueError(f"{path}: {e}") from None
        inputs.append(x)
        png = io.BytesIO()
        Image.fromarray(image).save(png, format="PNG")
        drawings.append(png.getvalue())
    X = np.stack(inputs)  # (n, 784)
    digits, scores, _ = reject.classify(net, meta, X.reshape(len(X), *net.input_shape))  # scores (n, 10)
    answers = [NOT_A_DIGIT if d is None else d for d in digits]
    confidences = [None if d is None else float(p.max()) for d, p in zip(digits, scores)]
    ids = store.add_many(X, [label] * len(X), args.profile, "upload", drawings, answers, confidences,
                         file_sha256(model))
    for path, i, a in zip(args.images, ids, answers):
        print(f"{i} {path} label {label_text(label)} (the model read {label_text(a)})")
    print(f"{len(ids)} added; profile {args.profile!r} has {_n(store.count(args.profile))} in {store.path}")
    return 0


def _list(store: ExampleStore, args) -> int:
    examples = store.list(args.profile)
    print(f"{'id':>6}  {'created':25}  {'label':11}  {'source':7}  answer")
    for e in examples:
        answer = "-" if e.answer is None else label_text(e.answer)
        answer += "" if e.confidence is None else f" ({e.confidence:.2f})"
        print(f"{e.id:>6}  {e.created:25}  {e.label_text:11}  {e.source:7}  {answer}")
    others = [f"{p} ({n})" for p, n in store.profiles() if p != args.profile]
    print(f"profile {args.profile!r}: {_n(len(examples))} in {store.path}"
          + (f"; other profiles: {', '.join(others)}" if others else ""))
    return 0


def _delete(store: ExampleStore, args) -> int:
    gone = store.delete(args.ids, args.profile)
    print(f"deleted {gone} of {len(args.ids)}; profile {args.profile!r} has {_n(store.count(args.profile))}")
    if gone < len(set(args.ids)):
        print(f"digitnet: error: {len(set(args.ids)) - gone} of the ids are not examples of profile "
              f"{args.profile!r}", file=sys.stderr)
        return 2
    return 0


def _export(store: ExampleStore, args) -> int:
    examples = store.list(args.profile)
    paths = export_examples(examples, args.output, args.format)
    print(f"exported {_n(len(examples))} of profile {args.profile!r} to {', '.join(map(str, paths))}")
    return 0


def _import(store: ExampleStore, args) -> int:
    data = read_export(args.path, args.format)
    ids = store.add_many(data.X, data.y.tolist(), args.profile, "import", data.drawings, data.answers,
                         data.confidences, created=data.created)
    print(f"imported {_n(len(ids))} into profile {args.profile!r}; it has {store.count(args.profile)}")
    return 0


def _n(count: int) -> str:
    return f"{count} example{'s' * (count != 1)}"


_COMMANDS = {"add": _add, "list": _list, "delete": _delete, "export": _export, "import": _import}
