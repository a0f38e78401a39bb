"""paperfeed: a self-hostable Daily Papers service (catalog, feeds, search, digests)."""

__version__ = "0.1.0"
