"""dlrpolicy: decide what a messaging pipeline should do after a provider reports on a message."""

from ._catalog import Catalog, CodeEntry, Hints
from ._compile import CompiledPolicy
from ._duration import format_duration, parse_duration
from ._engine import Engine
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
    TenantError,
)
from ._evaluate import evaluate
from ._explain import Explanation, RuleMatch
from ._infobip import parse_infobip, parse_infobip_api_error, parse_infobip_report
from ._log import decision_fields, expand_decision, log_decision
from ._models import (
    CodeIdentity,
    CodeRef,
    Decision,
    EscalateEffect,
    History,
    Outcome,
    SuppressEffect,
)
from ._nhn import parse_nhn, parse_nhn_result
from ._parse import Envelope, detect_provider, parse, read_envelope
from ._tenants import PolicyStore, validate_tenant
from ._timestamps import parse_timestamp
from ._version import __version__

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
    "PolicyProblem",
    "PolicyStore",
    "RuleMatch",
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
