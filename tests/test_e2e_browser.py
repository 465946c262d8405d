"""The app in a real browser: headless Chromium draws digits with the mouse and a finger and reads
the answer.

Needs Debian's ``chromium`` and the ``playwright`` Python package (CI installs both); without them
the test fails rather than skips. The app runs as ``streamlit run app.py`` on a free local port.
Strokes are given in canvas units (0 to 280 a side) and scaled to the pad's size on screen.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("DIGITNET_CHROMIUM", "/usr/bin/chromium")
SHOTS = Path(os.environ.get("DIGITNET_SCREENSHOTS", "/tmp"))
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PAD = "canvas[aria-label^='drawing canvas']"
# An answer: a digit, or the reject option's "not a digit" (the network was asked either way).
ANSWER = ("() => [...document.querySelectorAll('h3')]"
          ".some(h => /^(Prediction: \\d|That does not look like a digit)$/.test(h.innerText.trim()))")
NO_ANSWER = "() => [...document.querySelectorAll('h3')].some(h => h.innerText.trim() === 'Prediction: none')"

# Strokes on the 280 x 280 canvas, as lists of (x, y) points, one list per pen-down.
STROKES = {
    1: [[(143 - 6 * i / 30, 45 + 190 * i / 30) for i in range(31)]],
    0: [[(140 + 62 * math.sin(2 * math.pi * i / 48), 140 - 92 * math.cos(2 * math.pi * i / 48))
         for i in range(50)]],
    7: [[(75 + 130 * i / 20, 55) for i in range(21)] + [(205 - 85 * i / 30, 55 + 180 * i / 30) for i in range(1, 31)]],
    4: [[(170 - 90 * i / 20, 40 + 120 * i / 20) for i in range(21)] + [(80 + 130 * i / 20, 160) for i in range(1, 21)],
        [(175, 70 + 170 * i / 20) for i in range(21)]],
}

# Where a stroke may start: the four corners and the middle of each edge strip, 3 units in.
EDGES = {"top-left": (3, 3), "top": (140, 3), "top-right": (277, 3), "right": (277, 140),
         "bottom-right": (277, 277), "bottom": (140, 277), "bottom-left": (3, 277), "left": (3, 140)}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def streamlit_server(env: dict[str, str], log_path: Path):
    """``streamlit run app.py`` on a free loopback port with ``env``; yields ``(url, log)`` once it
    answers its health check, and stops it afterwards."""
    port = _free_port()
    log = open(log_path, "w+")
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
         "--server.fileWatcherType", "none"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                pytest.fail(f"streamlit did not come up:\n{log.read()[-3000:]}")
            time.sleep(0.3)
        yield url, log
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


@pytest.fixture(scope="module")
def app_url(tmp_path_factory, mnist_dir):
    env = {**os.environ, "DIGITNET_DATA_DIR": str(mnist_dir.parent),
           "DIGITNET_MODELS_DIR": str(tmp_path_factory.mktemp("models")),
           "DIGITNET_DB": str(tmp_path_factory.mktemp("db") / "examples.sqlite")}
    with streamlit_server(env, tmp_path_factory.mktemp("streamlit") / "server.log") as (url, log):
        yield url
        log.seek(0)
        assert "Traceback" not in log.read(), "the server logged a traceback"


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from playwright.sync_api import sync_playwright  # a missing package fails the test

    assert Path(CHROMIUM).exists(), f"Chromium not found at {CHROMIUM}: apt-get install chromium"
    with sync_playwright() as p:
        yield p, tmp_path_factory


def _context(browser, **options):
    p, tmp = browser
    return p.chromium.launch_persistent_context(str(tmp.mktemp("chromium")), executable_path=CHROMIUM,
                                                headless=True, args=ARGS, **options)


PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True,
         "device_scale_factor": 2}
"""A phone's screen, 390 x 844 CSS pixels, touched with a finger."""


