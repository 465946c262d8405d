"""The Docker build context is sane without a Docker engine: the Dockerfile refers to files that
exist and are not ignored, runs the app as a non-root user with a health check, and the package
(with the shipped model inside) builds from exactly the files ``.dockerignore`` lets through."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from digitnet.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]


def instructions() -> list[tuple[str, str]]:
    """``(INSTRUCTION, arguments)`` for each line of the Dockerfile, continuations joined."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "") for line in lines]


def ignore_patterns() -> list[tuple[bool, re.Pattern[str]]]:
    """``.dockerignore`` as ``(is_exception, regex)``: ``*`` and ``?`` stay within a path
    component, ``**`` crosses them; a pattern also matches everything below a matching folder."""
    patterns = []
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = line.lstrip("!").strip("/")
        rx = re.escape(pattern).replace(r"\*\*/", "(.*/)?").replace(r"\*\*", ".*")
        rx = rx.replace(r"\*", "[^/]*").replace(r"\?", "[^/]")
        patterns.append((negate, re.compile(rx)))
    return patterns


def ignored(rel: str, patterns) -> bool:
    parts = rel.split("/")
    prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    result = False
    for negate, rx in patterns:  # the last matching pattern decides, as in Docker
        if any(rx.fullmatch(p) for p in prefixes):
            result = not negate
    return result


def context_files() -> list[str]:
    """Every file that ``docker build .`` would send, as paths relative to the repository."""
    patterns = ignore_patterns()
    files = []
    for path in sorted(ROOT.iterdir()):
        rel = path.name
        if ignored(rel, patterns) and not any(negate and rx.match(rel) for negate, rx in patterns):
            continue  # an ignored top-level entry that no "!" pattern reopens (.git, .venv...): not walked
        for f in [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file()):
            r = f.relative_to(ROOT).as_posix()
            if not ignored(r, patterns):
                files.append(r)
    return files


def test_copy_sources_exist_in_the_context():
    files = context_files()
    copies = [args for op, args in instructions() if op in ("COPY", "ADD")]
    assert copies
    for args in copies:
        words = [w for w in args.split() if not w.startswith("--")]
        for source in words[:-1]:
            source = source.strip("./") or "."
            assert (ROOT / source).exists(), f"COPY source {source} does not exist"
            assert any(f == source or f.startswith(source + "/") for f in files), \
                f"COPY source {source} is excluded by .dockerignore"


def test_context_is_small_and_holds_the_model():
    files = context_files()
    assert "src/digitnet/models/default.npz" in files and "src/digitnet/app/page.py" in files
    assert not any(f.startswith((".git/", ".venv/", "tests/", "runs/")) or "__pycache__" in f for f in files)
    assert sum((ROOT / f).stat().st_size for f in files) < 20_000_000


def test_image_runs_the_app_as_a_non_root_user_with_a_health_check():
    ops = instructions()
    (base,) = [args for op, args in ops if op == "FROM"]
    assert re.fullmatch(r"python:3\.\d+-slim(-\w+)?", base), base
    assert "8501" in [a for op, args in ops if op == "EXPOSE" for a in args.split()]
    users = [args.strip() for op, args in ops if op == "USER"]
    assert users and users[-1] not in ("root", "0", "0:0")
    (health,) = [args for op, args in ops if op == "HEALTHCHECK"]
    assert "/_stcore/health" in health and "8501" in health
    steps = " ".join(args for op, args in ops).lower()  # comments left out
    assert "opencv" not in steps and "libgl" not in steps and "apt-get" not in steps


def test_cmd_is_the_digitnet_app_command():
    import tomllib

    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    (cmd,) = [json.loads(args) for op, args in instructions() if op == "CMD"]
    assert cmd[0] in scripts  # a console script that the installed package provides
    args = build_parser().parse_args(cmd[1:])
    assert args.command == "app" and args.port == 8501 and args.model is None  # the shipped model


def test_the_package_builds_from_the_context(tmp_path):
    """``pip wheel`` on a copy of the context (build isolation fetches setuptools, as in Docker)."""
    context = tmp_path / "context"
    for f in context_files():
        (context / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / f, context / f)
    out = tmp_path / "wheels"
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(context)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    (wheel,) = out.glob("digitnet-*.whl")
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        assert {"digitnet/models/default.npz", "digitnet/app/page.py", "digitnet/app/views.py"} <= names
        assert z.read("digitnet/models/default.npz") == (ROOT / "src/digitnet/models/default.npz").read_bytes()
        meta = z.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
        entry = z.read(next(n for n in names if n.endswith(".dist-info/entry_points.txt"))).decode()
    assert "digitnet = digitnet.cli:entrypoint" in entry
    requires = [line for line in meta.splitlines() if line.startswith("Requires-Dist:")]
    assert not any("opencv" in r.lower() for r in requires)
    assert any(r.startswith("Requires-Dist: streamlit") for r in requires)
