"""Storage: the only package that talks to the database (SQLite by default, PostgreSQL to scale)."""
