"""Tests for reading and validating policy files: every problem reported at once, with file, line, rule,
field and fix."""

from __future__ import annotations

import pytest

from dlrpolicy import PolicyError
from dlrpolicy.policy._layers import compile_layers, default_layer
from dlrpolicy.policy._merge import build_spec
from dlrpolicy.policy._read import Layer
from tests.conftest import SMALL_POLICY, small_layer


def _problems(text: str) -> list[tuple[str | None, str | None]]:
    """(rule, field) of every problem in a policy built from the small policy plus ``text``."""
    with pytest.raises(PolicyError) as info:
        compile_layers([small_layer(SMALL_POLICY + text)])
    return [(p.rule, p.field) for p in info.value.problems]


def test_shipped_default_loads() -> None:
    """The shipped default policy compiles without problems."""
    assert compile_layers([default_layer()]).rules


def test_small_policy_loads() -> None:
    """The test policy itself is valid."""
    assert 15 == len(build_spec([small_layer()]).rules)


def test_all_problems_reported_at_once() -> None:
    """Several broken rules give several problems in one error."""
    text = """
[[rule]]
id = "bad-duration"
match = { id = 1, provider = "infobip", kind = "error", product = "general" }
verdict = "retry"
after = "soon"
reason = "x"

[[rule]]
id = "bad-verdict"
match = { id = 2, provider = "infobip", kind = "error", product = "general" }
verdict = "maybe"
reason = "x"

[[rule]]
id = "bad-zone"
match = { id = 5, provider = "infobip", kind = "error", product = "general" }
verdict = "retry"
at = "next 08:00"
timezone = "Mars/Olympus"
reason = "x"
"""
    assert [("bad-duration", "after"), ("bad-verdict", "verdict"), ("bad-zone", "timezone")] == _problems(text)


def test_problem_names_file_line_rule_field_and_fix() -> None:
    """A problem's text carries the file, the line of the rule id, the field and how to fix it."""
    text = '\n[[rule]]\nid = "typo"\nmatch = { id = 1, provider = "infobip", kind = "error", product = "general" }\n' \
           'verdict = "retry"\nafter = "24 hours"\nreason = "x"\n'
    with pytest.raises(PolicyError) as info:
        compile_layers([small_layer(SMALL_POLICY + text)])
    problem = info.value.problems[0]
    expected_line = (SMALL_POLICY + text).splitlines().index('id = "typo"') + 1
    actual = (problem.file, problem.line, problem.rule, problem.field)
    assert ("tests/small.toml", expected_line, "typo", "after") == actual
    assert '"24h"' in problem.fix
    assert f"tests/small.toml:{expected_line}" in str(info.value)


@pytest.mark.parametrize(
    ("snippet", "expected"),
    [
        ('match = { id = 1, provider = "infobip", kind = "error", product = "general", colour = "red" }',
         ("x", "match.colour")),
        ('match = { id = 1, provider = "twilio" }', ("x", "match.provider")),
        ('match = { id = "1", provider = "infobip" }', ("x", "match.id")),
        ('match = { name = "ec_lower", provider = "infobip" }', ("x", "match.name")),
        ('match = { id = 1, provider = "infobip", channel = "pigeon" }', ("x", "match.channel")),
        ('match = { id = 1, provider = "infobip", permanent = "yes" }', ("x", "match.permanent")),
    ],
)
def test_match_problems(snippet: str, expected: tuple[str, str]) -> None:
    """Unknown keys, vocabulary and types in a match are each reported."""
    text = f'\n[[rule]]\nid = "x"\n{snippet}\nverdict = "done"\nreason = "x"\n'
    assert expected in _problems(text)


