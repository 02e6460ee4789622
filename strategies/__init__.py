"""strategies package (see docs/architecture.md)."""
