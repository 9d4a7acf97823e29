"""The prototype of the light query path: MiniLM alone in float32 ONNX Runtime.

The project's own is index/onnx_embedder.py (any exportable model, its whole module pipeline
in the graph, checked exports in the per-user cache). This one stays as the earlier baseline of
benchmarks/cold_start.py: the transformer exported by itself, mean pooling and L2
normalisation written out in numpy for all-MiniLM-L6-v2.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from index.embedder import Embedder, normalise

MAX_SEQ = 256  # all-MiniLM-L6-v2's max_seq_length, special tokens included


def export(model_dir: Path, out: Path) -> Path:
    """Write the transformer of a sentence-transformers folder as float32 ONNX (once)."""
    if out.exists():
        return out
    import torch
    from transformers import AutoModel

    class Hidden(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = AutoModel.from_pretrained(str(model_dir)).eval()

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    model = Hidden().eval()
    ids = torch.ones((2, 16), dtype=torch.int64)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    with torch.inference_mode():
        torch.onnx.export(
            model,
            (ids, torch.ones_like(ids), torch.zeros_like(ids)),
            str(tmp),
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["last_hidden_state"],
            dynamic_axes={
                name: {0: "batch", 1: "seq"}
                for name in ("input_ids", "attention_mask", "token_type_ids", "last_hidden_state")
            },
            opset_version=17,
            dynamo=False,
        )
    tmp.rename(out)
    return out


class OnnxEmbedder(Embedder):
    """MiniLM through onnxruntime: imports in ~0.2 s where sentence-transformers takes ~3 s."""

    def __init__(self, model_dir: Path, onnx_path: Path, *, batch_size: int = 16) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        from index.settings import DEFAULT_MODEL

        self.name = DEFAULT_MODEL
        self.batch_size = batch_size
        self.max_tokens = MAX_SEQ - 2
        options = ort.SessionOptions()
        options.intra_op_num_threads = 0  # onnxruntime's default: one per core
        self._session: Any = ort.InferenceSession(
            str(onnx_path), options, providers=["CPUExecutionProvider"]
        )
        self._tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self._tok.enable_truncation(MAX_SEQ)
        self._tok.enable_padding()
        self._bare = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self._bare.no_truncation()
        self._bare.no_padding()
        self.dimension = int(self.embed_batch(["x"]).shape[1])

    def embed_batch(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))  # as ST sorts
        out = np.empty((len(texts), 0), dtype=np.float32)
        rows = []
        for start in range(0, len(order), self.batch_size):
            batch = [texts[i] for i in order[start : start + self.batch_size]]
            enc = self._tok.encode_batch(batch)
            ids = np.array([e.ids for e in enc], dtype=np.int64)
            mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
            (hidden,) = self._session.run(
                None,
                {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)},
            )
            m = mask[:, :, None].astype(np.float32)
            rows.append((hidden * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9))
        pooled = np.concatenate(rows)
        out = np.empty_like(pooled)
        out[order] = pooled
        return normalise(out)

    def token_spans(self, texts: Sequence[str]) -> list[list[tuple[int, int]]]:
        return [
            list(e.offsets) for e in self._bare.encode_batch(list(texts), add_special_tokens=False)
        ]
