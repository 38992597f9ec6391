"""dlrpolicy: decide what a messaging pipeline should do after a provider reports on a message."""

from ._errors import (
    AmbiguousCodeError,
    CatalogError,
    CodeNotFoundError,
    DlrpolicyError,
    DurationError,
    InvalidOutcomeError,
    NaiveDatetimeError,
    NaiveTimestampError,
    PayloadError,
    PolicyError,
    PolicyProblem,
    SettingError,
    TenantError,
)
from ._version import __version__
from .adapters._infobip import parse_infobip, parse_infobip_api_error, parse_infobip_report
from .adapters._nhn import parse_nhn, parse_nhn_result
from .adapters._parse import Envelope, detect_provider, parse, read_envelope
from .adapters._timestamps import parse_timestamp
from .decide._engine import Engine
from .decide._evaluate import evaluate
from .decide._explain import Explanation, RuleMatch
from .integrations._log import decision_fields, expand_decision, log_decision
from .model._decision import CodeIdentity, Decision, EscalateEffect, SuppressEffect
from .model._duration import format_duration, parse_duration
from .model._outcome import CodeRef, History, Outcome
from .model._vocabulary import validate_tenant
from .policy._catalog import Catalog, CodeEntry, Hints
from .policy._compile import CompiledPolicy
from .policy._limits import PolicyLimits
from .policy._tenants import PolicyStore

__all__ = [
    "AmbiguousCodeError",
    "Catalog",
    "CatalogError",
    "CodeEntry",
    "CodeIdentity",
    "CodeNotFoundError",
    "CodeRef",
    "CompiledPolicy",
    "Decision",
    "DlrpolicyError",
    "DurationError",
    "Engine",
    "Envelope",
    "EscalateEffect",
    "Explanation",
    "Hints",
    "History",
    "InvalidOutcomeError",
    "NaiveDatetimeError",
    "NaiveTimestampError",
    "Outcome",
    "PayloadError",
    "PolicyError",
    "PolicyLimits",
    "PolicyProblem",
    "PolicyStore",
    "RuleMatch",
    "SettingError",
    "SuppressEffect",
    "TenantError",
    "__version__",
    "decision_fields",
    "detect_provider",
    "evaluate",
    "expand_decision",
    "format_duration",
    "log_decision",
    "parse",
    "parse_duration",
    "parse_infobip",
    "parse_infobip_api_error",
    "parse_infobip_report",
    "parse_nhn",
    "parse_nhn_result",
    "parse_timestamp",
    "read_envelope",
    "validate_tenant",
]
