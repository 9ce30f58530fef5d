"""An import into the local collection killed with SIGKILL at random points, several times,
then re-run, ends identical to an import that was never interrupted."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from llama_index_readers_confluence_v2.sinks import LocalCollection
from llama_index_readers_confluence_v2.sync import sync

from .conftest import make_reader
from .sites import wide_space

pytestmark = pytest.mark.slow


def test_killed_again_and_again_then_finished_equals_uninterrupted(tmp_path: Path) -> None:
    emulator = wide_space(900, folders=4)
    resumed_path = tmp_path / "resumed.sqlite"
    rng = random.Random(2026)
    kills = 0
    with emulator.serve():
        script = textwrap.dedent(f"""
            from llama_index_readers_confluence_v2 import ConfluenceReader
            from llama_index_readers_confluence_v2.sinks import LocalCollection
            from llama_index_readers_confluence_v2.sync import sync
            reader = ConfluenceReader({emulator.base_url!r}, user_name={emulator.user().email!r},
                                      api_token={emulator.user().api_token!r})
            sync(reader, LocalCollection({str(resumed_path)!r}), space_key="BIG")
        """)
        counts = []
        for _ in range(3):
            process = subprocess.Popen([sys.executable, "-c", script])
            emulator.faults.clear()
            emulator.faults.on_request(
                lambda pid=process.pid: os.kill(pid, signal.SIGKILL),
                path="/api/v2/",
                after=rng.randint(2, 5),
            )
            process.wait(timeout=120)
            kills += process.returncode == -signal.SIGKILL
            with LocalCollection(resumed_path) as collection:
                counts.append(len(collection.page_ids()))
        emulator.faults.clear()
        with LocalCollection(resumed_path) as collection:
            final = sync(make_reader(emulator, in_process=False), collection, space_key="BIG")
            resumed = {d.id_: (d.text, d.metadata) for d in collection.documents()}
        with LocalCollection(tmp_path / "straight.sqlite") as straight:
            sync(make_reader(emulator, in_process=False), straight, space_key="BIG")
            expected = {d.id_: (d.text, d.metadata) for d in straight.documents()}
    assert kills == 3, "every run was killed before it finished"
    assert counts == sorted(counts) and counts[-1] < 900, counts  # progress kept across kills
    assert final.added + final.unchanged == 900
    assert resumed == expected
