"""Benchmarks: this reader and llama-index-readers-confluence 0.8.0, side by side, in one run.

    .venv/bin/python benchmarks/run.py [--latency 0.05] [--quick]

Starts the emulator over loopback with a latency per request, imports the same generated sites
with both readers (alternating which goes first), each in its own process (the incumbent in its
own virtual environment, created on first use from requirements-incumbent.txt), and writes
benchmarks/RESULTS.md: requests, wall time, pages per second, peak RSS, and the ratios.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import random
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llama_index_readers_confluence_v2.emulator import Emulator, Site, populate_space
from llama_index_readers_confluence_v2.emulator.generator import USERS, attachment_bytes, page_body
from llama_index_readers_confluence_v2.files import has_parser, suffix_of

HERE = Path(__file__).parent
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
CONCURRENCY = 8  # the reader's default max_concurrency
INCUMBENT_VENV = HERE / ".venv-incumbent"


@dataclass
class Scenario:
    name: str
    title: str
    pages: int
    kind: str  # "space" | "subtree"
    images: bool
    readers: tuple[str, ...] = ("ours", "incumbent")
    files: bool = False  # 10% of the pages carry a 1 MB PDF and a 200 KB DOCX


def all_scenarios(scale: int = 1) -> list[Scenario]:
    """The benchmark's scenarios (sites `scale` times smaller for a smoke run)."""
    return [
        Scenario(
            "space", f"Space of {2000 // scale} pages, images on 10%", 2000 // scale, "space", True
        ),
        Scenario(
            "subtree",
            f"Subtree of {500 // scale} pages, 8+ deep (page_ids + include_children)",
            500 // scale,
            "subtree",
            False,
        ),
        Scenario(
            "files",
            f"Space of {2000 // scale} pages, 10% with a 1 MB PDF and a 200 KB DOCX",
            2000 // scale,
            "space",
            True,
            ("ours",),
            files=True,
        ),
        Scenario(
            "memory-small",
            f"Space of {5000 // scale} pages (memory)",
            5000 // scale,
            "space",
            False,
            ("ours",),
        ),
        Scenario(
            "memory", f"Space of {20000 // scale} pages (memory)", 20000 // scale, "space", False
        ),
    ]


def build_site(scenario: Scenario, seed: int = 11) -> tuple[Emulator, dict[str, Any]]:
    site = Site()
    alice = site.add_account(*USERS[0])
    site.add_account(*USERS[1])
    site.body_factory = lambda content: page_body(content, site, seed)
    site.bytes_factory = attachment_bytes
    rng = random.Random(seed)
    space = site.add_space("BENCH", "Benchmark Space", author_id=alice.account_id)
    if scenario.kind == "space":
        made = populate_space(site, space, scenario.pages, rng)
        if scenario.files:
            for page in made[5::10]:
                site.add_attachment(page, "spec.pdf", "application/pdf", "pdf-1mb")
                site.add_attachment(page, "plan.docx", DOCX, "docx-200kb")
        return Emulator(site), {"space": "BENCH"}
    home = site.add_content(space, "Home")
    root = site.add_content(space, "Subtree root", home.id)
    made = [root]
    for index in range(1, scenario.pages):
        parent = made[-1] if index < 8 else rng.choice(made[-40:])
        made.append(site.add_content(space, f"Page {index}", parent.id))
    return Emulator(site), {"root": root.id}


def minimum_requests(emulator: Emulator, scenario: Scenario) -> int:
    """What the API cannot do with less: listings of 250, the space look-up, the space's
    attachments by CQL (200 a request), and one download per image or file (the redirect to the
    media host is counted apart)."""
    if scenario.kind != "space":
        return 0
    site = emulator.site
    space = next(iter(site.spaces.values()))
    current = [
        site.contents[str(i)]
        for i in site.space_pages[space.id]
        if site.contents[str(i)].status == "current"
    ]
    if not scenario.images:
        return 1 + math.ceil(len(current) / 250)
    attached = [site.attachments[a] for p in current for a in site.page_attachments.get(p.id, [])]
    downloads = sum(
        1
        for p in current
        for a in site.page_attachments.get(p.id, [])
        if (
            site.attachments[a].media_type.startswith("image/")
            and f'ri:filename="{site.attachments[a].title}"' in site.body_of(p)
        )
        or (
            not site.attachments[a].media_type.startswith("image/")
            and has_parser(suffix_of(site.attachments[a].title, site.attachments[a].media_type), {})
        )
    )
    return 1 + math.ceil(len(current) / 250) + math.ceil(len(attached) / 200) + downloads


