"""Search: keyword index, embeddings, vector index and their fusion."""
