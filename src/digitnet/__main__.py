"""``python -m digitnet`` runs the command line."""

from .cli import entrypoint

entrypoint()
