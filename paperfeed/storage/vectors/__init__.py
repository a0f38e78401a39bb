"""Vector files beside the database: `files.VectorFiles` (storage engine), `graph.HnswGraph`."""
