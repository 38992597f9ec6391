"""Small helpers the payload readers share."""

from __future__ import annotations

from .._errors import InvalidOutcomeError, PayloadError


def payload_error(exc: PayloadError | InvalidOutcomeError, path: str) -> PayloadError:
    """``exc`` as a `PayloadError`: a value the model refused (say, a ``sentAt`` in year 9999) is reported at
    ``path``, the report it came from, so that one report's problem never takes its siblings with it."""
    return exc if isinstance(exc, PayloadError) else PayloadError(path, str(exc))


def kind_of(value: object) -> str:
    """A JSON type name for error messages: object, array, string, number, boolean or null."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return f"a string ({value[:40]!r})"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, int | float):
        return f"a number ({value!r})"
    return "null"
