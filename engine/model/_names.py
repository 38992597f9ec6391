"""Channel and provider names as written by callers, to the canonical ones (``"SMS"`` is ``sms``), or an
`InvalidOutcomeError` that lists them."""

from __future__ import annotations

from .._errors import InvalidOutcomeError, quote


def known_name(value: object, field: str, known: frozenset[str], listed: tuple[str, ...]) -> str:
    """``value`` if it is one of ``known``, else its folded form (stripped, lower case, ``-`` as ``_``) if that is;
    else raise `InvalidOutcomeError` for ``field``, listing ``listed``."""
    # Fast path first: the adapters pass the canonical names millions of times.
    if type(value) is str:
        if value in known:
            return value
        folded = value.strip().lower().replace("-", "_")
        if folded in known:
            return folded
    raise InvalidOutcomeError(field, f"{quote(value)} is not known: use one of {', '.join(listed)}")
