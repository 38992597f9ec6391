"""State that makes decisions real: the message ledger, the suppression list, the retry schedule, incidents with
holds, and flood control, on SQLite (the embedded default) or Redis/Valkey.  Imports ``decide``, ``policy`` and
``model``; the public names are re-exported by ``dlrpolicy``."""
