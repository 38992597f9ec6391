"""``python -m dlrpolicy``."""

from .cli._main import main

raise SystemExit(main())
