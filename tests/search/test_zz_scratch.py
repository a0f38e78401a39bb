import random, re
from dataclasses import replace
from paperfeed.search.hybrid import HybridParams, SearchService
from paperfeed.search.indexing import index_papers
from paperfeed.search.query import STOPWORDS
from tests.search.conftest import real_papers

def test_explore(settings, catalog):
    index_papers(catalog, settings)
    new = SearchService(catalog, settings)
    old = SearchService(catalog, settings, params=replace(HybridParams(), keywords_shift=0.0, lead_bonus=0.0),
                        backend=new.backend, embedder=new.embedder())
    rng = random.Random(1)
    papers = real_papers()
    found = 0
    for p in papers:
        words = [w for w in re.findall(r"[a-z]{5,}", p.abstract.lower()) if w not in STOPWORDS]
        words = list(dict.fromkeys(words))
        for _ in range(6):
            if len(words) < 4: break
            q = " ".join(rng.sample(words, rng.choice([3, 4, 5])))
            kw = new.search(q, mode="keyword").hits
            if not kw or kw[0].paper_id != p.id: continue
            a = [h.paper_id for h in old.search(q).hits]
            b = [h.paper_id for h in new.search(q).hits]
            if a[:1] != b[:1]:
                found += 1
                print("CASE", repr(q), p.id, "old rank", a.index(p.id) if p.id in a else None, "new rank", b.index(p.id) if p.id in b else None,
                      "kw scores", [round(h.score, 2) for h in kw[:3]])
    print("found", found)
