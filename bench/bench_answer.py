"""Answer latency per generator, through the product's own pipeline (assist.pipeline.Assistant).

- extractive: every eval question (its own role), end to end: p50/p95 against the 100 ms target;
- llama.cpp in-process (the packaged SmolLM2-135M) and llama.cpp's OpenAI-compatible server (the stand-in for
  vLLM, reached the way vLLM is: ASSIST_GENERATOR__BACKEND=openai), a few answerable questions, streamed, with
  max_tokens 64: time to first token (from the question, so retrieval included), tokens/s, total.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/bench_answer.py [--store PATH] [--llm-questions 5] [--burner]

--burner times the extractive answers a second time with a process beside them that keeps one core busy (other work
on the machine), and reports both, so the loaded p95 is compared with the quiet one measured in the same run.

Builds a store from knowledge/ unless --store names one. Writes bench/results/answer.json.
"""

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HAYSTACK_TELEMETRY_ENABLED", "False")

from haystack.dataclasses import StreamingChunk  # noqa: E402

from assist.backends import default_gguf  # noqa: E402
from assist.pipeline import Assistant  # noqa: E402
from assist.settings import GeneratorSettings, QdrantSettings, Settings  # noqa: E402
from bench.common import eval_questions, summary_ms, write_result  # noqa: E402

TARGET_EXTRACTIVE_P95_MS = 100.0  # the extractive answer's target on 2 cores


def build_store(data_dir: Path) -> tuple[Path, float]:
    from ingest.pipeline import Ingestor  # noqa: PLC0415

    started = time.perf_counter()
    settings = Settings(data_dir=data_dir)
    ingestor = Ingestor(settings)
    ingestor.ingest([ROOT / "knowledge"])
    ingestor.close()
    return settings.store_path, time.perf_counter() - started


def settings_for(store: Path, data_dir: Path, **generator: Any) -> Settings:
    return Settings(data_dir=data_dir, qdrant=QdrantSettings(path=store), generator=GeneratorSettings(**generator))


def extractive(store: Path, data_dir: Path, rows: list[dict[str, Any]]) -> dict[str, Any]:
    assistant = Assistant(settings_for(store, data_dir))
    assistant.warm_up()
    try:
        for row in rows[:5]:  # page in the models and the shard
            assistant.ask(row["question"], row["role"])
        seconds, refused = [], 0
        groups: dict[str, list[float]] = {}
        for row in rows:
            started = time.perf_counter()
            answer = assistant.ask(row["question"], row["role"])
            seconds.append(time.perf_counter() - started)
            refused += answer.refused
            # Questions in a language no routine is written in take another path (sentences compared by meaning).
            group = "sv_en" if row.get("language") in ("sv", "en") else "other_languages"
            groups.setdefault(group, []).append(seconds[-1])
    finally:
        assistant.close()
    figures = summary_ms(seconds)
    return {"questions": len(rows), "refused": refused, "latency_ms": figures,
            "latency_ms_by_language": {g: summary_ms(s) for g, s in sorted(groups.items())},
            "target_p95_ms": TARGET_EXTRACTIVE_P95_MS, "target_met": figures["p95"] < TARGET_EXTRACTIVE_P95_MS}


