"""``streamreplay web``: a local dashboard over a cassette directory (needs the ``web`` extra).

Importing this package imports FastAPI; ``commands.web`` checks for it first so a missing
extra is one line, not a traceback.
"""

from __future__ import annotations

from .app import create_app, plotly_js_path
from .paths import CassetteRoot, PathRefused

__all__ = ["CassetteRoot", "PathRefused", "create_app", "plotly_js_path"]
