"""tox's inline plugin: find every installed pyenv CPython 3.11+, selected or not.

pyenv's ``python3.12`` shim answers only when 3.12 is a selected version, so on a machine whose
pyenv global is 3.11 ``tox -e py312,py313`` found no interpreter. The interpreters' own paths are
offered to tox's discovery (as ``--discover`` would); other machines are unaffected.
"""

from __future__ import annotations

from glob import glob
from pathlib import Path
from typing import Any

from tox.plugin import impl


@impl
def tox_add_core_config(core_conf: Any, state: Any) -> None:
    found = sorted(glob(str(Path.home() / ".pyenv/versions/3.1[1-9].*/bin/python3.1[1-9]")))
    options = state.conf.options
    options.discover = [*(getattr(options, "discover", None) or []), *found]
