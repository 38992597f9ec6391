"""``python -m dlrpolicy``."""

from ._cli import main

raise SystemExit(main())
