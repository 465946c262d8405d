"""How long the app takes to answer a stroke: pen-up to the new prediction on screen, in Chromium.

Starts ``streamlit run app.py`` on a free local port, opens it in headless Chromium (Playwright),
and draws single-stroke digits (1, 0, 7) with the mouse, each on a cleared pad. The clock is the
page's own (``performance.now()``): it starts in a capture-phase ``pointerup`` listener and stops at
the first animation frame after the heading reads the expected "Prediction: d" (a
``MutationObserver`` watches the page). Prints every time, the median and the 95th percentile,
against the targets of 100 ms and 200 ms.

    .venv/bin/python benchmarks/bench_app.py [--strokes 30] [--model PATH]
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("DIGITNET_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PAD = "canvas[aria-label^='drawing canvas']"
TARGET_MEDIAN_MS, TARGET_P95_MS = 100.0, 200.0

STROKES = {  # one stroke each, canvas units (0 to 280)
    1: [(143 - 6 * i / 30, 45 + 190 * i / 30) for i in range(31)],
    0: [(140 + 62 * math.sin(2 * math.pi * i / 48), 140 - 92 * math.cos(2 * math.pi * i / 48)) for i in range(50)],
    7: [(75 + 130 * i / 20, 55) for i in range(21)] + [(205 - 85 * i / 30, 55 + 180 * i / 30) for i in range(1, 31)],
}

CLOCK = """() => { window.addEventListener('pointerup', () => { window.__up = performance.now(); }, true); }"""
SEEN = """(expected) => new Promise((resolve) => {
  const found = () => [...document.querySelectorAll('h3')].some((h) => h.innerText.trim() === expected);
  const done = () => requestAnimationFrame(() => resolve(performance.now() - window.__up));
  if (found()) { done(); return; }
  const watch = new MutationObserver(() => { if (found()) { watch.disconnect(); done(); } });
  watch.observe(document.body, { subtree: true, childList: true, characterData: true });
})"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(port: int, model: str | None, log) -> subprocess.Popen:
    env = {**os.environ, "DIGITNET_MODELS_DIR": tempfile.mkdtemp(prefix="digitnet-bench-models-"),
           "DIGITNET_DB": os.path.join(tempfile.mkdtemp(prefix="digitnet-bench-db-"), "examples.sqlite")}
    if model:
        env["DIGITNET_MODEL"] = model
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true", "--server.port",
         str(port), "--server.address", "127.0.0.1", "--server.fileWatcherType", "none"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2):
                return server
        except OSError:
            time.sleep(0.3)
    server.terminate()
    raise SystemExit("streamlit did not come up")


def _draw(page, stroke) -> None:
    box = page.locator(PAD).bounding_box()
    k = box["width"] / 280
    page.mouse.move(box["x"] + stroke[0][0] * k, box["y"] + stroke[0][1] * k)
    page.mouse.down()
    for x, y in stroke[1:]:
        page.mouse.move(box["x"] + x * k, box["y"] + y * k, steps=2)
    page.mouse.up()


@contextlib.contextmanager
def clocked_page(url: str) -> Iterator[Any]:
    """A headless Chromium page (fresh profile, 1400 x 1000) at ``url``, with the pen-up clock."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p, tempfile.TemporaryDirectory() as profile:
        context = p.chromium.launch_persistent_context(profile, executable_path=CHROMIUM, headless=True, args=ARGS,
                                                       viewport={"width": 1400, "height": 1000})
        try:
            page = context.new_page()
            page.set_default_timeout(30_000)
            page.add_init_script(f"({CLOCK})()")
            page.goto(url)
            yield page
        finally:
            context.close()


def measure(url: str, strokes: int) -> list[float]:
    """Milliseconds from pen-up to the expected answer on screen, one per stroke."""
    times = []
    with clocked_page(url) as page:
        page.locator(PAD).wait_for(state="visible")
        digits = list(STROKES)
        for n in range(strokes + 1):  # the first stroke warms the server's caches and is not counted
            digit = digits[n % len(digits)]
            _draw(page, STROKES[digit])
            ms = page.evaluate(SEEN, f"Prediction: {digit}")
            if n:
                times.append(ms)
            page.locator(".pad button", has_text="Clear").click()
            page.evaluate(SEEN, "Prediction: none")
    return times


def against_server(measure: Callable[[str, int], list[float]], count: int, model: str | None) -> np.ndarray:
    """``measure(url, count)`` run against a fresh app server on a free local port: its times (ms)."""
    port = _free_port()
    with tempfile.TemporaryFile("w+") as log:
        server = _serve(port, model, log)
        try:
            return np.array(measure(f"http://127.0.0.1:{port}", count))
        finally:
            server.terminate()
            server.wait(timeout=10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--strokes", type=int, default=30, help="strokes timed (default: 30)")
    parser.add_argument("--model", help="model file (default: the shipped model)")
    args = parser.parse_args()
    times = against_server(measure, args.strokes, args.model)
    median, p95 = float(np.median(times)), float(np.percentile(times, 95))
    print("pen-up to answer (ms):", " ".join(f"{t:.0f}" for t in times))
    print(f"strokes {len(times)}  min {times.min():.0f} ms  median {median:.0f} ms  p95 {p95:.0f} ms  "
          f"max {times.max():.0f} ms")
    print(f"median {median:.0f} / {TARGET_MEDIAN_MS:.0f} ms target = {median / TARGET_MEDIAN_MS:.2f}; "
          f"p95 {p95:.0f} / {TARGET_P95_MS:.0f} ms target = {p95 / TARGET_P95_MS:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
