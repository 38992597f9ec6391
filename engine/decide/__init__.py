"""The pure decision: `evaluate`, `explain` and the `Engine` that holds a compiled policy.  Reads no clock, file
or network while deciding.  Imports ``policy`` and ``model``."""
