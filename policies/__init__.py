"""Policy files shipped with dlrpolicy (TOML)."""
