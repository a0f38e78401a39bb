#!/usr/bin/env bash
# SciFact (train split) retrieval quality of the three search modes, through
# `paperfeed eval retrieval` (the same code paths as the service). Document embeddings are
# cached under $CACHE (keyed by model id + text hash), so only the first run embeds the
# 5,183 abstracts. Prints one table; needs ../shared/data/scifact beside the checkout.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${SCIFACT:-../shared/data/scifact}
CACHE=${CACHE:-${PAPERFEED_DATA_DIR:-$HOME/.local/share/paperfeed}/cache}
PY=${PYTHON:-python}
printf '%-9s %8s %10s %11s %7s %7s %7s\n' mode nDCG@10 Recall@10 Recall@100 MRR@10 p50ms p95ms
for mode in keyword semantic hybrid; do
  line=$($PY -m paperfeed eval retrieval --corpus "$DATA/corpus.jsonl.gz" \
      --queries "$DATA/queries_train.jsonl" --qrels "$DATA/qrels_train_cited.tsv" \
      --mode "$mode" --cache-dir "$CACHE" --json 2>/dev/null | tail -n 1)
  $PY - "$mode" "$line" <<'PYEOF'
import json, sys
m = json.loads(sys.argv[2])
print(f"{sys.argv[1]:<9} {m['ndcg@10']:8.4f} {m['recall@10']:10.4f} {m['recall@100']:11.4f} "
      f"{m['mrr@10']:7.4f} {m['p50_ms']:7.1f} {m['p95_ms']:7.1f}")
PYEOF
done
