"""Draw the benchmark report: docs/bench/*.png and docs/bench/README.md from bench/results/*.json.

    .venv/bin/python bench/report.py

A result that is missing is named as missing in the report; nothing is invented. The GPU section quotes the earlier
vLLM measurement (bench/results/vllm-h100-reference.jsonl), which did not go through this product.
"""

import json
import sys
from pathlib import Path
from typing import Any

import matplotlib as mpl

mpl.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
DOCS = ROOT / "docs" / "bench"
REFERENCE = RESULTS / "vllm-h100-reference.jsonl"


def load(name: str) -> dict[str, Any] | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def yes(ok: bool | None) -> str:
    return "—" if ok is None else ("met" if ok else "**not met**")


def machine_line(result: dict[str, Any]) -> str:
    m = result.get("machine", {})
    cores = m.get("cores") or m.get("cpus")
    mem = m.get("memory_gib") or m.get("memory_gb")
    load_avg = m.get("load_average_1_5_15")
    when = m.get("date") or result.get("when", "")
    commit = m.get("git_commit")
    parts = [f"{m.get('cpu', '?')}, {cores} cores, {mem} GiB, Python {m.get('python', '?')}", f"GPU: {m.get('gpu')}"]
    if load_avg:
        parts.append(f"load average {load_avg[0]} / {load_avg[1]} / {load_avg[2]} at the end")
    parts.append(f"{when}" + (f", commit {commit}" if commit else ""))
    return "; ".join(parts)