def finger(context, page, box: dict, strokes: list, side: float) -> None:
    """Draw ``strokes`` (in the pad's units, ``side`` units wide) with a finger on the pad at ``box``."""
    touch = context.new_cdp_session(page)
    k = box["width"] / side
    for stroke in strokes:
        points = [(box["x"] + x * k, box["y"] + y * k) for x, y in stroke]
        for kind, (x, y) in [("touchStart", points[0])] + [("touchMove", p) for p in points[1:]]:
            touch.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": [{"x": x, "y": y}]})
        touch.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})


@pytest.fixture(scope="module")
def page(app_url, browser):
    context = _context(browser, viewport={"width": 1400, "height": 1000})
    try:
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.goto(app_url)
        yield page
    finally:
        context.close()


def draw(page, strokes, wait: bool = True) -> None:
    """Draw ``strokes`` (canvas units) on the pad with the mouse, no pause before the first."""
    canvas = page.locator(PAD)
    if wait:
        canvas.wait_for(state="visible")
    box = canvas.bounding_box()
    k = box["width"] / 280
    for stroke in strokes:
        x0, y0 = stroke[0]
        page.mouse.move(box["x"] + x0 * k, box["y"] + y0 * k)
        page.mouse.down()
        for x, y in stroke[1:]:
            page.mouse.move(box["x"] + x * k, box["y"] + y * k, steps=2)
        page.mouse.up()


def answer(page) -> str:
    page.wait_for_function(ANSWER)
    heading = page.locator("h3").filter(has_text=re.compile(r"^(Prediction: \d|That does not look like a digit)$"))
    return heading.first.inner_text().strip()


def expect(page, text: str) -> None:
    """Wait until the answer's heading reads ``text``."""
    page.wait_for_function(f"() => [...document.querySelectorAll('h3')].some(h => h.innerText.trim() === {text!r})")


def clear(page) -> None:
    page.locator(".pad button", has_text="Clear").click()
    page.wait_for_function(NO_ANSWER)


def ink_at(page, x: float, y: float) -> int:
    """The red value (0 to 255) the pad shows at canvas point ``(x, y)``."""
    return page.locator(PAD).evaluate(
        "(c, p) => { const k = c.width / 280; return c.getContext('2d').getImageData("
        "Math.floor(p[0] * k), Math.floor(p[1] * k), 1, 1).data[0]; }", [x, y])


def test_drawn_digits_are_read(page):
    page.wait_for_function(NO_ANSWER)
    for digit, strokes in STROKES.items():
        draw(page, strokes)
        try:
            expect(page, f"Prediction: {digit}")
        finally:
            page.screenshot(path=str(SHOTS / f"digitnet-drew-{digit}.png"), full_page=True)
        clear(page)
    assert page.get_by_text("Traceback").count() == 0


def test_a_digit_drawn_small_is_read(page):
    """A "4" 40 units high (a seventh of the pad): the pad's 18-unit pen closes its top into a
    loop (read as a 9); the app reads the pen's path with a pen in proportion (``canvas.reading_pen``)."""
    ys = [y for stroke in STROKES[4] for _, y in stroke]
    k = 40 / (max(ys) - min(ys))
    draw(page, [[(140 + (x - 140) * k, 140 + (y - 140) * k) for x, y in stroke] for stroke in STROKES[4]])
    try:
        expect(page, "Prediction: 4")
    finally:
        page.wait_for_timeout(1500)  # the rest of the page settles after the heading
        page.screenshot(path=str(SHOTS / "digitnet-drew-small-4.png"), full_page=True)
    clear(page)


def test_a_stroke_starting_anywhere_draws(page):
    """Every corner and edge strip: the stroke shows where it started and reaches the network."""
    for name, (x, y) in EDGES.items():
        stroke = [(x + (140 - x) * i / 20, y + (140 - y) * i / 20) for i in range(21)]
        draw(page, [stroke])
        assert ink_at(page, x, y) > 200, f"a stroke starting at the {name} drew nothing there"
        assert answer(page) != "Prediction: none", name
        clear(page)


