"""Build (and run) the `vllm serve` command for a recommended model family from models.toml.

    python -m serving.vllm.launch --list
    python -m serving.vllm.launch qwen2.5-7b --print
    VLLM_API_KEY=... python -m serving.vllm.launch qwen2.5-7b --model-path /models/Qwen2.5-7B-Instruct

The API key never goes on the command line (where `ps` shows it): vLLM reads VLLM_API_KEY from its environment,
and the launcher refuses to start without it unless told `--no-api-key` (then it binds to loopback only).
"""

import argparse
import os
import shlex
import shutil
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CONFIG = Path(__file__).with_name("models.toml")
API_KEY_ENV = "VLLM_API_KEY"
KV_CACHE_DTYPES = ("auto", "fp8", "fp8_e4m3", "fp8_e5m2")
#: Tokens one question occupies in the KV cache: prompt (system text, 8 passages, question) and answer.
TOKENS_PER_ANSWER = 2_500
GIB = 1024**3


@dataclass
class Family:
    """One model family's launch settings (common settings merged in)."""

    name: str
    model: str
    served_model_name: str
    params_b: float
    layers: int
    kv_heads: int
    head_dim: int
    max_num_seqs: int
    host: str
    port: int
    dtype: str
    max_model_len: int
    gpu_memory_utilization: float
    enable_prefix_caching: bool
    enable_chunked_prefill: bool
    max_num_batched_tokens: int
    kv_cache_dtype: str
    extra_args: list[str] = field(default_factory=list)
    notes: str = ""

    def kv_bytes_per_token(self) -> int:
        """layers x KV heads x head dim x 2 (K and V) x bytes per value."""
        per_value = 1 if self.kv_cache_dtype.startswith("fp8") else 2
        return self.layers * self.kv_heads * self.head_dim * 2 * per_value

    def weights_gib(self) -> float:
        """bf16 weights: about 2 bytes per parameter."""
        return self.params_b * 1e9 * 2 / GIB

    def sizing(self, gpu_gib: float = 80.0, overhead_gib: float = 5.0) -> dict[str, float]:
        """Memory arithmetic for one GPU; `overhead_gib` covers activations, CUDA graphs and the CUDA context."""
        kv_gib = gpu_gib * self.gpu_memory_utilization - self.weights_gib() - overhead_gib
        kv_tokens = max(0.0, kv_gib) * GIB / self.kv_bytes_per_token()
        return {
            "weights_gib": round(self.weights_gib(), 1),
            "kv_kib_per_token": round(self.kv_bytes_per_token() / 1024, 1),
            "kv_cache_gib": round(kv_gib, 1),
            "kv_tokens": int(kv_tokens),
            "answers_in_cache": int(kv_tokens / TOKENS_PER_ANSWER),
        }


