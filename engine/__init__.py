"""dlrpolicy: decide what a messaging pipeline should do after a provider reports on a message."""

from ._errors import (
    AmbiguousCodeError,
    ArgumentError,
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
    PolicyTestError,
    SettingError,
    TenantError,
)
from ._version import __version__
from .adapters._infobip import parse_infobip, parse_infobip_report
from .adapters._infobip_api import parse_infobip_api_error
from .adapters._nhn import parse_nhn, parse_nhn_result
from .adapters._parse import Envelope, detect_provider, parse, read_envelope
from .adapters._signature import verify_nhn_signature
from .adapters._timestamps import parse_timestamp
from .adapters._values import Skipped
from .decide._engine import Engine
from .decide._evaluate import evaluate
from .decide._explain import Explanation, RuleMatch
from .integrations._log import decision_fields, expand_decision, log_decision
from .model._decision import CodeIdentity, Decision, EscalateEffect, SuppressEffect
from .model._duration import format_duration, parse_duration
from .model._outcome import CodeRef, History, Outcome, Resend
from .model._vocabulary import validate_tenant
from .policy._catalog import Catalog
from .policy._compile import CompiledPolicy
from .policy._entries import CodeEntry, Hints
from .policy._limits import PolicyLimits
from .policy._settings import Breaker, Budget, IncidentSettings, StateSettings
from .policy._tenants import PolicyStore
from .state._failures import (
    CorruptStoreError,
    ImportLineError,
    LiftRefusedError,
    NotFoundError,
    SchemaVersionError,
    StateError,
    StoreLockedError,
    StoreUnavailableError,
    StoreURLError,
)
from .state._open import open_store
from .state._operations import Resolution
from .state._recorder import Recorder
from .state._records import Incident, IncidentEvent, MessageHistory, Recorded, ScheduleEntry, Suppression
from .state._redis import RedisStore
from .state._sqlite import SQLiteStore
from .state._store import Report, Store

__all__ = [
    "AmbiguousCodeError",
    "ArgumentError",
    "Breaker",
    "Budget",
    "Catalog",
    "CatalogError",
    "CodeEntry",
    "CodeIdentity",
    "CodeNotFoundError",
    "CodeRef",
    "CompiledPolicy",
    "CorruptStoreError",
    "Decision",
    "DlrpolicyError",
    "DurationError",
    "Engine",
    "Envelope",
    "EscalateEffect",
    "Explanation",
    "Hints",
    "History",
    "ImportLineError",
    "Incident",
    "IncidentEvent",
    "IncidentSettings",
    "InvalidOutcomeError",
    "LiftRefusedError",
    "MessageHistory",
    "NaiveDatetimeError",
    "NaiveTimestampError",
    "NotFoundError",
    "Outcome",
    "PayloadError",
    "PolicyError",
    "PolicyLimits",
    "PolicyProblem",
    "PolicyStore",
    "PolicyTestError",
    "Recorded",
    "Recorder",
    "RedisStore",
    "Report",
    "Resend",
    "Resolution",
    "RuleMatch",
    "SQLiteStore",
    "ScheduleEntry",
    "SchemaVersionError",
    "SettingError",
    "Skipped",
    "StateError",
    "StateSettings",
    "Store",
    "StoreLockedError",
    "StoreURLError",
    "StoreUnavailableError",
    "SuppressEffect",
    "Suppression",
    "TenantError",
    "__version__",
    "decision_fields",
    "detect_provider",
    "evaluate",
    "expand_decision",
    "format_duration",
    "log_decision",
    "open_store",
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
    "verify_nhn_signature",
]
