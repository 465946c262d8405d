"""The drawing pad: a plain ``<canvas>`` in the page, strokes kept as points, Undo and Clear.

A Streamlit v2 component (inline JavaScript, no iframe, nothing fetched at run time). The browser
draws and keeps the strokes; on each pen-up it sends them to Python as lists of ``[x, y]`` points
in canvas units (0 to ``SIDE``), and Python paints them again with :func:`rasterize`. So the
canvas is drawable from the moment it appears, a stroke may start anywhere on it (no toolbar lies
over it), Clear and Undo change the strokes in place (no second canvas is mounted), and what
travels to the server is a few hundred numbers instead of an image.

Pointer events cover the mouse, a pen and a finger alike; ``touch-action: none`` keeps the page
from scrolling while a finger draws. The canvas fills its column (up to ``MAX_CSS_PX``), so on a
phone it is as wide as the screen; the points are scaled back to canvas units before they leave.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from PIL import Image, ImageDraw

SIDE = 280
"""Canvas units per side: the RGBA image Python rebuilds is ``(SIDE, SIDE, 4)``."""

PEN = 18
"""Pen width in canvas units (MNIST strokes are about a tenth of the digit box)."""

MAX_CSS_PX = 340
"""The largest side the canvas takes on screen, in CSS pixels."""

_JS = """
export default function (component) {
  const { data, parentElement, setStateValue } = component;
  const side = data.side, pen = data.pen;
  if (parentElement.querySelector("canvas")) { return; }  // mounted already: the strokes live here

  const box = document.createElement("div");
  box.className = "pad";
  const canvas = document.createElement("canvas");
  canvas.setAttribute("aria-label", "drawing canvas: draw one digit");
  canvas.setAttribute("role", "img");
  const bar = document.createElement("div");
  bar.className = "bar";
  const undo = document.createElement("button");
  undo.textContent = "Undo";
  const clear = document.createElement("button");
  clear.textContent = "Clear";
  bar.append(undo, clear);
  box.append(canvas, bar);
  parentElement.appendChild(box);

  const ctx = canvas.getContext("2d");
  let strokes = Array.isArray(data.strokes) ? data.strokes : [];
  let current = null;

  function scale() { return canvas.width / side; }
  function paint() {
    ctx.fillStyle = "#000";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.strokeStyle = "#fff"; ctx.fillStyle = "#fff";
    ctx.lineCap = "round"; ctx.lineJoin = "round"; ctx.lineWidth = pen * scale();
    for (const s of strokes.concat(current ? [current] : [])) { line(s, 0); }
    buttons();
  }
  function line(s, from) {
    const k = scale();
    if (s.length === 1) {
      ctx.beginPath(); ctx.arc(s[0][0] * k, s[0][1] * k, pen * k / 2, 0, 2 * Math.PI); ctx.fill(); return;
    }
    ctx.beginPath();
    const a = s[Math.max(from - 1, 0)];
    ctx.moveTo(a[0] * k, a[1] * k);
    for (let i = Math.max(from, 1); i < s.length; i++) { ctx.lineTo(s[i][0] * k, s[i][1] * k); }
    ctx.stroke();
  }
  function buttons() { undo.disabled = clear.disabled = strokes.length === 0 && !current; }
  function fit() {
    const css = canvas.getBoundingClientRect().width || side;
    const px = Math.round(css * (window.devicePixelRatio || 1));
    if (px !== canvas.width) { canvas.width = canvas.height = px; paint(); }
  }
  function point(e) {
    const r = canvas.getBoundingClientRect();
    const k = side / r.width;
    return [Math.round((e.clientX - r.left) * k * 10) / 10, Math.round((e.clientY - r.top) * k * 10) / 10];
  }
  function send() { setStateValue("strokes", strokes); }

  canvas.addEventListener("pointerdown", (e) => {
    if (e.button !== undefined && e.button > 0) { return; }
    e.preventDefault();
    canvas.setPointerCapture(e.pointerId);
    current = [point(e)];
    ctx.lineWidth = pen * scale();
    line(current, 0);
    buttons();
  });
  canvas.addEventListener("pointermove", (e) => {
    if (!current) { return; }
    e.preventDefault();
    const events = e.getCoalescedEvents ? e.getCoalescedEvents() : [e];
    const from = current.length;
    for (const ev of (events.length ? events : [e])) { current.push(point(ev)); }
    line(current, from);
  });
  function end(e) {
    if (!current) { return; }
    strokes = strokes.concat([current]);
    current = null;
    buttons();
    send();
  }
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);
  undo.addEventListener("click", () => { strokes = strokes.slice(0, -1); paint(); send(); });
  clear.addEventListener("click", () => { strokes = []; paint(); send(); });

  const watch = new ResizeObserver(fit);
  watch.observe(canvas);
  fit();
  paint();
  return () => watch.disconnect();
}
"""

_CSS = f"""
.pad {{ width: 100%; max-width: {MAX_CSS_PX}px; margin: 0 auto; }}
.pad canvas {{ display: block; width: 100%; aspect-ratio: 1 / 1; touch-action: none; cursor: crosshair;
  border-radius: 0.5rem; background: #000; user-select: none; -webkit-user-select: none; }}
.bar {{ display: flex; gap: 0.5rem; margin-top: 0.5rem; }}
.bar button {{ flex: 1; font: inherit; font-size: 0.95rem; padding: 0.4rem 0.75rem; border-radius: 0.5rem;
  border: 1px solid rgba(49, 51, 63, 0.2); background: var(--st-background-color, #fff);
  color: var(--st-text-color, #31333f); cursor: pointer; min-height: 2.5rem; }}
.bar button:hover:enabled {{ border-color: var(--st-primary-color, #ff4b4b); color: var(--st-primary-color, #ff4b4b); }}
.bar button:disabled {{ opacity: 0.45; cursor: default; }}
"""

_component: Any = None


def _mount() -> Any:
    """Register the component once per process (Streamlit warns on a second registration)."""
    global _component
    if _component is None:
        import streamlit as st

        _component = st.components.v2.component("digitnet_pad", js=_JS, css=_CSS)
    return _component


def pad(key: str, strokes: Sequence[Sequence[Sequence[float]]] = ()) -> list[list[list[float]]]:
    """Show the drawing pad and return its strokes (``[]`` until something is drawn).

    ``strokes`` redraws a pad that was unmounted meanwhile (the input switched to Upload and back);
    a mounted pad keeps its own.
    """
    result = _mount()(key=key, data={"side": SIDE, "pen": PEN, "strokes": list(strokes)},
                      default={"strokes": []}, on_strokes_change=lambda: None)
    return clean(getattr(result, "strokes", None))


def clean(value: Any) -> list[list[list[float]]]:
    """The strokes the browser sent, with anything that is not a list of ``[x, y]`` numbers dropped."""
    strokes = []
    for stroke in value if isinstance(value, list) else []:
        points = [[float(p[0]), float(p[1])] for p in stroke if isinstance(stroke, list)
                  and isinstance(p, list) and len(p) == 2 and all(isinstance(v, (int, float)) for v in p)]
        if points:
            strokes.append(points)
    return strokes


def rasterize(strokes: Sequence[Sequence[Sequence[float]]]) -> np.ndarray:
    """Paint strokes as the canvas shows them: white, ``PEN`` wide with round ends and joints, on
    black; ``(SIDE, SIDE, 4)`` RGBA ``uint8`` (the shape the drawing pad always had)."""
    image = Image.new("L", (SIDE, SIDE), 0)
    draw = ImageDraw.Draw(image)
    r = PEN / 2
    for stroke in strokes:
        points = [(float(x), float(y)) for x, y in stroke]
        if len(points) > 1:
            draw.line(points, fill=255, width=PEN, joint="curve")
        for x, y in (points[0], points[-1]):  # round caps
            draw.ellipse((x - r, y - r, x + r, y + r), fill=255)
    grey = np.asarray(image)  # (SIDE, SIDE)
    alpha = np.full_like(grey, 255)
    return np.stack([grey, grey, grey, alpha], axis=-1)  # (SIDE, SIDE, 4)

