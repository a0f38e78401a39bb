"""Web layer: HTML pages and the JSON API over the same storage functions."""
