"""The `raylane` command line (console script `raylane`, or `python -m raylane`)."""

from .main import app, main

__all__ = ["app", "main"]
