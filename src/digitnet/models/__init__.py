"""Model files shipped inside the package, so the app and ``digitnet predict`` work untrained.

``default.npz`` is an ordinary model file (see :mod:`digitnet.persistence`); the command that
trained it, its test accuracy and its training curves are in its own metadata, and so are its
"not a digit" settings (``"reject"``: temperature and threshold, :mod:`digitnet.reject`).
"""

from __future__ import annotations

from pathlib import Path

DEFAULT_MODEL = Path(__file__).with_name("default.npz")


def default_model_path() -> Path:
    """The path of the shipped default model (it exists in every install of the package)."""
    return DEFAULT_MODEL
