"""Small helpers and values the payload readers share."""

from __future__ import annotations

from typing import Final

import attrs

from .._errors import InvalidOutcomeError, PayloadError
from ..model._outcome import Outcome

#: Outcome's fields, in order: `outcome_of` takes a value for every one of them.
FIELDS: Final = tuple(field.name for field in attrs.fields(Outcome))
_new: Final = object.__new__


def outcome_of(values: dict[str, object]) -> Outcome:
    """``Outcome(**values)`` for the adapters' hot paths, with the same checks and normalisation (Outcome does them
    all in ``__attrs_post_init__``, which this calls), at about 40% of the cost: attrs' generated ``__init__``
    parses up to 19 keyword arguments and stores them one by one; here ``values`` becomes the instance's fields
    in one dict copy, which is cheapest when it names every field (an empty dict takes a whole one in one go,
    where filling in defaults and then overwriting them is a lookup per key).

    ``values`` names every field of Outcome in field order (`FIELDS`; tests hold the adapters' outcomes to
    ``Outcome(...)`` and to that order): one missing fails at once, as ``__attrs_post_init__`` reads them all; one
    order keeps every outcome's dict laid out alike, so the interpreter's attribute caches (which remember where
    in the dict a name was) hit for outcomes from any adapter."""
    outcome: Outcome = _new(Outcome)
    outcome.__dict__.update(values)
    outcome.__attrs_post_init__()
    return outcome


def outcome_with_texts(outcome: Outcome, sender: str | None, template: str | None) -> Outcome:
    """``attrs.evolve(outcome, sender=sender, template=template)`` for texts already known to be strings (or None):
    every other field passed Outcome's checks when ``outcome`` was built, so none is checked again (0.7 against
    1.5 us an outcome: a report in an envelope with a sender is built twice)."""
    copy: Outcome = _new(Outcome)
    fields = copy.__dict__
    fields.update(outcome.__dict__)
    fields["sender"] = sender
    fields["template"] = template
    return copy


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


@attrs.frozen
class Skipped:
    """A part of a payload that carries nothing to decide and is not an error: an empty pull (``results: []``), an
    inbound message or typing indicator arriving at the same webhook.  ``path`` points at it; ``reason`` says
    what it is.  The evaluate command writes one line for it, so every record still yields its line."""

    path: str
    reason: str


def boolean(value: object) -> bool | None:
    """A JSON boolean, or the strings "true"/"false" that some provider samples carry; None for anything else."""
    if type(value) is bool:
        return value
    if value in ("true", "false"):
        return value == "true"
    return None
