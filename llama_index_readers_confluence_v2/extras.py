"""Optional dependencies, imported when first needed, with the extra that installs them."""

from __future__ import annotations

import importlib
from typing import Any

from .errors import ConfluenceError


def require(module: str, extra: str, needed_by: str) -> Any:
    """`module`, or a ConfluenceError saying which extra installs it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ConfluenceError(
            f"{needed_by} needs {module}: pip install 'llama-index-readers-confluence-v2[{extra}]'"
        ) from None
