"""The summary of a ``dlrpolicy evaluate`` run: the counts its stderr line reports."""

from __future__ import annotations

import attrs

from ..model._vocabulary import VERDICTS


@attrs.define
class RunSummary:
    """Counts of one run: records read, decisions per verdict, error records, and the wall time."""

    records: int = 0
    decisions: int = 0
    errors: int = 0
    verdicts: dict[str, int] = attrs.field(factory=lambda: dict.fromkeys(VERDICTS, 0))
    seconds: float = 0.0
    #: Parts of records that carried nothing to decide (empty pulls, inbound messages): a line each, not errors.
    skipped: int = 0

    def add(self, other: RunSummary) -> None:
        """Count ``other``'s records in (a chunk's, on a worker process); the time is not added."""
        self.records += other.records
        self.decisions += other.decisions
        self.errors += other.errors
        self.skipped += other.skipped
        for verdict, count in other.verdicts.items():
            self.verdicts[verdict] = self.verdicts.get(verdict, 0) + count

    def render(self) -> str:
        """One line for stderr: ``12 records, 15 decisions (retry 8, ...), 2 errors in 0.01s (1200 records/s)``."""
        counts = ", ".join(f"{verdict} {count}" for verdict, count in self.verdicts.items() if count)
        rate = self.records / self.seconds if self.seconds > 0 else 0.0
        skipped = f", {self.skipped} skipped" if self.skipped else ""
        return (f"dlrpolicy evaluate: {self.records} records, {self.decisions} decisions"
                f"{f' ({counts})' if counts else ''}{skipped}, {self.errors} error{'s' if self.errors != 1 else ''} "
                f"in {self.seconds:.2f}s ({rate:,.0f} records/s)")
