"""Exporters (placeholder)."""