def ensure_incumbent() -> Path:
    python = INCUMBENT_VENV / "bin" / "python"
    if not python.exists():
        print("creating the incumbent's virtual environment (once)...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(INCUMBENT_VENV)], check=True)
        subprocess.run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "-q",
                "-r",
                str(HERE / "requirements-incumbent.txt"),
            ],
            check=True,
        )
    return python


def run_reader(
    reader: str,
    emulator: Emulator,
    scenario: Scenario,
    target: dict[str, Any],
    incumbent: Path,
    env: dict[str, str] | None = None,
) -> dict[str, Any]:
    account = emulator.user()
    job = {
        "scenario": scenario.kind,
        "base_url": emulator.base_url,
        "user": account.email,
        "token": account.api_token,
        "gateway": emulator.gateway_url,
        "images": scenario.images,
        **target,
    }
    python = sys.executable if reader == "ours" else str(incumbent)
    emulator.clear_log()
    started = time.perf_counter()
    done = subprocess.run(
        [python, str(HERE / "workers.py"), reader, json.dumps(job)],
        capture_output=True,
        text=True,
        timeout=1800,
        env=env,
    )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{reader} failed on {scenario.name}: {done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    log = emulator.log
    result["requests"] = sum(1 for e in log if e.origin in ("site", "gateway"))
    result["media_requests"] = sum(1 for e in log if e.origin == "media")
    result["process_seconds"] = wall
    result["pages_per_second"] = result["pages"] / result["seconds"] if result["seconds"] else 0.0
    return result


def converter_throughput(rounds: int = 3) -> dict[str, float]:
    """Markdown conversion against merely parsing the same bodies with BeautifulSoup (the floor)."""
    from bs4 import BeautifulSoup

    from llama_index_readers_confluence_v2.emulator.generator import GALLERY_BODY, SHOWCASE_BODY
    from llama_index_readers_confluence_v2.markdown import ConversionContext, storage_to_markdown

    bodies = [SHOWCASE_BODY, GALLERY_BODY]
    corpus = HERE.parent / "corpus" / "confluence-cloud-pages"
    bodies += [p.read_text() for p in sorted(corpus.glob("*/storage.xhtml"))]
    context = ConversionContext(base_url="https://acme.example/wiki", page_id="1", space_key="X")

    def timed(work: Any) -> float:
        best = math.inf
        for _ in range(rounds):
            started = time.perf_counter()
            for body in bodies:
                work(body)
            best = min(best, time.perf_counter() - started)
        return best

    parse = timed(lambda body: BeautifulSoup(body, "html.parser"))
    convert = timed(lambda body: storage_to_markdown(body, context))
    size = sum(len(b.encode()) for b in bodies)
    return {
        "bodies": len(bodies),
        "megabytes": size / 1e6,
        "parse_seconds": parse,
        "convert_seconds": convert,
        "ratio": convert / parse,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--latency", type=float, default=0.05, help="seconds added to every request (default 0.05)"
    )
    parser.add_argument("--quick", action="store_true", help="smaller sites, for a smoke run")
    parser.add_argument("--output", type=Path, default=HERE / "RESULTS.md")
    args = parser.parse_args()
    scenarios = all_scenarios(10 if args.quick else 1)
    incumbent = ensure_incumbent()
    results: dict[str, dict[str, dict[str, Any]]] = {}
    minimums: dict[str, int] = {}
    for number, scenario in enumerate(scenarios):
        emulator, target = build_site(scenario)
        emulator.app.legacy_downloads = (
            True  # let the incumbent download (real Cloud refuses it: 401)
        )
        minimums[scenario.name] = minimum_requests(emulator, scenario)
        order = scenario.readers if number % 2 == 0 else tuple(reversed(scenario.readers))
        with emulator.serve():
            emulator.faults.latency = args.latency
            results[scenario.name] = {}
            for reader in order:
                print(f"{scenario.name}: {reader}...", flush=True)
                results[scenario.name][reader] = run_reader(
                    reader, emulator, scenario, target, incumbent
                )
                print(f"  {results[scenario.name][reader]}", flush=True)
    converter = converter_throughput()
    write_results(args.output, scenarios, results, minimums, converter, args.latency)
    print(args.output.read_text())


def _floors(
    scenarios: list[Scenario], results: dict[str, dict[str, dict[str, Any]]], latency: float
) -> list[str]:
    """Wall time against the floor: every request and download at the reader's concurrency."""
    lines = []
    for scenario in scenarios:
        if not scenario.images:
            continue
        r = results[scenario.name]["ours"]
        calls = r["requests"] + r["media_requests"]
        floor = calls * latency / CONCURRENCY
        lines.append(
            f"{scenario.title}: {r['seconds']:.1f} s against a floor of {floor:.1f} s ({calls} requests and "
            f"downloads x {latency * 1000:.0f} ms / {CONCURRENCY} at a time): {r['seconds'] / floor:.2f}x the floor."
        )
    return lines


def _versions() -> str:
    from importlib.metadata import version

    ours = version("llama-index-readers-confluence-v2")
    core = version("llama-index-core")
    return f"llama-index-readers-confluence-v2 {ours}, llama-index-readers-confluence 0.8.0, llama-index-core {core}"


def write_results(
    path: Path,
    scenarios: list[Scenario],
    results: dict[str, dict[str, dict[str, Any]]],
    minimums: dict[str, int],
    converter: dict[str, float],
    latency: float,
) -> None:
    lines = [
        "# Benchmark results",
        "",
        f"Written by `benchmarks/run.py` on {datetime.date.today().isoformat()}: {platform.platform()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}; {_versions()}.",
        f"The emulator served over loopback with {latency * 1000:.0f} ms added to every request. Each reader ran in its "
        "own process; which reader went first alternated between scenarios. Requests are API requests (site or gateway); "
        "media-host downloads are counted apart. Peak RSS is the worker process's maximum resident set.",
        "",
        "| scenario | reader | pages | images | files | requests (+media) | wall s | pages/s | peak RSS MB |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for scenario in scenarios:
        for reader, r in results[scenario.name].items():
            name = "this reader" if reader == "ours" else "incumbent 0.8.0"
            lines.append(
                f"| {scenario.title} | {name} | {r['pages']} | {r['images']} | {r.get('files', 0)} | {r['requests']} (+{r['media_requests']}) | "
                f"{r['seconds']:.1f} | {r['pages_per_second']:.0f} | {r['rss_mb']:.0f} |"
            )
    lines += ["", "Ratios in this run (incumbent / this reader):", ""]
    for scenario in scenarios:
        pair = results[scenario.name]
        if "incumbent" in pair:
            ours, theirs = pair["ours"], pair["incumbent"]
            lines.append(
                f"- {scenario.title}: wall time {theirs['seconds'] / ours['seconds']:.1f}x, requests "
                f"{theirs['requests'] / max(1, ours['requests']):.1f}x, peak RSS {theirs['rss_mb'] / ours['rss_mb']:.1f}x"
            )
    space = results["space"]["ours"]
    lines += [
        "",
        f"Space import requests against the minimum the API allows ({minimums['space']}: one listing per 250 pages, "
        f"the space look-up, one attachment search per 200 of the space's attachments, one download per embedded image "
        f"or parseable file): {space['requests']} = {space['requests'] / minimums['space']:.2f}x (the rest: folder "
        "look-ups, one each, and the bulk label look-ups).",
        *_floors(scenarios, results, latency),
        f"Memory, this reader streaming: peak RSS {results['memory-small']['ours']['rss_mb']:.0f} MB for "
        f"{results['memory-small']['ours']['pages']} pages, {results['memory']['ours']['rss_mb']:.0f} MB for "
        f"{results['memory']['ours']['pages']} pages.",
        f"Converter: {converter['bodies']} bodies ({converter['megabytes']:.2f} MB, the emulator's samples and the real "
        f"corpus): Markdown conversion {converter['convert_seconds'] * 1000:.0f} ms against "
        f"{converter['parse_seconds'] * 1000:.0f} ms to merely parse them with BeautifulSoup: {converter['ratio']:.2f}x the bare parse.",
        "",
        "The incumbent's attachment handling OCRs images and PDFs; this machine has no tesseract or poppler, so its "
        "OCR steps failed fast and were skipped, which makes its figures better than they would be with OCR.",
    ]
    path.write_text("\n".join(lines) + "\n" + _kept_sections(path))


def _kept_sections(path: Path) -> str:
    """The sections other scripts write into RESULTS.md (estate.py's, index_sync.py's), each
    between its markers, kept as they were."""
    text = path.read_text() if path.exists() else ""
    marked = re.finditer(r"<!-- (\S+): begin -->.*?<!-- \1: end -->", text, re.DOTALL)
    return "".join("\n" + found.group(0) + "\n" for found in marked)


if __name__ == "__main__":
    main()
