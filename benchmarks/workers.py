"""One import, in its own process, for one reader; prints a JSON line with what it measured.

    python workers.py ours|incumbent '{"scenario": ..., "base_url": ..., ...}'

The incumbent runs in its own virtual environment (see requirements-incumbent.txt), so this
file imports only what the chosen reader needs.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from typing import Any


def cpu_seconds() -> dict[str, float]:
    """CPU time of this process (all its threads) and of its finished children (parsers)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "cpu_s": own.ru_utime + own.ru_stime,
        "children_cpu_s": children.ru_utime + children.ru_stime,
    }


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def run_ours(job: dict[str, Any]) -> dict[str, Any]:
    from llama_index.core.schema import ImageDocument

    from llama_index_readers_confluence_v2 import ConfluenceReader

    reader = ConfluenceReader(
        job["base_url"],
        user_name=job["user"],
        api_token=job["token"],
        api_gateway_url=job["gateway"],
    )
    started_rss = rss_mb()
    started = time.perf_counter()
    if job["scenario"] == "subtree":
        stream = reader.lazy_load_data(page_ids=[job["root"]], include_children=True)
    else:
        stream = reader.lazy_load_data(space_key=job["space"], include_attachments=job["images"])
    pages = images = files = 0
    for document in stream:  # streamed: nothing is kept, as a pipeline would consume them
        if isinstance(document, ImageDocument):
            images += 1
        elif document.metadata.get("content_type") == "attachment":
            files += 1
        else:
            pages += 1
    return {
        "pages": pages,
        "images": images,
        "files": files,
        "seconds": time.perf_counter() - started,
        "rss_mb": rss_mb(),
        "rss_before_mb": started_rss,
        **cpu_seconds(),
    }


def run_incumbent(job: dict[str, Any]) -> dict[str, Any]:
    from llama_index.readers.confluence import ConfluenceReader

    reader = ConfluenceReader(
        base_url=job["base_url"], user_name=job["user"], password=job["token"]
    )
    started_rss = rss_mb()
    started = time.perf_counter()
    if job["scenario"] == "subtree":
        documents = reader.load_data(page_ids=[job["root"]], include_children=True)
    else:
        # its space path needs max_num_results with current atlassian-python-api (peer-readers.md 1.5)
        documents = reader.load_data(
            space_key=job["space"], include_attachments=job["images"], max_num_results=10**9
        )
    return {
        "pages": len(documents),
        "images": 0,
        "seconds": time.perf_counter() - started,
        "rss_mb": rss_mb(),
        "rss_before_mb": started_rss,
    }


if __name__ == "__main__":
    mode, raw = sys.argv[1], sys.argv[2]
    result = (run_ours if mode == "ours" else run_incumbent)(json.loads(raw))
    print(json.dumps(result))
