"""Teaching in a real browser: headless Chromium draws a zero slashed from top left to bottom right
(a style the shipped model never saw), saves the correction,
undoes and redoes it, presses Teach, waits for the fine-tuned model, switches to it (which reads
the drawing as a 0) and back.

The app runs as ``streamlit run app.py`` on a free local port with its own examples database
(``DIGITNET_DB``), which already holds nine such zeros, so the tenth, drawn here, makes
enough to teach. Needs Debian's ``chromium`` and the ``playwright`` package: it fails without them.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pytest

from digitnet.data import load_dataset
from digitnet.examples import ExampleStore, read_export
from digitnet.models import default_model_path
from digitnet.persistence import load_model
from digitnet.styles import draw_style

from test_e2e_browser import streamlit_server

CHROMIUM = os.environ.get("DIGITNET_CHROMIUM", "/usr/bin/chromium")
SHOTS = Path(os.environ.get("DIGITNET_SCREENSHOTS", "/tmp"))
# A zero (an ellipse) and its slash from top left to bottom right, on the 280 x 280 canvas.
BACKSLASHED_ZERO = [
    [(140 + 55 * math.sin(2 * math.pi * i / 48), 140 - 90 * math.cos(2 * math.pi * i / 48)) for i in range(50)],
    [(80 + 120 * i / 20, 35 + 210 * i / 20) for i in range(21)],
]


@pytest.fixture(scope="module")
def app(tmp_path_factory, mnist_dir):
    """The app with a database of nine backslashed zeros; yields (url, database path, models folder)."""
    train = load_dataset("mnist", mnist_dir, validation=0, progress=False).train
    zeros = draw_style(train.X[train.y == 0][:9], "backslashed zero", np.random.default_rng(0))
    tmp = tmp_path_factory.mktemp("teach")
    db, models = tmp / "examples.sqlite", tmp / "models"
    with ExampleStore(db) as store:
        store.add_many(zeros, [0] * 9, "default", "canvas")
    env = {**os.environ, "DIGITNET_DATA_DIR": str(mnist_dir.parent), "DIGITNET_MODELS_DIR": str(models),
           "DIGITNET_DB": str(db)}
    env.pop("DIGITNET_MODEL", None)
    with streamlit_server(env, tmp / "server.log") as (url, _):
        yield url, db, models


@pytest.fixture(scope="module")
def page(app, tmp_path_factory):
    from playwright.sync_api import sync_playwright  # a missing package fails the test

    assert Path(CHROMIUM).exists(), f"Chromium not found at {CHROMIUM}: apt-get install chromium"
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium")), executable_path=CHROMIUM, headless=True,
            viewport={"width": 1400, "height": 1100},
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        )
        try:
            page = context.new_page()
            page.set_default_timeout(30_000)
            page.goto(app[0])
            yield page
        finally:
            context.close()


def _draw(page, strokes) -> None:
    canvas = page.locator("canvas[aria-label^='drawing canvas'], canvas.upper-canvas").first
    canvas.wait_for(state="visible")
    page.wait_for_timeout(500)  # let the canvas attach its mouse handlers
    box = canvas.bounding_box()
    for stroke in strokes:
        page.mouse.move(box["x"] + stroke[0][0], box["y"] + stroke[0][1])
        page.mouse.down()
        for x, y in stroke[1:]:
            page.mouse.move(box["x"] + x, box["y"] + y, steps=2)
        page.mouse.up()
        page.wait_for_timeout(300)
    page.wait_for_timeout(1000)  # the pen-up starts the rerun for the last stroke
    _idle(page)


def _idle(page) -> None:
    """Wait until no script run is in progress (a click during a rerun may be lost)."""
    page.locator("[data-testid='stStatusWidget']").wait_for(state="hidden", timeout=60_000)


def _save_as_zero(page) -> None:
    """One click: "Right" when the network read a 0, else the "0" of "Wrong, it is", whichever
    the page shows first (right after a click the page may not have rerun yet; beside "Right, it
    is 0" the "0" is disabled)."""
    _idle(page)
    right = page.get_by_role("button", name="Right, it is 0")
    wrong = page.get_by_role("button", name="0", exact=True, disabled=False)
    right.or_(wrong).first.click()
    page.get_by_text("Saved as 0 in profile 'default'").wait_for()


def test_correct_undo_teach_switch_and_go_back(page, app):
    try:
        _teach_in_the_browser(page, *app[1:])
    finally:
        page.screenshot(path=str(SHOTS / "digitnet-teach-last.png"), full_page=True)


def _teach_in_the_browser(page, db: Path, models: Path) -> None:
    page.get_by_text("9 examples saved in profile 'default'").wait_for()
    _draw(page, BACKSLASHED_ZERO)
    page.get_by_text("Wrong? It is:").wait_for()
    assert page.get_by_text("That does not look like a digit").is_visible()  # the shipped detector's answer
    page.screenshot(path=str(SHOTS / "digitnet-teach-answer.png"), full_page=True)
    _save_as_zero(page)
    page.get_by_text("10 examples saved in profile 'default'").wait_for()
    with ExampleStore(db) as store:
        newest = store.list("default")[-1]
    assert newest.label == 0 and newest.source == "canvas" and newest.drawing.startswith(b"\x89PNG")

    page.get_by_role("button", name="Undo last example").click()
    page.get_by_text("9 examples saved in profile 'default'").wait_for()
    _save_as_zero(page)  # the drawing is still there: save it again
    with ExampleStore(db) as store:
        newest = store.list("default")[-1]
    page.get_by_text("10 examples saved in profile 'default'").wait_for()

    page.get_by_role("button", name="Teach").click()
    page.get_by_text("Teaching: step").wait_for()
    page.screenshot(path=str(SHOTS / "digitnet-teach-progress.png"), full_page=True)
    page.get_by_role("button", name="Use the new model").wait_for(timeout=240_000)
    page.screenshot(path=str(SHOTS / "digitnet-teach-done.png"), full_page=True)
    (made,) = models.glob("default-*.npz")
    accuracy = load_model(made)[1]["test_accuracy"]
    assert accuracy > 0.99
    page.get_by_role("button", name="Use the new model").click()
    page.get_by_role("button", name="Use the new model").wait_for(state="detached")
    page.get_by_text(f"{accuracy:.2%} right").wait_for()  # the page's caption now tells of the new model
    page.get_by_text("Prediction: 0").wait_for()  # the drawing, read again: its detector learnt the style too
    page.screenshot(path=str(SHOTS / "digitnet-teach-new-model.png"), full_page=True)
    page.get_by_role("button", name="Go back to the previous model").click()
    shipped = load_model(default_model_path())[1]["test_accuracy"]
    page.get_by_text(f"{shipped:.2%} right").wait_for()
    page.get_by_role("button", name="Use the new model").wait_for()

    page.get_by_text("My examples (10)").click()
    page.get_by_role("button", name="Delete 0 selected").wait_for()
    page.screenshot(path=str(SHOTS / "digitnet-teach-examples.png"), full_page=True)
    with page.expect_download() as download:
        page.get_by_role("button", name="Download them all (npz)").click()
    exported = read_export(download.value.path(), "npz")
    assert exported.y.tolist() == [0] * 10 and exported.drawings[-1].startswith(b"\x89PNG")
    table = page.locator(".st-key-teach_table")
    table.scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    box = table.bounding_box()
    page.mouse.click(box["x"] + 18, box["y"] + 35 + 17)  # the first row's selection box (the newest example)
    page.get_by_role("button", name="Delete 1 selected").click()
    page.get_by_text("9 examples saved in profile 'default'").wait_for()
    with ExampleStore(db) as store:
        assert len(store.list("default")) == 9 and store.list("default")[-1].id != newest.id
    assert page.get_by_text("Traceback").count() == 0