def streamed(assistant: Assistant, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """TTFT, tokens/s and total per answer; one streamed chunk is one token for both llama.cpp paths."""
    assistant.ask(rows[0]["question"], rows[0]["role"])  # warm-up: model load, first prefill
    ttft, total, rates, tokens, llm_answers, fallbacks = [], [], [], [], 0, 0
    for row in rows:
        stamps: list[float] = []

        def on_chunk(chunk: StreamingChunk, stamps: list[float] = stamps) -> None:
            if chunk.content:
                stamps.append(time.perf_counter())

        started = time.perf_counter()
        answer = assistant.ask(row["question"], row["role"], streaming_callback=on_chunk)
        ended = time.perf_counter()
        if answer.refused or answer.fallback or not stamps:
            fallbacks += answer.fallback
            continue
        llm_answers += 1
        ttft.append(stamps[0] - started)
        total.append(ended - started)
        tokens.append(len(stamps))
        if len(stamps) > 1:
            rates.append((len(stamps) - 1) / (stamps[-1] - stamps[0]))
    return {
        "questions": len(rows), "answered_by_llm": llm_answers, "fallbacks": fallbacks,
        "ttft_ms": summary_ms(ttft) if ttft else None,
        "total_ms": summary_ms(total) if total else None,
        "tokens_per_answer_mean": round(sum(tokens) / len(tokens), 1) if tokens else None,
        "tokens_per_s_mean": round(sum(rates) / len(rates), 1) if rates else None,
    }


def llamacpp_in_process(store: Path, data_dir: Path, rows: list[dict[str, Any]], max_tokens: int) -> dict[str, Any]:
    assistant = Assistant(settings_for(store, data_dir, backend="llamacpp", max_tokens=max_tokens))
    try:
        return {"model": Path(default_gguf()).name, "max_tokens": max_tokens, **streamed(assistant, rows)}
    finally:
        assistant.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def llamacpp_server(store: Path, data_dir: Path, rows: list[dict[str, Any]], max_tokens: int) -> dict[str, Any]:
    port = free_port()
    log = (data_dir / "llama-server.log").open("w")
    proc = subprocess.Popen(  # noqa: S603 - our own interpreter, loopback only
        [sys.executable, "-m", "llama_cpp.server", "--model", default_gguf(), "--host", "127.0.0.1",
         "--port", str(port), "--n_ctx", "4096", "--model_alias", "smollm2"],
        stdout=log, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                msg = f"llama.cpp server exited: {(data_dir / 'llama-server.log').read_text()[-500:]}"
                raise SystemExit(msg)
            try:
                if httpx.get(f"{base}/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("llama.cpp server did not start in 120 s")
            time.sleep(0.5)
        assistant = Assistant(settings_for(store, data_dir, backend="openai", api_base_url=base, model="smollm2",
                                           max_tokens=max_tokens, timeout_s=120))
        try:
            return {"model": Path(default_gguf()).name, "endpoint": "llama_cpp.server on loopback (OpenAI protocol)",
                    "max_tokens": max_tokens, **streamed(assistant, rows)}
        finally:
            assistant.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


BURN = "import time\nwhile True:\n    sum(i * i for i in range(10_000))\n"


def with_burner(store: Path, data_dir: Path, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The extractive figures while another process keeps one core busy (the machine's other work)."""
    burner = subprocess.Popen([sys.executable, "-c", BURN])  # noqa: S603 - our own interpreter, a busy loop
    try:
        time.sleep(1.0)
        return extractive(store, data_dir, rows)
    finally:
        burner.kill()
        burner.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, default=None, help="An ingested store of knowledge/ to reuse.")
    parser.add_argument("--split", default="test", choices=["dev", "test"])
    parser.add_argument("--llm-questions", type=int, default=5)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--skip-llm", action="store_true")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--burner", action="store_true", help="Also time the extractive answers beside a CPU burner.")
    args = parser.parse_args()

    rows = [r for r in eval_questions(args.split) if not r.get("turns")]
    answerable = [r for r in rows if r.get("answerable")]
    work = Path(tempfile.mkdtemp(prefix="bench-answer-"))
    try:
        ingest_s = None
        store = args.store
        if store is None:
            store, ingest_s = build_store(work)
        result: dict[str, Any] = {"split": args.split, "store_built_s": round(ingest_s, 1) if ingest_s else None}
        result["extractive"] = extractive(store, work, rows)
        print("extractive", result["extractive"]["latency_ms"], flush=True)
        if args.burner:
            loaded = result["extractive_with_burner"] = with_burner(store, work, rows)
            quiet_p95 = result["extractive"]["latency_ms"]["p95"]
            loaded["p95_over_quiet_p95"] = round(loaded["latency_ms"]["p95"] / quiet_p95, 2)
            print("extractive beside a CPU burner", loaded["latency_ms"], flush=True)
        if not args.skip_llm:
            llm_rows = answerable[: args.llm_questions]
            result["llamacpp_in_process"] = llamacpp_in_process(store, work, llm_rows, args.max_tokens)
            print("llama.cpp in-process", result["llamacpp_in_process"], flush=True)
            result["llamacpp_server"] = llamacpp_server(store, work, llm_rows, args.max_tokens)
            print("llama.cpp server", result["llamacpp_server"], flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(write_result("answer", result, args.out))


if __name__ == "__main__":
    main()
