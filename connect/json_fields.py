"""Reading one field of a decoded JSON answer with the shape the caller needs.

Smartcar's bodies are read defensively: a field that is missing, null or of another type reads as empty, so a
caller never branches on ``None`` and the type checker knows what it holds.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def mapping_at(obj: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    """The object under ``key``, or an empty one when there is none."""
    value = obj.get(key)
    return value if isinstance(value, Mapping) else {}


def list_at(obj: Mapping[str, Any], key: str) -> list[Any]:
    """The array under ``key``, or an empty one when there is none."""
    value = obj.get(key)
    return value if isinstance(value, list) else []


def str_at(obj: Mapping[str, Any], key: str) -> str:
    """The string under ``key``, or "" when there is none."""
    value = obj.get(key)
    return value if isinstance(value, str) else ""
