"""dlrpolicy inside other libraries' loops: tenacity send loops (public as ``dlrpolicy.tenacity``) and structlog
decision events.  May import every layer below it."""