def retrieval_section(r: dict[str, Any] | None) -> list[str]:
    if r is None:
        return ["## Retrieval", "", "No result (bench/results/retrieval.json is missing).", ""]
    fig, ax = plt.subplots(figsize=(7, 4))
    xs = [s["chunks"] for s in r["sizes"]]
    for key, label, style in (("store_only_ms", "store only", "-"), ("end_to_end_ms", "with query embedding", "--"),
                              ("retriever_ms", "pipeline retriever", ":")):
        if not all(key in s for s in r["sizes"]):
            continue
        for q, marker in (("p50", "o"), ("p95", "s")):
            ax.plot(xs, [s[key][q] for s in r["sizes"]], style, marker=marker, label=f"{label} {q}")
    ax.axhline(r["targets_ms"]["store_only_p95_at_100k"], color="grey", lw=0.8, ls=":")
    ax.axhline(r["targets_ms"]["end_to_end_p95_at_100k"], color="grey", lw=0.8, ls="-.")
    ax.set(xscale="log", yscale="log", xlabel="chunks in the store", ylabel="ms per query",
           title="Hybrid retrieval (dense + BM25, RRF, role filter), Qdrant Edge")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(DOCS / "retrieval.png", dpi=110)
    plt.close(fig)
    lines = ["## Retrieval", "", r["description"] + f"; {r['queries']} questions per size.", "",
             "![retrieval](retrieval.png)", "",
             "| chunks | store only p50 | store only p95 | with query embedding p50 | with query embedding p95 "
             "| pipeline retriever p50 | pipeline retriever p95 | uncached title | write | optimize |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    na = {"p50": "—", "p95": "—"}
    lines += [f"| {s['chunks']:,} | {s['store_only_ms']['p50']} ms | {s['store_only_ms']['p95']} ms | "
              f"{s['end_to_end_ms']['p50']} ms | {s['end_to_end_ms']['p95']} ms | "
              f"{s.get('retriever_ms', na)['p50']} ms | {s.get('retriever_ms', na)['p95']} ms | "
              f"{s.get('title_embed_ms', '—')} ms | {s['build_write_s']} s | {s['optimize_s']} s |" for s in r["sizes"]]
    met = r["targets_met"]
    lines += ["", "The query embedding (multilingual-e5-small on the CPU) is the same work at every size: its share "
              "moves with the machine's load, not with the corpus. The store-only column grows with the corpus.",
              "", "`store only` is one hybrid query for 8 chunks. `pipeline retriever` is what the answer pipeline "
              "runs without the query embedding: 32 hybrid candidates (role filter and replaced-routine exclusion "
              "inside the query) with their vectors, the probe of the other collections, and the title ranking, "
              "with every title vector cached (`uncached title`: what one title not yet cached adds).",
              "", "Targets at 100k chunks: "
              f"p95 < {r['targets_ms']['store_only_p95_at_100k']:g} ms without the query "
              f"embedding: {yes(met['store_only_p95_at_100k'])}; "
              f"p95 < {r['targets_ms']['end_to_end_p95_at_100k']:g} ms "
              f"with it: {yes(met['end_to_end_p95_at_100k'])}"
              + (f"; pipeline retriever p95 < {r['targets_ms']['retriever_p95_at_100k']:g} ms: "
                 f"{yes(met['retriever_p95_at_100k'])}" if "retriever_p95_at_100k" in met else "")
              + ".", "", f"Machine: {machine_line(r)}.", ""]
    return lines


def answer_section(a: dict[str, Any] | None) -> list[str]:
    if a is None:
        return ["## Answers", "", "No result (bench/results/answer.json is missing).", ""]
    ex = a["extractive"]
    labels, p50, p95 = ["extractive\n(total)"], [ex["latency_ms"]["p50"]], [ex["latency_ms"]["p95"]]
    rows = [f"| extractive | {ex['questions']} | — | {ex['latency_ms']['p50']} / {ex['latency_ms']['p95']} ms | — |"]
    for key, name in (("llamacpp_in_process", "llama.cpp in-process"), ("llamacpp_server", "llama.cpp server")):
        run = a.get(key)
        if not run or not run.get("ttft_ms"):
            continue
        labels += [f"{name}\nTTFT", f"{name}\n(total)"]
        p50 += [run["ttft_ms"]["p50"], run["total_ms"]["p50"]]
        p95 += [run["ttft_ms"]["p95"], run["total_ms"]["p95"]]
        rows.append(f"| {name} ({run['model']}, max_tokens {run['max_tokens']}) | {run['answered_by_llm']} | "
                    f"{run['ttft_ms']['p50']} / {run['ttft_ms']['p95']} ms | {run['total_ms']['p50']} / "
                    f"{run['total_ms']['p95']} ms | {run['tokens_per_s_mean']} |")
    fig, ax = plt.subplots(figsize=(8, 4))
    xs = range(len(labels))
    ax.bar([x - 0.2 for x in xs], p50, width=0.4, label="p50")
    ax.bar([x + 0.2 for x in xs], p95, width=0.4, label="p95")
    ax.axhline(ex["target_p95_ms"], color="grey", lw=0.8, ls=":", label="extractive p95 target")
    ax.set_xticks(list(xs), labels, fontsize=7)
    ax.set(yscale="log", ylabel="ms (from the question)", title="Answer latency per generator, 2 CPU cores")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(DOCS / "answer.png", dpi=110)
    plt.close(fig)
    return ["## Answers per generator", "",
            "Through `assist.pipeline.Assistant`, end to end (scrub, language, embed, retrieve, gate, generate, "
            "citation check). TTFT counts from the question, so retrieval is in it. llama.cpp answers are "
            "streamed; one streamed chunk is one token.", "", "![answers](answer.png)", "",
            "| generator | questions | TTFT p50 / p95 | total p50 / p95 | tokens/s |",
            "| --- | --- | --- | --- | --- |",
            *rows, "",
            f"Target: extractive answer p95 < {ex['target_p95_ms']:g} ms: {yes(ex['target_met'])} "
            f"({ex['refused']} of {ex['questions']} questions refused; the eval set has unanswerable ones).",
            "", f"Machine: {machine_line(a)}.", ""]


def http_section(h: dict[str, Any] | None) -> list[str]:
    if h is None:
        return ["## HTTP load", "", "No result (bench/results/http.json is missing).", ""]
    lat = h["latency_ms"]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.bar(["p50", "p95", "p99"], [lat["p50"], lat["p95"], lat["p99"]])
    ax.set(ylabel="ms", title=f"/api/ask, {h['users']} users, {h['requests_per_s']} answers/s (extractive)")
    fig.tight_layout()
    fig.savefig(DOCS / "http.png", dpi=110)
    plt.close(fig)
    return ["## HTTP load", "", f"{h['benchmark']}: {h['users']} simulated users asking back to back for "
            f"{h['duration_s']} s (the load generator shares the machine's CPUs).", "", "![http](http.png)", "",
            "| users | answers/s | p50 | p95 | p99 | errors | server CPU cores busy |",
            "| --- | --- | --- | --- | --- | --- | --- |",
            f"| {h['users']} | {h['requests_per_s']} | {lat['p50']} ms | {lat['p95']} ms | {lat['p99']} ms | "
            f"{h['errors']} of {h['requests']} | {h['server_cpu_cores_busy']} |", "",
            "Latency here is mostly waiting for one of the answer workers: the server is CPU-bound on 2 cores; "
            "the answer itself takes the time in the table above.", "", f"Machine: {machine_line(h)}.", ""]


def replicas_section(r: dict[str, Any] | None) -> list[str]:
    if r is None:
        return ["## Replicas behind HAProxy", "", "No result (bench/results/replicas.json is missing).", ""]
    one, two, rows = r["one_replica_direct"], r["two_replicas_haproxy"], r["rows"]
    before, after = two["before_kill"], two["after_kill"]
    load_before, load_after = r["load_average_before_after"]
    down = two["haproxy_marked_down_after_s"]
    return ["## Replicas behind HAProxy", "",
            f"`bench/bench_replicas.py`: {r['users']} simulated users (a {r['feedback_share']:.0%} share of answers "
            "also rated), extractive generator, `knowledge/`; two `assist serve` replicas sharing PostgreSQL 15 and "
            "Redis, each with its own copy of the store, behind Debian's haproxy running `deploy/haproxy.cfg`. "
            f"One replica got SIGKILL {two['kill_at_s']} s into the {two['duration_s']} s run; haproxy marked it "
            f"down {down} s later. Everything (both replicas, PostgreSQL, Redis, haproxy and the load generator) "
            "shared one 2-core machine.", "",
            "| setup | answers/s | p95 | errors |", "| --- | --- | --- | --- |",
            f"| one replica alone, direct ({one['seconds']} s) | {one['answers_per_s']} | {one['p95_ms']} ms | "
            f"{one['errors']} of {one['requests']} |",
            f"| two replicas behind haproxy, before the kill ({before['seconds']} s) | {before['answers_per_s']} | "
            f"{before['p95_ms']} ms | {before['errors']} of {before['requests']} |",
            f"| one replica left behind haproxy, after the kill ({after['seconds']} s) | {after['answers_per_s']} | "
            f"{after['p95_ms']} ms | {after['errors']} of {after['requests']} |", "",
            f"Requests that failed after the kill: {two['failed_while_replica_down']} answers and "
            f"{two['ratings_failed_while_replica_down']} ratings (haproxy retried "
            f"{two['haproxy_backend'].get('redispatches', 0)} requests on the other replica). "
            f"Rows: {rows['answers_acknowledged']} answers acknowledged, {rows['audit_rows_missing']} without their "
            f"audit entry; {rows['ratings_acknowledged']} ratings acknowledged, {rows['rating_rows_missing']} not "
            f"stored; {rows['audit_rows_without_acknowledgement']} audit entries for answers the caller never got "
            "(written, then the reply was lost with the replica).", "",
            "Both replicas share the same 2 cores, so the answers/s comparison says little about what a second "
            "machine adds: each answer is CPU work, and with other jobs on the machine (load average below) a "
            "second process mostly gets a larger share of a contended CPU. The one-replica HTTP benchmark above, "
            "on a quieter machine, is the capacity figure. What this run shows is the failure handling.", "",
            f"Load average (1/5/15 min) {load_before[0]}/{load_before[1]}/{load_before[2]} before and "
            f"{load_after[0]}/{load_after[1]}/{load_after[2]} after. Machine: {machine_line(r)}.", ""]


def ingest_section(i: dict[str, Any] | None) -> list[str]:
    if i is None:
        return ["## Ingest", "", "No result (bench/results/ingest.json is missing, or bench_ingest.py is absent).",
                ""]
    e2e, rerun = i.get("end_to_end", {}), i.get("unchanged_rerun", {})
    return ["## Ingest", "", "| files | pages | chunks | seconds | pages/s | chunks/s | embedder alone chunks/s | "
            "unchanged re-run of N files |", "| --- | --- | --- | --- | --- | --- | --- | --- |",
            f"| {e2e.get('files')} | {e2e.get('pages')} | {e2e.get('chunks')} | {e2e.get('seconds')} | "
            f"{e2e.get('pages_per_s')} | {e2e.get('chunks_per_s')} | {e2e.get('embed_alone_chunks_per_s')} | "
            f"{rerun.get('files')} files in {rerun.get('rerun_process_seconds')} s |", "",
            "The embedder (multilingual-e5-small, 4 bits, on CPU) is most of ingest time.", "",
            f"Machine: {machine_line(i)}.", ""]


def gpu_section() -> list[str]:
    lines = ["## GPU (vLLM): not measured through the product", "",
             "**No GPU machine was available in the session that produced this report**, so no figure here comes "
             "from the product talking to vLLM. The launch configuration (`serving/vllm/`) is tested without a GPU "
             "(`tests/serving/test_vllm_launch.py`) and the OpenAI-compatible path is exercised against llama.cpp's "
             "server (above) and a stand-in server in `tests/serving/test_admission.py`.", "",
             "For reference only, an earlier measurement of vLLM itself (`shared/gpu-vllm/README.md`, 2026-11-24: "
             "vLLM 0.24.0 on one H100, a Llama-3.1-8B-shaped model with random weights in bf16, "
             "`--enable-prefix-caching`, `--max-model-len 4096`, 5 passages of ~90 words, 200 output tokens; "
             "**not through this product**):", ""]
    if not REFERENCE.exists():
        return [*lines, "(the reference file is missing)", ""]
    rows = [json.loads(line) for line in REFERENCE.read_text().splitlines() if line.strip()]
    best = {}
    for row in rows:  # the first line is a 3-request warm-up at concurrency 1
        if row["concurrency"] not in best or row["requests"] > best[row["concurrency"]]["requests"]:
            best[row["concurrency"]] = row
    ordered = [best[c] for c in sorted(best)]
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    cs = [r["concurrency"] for r in ordered]
    ax.plot(cs, [r["ttft_p50_ms"] for r in ordered], marker="o", label="TTFT p50")
    ax.plot(cs, [r["ttft_p95_ms"] for r in ordered], marker="s", label="TTFT p95")
    ax.axhline(1000, color="grey", lw=0.8, ls=":", label="~1 s goal")
    ax.set(xscale="log", yscale="log", xlabel="answers in flight", ylabel="ms",
           title="vLLM on one H100 (reference, not through the product)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(DOCS / "gpu_reference.png", dpi=110)
    plt.close(fig)
    lines += ["![gpu reference](gpu_reference.png)", "",
              "| answers in flight | TTFT p50 | TTFT p95 | inter-token p50 | output tok/s |",
              "| --- | --- | --- | --- | --- |"]
    lines += [f"| {r['concurrency']} | {r['ttft_p50_ms']} ms | {r['ttft_p95_ms']} ms | {r['itl_p50_ms']} ms | "
              f"{r['output_tok_s']:,} |" for r in ordered]
    lines += ["", "It is why the service caps answers in flight to the generator at 32 by default "
              "(`ASSIST_SERVE__MAX_GENERATOR_IN_FLIGHT`): past 16-32 the p95 time to first token leaves the one-second "
              "goal. The sizing guide is in `serving/vllm/README.md`. Still to do on a GPU node: run "
              "`bench/bench_answer.py`'s streamed measurement against vLLM serving each family (Qwen2.5-7B, "
              "Mistral-7B, Gemma-3-12B) with the product's real prompts, and the HTTP load with "
              "`ASSIST_GENERATOR__BACKEND=openai`.", ""]
    return lines


def conditions(results: list[dict[str, Any]]) -> list[str]:
    """Say plainly when the machine was busy with other work: on 2 cores that dominates every latency."""
    loads = [r["machine"]["load_average_1_5_15"][1] for r in results
             if r.get("machine", {}).get("load_average_1_5_15")]
    cores = max((r.get("machine", {}).get("cores") or 0 for r in results), default=0)
    if not loads or not cores or max(loads) < cores:
        return []
    return [f"**Conditions.** These runs shared a {cores}-core machine with other jobs: the 5-minute load average "
            f"was {min(loads):g}-{max(loads):g} while they ran, i.e. each process got a fraction of a core. "
            "Latencies that need the CPU for long (query embedding, extractive answers, llama.cpp) are inflated "
            "several times over and are upper bounds, not the product's figures on an idle machine; the "
            "store-only retrieval figures suffer least. Re-run `assist bench` on a quiet machine before quoting "
            "them against the targets.", ""]


def main() -> int:
    DOCS.mkdir(parents=True, exist_ok=True)
    retrieval, answer, http, ingest = load("retrieval"), load("answer"), load("http"), load("ingest")
    targets = [
        ("hybrid retrieval p95 at 100k chunks, without query embedding", "< 10 ms",
         f"{retrieval['sizes'][-1]['store_only_ms']['p95']} ms" if retrieval else "—",
         retrieval["targets_met"]["store_only_p95_at_100k"] if retrieval else None),
        ("pipeline retriever p95 at 100k chunks (candidates, title ranking), without query embedding", "< 10 ms",
         f"{retrieval['sizes'][-1]['retriever_ms']['p95']} ms" if retrieval and "retriever_ms" in retrieval["sizes"][-1]
         else "—", retrieval["targets_met"].get("retriever_p95_at_100k") if retrieval else None),
        ("hybrid retrieval p95 at 100k chunks, with query embedding", "< 60 ms",
         f"{retrieval['sizes'][-1]['end_to_end_ms']['p95']} ms" if retrieval else "—",
         retrieval["targets_met"]["end_to_end_p95_at_100k"] if retrieval else None),
        ("extractive answer p95", "< 300 ms", f"{answer['extractive']['latency_ms']['p95']} ms" if answer else "—",
         answer["extractive"]["target_met"] if answer else None),
        ("first words within about a second on the GPU node", "TTFT ≲ 1 s", "not measured (no GPU)", None),
    ]
    busy = " (on a busy machine: see Conditions)" if conditions(
        [r for r in (retrieval, answer, http, ingest) if r]) else ""
    lines = ["# Benchmarks", "",
             "Produced by `bench/run_all.py` (`assist bench`); figures from `bench/results/*.json`, each with the "
             "machine it ran on. Benchmarks report figures; tests never assert on time.", "",
             *conditions([r for r in (retrieval, answer, http, ingest) if r]),
             "| target | goal | measured | |", "| --- | --- | --- | --- |",
             *[f"| {t} | {goal} | {got} | {yes(ok)}{busy if ok is False else ''} |" for t, goal, got, ok in targets],
             "",
             *ingest_section(ingest), *retrieval_section(retrieval), *answer_section(answer), *http_section(http),
             *replicas_section(load("replicas")), *gpu_section()]
    (DOCS / "README.md").write_text("\n".join(lines), encoding="utf-8")
    print(DOCS / "README.md")  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
