"""pytest-tcg: a pytest plugin for testing computation-graph pipelines (placeholder)."""
