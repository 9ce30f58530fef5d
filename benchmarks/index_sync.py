"""A LlamaIndex vector index kept in sync with a 2,000-page estate: embedding calls and points.

    .venv/bin/python benchmarks/index_sync.py [--pages 2000] [--spaces 2]

The estate of estate.py (its generator, its day of changes: 1% of the pages edited, 0.1% given
a new file), synced with the default settings into an `IndexTarget` over LlamaIndex's in-memory
vector store with a words-only embedding (HashingEmbedding; the counts do not depend on the
model), through OAuth with the points quota counting; then one day's changes, then a quiet day.
Embedding calls are counted from LlamaIndex's instrumentation events. Writes its section of
benchmarks/RESULTS.md between its markers.
"""

from __future__ import annotations

import argparse
import datetime
import random
import time
from pathlib import Path
from typing import Any

from estate import build_estate, change_a_day, oauth_reader, write_section
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.events import BaseEvent
from llama_index.core.instrumentation.events.embedding import EmbeddingEndEvent

from llama_index_readers_confluence_v2 import SyncReport, sync
from llama_index_readers_confluence_v2.embedding import HashingEmbedding
from llama_index_readers_confluence_v2.sinks import IndexTarget

HERE = Path(__file__).parent
BEGIN, END = "<!-- index_sync.py: begin -->", "<!-- index_sync.py: end -->"


class EmbeddedChunks(BaseEventHandler):
    chunks: int = 0

    @classmethod
    def class_name(cls) -> str:
        return "EmbeddedChunks"

    def handle(self, event: BaseEvent, **kwargs: Any) -> None:
        if isinstance(event, EmbeddingEndEvent):
            self.chunks += len(event.chunks)


def run(
    name: str, reader: Any, target: IndexTarget, keys: list[str], counter: EmbeddedChunks
) -> dict[str, Any]:
    before, started = counter.chunks, time.perf_counter()
    reports = [sync(reader, target, space_key=key, include_attachments=True) for key in keys]
    report = SyncReport.combined(reports)
    return {
        "name": name,
        "report": report,
        "embedded": counter.chunks - before,
        "seconds": time.perf_counter() - started,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=2_000)
    parser.add_argument("--spaces", type=int, default=2)
    parser.add_argument("--output", type=Path, default=HERE / "RESULTS.md")
    args = parser.parse_args()
    emulator, keys = build_estate(args.pages, args.spaces)
    emulator.points_quota(limit=10**12)
    reader = oauth_reader(emulator)
    counter = EmbeddedChunks()
    get_dispatcher().add_event_handler(counter)
    target = IndexTarget(_empty_index(), HashingEmbedding())
    runs = [run("first import", reader, target, keys, counter)]
    nodes = len(target.index.as_retriever(similarity_top_k=10**6).retrieve("estate"))
    day = change_a_day(emulator, random.Random(3))
    runs.append(run("daily sync, 1% edited + 0.1% new files", reader, target, keys, counter))
    runs.append(run("the next day, nothing changed", reader, target, keys, counter))
    lines = section(args.pages, runs, nodes, day.touched)
    write_section(args.output, lines, BEGIN, END)
    print("\n".join(lines))


def _empty_index() -> Any:
    from llama_index.core import VectorStoreIndex

    return VectorStoreIndex([], embed_model=HashingEmbedding())


def section(pages: int, runs: list[dict[str, Any]], nodes: int, touched: int) -> list[str]:
    lines = [
        BEGIN,
        "## A LlamaIndex vector index kept in sync (issue 30)",
        "",
        f"Written by `benchmarks/index_sync.py` on {datetime.date.today().isoformat()}: "
        f"{pages:,} generated pages (estate.py's generator, attachments included) synced with "
        "the default settings into `IndexTarget` over LlamaIndex's in-memory vector store; "
        f"{nodes:,} nodes after the first import. Embedding calls counted from LlamaIndex's "
        "instrumentation (chunks sent to the model).",
        "",
        "| run | pages touched | added | updated | deleted | chunks embedded | API points | s |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for number, done in enumerate(runs):
        report = done["report"]
        changed = {0: report.added, 1: touched}.get(number, 0)
        lines.append(
            f"| {done['name']} | {changed:,} | {report.added:,} | {report.updated:,} | "
            f"{report.deleted:,} | {done['embedded']:,} | {report.points:,} | "
            f"{done['seconds']:.1f} |"
        )
    first, daily = runs[0], runs[1]
    lines += [
        "",
        f"A day's sync embeds {daily['embedded']:,} chunks ({daily['embedded'] / nodes:.1%} of "
        f"the index) for {daily['report'].points:,} points; reading the selection again every "
        f"day, as an `IngestionPipeline` with `UPSERTS_AND_DELETE` needs to notice deletions, "
        f"costs the first import's {first['report'].points:,} points.",
        END,
    ]
    return lines


if __name__ == "__main__":
    main()
