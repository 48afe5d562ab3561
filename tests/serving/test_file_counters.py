"""The counters the worker processes of one `assist serve --workers N` share through a SQLite file: a cap and a
token bucket hold across them, and the slots of a worker that died free themselves when their leases run out."""

import asyncio
import multiprocessing
from pathlib import Path

from serving.counters import FileCounters


def test_two_workers_share_a_cap_and_a_bucket(tmp_path: Path) -> None:
    async def run() -> None:
        a, b = FileCounters(tmp_path / "c.sqlite"), FileCounters(tmp_path / "c.sqlite")
        first = await a.take("token:x", 2)
        second = await b.take("token:x", 2)
        assert first and second and first != second
        assert await a.take("token:x", 2) is None  # the cap is both workers' together
        assert await b.held("token:x") == 2
        await a.give_back("token:x", first)
        assert await b.take("token:x", 2) is not None
        # Three at once, on either worker, then a wait.
        waits = [await w.rate("token:y", 1.0, 3) for w in (a, b, a, b)]
        assert waits[:3] == [0.0, 0.0, 0.0]
        assert waits[3] > 0
        await a.close()
        await b.close()
        assert await FileCounters(tmp_path / "c.sqlite").held("token:x") == 0  # close gives back what it held

    asyncio.run(run())


def _take_and_die(path: Path) -> None:
    async def take() -> None:
        assert await FileCounters(path, lease_s=0.5).take("llm", 1) is not None

    asyncio.run(take())  # exits without giving the slot back, as a killed worker would


def test_a_dead_workers_slot_frees_itself_when_its_lease_runs_out(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    process = multiprocessing.get_context("spawn").Process(target=_take_and_die, args=(path,))
    process.start()
    process.join(60)
    assert process.exitcode == 0

    async def run() -> None:
        alive = FileCounters(path, lease_s=0.5)
        assert await alive.take("llm", 1) is None  # the dead worker's lease still runs
        await asyncio.sleep(0.7)
        assert await alive.take("llm", 1) is not None
        await alive.close()

    asyncio.run(run())
