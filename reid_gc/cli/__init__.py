"""The commands' main functions (tools/*.py are shims to them)."""
