"""The ``dlrpolicy`` command line: one module per command group, shared plumbing in ``_common``, the parser and
entry point in ``_main``.  The top of the import graph: it may import every layer."""
