"""Example Tumen plugin package (see docs/plugins.md)."""