def load_families(path: Path = CONFIG) -> tuple[dict[str, Family], str]:
    """Every family in the config with the common settings applied, and the default family's name."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    common: dict[str, Any] = data.get("common", {})
    specs: dict[str, dict[str, Any]] = data["families"]
    default = data.get("default", next(iter(specs)))
    if default not in specs:
        msg = f"models.toml names {default!r} as default but has no such family: use one of {', '.join(specs)}."
        raise ValueError(msg)
    return {name: Family(name=name, **(common | spec)) for name, spec in specs.items()}, default


def build_command(family: Family, *, model_path: str | None = None, overrides: dict[str, Any] | None = None,
                  entrypoint: str = "vllm") -> list[str]:
    """The argv that starts vLLM's OpenAI-compatible server for `family`; `overrides` replace config values."""
    known = vars(family)
    f = Family(**(known | {k: v for k, v in (overrides or {}).items() if v is not None and k in known}))
    if f.kv_cache_dtype not in KV_CACHE_DTYPES:
        msg = f"Unknown kv_cache_dtype {f.kv_cache_dtype!r}: use one of {', '.join(KV_CACHE_DTYPES)}."
        raise ValueError(msg)
    if not 0.1 <= f.gpu_memory_utilization <= 0.98:
        msg = f"gpu_memory_utilization {f.gpu_memory_utilization} is outside 0.1-0.98."
        raise ValueError(msg)
    if f.max_num_batched_tokens < f.max_num_seqs:
        msg = "max_num_batched_tokens must be at least max_num_seqs (every running answer decodes a token a step)."
        raise ValueError(msg)
    model = model_path or f.model
    if entrypoint == "vllm":
        argv = ["vllm", "serve", model]
    elif entrypoint == "module":  # where vLLM is importable but its console script is not on PATH
        argv = [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", model]
    else:
        msg = f"Unknown entrypoint {entrypoint!r}: use 'vllm' or 'module'."
        raise ValueError(msg)
    argv += [
        "--served-model-name", f.served_model_name,
        "--host", f.host,
        "--port", str(f.port),
        "--dtype", f.dtype,
        "--max-model-len", str(f.max_model_len),
        "--gpu-memory-utilization", str(f.gpu_memory_utilization),
        "--max-num-seqs", str(f.max_num_seqs),
        "--max-num-batched-tokens", str(f.max_num_batched_tokens),
        "--enable-prefix-caching" if f.enable_prefix_caching else "--no-enable-prefix-caching",
        "--enable-chunked-prefill" if f.enable_chunked_prefill else "--no-enable-chunked-prefill",
    ]
    if f.kv_cache_dtype != "auto":
        argv += ["--kv-cache-dtype", f.kv_cache_dtype]
    tp = (overrides or {}).get("tensor_parallel_size")
    if tp and tp > 1:
        argv += ["--tensor-parallel-size", str(tp)]
    return argv + list(f.extra_args)


def assist_env(family: Family, host: str, port: int) -> dict[str, str]:
    """The settings that point `assist` at this server (the key by reference, never its value)."""
    return {
        "ASSIST_GENERATOR__BACKEND": "openai",
        "ASSIST_GENERATOR__API_BASE_URL": f"http://{host}:{port}/v1",
        "ASSIST_GENERATOR__MODEL": family.served_model_name,
        "ASSIST_GENERATOR__API_KEY": f"${API_KEY_ENV}",
    }


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m serving.vllm.launch", description=__doc__.splitlines()[0])
    p.add_argument("family", nargs="?", help="Model family from models.toml (default: its `default`).")
    p.add_argument("--list", action="store_true", help="List the families with their memory sizing and exit.")
    p.add_argument("--print", action="store_true", help="Print the command and the assist settings; start nothing.")
    p.add_argument("--config", type=Path, default=CONFIG)
    p.add_argument("--model-path", help="Local folder with the weights (no hub access at run time).")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.add_argument("--max-model-len", type=int)
    p.add_argument("--gpu-memory-utilization", type=float)
    p.add_argument("--max-num-seqs", type=int)
    p.add_argument("--max-num-batched-tokens", type=int)
    p.add_argument("--kv-cache-dtype", choices=KV_CACHE_DTYPES)
    p.add_argument("--tensor-parallel-size", type=int)
    p.add_argument("--entrypoint", choices=("vllm", "module"), default="vllm")
    p.add_argument("--no-api-key", action="store_true", help="Start without a key; binds to 127.0.0.1 only.")
    p.add_argument("--gpu-gib", type=float, default=80.0, help="GPU memory for --list's sizing.")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    families, default = load_families(args.config)
    if args.list:
        for f in families.values():
            s = f.sizing(args.gpu_gib)
            print(f"{f.name:<12} {f.model:<36} served as {f.served_model_name:<26} weights {s['weights_gib']} GiB, "  # noqa: T201
                  f"KV {s['kv_kib_per_token']} KiB/token, ~{s['answers_in_cache']} answers of {TOKENS_PER_ANSWER} "
                  f"tokens in cache on {args.gpu_gib:g} GiB")
        return 0
    name = args.family or default
    if name not in families:
        print(f"Unknown model family {name!r}: use one of {', '.join(families)}.", file=sys.stderr)  # noqa: T201
        return 2
    family = families[name]
    overrides = {k: getattr(args, k) for k in (
        "host", "port", "max_model_len", "gpu_memory_utilization", "max_num_seqs", "max_num_batched_tokens",
        "kv_cache_dtype", "tensor_parallel_size")}
    if args.no_api_key:
        overrides["host"] = "127.0.0.1"
    try:
        command = build_command(family, model_path=args.model_path, overrides=overrides, entrypoint=args.entrypoint)
    except ValueError as exc:
        print(str(exc), file=sys.stderr)  # noqa: T201
        return 2
    host = overrides["host"] or family.host
    port = overrides["port"] or family.port
    if args.print:
        print(shlex.join(command))  # noqa: T201
        where = "<gpu-node>" if host in ("0.0.0.0", "::") else host  # noqa: S104 - only a hint for the reader
        print("\n# assist on the app server (same key as the node's VLLM_API_KEY):")  # noqa: T201
        for key, value in assist_env(family, where, port).items():
            print(f"{key}={value}")  # noqa: T201
        return 0
    env = dict(os.environ)
    if not env.get(API_KEY_ENV) and not args.no_api_key:
        print(f"Set {API_KEY_ENV} (the key assist sends as ASSIST_GENERATOR__API_KEY), or pass --no-api-key "  # noqa: T201
              "to serve on loopback only.", file=sys.stderr)
        return 2
    if args.no_api_key:
        env.pop(API_KEY_ENV, None)
    if args.model_path:
        env.setdefault("HF_HUB_OFFLINE", "1")  # weights are local: never try the hub
    if command[0] == "vllm" and shutil.which("vllm") is None:
        print("vllm is not installed here (no `vllm` on PATH); try --entrypoint module.", file=sys.stderr)  # noqa: T201
        return 2
    os.execvpe(command[0], command, env)  # noqa: S606 - replaces this process with the server
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
