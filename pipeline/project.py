"""Where the project lies: the folder holding pipeline/ (in a GPU-job bundle, its job/ folder)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
