"""The app in a real browser: headless Chromium draws digits with the mouse and reads the answer.

Needs Debian's ``chromium`` and the ``playwright`` Python package (CI installs both); without them
the test fails rather than skips. The app runs as ``streamlit run app.py`` on a free local port.
"""

from __future__ import annotations

import math
import os
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

# Strokes on the 280 x 280 canvas, as lists of (x, y) points, one list per mouse-down.
STROKES = {
    1: [[(143 - 6 * i / 30, 45 + 190 * i / 30) for i in range(31)]],
    0: [[(140 + 62 * math.sin(2 * math.pi * i / 48), 140 - 92 * math.cos(2 * math.pi * i / 48))
         for i in range(50)]],
    7: [[(75 + 130 * i / 20, 55) for i in range(21)] + [(205 - 85 * i / 30, 55 + 180 * i / 30) for i in range(1, 31)]],
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def app_url(tmp_path_factory, mnist_dir):
    port = _free_port()
    env = {**os.environ, "DIGITNET_DATA_DIR": str(mnist_dir.parent), "DIGITNET_MODELS_DIR": str(tmp_path_factory.mktemp("models"))}
    log = open(tmp_path_factory.mktemp("streamlit") / "server.log", "w+")
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
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


@pytest.fixture(scope="module")
def page(app_url, tmp_path_factory):
    from playwright.sync_api import sync_playwright  # a missing package fails the test

    assert Path(CHROMIUM).exists(), f"Chromium not found at {CHROMIUM}: apt-get install chromium"
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium")), executable_path=CHROMIUM, headless=True,
            viewport={"width": 1400, "height": 1000},
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        )
        try:
            page = context.new_page()
            page.set_default_timeout(30_000)
            page.goto(app_url)
            yield page
        finally:
            context.close()


def _draw(page, strokes, canvas_key: str) -> None:
    """Draw on the canvas whose Streamlit key is ``canvas_key`` (the Clear button mounts a new one)."""
    canvas = page.locator(f".st-key-{canvas_key} canvas.upper-canvas")
    canvas.wait_for(state="visible")
    page.wait_for_timeout(500)  # let the freshly mounted canvas attach its mouse handlers
    box = canvas.bounding_box()
    for stroke in strokes:
        x0, y0 = stroke[0]
        page.mouse.move(box["x"] + x0, box["y"] + y0)
        page.mouse.down()
        for x, y in stroke[1:]:
            page.mouse.move(box["x"] + x, box["y"] + y, steps=2)
        page.mouse.up()


def test_drawn_digits_are_read(page):
    heading = page.get_by_role("heading", name="Prediction:")
    page.get_by_text("Prediction: none", exact=True).wait_for()
    for n, (digit, strokes) in enumerate(STROKES.items()):
        _draw(page, strokes, f"canvas-{n}")
        try:
            page.get_by_text(f"Prediction: {digit}", exact=True).wait_for()
        finally:
            page.screenshot(path=str(SHOTS / f"digitnet-drew-{digit}.png"), full_page=True)
        assert heading.inner_text().strip() == f"Prediction: {digit}"
        page.get_by_role("button", name="Clear").click()
        page.get_by_text("Prediction: none", exact=True).wait_for()
    assert page.get_by_text("Traceback").count() == 0


def test_uploaded_image_is_read(page, mnist_dir, tmp_path):
    """A photo-like upload: a test digit (a 7) as dark ink on white paper, 200 x 200 pixels."""
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
    page.get_by_text("Draw", exact=True).click()
    page.get_by_text("Prediction: none", exact=True).wait_for()
