"""The query embedder reuses a repeated query's vector instead of running the model again."""

from __future__ import annotations

import numpy as np
import pytest

from paperfeed.search.hybrid import QueryEmbedder


class _CountingEmbedder:
    """A stand-in model (not our code): a fixed vector per text, counting calls."""

    def __init__(self) -> None:
        self.calls = 0

    def embed_query(self, text: str) -> np.ndarray:
        self.calls += 1
        return np.full(4, float(len(text)), dtype=np.float32)


def test_repeated_query_reuses_its_vector_and_the_vector_is_read_only() -> None:
    model = _CountingEmbedder()
    backend = QueryEmbedder(model)
    first = backend.embed_query("graph neural networks")
    again = backend.embed_query("graph neural networks")
    assert model.calls == 1
    assert np.array_equal(first, again)
    with pytest.raises(ValueError):
        again[0] = 1.0
    backend.embed_query("other")
    assert model.calls == 2


def test_query_cache_is_bounded_and_can_be_emptied() -> None:
    model = _CountingEmbedder()
    backend = QueryEmbedder(model)
    for n in range(QueryEmbedder.CACHE_SIZE + 1):
        backend.embed_query(f"q{n}")
    backend.embed_query("q0")  # evicted: the oldest entry
    assert model.calls == QueryEmbedder.CACHE_SIZE + 2
    backend.forget_queries()
    backend.embed_query("q0")
    assert model.calls == QueryEmbedder.CACHE_SIZE + 3
