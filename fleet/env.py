"""Typed readers for configuration from environment variables.

Each reader returns a safe default when the variable is absent and records a
clear, one-line problem when a value is present but malformed. ``settings.py``
stops start-up with every recorded problem at once, so nothing runs
half-configured.
"""

import os

problems: list[str] = []


def _raw(name: str) -> str | None:
    """The variable's value, or the content of the file named by NAME_FILE."""
    path = os.environ.get(f"{name}_FILE")
    if path:
        try:
            with open(path, encoding="utf-8") as handle:
                return handle.read().strip()
        except OSError as exc:
            problems.append(f"{name}_FILE: cannot read {path} ({exc.strerror})")
            return None
    return os.environ.get(name)


def string(name: str, default: str = "") -> str:
    value = _raw(name)
    return default if value is None else value


def boolean(name: str, default: bool = False) -> bool:
    value = _raw(name)
    if value is None or value == "":
        return default
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    problems.append(f"{name}: expected true or false, got {value!r}")
    return default


def integer(name: str, default: int) -> int:
    value = _raw(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        problems.append(f"{name}: expected a whole number, got {value!r}")
        return default


def listing(name: str, default: list[str] | None = None) -> list[str]:
    value = _raw(name)
    if value is None or value.strip() == "":
        return list(default or [])
    return [item.strip() for item in value.split(",") if item.strip()]


def choice(name: str, choices: tuple[str, ...], default: str) -> str:
    value = string(name, default)
    if value not in choices:
        problems.append(f"{name}: expected one of {', '.join(choices)}, got {value!r}")
        return default
    return value


def require(name: str, value: str, why: str) -> str:
    if not value:
        problems.append(f"{name} is required {why}")
    return value
