"""Facts and choices compiled: the catalog, policy files (read, merged, validated), compilation into an index,
policy reports (coverage, lint, diff) and the tenant store.  Imports only ``model`` (and ``_errors``)."""
