"""The extractive answer is all CPU: the service runs no more questions at once than the process has CPUs, so a
flood of questions from some tokens does not slice the cores under everyone else's question. Nothing here asserts
on time: the test counts worker slots.
"""

import os

import pytest

from assist.settings import Settings
from serving.service import AskService


@pytest.mark.parametrize(("cpus", "workers"), [(1, 1), (2, 2), (16, 4)])
def test_extractive_answers_run_at_most_one_per_cpu(monkeypatch: pytest.MonkeyPatch, tmp_path, cpus: int,
                                                    workers: int) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: set(range(cpus)), raising=False)
    service = AskService(Settings(data_dir=tmp_path))
    assert service.scheduler.workers == workers
    assert service.limiter.total_tokens == workers


def test_a_configured_worker_count_is_kept(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0, 1}, raising=False)
    assert AskService(Settings(data_dir=tmp_path), workers=6).scheduler.workers == 6