def test_a_stroke_right_after_clear_counts(page):
    draw(page, STROKES[7])
    expect(page, "Prediction: 7")
    page.locator(".pad button", has_text="Clear").click()
    draw(page, STROKES[1], wait=False)  # at once: Clear keeps the same canvas
    assert page.locator(PAD).count() == 1
    expect(page, "Prediction: 1")
    clear(page)


def test_undo_takes_back_the_last_stroke(page):
    draw(page, STROKES[4][:1])
    first = answer(page)
    draw(page, STROKES[4][1:])
    expect(page, "Prediction: 4")
    page.locator(".pad button", has_text="Undo").click()
    expect(page, first)
    assert ink_at(page, 175, 230) < 50  # the second stroke is gone from the pad too
    clear(page)


def test_a_stroke_right_after_load_counts(app_url, browser):
    context = _context(browser, viewport={"width": 1400, "height": 1000})
    try:
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.goto(app_url)
        page.locator(PAD).wait_for(state="visible")
        draw(page, STROKES[0], wait=False)  # the moment the pad shows
        expect(page, "Prediction: 0")
    finally:
        context.close()


def test_no_developer_chrome(page):
    page.wait_for_function(NO_ANSWER)
    assert page.get_by_text("Deploy", exact=True).count() == 0
    assert page.locator("[data-testid='stAppDeployButton']").count() == 0


def test_phone_draws_with_a_finger_and_shows_the_answer(app_url, browser):
    """390 x 844: the pad fills the width, a finger draws, the answer and its confidence are in view."""
    context = _context(browser, **PHONE)
    try:
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.goto(app_url)
        canvas = page.locator(PAD)
        canvas.wait_for(state="visible")
        box = canvas.bounding_box()
        assert box["width"] >= 330 and box["x"] + box["width"] <= 390
        finger(context, page, box, STROKES[1], 280)
        expect(page, "Prediction: 1")
        page.screenshot(path=str(SHOTS / "digitnet-phone.png"))
        for text in ("Prediction: 1", "Confidence:"):
            seen = page.get_by_text(text).first.bounding_box()
            assert seen["y"] + seen["height"] <= 844, f"{text!r} is below the fold"
        assert page.evaluate("document.documentElement.scrollWidth") <= 390  # nothing wider than the screen
    finally:
        context.close()


def test_uploaded_image_is_read(page, mnist_dir, tmp_path):
    """A photo-like upload: a test digit (a 7) as dark ink on white paper, 200 x 200 pixels; the
    page shows the upload and what the network sees."""
    import numpy as np
    from PIL import Image

    from digitnet.data import load_dataset

    test = load_dataset("mnist", mnist_dir, validation=0, progress=False).test
    assert test.y[0] == 7
    ink = Image.fromarray(np.round(255 - test.X[0].reshape(28, 28) * 255).astype(np.uint8))
    path = tmp_path / "seven.png"
    ink.resize((200, 200), Image.Resampling.BILINEAR).save(path)
    page.get_by_text("Upload an image", exact=True).click()
    page.locator("input[type=file]").set_input_files(str(path))
    page.get_by_text("Prediction: 7", exact=True).wait_for()
    page.get_by_text("seven.png: 200 x 200 pixels").wait_for()
    page.get_by_text("What the network sees", exact=False).first.wait_for()
    not_image = tmp_path / "notes.png"
    not_image.write_text("hello")
    page.locator("input[type=file]").set_input_files(str(not_image))
    page.get_by_text("notes.png is not an image that PNG, JPEG, GIF, WebP or BMP can read.").wait_for()
    assert page.get_by_text("BytesIO").count() == 0
    page.locator("[data-testid=stButtonGroup]").get_by_text("Draw", exact=True).click()
    page.wait_for_function(NO_ANSWER)