@pytest.mark.parametrize(
    ("snippet", "field"),
    [
        ('suppress = { scope = "galaxy" }', "suppress.scope"),
        ('escalate = { route = "Billing Team" }', "escalate.route"),
        ('escalate = { route = "billing", severity = "meh" }', "escalate.severity"),
        ('window = "nope"', "window"),
        ('at = "tomorrow"', "at"),
        ('max_attempts = 0', "max_attempts"),
        ('on_exhausted = "retry"', "on_exhausted"),
        ('channel = "fax"', "channel"),
        ('backoff = { initial = "1m", max = "30s" }', "backoff.max"),
        ('backoff = { initial = "1m", factor = 0.5 }', "backoff.factor"),
        ('colour = "red"', "colour"),
    ],
)
def test_body_problems(snippet: str, field: str) -> None:
    """Each malformed body field is reported with its name."""
    match = 'match = { provider = "infobip", kind = "error", product = "general", id = 1 }'
    text = f'\n[[rule]]\nid = "x"\n{match}\nverdict = "retry"\n{snippet}\nreason = "x"\n'
    assert ("x", field) in _problems(text)


def test_missing_reason_and_id() -> None:
    """A rule needs an id and a reason."""
    text = '\n[[rule]]\nmatch = { id = 1 }\nverdict = "done"\n' \
           '\n[[rule]]\nid = "r"\nmatch = { id = 2 }\nverdict = "done"\n'
    problems = _problems(text)
    assert (None, "id") in problems
    assert ("r", "reason") in problems


def test_duplicate_rule_id_in_one_file() -> None:
    """The same id twice in one file is an error."""
    assert ("delivered", "id") in _problems(
        '\n[[rule]]\nid = "delivered"\nmatch = { id = 5 }\nverdict = "done"\nreason = "x"\n'
    )


def test_equal_specificity_conflict_names_both_rules() -> None:
    """Two rules of equal specificity matching the same code are a load error naming both ids."""
    text = '\n[[rule]]\nid = "also-581"\nmatch = { provider = "infobip", kind = "error", product = "general", ' \
           'id = [581, 582] }\nverdict = "done"\nreason = "x"\n'
    with pytest.raises(PolicyError) as info:
        compile_layers([small_layer(SMALL_POLICY + text)])
    message = str(info.value)
    assert "'also-581'" in message
    assert "'out-of-credit'" in message


def test_channel_specific_rules_do_not_conflict_when_disjoint() -> None:
    """Equal specificity on disjoint channels is allowed."""
    text = '\n[[rule]]\nid = "line-only"\nmatch = { provider = "infobip", kind = "error", product = "chat", ' \
           'id = 7050, channel = "line" }\nverdict = "retry"\nreason = "x"\n'
    assert compile_layers([small_layer(SMALL_POLICY + text)])


def test_rule_matching_no_code_is_an_error() -> None:
    """A name pattern with a typo matches nothing and is reported."""
    assert ("typo", "match") in _problems(
        '\n[[rule]]\nid = "typo"\nmatch = { provider = "infobip", name = "EC_USER_OUT_OF_CREDDIT" }\n'
        'verdict = "done"\nreason = "x"\n'
    )


def test_toml_syntax_error_names_line() -> None:
    """A TOML syntax error becomes a PolicyError with the line number."""
    with pytest.raises(PolicyError) as info:
        Layer.from_text('[defaults]\ntimezone = "UTC\n', source="broken.toml", name="broken")
    assert ("broken.toml", 2) == (info.value.problems[0].file, info.value.problems[0].line)


def test_missing_defaults_are_reported() -> None:
    """A base policy without the required defaults lists each missing key."""
    with pytest.raises(PolicyError) as info:
        build_spec([Layer.from_text("[defaults]\n", source="empty.toml", name="empty")])
    fields = {p.field for p in info.value.problems}
    assert {"defaults.backoff", "defaults.max_attempts", "defaults.give_up_after", "defaults.unknown"} <= fields


def test_unknown_top_level_key() -> None:
    """Top-level typos such as [[rules]] are reported."""
    assert (None, "rules") in _problems('\n[[rules]]\nid = "x"\n')


def test_base_policy_cannot_patch() -> None:
    """patch and disable only make sense in a layer above the base."""
    with pytest.raises(PolicyError) as info:
        compile_layers([small_layer('disable = ["delivered"]\n' + SMALL_POLICY)])
    assert (None, "disable") in [(p.rule, p.field) for p in info.value.problems]
