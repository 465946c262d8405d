"""How long Number mode takes to answer: pen-up on a number's last digit to the number on screen.

Uses ``bench_app``'s server and page clock: ``streamlit run app.py`` on a free local port, headless
Chromium, the clock started by a capture-phase ``pointerup`` listener and stopped at the first
animation frame after the number shown reads the expected one. Each trial writes, on a cleared
pad in Number mode, all digits but the last (1, 7, 0: ``bench_app``'s strokes at 75 % size, side
by side), waits for their number, then times the last digit's stroke (a 7): the page reads four
digits with ``segment.read``. Each trial draws its number a few canvas units lower than the one
before, so no trial finds its drawing among the readings the page keeps. Prints every time, the
median and the 95th percentile.

    .venv/bin/python benchmarks/bench_number.py [--trials 20] [--model PATH]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_app import STROKES, against_server, clocked_page  # noqa: E402

PAD = "canvas[aria-label='drawing canvas: write a number']"
WIDTH = 840  # canvas units across the number pad (digitnet.app.number.WIDTH)
SEEN = """(expected) => new Promise((resolve) => {
  const found = () => [...document.querySelectorAll("[data-testid='stMetricValue']")]
    .some((e) => e.innerText.trim() === expected);
  const done = () => requestAnimationFrame(() => resolve(performance.now() - window.__up));
  if (found()) { done(); return; }
  const watch = new MutationObserver(() => { if (found()) { watch.disconnect(); done(); } });
  watch.observe(document.body, { subtree: true, childList: true, characterData: true });
})"""


def _write(page, digit: str, place: int, down: float = 0.0) -> None:
    """Draw ``digit`` (one stroke) at 75 % size in the ``place``-th of four slots 210 units wide,
    ``down`` canvas units lower."""
    box = page.locator(PAD).bounding_box()
    k = box["width"] / WIDTH
    points = [(140 + (x - 140) * 0.75 + 210 * place, 140 + (y - 140) * 0.75 + down) for x, y in STROKES[int(digit)]]
    page.mouse.move(box["x"] + points[0][0] * k, box["y"] + points[0][1] * k)
    page.mouse.down()
    for x, y in points[1:]:
        page.mouse.move(box["x"] + x * k, box["y"] + y * k, steps=2)
    page.mouse.up()


def measure(url: str, trials: int, number: str = "1707") -> list[float]:
    """Milliseconds from the last digit's pen-up to ``number`` on screen, one per trial."""
    times = []
    with clocked_page(url) as page:
        page.locator("[data-testid=stButtonGroup]").get_by_text("Number", exact=True).click()
        page.locator(PAD).wait_for(state="visible")
        for n in range(trials + 1):  # the first trial warms the server's caches and is not counted
            down = 30 * n / (trials + 1) - 15  # canvas units: each trial a drawing not read before
            for place, digit in enumerate(number[:-1]):
                _write(page, digit, place, down)
            page.evaluate(SEEN, number[:-1])
            _write(page, number[-1], len(number) - 1, down)
            ms = page.evaluate(SEEN, number)
            if n:
                times.append(ms)
            page.locator(".pad button", has_text="Clear").click()
            page.get_by_text("Number: none", exact=True).wait_for()
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=20, help="numbers timed (default: 20)")
    parser.add_argument("--model", help="model file (default: the shipped model)")
    args = parser.parse_args()
    times = against_server(measure, args.trials, args.model)
    print("last pen-up to the number (ms):", " ".join(f"{t:.0f}" for t in times))
    print(f"numbers {len(times)}  min {times.min():.0f} ms  median {np.median(times):.0f} ms  "
          f"p95 {np.percentile(times, 95):.0f} ms  max {times.max():.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
