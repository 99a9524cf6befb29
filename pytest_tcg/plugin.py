"""pytest hooks and options for pytest-tcg (placeholder until the plugin lands)."""
