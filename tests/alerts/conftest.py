"""Alert tests share the per-module databases of the collections tests (SQLite, PostgreSQL)."""

from tests.collections.conftest import backend, db  # noqa: F401 - fixtures
