"""Catalog data files shipped with dlrpolicy (TOML, one file per source table)."""
