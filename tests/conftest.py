"""Fixtures shared by several test modules (defined once here so that session-scoped ones run once)."""
from inference_fixtures import trained  # noqa: F401  (a tiny trained run: API, export and search tests)
