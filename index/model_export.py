"""Making the export that `index.openvino_embedder` embeds with: once per model, with torch.

Called by an ingest or rebuild before it embeds, and by a question that had to fall back to
sentence-transformers. The model is loaded in float32 and its whole module pipeline converted
by OpenVINO (traced through TorchScript), so pooling and normalisation are the model's own
modules (mean, CLS, max, a Dense layer: whatever modules.json lists), not a copy of them; the
graph gives the word-pieces' output vectors too, for sentence vectors at ingest. The export is
kept only if its vectors agree with sentence-transformers' on `CHECK_TEXTS`; a model that
cannot be exported gets a marker (meta.json, `supported: false`) so that it is not tried at
every question.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import time
import warnings
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from index.embedder import normalise
from index.export_cache import (
    CANARY,
    FILES,
    FORMAT,
    OUTPUTS,
    ExportMeta,
    cache_root,
    fingerprint,
    model_folder,
    read_meta,
)
from index.openvino_embedder import MIN_COSINE, ExportedEmbedder, agreement

log = logging.getLogger(__name__)

INPUTS = ("input_ids", "attention_mask", "token_type_ids")  # what the runtime can feed
# Padded batches, a text past any max_seq_length (truncation), and edge whitespace and
# accents (what a tokenizer's normaliser might treat differently from sentence-transformers).
CHECK_TEXTS = (
    *CANARY,
    "  Über café naïve — 2015: the Panthers' defense?\n",
    "x",
    " ".join(["The committee met again on Tuesday and the vote was postponed."] * 60),
)
STALE_TMP_S = 3600  # a temporary folder older than this was left by an export that died
PREPARING = "preparing the model {name} for fast CPU inference, once: about 10-20 s"


def ensure_export(name: str, notify: Callable[[str], None] | None = None) -> Path | None:
    """The export folder of the model `name`, made now if there is none; None if unsupported.

    `notify` is told, before the slow part, that the export is being made (a first ingest or
    question on a machine waits 10-20 s for it). Never raises for a model it cannot export:
    it logs why and the caller keeps sentence-transformers.
    """
    folder = model_folder(name)
    if folder is None:
        return None
    key = fingerprint(folder)
    root = cache_root()
    remove_partial(root)
    target = root / key
    meta = read_meta(target, key)
    if meta is not None:
        return target if meta.supported else None
    try:
        root.mkdir(parents=True, exist_ok=True)
        tmp = root / f".{key}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
        tmp.mkdir()
    except OSError as e:
        log.warning("cannot write model exports to %s (%s); torch will embed instead", root, e)
        return None
    (notify or log.info)(PREPARING.format(name=name))
    started = time.perf_counter()
    try:
        meta = _export(folder, key, tmp)
        _install(tmp, target)
    except (OSError, ValueError, RuntimeError) as e:
        # Disk full, permissions, a model that loads for embedding but not again here: no
        # marker, so a later ingest tries again; the caller keeps sentence-transformers.
        log.warning("exporting %s failed (%s); torch will embed instead", name, e)
        return None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    remove_stale(root, folder, key)
    if not meta.supported:
        log.warning("%s cannot be exported (%s); torch will embed instead", name, meta.reason)
        return None
    log.info("exported %s for OpenVINO in %.1f s: %s", name, time.perf_counter() - started, target)
    return target


def _export(folder: Path, key: str, tmp: Path) -> ExportMeta:
    """Write an export (or an unsupported marker) of the model in `folder` into `tmp`.

    transformers' notes on the model's config (tracing reads every property, and one warns
    of an unrecognised loss_type) would reach the terminal of a first `qa ingest`, about a
    step the user did not ask for: they are kept to errors meanwhile.
    """
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        return _make_export(folder, key, tmp)
    finally:
        hf_logging.set_verbosity(verbosity)


def _make_export(folder: Path, key: str, tmp: Path) -> ExportMeta:
    from sentence_transformers import SentenceTransformer

    unsupported = ExportMeta(format=FORMAT, key=key, folder=str(folder), supported=False)
    model = SentenceTransformer(str(folder), device="cpu")  # float32: the reference
    reason = _unsupported(model)
    if reason:
        return _write_meta(tmp, replace(unsupported, reason=reason))
    tok = model.tokenizer
    names = tuple(n for n in tok.model_input_names if n in INPUTS)
    try:
        _convert(model, names, tmp / "model.xml")
    except Exception as e:  # the converter's refusals (an op, a shape) share no type
        log.debug("converting %s failed", folder, exc_info=True)
        why = f"the converter failed: {type(e).__name__}: {e}"
        return _write_meta(tmp, replace(unsupported, reason=why))
    (tmp / "tokenizer.json").write_text(tok.backend_tokenizer.to_str())
    reference = normalise(
        model.encode(list(CHECK_TEXTS), convert_to_numpy=True, show_progress_bar=False)
    )
    meta = ExportMeta(
        format=FORMAT,
        key=key,
        folder=str(folder),
        supported=True,
        dimension=int(reference.shape[1]),
        max_seq_length=int(model.max_seq_length or 0),
        input_names=names,
        pad_id=int(tok.pad_token_id),
        pad_type_id=int(getattr(tok, "pad_token_type_id", 0) or 0),
        padding_side=str(tok.padding_side),
        truncation_side=str(tok.truncation_side),
        sizes=tuple((f, (tmp / f).stat().st_size) for f in FILES),
        canary=tuple(tuple(float(x) for x in row) for row in reference[: len(CANARY)]),
        versions=_versions(),
    )
    try:
        got = ExportedEmbedder("check", tmp, meta).embed_batch(list(CHECK_TEXTS))
    except Exception as e:  # OpenVINO's load and run errors share no type
        return _write_meta(tmp, replace(unsupported, reason=f"OpenVINO cannot run it: {e}"))
    cosine = agreement(got, reference)
    if not cosine >= MIN_COSINE:  # NaN too
        why = f"its vectors disagree with sentence-transformers' (cosine {cosine:.6f})"
        return _write_meta(tmp, replace(unsupported, reason=why))
    return _write_meta(tmp, meta)


def _unsupported(model: Any) -> str:
    """Why the model's inputs cannot be made by the runtime's tokenizer alone; "" if they can."""
    first = model[0]
    if type(first).__name__ != "Transformer":  # its import path moved between versions
        return f"its first module is {type(first).__name__}, not a Transformer"
    tok = model.tokenizer
    if tok is None or getattr(tok, "backend_tokenizer", None) is None:
        return "it has no fast (tokenizers) tokenizer"
    if tok.pad_token_id is None:
        return "its tokenizer has no padding token"
    if getattr(first, "do_lower_case", False):
        return "it lower-cases its input (do_lower_case)"
    prompt = model.prompts.get(model.default_prompt_name or "", "")
    if prompt:
        return f"it prefixes texts with the prompt {prompt!r}"
    extra = set(tok.model_input_names) - set(INPUTS)
    if extra:
        return f"it takes inputs the runtime does not make: {sorted(extra)}"
    if model.max_seq_length is None:
        return "it has no max_seq_length"
    return ""


def _convert(model: Any, names: tuple[str, ...], path: Path) -> None:
    """The model's modules as one OpenVINO graph in `path` (model.xml, model.bin beside it):
    token ids in; the sentence embedding and the word-pieces' output vectors out.

    The converter traces one path through the Python code, so the example batch is padded:
    the path with an attention mask, right for unpadded batches too. Weights stay float32;
    a bfloat16 run rounds them when it compiles.
    """
    import openvino as ov
    import torch

    class Pipeline(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *inputs: Any) -> Any:
            out = self.model(dict(zip(names, inputs, strict=True)))
            return out["sentence_embedding"], out["token_embeddings"]

    ids = torch.full((2, 16), 1000, dtype=torch.int64)
    mask = torch.ones_like(ids)
    mask[1, 8:] = 0
    example = {"input_ids": ids, "attention_mask": mask, "token_type_ids": torch.zeros_like(ids)}
    # The tracer warns of each Python branch it freezes; the check against
    # sentence-transformers' vectors is what decides whether the graph is kept.
    with torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        graph = ov.convert_model(
            Pipeline().eval(),
            example_input=tuple(example[n] for n in names),
            input=[([-1, -1], ov.Type.i64)] * len(names),  # any batch, any length
        )
    ports = [*graph.inputs, *graph.outputs]
    for port, name in zip(ports, [*names, *OUTPUTS], strict=True):
        port.get_tensor().set_names({name})
    ov.save_model(graph, str(path), compress_to_fp16=False)


def _write_meta(tmp: Path, meta: ExportMeta) -> ExportMeta:
    """meta.json, written last and synced with the files it describes."""
    for f in FILES:
        if not meta.supported:
            (tmp / f).unlink(missing_ok=True)  # a marker holds no model
        elif (tmp / f).exists():
            with (tmp / f).open("rb") as fh:
                os.fsync(fh.fileno())
    with (tmp / "meta.json").open("w") as fh:
        fh.write(meta.to_json())
        fh.flush()
        os.fsync(fh.fileno())
    return meta


def _install(tmp: Path, target: Path) -> None:
    """Rename the finished folder into place; if another process got there first, keep theirs."""
    if target.exists() and not (target / "meta.json").exists():
        shutil.rmtree(target, ignore_errors=True)  # the remains of a removal cut short
    try:
        tmp.rename(target)
    except OSError:
        if not (target / "meta.json").exists():
            raise
        log.debug("another process exported %s first", target)


def remove_partial(root: Path) -> None:
    """Remove the temporary folders of exports whose process is gone (killed, crashed), or
    that are older than any export takes: `.KEY.PID.RANDOM.tmp`, about 90 MB each."""
    try:
        entries = list(os.scandir(root))
    except OSError:
        return  # no cache yet
    for entry in entries:
        parts = entry.name.split(".")
        if not entry.name.endswith(".tmp") or len(parts) != 5 or not parts[2].isdigit():
            continue
        try:
            old = time.time() - entry.stat(follow_symlinks=False).st_mtime > STALE_TMP_S
        except OSError:
            continue
        if old or not _alive(int(parts[2])):
            log.info("removing %s, left by an export that did not finish", entry.path)
            shutil.rmtree(entry.path, ignore_errors=True)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


def remove_stale(root: Path, folder: Path, key: str) -> None:
    """Exports of earlier states of the same model folder, and the ONNX exports of earlier
    versions (in a sibling folder, `onnx`)."""
    shutil.rmtree(root.parent / "onnx", ignore_errors=True)
    for path in root.iterdir():
        if path.name.endswith(".tmp"):
            continue  # remove_partial's
        if path.name == key or not path.is_dir():
            continue
        try:
            other = ExportMeta.from_json((path / "meta.json").read_text())
        except (OSError, ValueError, TypeError):
            continue
        if other.folder == str(folder):
            log.info("removing the stale export %s", path)
            shutil.rmtree(path, ignore_errors=True)


def _versions() -> tuple[tuple[str, str], ...]:
    from importlib.metadata import PackageNotFoundError, version

    out = []
    for package in ("torch", "transformers", "sentence-transformers", "openvino"):
        try:
            out.append((package, version(package)))
        except PackageNotFoundError:
            out.append((package, "?"))
    return tuple(out)
