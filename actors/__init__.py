"""actors package (see docs/architecture.md)."""
