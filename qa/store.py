"""Evaluation runs on disk: a folder per run under <data_dir>/eval holding meta.json and rows.jsonl (row by row)."""

import json
import subprocess
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def git_commit(root: Path = ROOT) -> str:
    """The checked-out commit, with '+dirty' when the working tree has changes; 'unknown' outside git."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root, capture_output=True, text=True, check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head}+dirty" if dirty else head


def new_run_id() -> str:
    """A sortable, unique run id: UTC time to the microsecond plus a short random suffix."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ") + "-" + uuid.uuid4().hex[:4]


@dataclass
class Run:
    """One stored run: its metadata and its per-question results (the last record per question wins)."""

    run_id: str
    path: Path
    meta: dict[str, Any]

    @property
    def rows_path(self) -> Path:
        return self.path / "rows.jsonl"

    def results(self) -> list[dict[str, Any]]:
        """Per-question results in the order first written; a retried question keeps its latest record."""
        latest: dict[str, dict[str, Any]] = {}
        if self.rows_path.exists():
            with self.rows_path.open(encoding="utf-8") as f:
                for line in f:
                    # A run killed mid-write leaves at most one torn last line: skip it, the row is redone.
                    try:
                        rec = json.loads(line)
                    except json.JSONDecodeError:
                        continue
                    latest[rec["id"]] = rec
        return list(latest.values())

    def done_ids(self) -> set[str]:
        """Questions finished without an error (an errored question is tried again on resume)."""
        return {r["id"] for r in self.results() if not r.get("error")}

    def append(self, record: dict[str, Any]) -> None:
        """Write one question's result at once, so a killed run loses at most the question in flight."""
        with self.rows_path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
            f.flush()

    def save_meta(self) -> None:
        tmp = self.path / "meta.json.tmp"
        tmp.write_text(json.dumps(self.meta, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        tmp.replace(self.path / "meta.json")


class RunStore:
    """All runs in one folder; runs sort by id, which starts with the start time."""

    def __init__(self, root: Path):
        self.root = root

    def create(self, meta: dict[str, Any], run_id: str | None = None) -> Run:
        run_id = run_id or new_run_id()
        path = self.root / run_id
        path.mkdir(parents=True, exist_ok=False)
        run = Run(run_id, path, {"run_id": run_id, "status": "running", **meta})
        run.save_meta()
        return run

    def get(self, run_id: str) -> Run:
        """A run by id; 'latest' (or 'last') is the newest run, 'previous' the one before it."""
        ids = self.ids()
        if run_id in ("latest", "last", "previous"):
            need = 2 if run_id == "previous" else 1
            if len(ids) < need:
                msg = f"No {run_id} run in {self.root}: run `assist eval` first."
                raise FileNotFoundError(msg)
            run_id = ids[-need]
        path = self.root / run_id
        if not (path / "meta.json").exists():
            msg = f"No evaluation run {run_id!r} in {self.root}; known runs: {', '.join(ids[-5:]) or 'none'}."
            raise FileNotFoundError(msg)
        return Run(run_id, path, json.loads((path / "meta.json").read_text(encoding="utf-8")))

    def ids(self) -> list[str]:
        if not self.root.exists():
            return []
        return sorted(p.name for p in self.root.iterdir() if (p / "meta.json").exists())

    def runs(self) -> list[Run]:
        return [self.get(i) for i in self.ids()]
