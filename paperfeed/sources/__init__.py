"""Sources: each fetches bytes (I/O) and parses them with a pure function into Paper records."""
