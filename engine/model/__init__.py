"""The vocabulary every layer shares: outcomes, histories, decisions and their effects, durations, time rules.

Imports nothing of dlrpolicy but ``_errors``.  The public names are re-exported by ``dlrpolicy``."""
