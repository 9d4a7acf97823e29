"""Settings from flags and environment; CPU feature detection for bfloat16."""

from __future__ import annotations

from pathlib import Path

import pytest

from index.embedder import bf16_is_fast, resolve_model
from index.errors import ConfigError
from index.settings import DEFAULT_MODEL, Settings, default_index_dir


def test_environment_then_flags() -> None:
    env = {
        "QA_INDEX": "/srv/news",
        "QA_MODEL": "/models/mini",
        "QA_CHUNK_TOKENS": "128",
        "QA_CHUNK_OVERLAP": "16",
        "QA_BATCH_SIZE": "8",
        "QA_DTYPE": "float32",
        "QA_MAX_FILE_MB": "5",
    }
    s = Settings.from_env(env)
    assert (s.index_dir, s.model, s.chunk_tokens, s.chunk_overlap) == (
        Path("/srv/news"),
        "/models/mini",
        128,
        16,
    )
    assert (s.batch_size, s.dtype, s.max_file_mb) == (8, "float32", 5.0)
    s = Settings.from_env(env, index_dir=Path("/tmp/x"), chunk_tokens=None, batch_size=4)
    assert (s.index_dir, s.chunk_tokens, s.batch_size) == (Path("/tmp/x"), 128, 4)


def test_defaults_live_outside_the_source_tree() -> None:
    s = Settings.from_env({})
    assert s.index_dir == default_index_dir()
    assert Path(__file__).resolve().parent.parent not in s.index_dir.resolve().parents
    assert s.model is None and s.dtype == "auto"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"QA_CHUNK_TOKENS": "many"}, "QA_CHUNK_TOKENS='many' is not a number"),
        ({"QA_CHUNK_TOKENS": "8"}, "at least 16"),
        ({"QA_CHUNK_TOKENS": "100", "QA_CHUNK_OVERLAP": "60"}, "between 0 and 49"),
        ({"QA_DTYPE": "int4"}, "dtype must be one of"),
        ({"QA_BATCH_SIZE": "0"}, "batch size"),
    ],
)
def test_bad_values_say_what_is_wrong(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Settings.from_env(env)


def test_small_chunks_get_a_smaller_default_overlap() -> None:
    assert Settings.from_env({}, chunk_tokens=50).effective_overlap(50) == 10
    assert Settings.from_env({}).effective_overlap(200) == 40


def test_bf16_only_where_the_cpu_multiplies_it(tmp_path: Path) -> None:
    cpu = tmp_path / "cpuinfo"
    cpu.write_text("processor : 0\nflags : fpu sse avx2 avx512f\n")
    assert not bf16_is_fast(cpu)
    cpu.write_text("processor : 0\nflags : fpu avx512f avx512_bf16 amx_tile\n")
    assert bf16_is_fast(cpu)
    cpu.write_text("flags : fpu amx_bf16 amx_tile\n")
    assert bf16_is_fast(cpu)
    assert not bf16_is_fast(tmp_path / "absent")


def test_default_model_resolves_to_the_bundled_folder() -> None:
    path = Path(resolve_model(DEFAULT_MODEL))
    assert (path / "modules.json").exists() and (path / "model.safetensors").exists()
    assert resolve_model("all-MiniLM-L6-v2") == str(path)
    assert resolve_model("someone/unknown") == "someone/unknown"


def test_unknown_model_is_a_clear_error() -> None:
    from index.errors import ModelError
    from index.st_embedder import SentenceTransformerEmbedder

    with pytest.raises(ModelError, match="no downloads"):
        SentenceTransformerEmbedder("/nonexistent/model-folder")
