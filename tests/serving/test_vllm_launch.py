"""The vLLM launch command is well formed for every recommended model family (no GPU, no vLLM needed)."""

import argparse
import json
import shlex
from pathlib import Path

import pytest

from serving.vllm.launch import API_KEY_ENV, Family, build_command, load_families, main

FAMILIES = {"qwen2.5-7b", "mistral-7b", "gemma-3-12b"}


def vllm_serve_parser() -> argparse.ArgumentParser:
    """The subset of `vllm serve` (0.24) flags the launcher may use; anything else is an error."""
    p = argparse.ArgumentParser(prog="vllm serve", exit_on_error=False)
    p.add_argument("model")
    p.add_argument("--served-model-name", required=True)
    p.add_argument("--host", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--dtype", choices=["auto", "bfloat16", "float16", "float32"], required=True)
    p.add_argument("--max-model-len", type=int, required=True)
    p.add_argument("--gpu-memory-utilization", type=float, required=True)
    p.add_argument("--max-num-seqs", type=int, required=True)
    p.add_argument("--max-num-batched-tokens", type=int, required=True)
    p.add_argument("--enable-prefix-caching", action=argparse.BooleanOptionalAction, required=True)
    p.add_argument("--enable-chunked-prefill", action=argparse.BooleanOptionalAction, required=True)
    p.add_argument("--kv-cache-dtype", choices=["auto", "fp8", "fp8_e4m3", "fp8_e5m2"], default="auto")
    p.add_argument("--tensor-parallel-size", type=int, default=1)
    p.add_argument("--tokenizer-mode", choices=["auto", "slow", "mistral"])
    p.add_argument("--config-format", choices=["auto", "hf", "mistral"])
    p.add_argument("--load-format", choices=["auto", "safetensors", "mistral", "dummy"])
    p.add_argument("--limit-mm-per-prompt", type=json.loads)
    p.add_argument("--api-key")
    return p


def parse(argv: list[str]) -> argparse.Namespace:
    assert argv[:2] == ["vllm", "serve"]
    args, unknown = vllm_serve_parser().parse_known_args(argv[2:])
    assert not unknown, f"flags vllm serve does not know: {unknown}"
    return args


def test_the_config_holds_the_three_recommended_families_and_a_known_default() -> None:
    families, default = load_families()
    assert set(families) == FAMILIES
    assert default == "qwen2.5-7b"


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_each_family_gets_the_flags_this_workload_needs(name: str) -> None:
    family = load_families()[0][name]
    argv = build_command(family)
    args = parse(argv)
    assert args.model == family.model
    assert args.served_model_name == family.served_model_name
    assert args.enable_prefix_caching is True  # the fixed system text is reused across questions
    assert args.enable_chunked_prefill is True
    assert args.dtype == "bfloat16"
    assert 4096 <= args.max_model_len <= 32768
    assert 0.5 <= args.gpu_memory_utilization <= 0.95
    assert 8 <= args.max_num_seqs <= 256
    assert args.max_num_batched_tokens >= args.max_num_seqs
    assert args.max_num_batched_tokens >= 2048  # a whole prompt's worth of prefill per step
    assert 1024 <= args.port <= 65535
    assert args.api_key is None  # the key travels in VLLM_API_KEY, never on a command line
    # The server keeps room for enough answers at once: the KV cache on an 80 GB GPU holds them all.
    assert family.sizing(80.0)["answers_in_cache"] >= family.max_num_seqs


def test_family_specific_flags() -> None:
    families = load_families()[0]
    mistral = parse(build_command(families["mistral-7b"]))
    assert (mistral.tokenizer_mode, mistral.config_format, mistral.load_format) == ("mistral",) * 3
    gemma = parse(build_command(families["gemma-3-12b"]))
    assert gemma.limit_mm_per_prompt == {"image": 0}
    qwen = parse(build_command(families["qwen2.5-7b"]))
    assert qwen.tokenizer_mode is None


def test_overrides_and_local_weights() -> None:
    family = load_families()[0]["qwen2.5-7b"]
    argv = build_command(family, model_path="/models/qwen", overrides={
        "kv_cache_dtype": "fp8", "max_num_seqs": 32, "port": 9000, "tensor_parallel_size": 2, "host": None})
    args = parse(argv)
    assert (args.model, args.kv_cache_dtype, args.max_num_seqs, args.port) == ("/models/qwen", "fp8", 32, 9000)
    assert args.tensor_parallel_size == 2
    assert args.host == family.host


def test_bad_values_are_refused_with_the_allowed_ones() -> None:
    family = load_families()[0]["qwen2.5-7b"]
    with pytest.raises(ValueError, match="fp8"):
        build_command(family, overrides={"kv_cache_dtype": "int3"})
    with pytest.raises(ValueError, match="gpu_memory_utilization"):
        build_command(family, overrides={"gpu_memory_utilization": 1.5})
    with pytest.raises(ValueError, match="entrypoint"):
        build_command(family, entrypoint="docker")


def test_module_entrypoint_for_installs_without_the_console_script() -> None:
    family = load_families()[0]["qwen2.5-7b"]
    argv = build_command(family, entrypoint="module")
    assert argv[1:4] == ["-m", "vllm.entrypoints.openai.api_server", "--model"]
    assert argv[4] == family.model


def test_kv_cache_arithmetic() -> None:
    qwen = load_families()[0]["qwen2.5-7b"]
    # 28 layers x 4 KV heads x 128 x 2 (K, V) x 2 bytes
    assert qwen.kv_bytes_per_token() == 28 * 4 * 128 * 2 * 2
    fp8 = Family(**(vars(qwen) | {"kv_cache_dtype": "fp8"}))
    assert fp8.kv_bytes_per_token() * 2 == qwen.kv_bytes_per_token()
    assert 14 < qwen.weights_gib() < 15


def test_print_shows_the_command_and_the_assist_settings(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["mistral-7b", "--print"]) == 0
    out = capsys.readouterr().out.splitlines()
    args = parse(shlex.split(out[0]))
    assert args.served_model_name == "mistral-7b-instruct-v0.3"
    assert "ASSIST_GENERATOR__BACKEND=openai" in out
    assert "ASSIST_GENERATOR__MODEL=mistral-7b-instruct-v0.3" in out
    assert f"ASSIST_GENERATOR__API_KEY=${API_KEY_ENV}" in out


def test_unknown_family_and_missing_key_are_refused(capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    assert main(["llama-70b", "--print"]) == 2
    assert "qwen2.5-7b" in capsys.readouterr().err
    monkeypatch.delenv(API_KEY_ENV, raising=False)
    assert main(["qwen2.5-7b"]) == 2  # never starts an open server by accident
    assert API_KEY_ENV in capsys.readouterr().err


def test_config_names_a_missing_default(tmp_path: Path) -> None:
    config = tmp_path / "models.toml"
    config.write_text('default = "nope"\n[families.a]\nmodel = "m"\n', encoding="utf-8")
    with pytest.raises(ValueError, match="no such family"):
        load_families(config)
