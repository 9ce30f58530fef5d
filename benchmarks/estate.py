"""A whole estate under Atlassian's points quota: what a first import and a daily sync cost.

    .venv/bin/python benchmarks/estate.py [--pages 20000] [--spaces 4]

Generates an estate (spaces of generated pages: folders, archived pages, embedded images on 10%
of them, a text file attached to 5%; written an edit an hour over years), serves it from the emulator in-process with its points
quota counting every answer (confluence-cloud-api.md §3, the per-object reading), and syncs it
into a local collection through OAuth, the traffic the quota applies to:

1. the first import, with attachments;
2. a daily sync after, over a day, 1% of the pages were edited and 0.1% got a new file
   (between full listings: only what changed is asked for);
3. the full listing that notices deletions and moves (weekly by default for a large selection).

Then it extrapolates the points per page to 10,000, 100,000 and 1,000,000 pages, under the
global pool and each per-tenant tier, and writes the section of benchmarks/RESULTS.md between
the estate markers (run.py keeps that section when it rewrites the file).
"""

from __future__ import annotations

import argparse
import datetime
import random
import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from llama_index_readers_confluence_v2 import (
    DEFAULT_SCOPES,
    ConfluenceReader,
    OAuthCredential,
    SyncReport,
    sync,
)
from llama_index_readers_confluence_v2.emulator import Emulator, Site, populate_space
from llama_index_readers_confluence_v2.emulator.generator import USERS, attachment_bytes, page_body
from llama_index_readers_confluence_v2.emulator.quota import PointsQuota
from llama_index_readers_confluence_v2.sinks import LocalCollection

HERE = Path(__file__).parent
BEGIN, END = "<!-- estate.py: begin -->", "<!-- estate.py: end -->"
SIZES = (10_000, 100_000, 1_000_000)
DAY_MINUTES = 24 * 60
USERS_ASSUMED = 1_000  # per-tenant tiers grow with the licensed users
POOLS = {  # points per hour (confluence-cloud-api.md §3.1)
    "global pool": 65_000,
    "Standard": 100_000 + 10 * USERS_ASSUMED,
    "Premium": 130_000 + 20 * USERS_ASSUMED,
    "Enterprise": min(500_000, 150_000 + 30 * USERS_ASSUMED),
    "tier cap": 500_000,
}


@dataclass
class Phase:
    name: str
    report: SyncReport
    emulated_points: int
    seconds: float


def build_estate(pages: int, spaces: int, seed: int = 17) -> tuple[Emulator, list[str]]:
    site = Site()
    alice = site.add_account(*USERS[0])
    site.add_account(*USERS[1])
    site.body_factory = lambda content: page_body(content, site, seed)
    site.bytes_factory = attachment_bytes
    site.minutes_per_edit = 60  # a history of years, not of days: an edit an hour
    rng = random.Random(seed)
    keys = []
    for number in range(spaces):
        key = f"EST{number}"
        space = site.add_space(key, f"Estate space {number}", author_id=alice.account_id)
        made = populate_space(site, space, pages // spaces, rng)
        for page in made[11::20]:
            notes = site.add_attachment(page, "notes.txt", "text/plain", "plain", b"Notes.\n")
            notes.created_at = page.created_at  # uploaded as the page was written
        keys.append(key)
    site.minutes_per_edit = 1  # the day's edits: spread by change_a_day
    return Emulator(site), keys


def oauth_reader(emulator: Emulator) -> ConfluenceReader:
    """A reader signed in through OAuth 2.0 (3LO): tokens as a fresh consent gives them."""
    app = emulator.oauth.register_app()
    tokens = emulator.oauth.issue_tokens(
        emulator.user().account_id, app.client_id, " ".join(DEFAULT_SCOPES)
    )
    credential = OAuthCredential(
        app.client_id, app.client_secret, tokens["access_token"], tokens["refresh_token"]
    )
    return ConfluenceReader(
        emulator.base_url,
        credentials=credential,
        api_gateway_url=emulator.gateway_url,
        auth_server_url=emulator.auth_url,
        transport=emulator.transport(),
    )


def change_a_day(emulator: Emulator, rng: random.Random) -> int:
    """Over a day, 1% of the current pages edited and 0.1% given a new file; returns the pages
    touched."""
    site = emulator.site
    current = [c for c in site.contents.values() if c.kind == "page" and c.status == "current"]
    edited = rng.sample(current, max(1, len(current) // 100))
    filed = rng.sample(current, max(1, len(current) // 1000))
    pause = DAY_MINUTES // (len(edited) + len(filed))
    for page in edited:
        site.let_time_pass(pause)
        site.edit_page(page.id, body=f"<p>Edited today: {page.title}.</p>")
    for page in filed:
        site.let_time_pass(pause)
        site.add_attachment(page, "today.txt", "text/plain", "plain", b"New figures.\n")
    return len({p.id for p in edited} | {p.id for p in filed})


def run_phase(
    name: str,
    reader: ConfluenceReader,
    collection: LocalCollection,
    quota: PointsQuota,
    keys: list[str],
    full_every: timedelta | None = None,
) -> Phase:
    reports = []
    before, started = quota.total, time.perf_counter()
    for key in keys:
        reports.append(
            sync(reader, collection, space_key=key, include_attachments=True, full_every=full_every)
        )
    seconds = time.perf_counter() - started
    total = SyncReport.combined(reports)
    return Phase(name, total, quota.total - before, seconds)


def hours(points: float, per_hour: int) -> str:
    spent = points / per_hour
    return f"{spent:.2f}" if spent < 10 else f"{spent:,.0f}"


def section(
    pages: int, spaces: int, phases: dict[str, Phase], touched: int, held: int
) -> list[str]:
    first, daily, full = phases["first"], phases["daily"], phases["full"]
    changing = touched / held  # the share of the pages a day touches
    per_page_first = first.report.points / held
    per_change = daily.report.points / touched
    per_page_full = full.report.points / held
    lines = [
        BEGIN,
        "## A whole estate under the points quota (issue 17)",
        "",
        f"Written by `benchmarks/estate.py` on {datetime.date.today().isoformat()}: {pages:,} pages "
        f"generated in {spaces} spaces "
        "(folders, 3% archived, embedded images on 10%, a text file on 5%), served in-process with "
        "the emulator's points quota counting every answer (each object a listing returns counted), "
        "synced into a local collection through OAuth with attachments.",
        "",
        "| run | pages held | changed | requests | points (reader) | points (emulator) | wall s |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    rows = [
        ("first import", first, first.report.added),
        ("daily sync, 1% edited + 0.1% new files", daily, touched),
        ("full listing (deletions, moves)", full, 0),
    ]
    for title, phase, changed in rows:
        lines.append(
            f"| {title} | {held:,} | {changed:,} | {phase.report.requests:,} | "
            f"{phase.report.points:,} | {phase.emulated_points:,} | {phase.seconds:.1f} |"
        )
    lines += [
        "",
        f"Per page: a first import costs {per_page_first:.2f} points, a full listing "
        f"{per_page_full:.2f}; a daily sync costs {per_change:.1f} points per page that changed "
        "(the watermark listing, the bodies, their ancestors, attachment listings of the pages "
        "touched, and the downloads of new files), nothing per page that did not.",
        "",
        f"Extrapolated (hours of quota; per-tenant tiers for {USERS_ASSUMED:,} users; the same "
        f"share of pages touched a day, {changing:.1%}):",
        "",
        "| pages | run | points | " + " | ".join(f"h, {name}" for name in POOLS) + " |",
        "| --- | --- | --- | " + " | ".join("---" for _ in POOLS) + " |",
    ]
    for size in SIZES:
        estimates = [
            ("first import", per_page_first * size),
            ("daily sync", per_change * size * changing),
            ("weekly full listing", per_page_full * size),
        ]
        for title, points in estimates:
            cells = " | ".join(hours(points, per_hour) for per_hour in POOLS.values())
            lines.append(f"| {size:,} | {title} | {points:,.0f} | {cells} |")
    pool = POOLS["global pool"]
    lines += [
        "",
        f"Read: one hour of the default global pool ({pool:,} points, shared with every other "
        "app the tenant runs) holds a first import of "
        f"{_fits(pool, per_page_first)} pages, a full listing of {_fits(pool, per_page_full)} "
        f"pages, and a daily sync of {_fits(pool, per_change * changing)} pages. Beyond, a run "
        "that meets a spent hour stops with `RateLimitError.retry_at`, keeps every page it "
        "wrote, and the next run after the reset goes on from there; a full listing, which "
        "writes nothing until it is complete, needs `max_points_per_hour` (the run then spreads "
        "itself over the hours it needs instead of stopping) or a per-tenant pool.",
        END,
    ]
    return lines


def _fits(per_hour: int, points_per_page: float) -> str:
    """How many pages an hour's points cover, to two significant figures."""
    pages = per_hour / points_per_page
    magnitude = 10 ** max(0, len(str(int(pages))) - 2)
    return f"{int(pages // magnitude * magnitude):,}"


def write_section(path: Path, lines: list[str]) -> None:
    text = path.read_text() if path.exists() else ""
    block = "\n".join(lines) + "\n"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        tail = rest.split(END, 1)[1].lstrip("\n")
        text = head + block + ("\n" + tail if tail else "")
    else:
        text = text.rstrip("\n") + "\n\n" + block
    path.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=20_000)
    parser.add_argument("--spaces", type=int, default=2)  # 10,000 pages each by default
    parser.add_argument("--output", type=Path, default=HERE / "RESULTS.md")
    args = parser.parse_args()
    print(f"generating {args.pages:,} pages in {args.spaces} spaces...", flush=True)
    emulator, keys = build_estate(args.pages, args.spaces)
    quota = emulator.points_quota(limit=10**12)  # counting only: no hour is ever spent here
    reader = oauth_reader(emulator)
    phases: dict[str, Phase] = {}
    with (
        tempfile.TemporaryDirectory() as folder,
        LocalCollection(Path(folder) / "estate.sqlite") as collection,
    ):
        phases["first"] = run_phase("first", reader, collection, quota, keys)
        held = phases["first"].report.added
        print(f"first import: {phases['first'].report.points:,} points", flush=True)
        touched = change_a_day(emulator, random.Random(3))
        phases["daily"] = run_phase("daily", reader, collection, quota, keys)
        print(f"daily sync: {phases['daily'].report.points:,} points", flush=True)
        phases["full"] = run_phase("full", reader, collection, quota, keys, timedelta(0))
        print(f"full listing: {phases['full'].report.points:,} points", flush=True)
    for phase in phases.values():
        if phase.report.failures:
            raise SystemExit(f"{phase.name}: {len(phase.report.failures)} pages failed")
    if phases["daily"].report.full_listing:
        raise SystemExit("the daily sync listed in full: the estate is too small per space")
    lines = section(args.pages, args.spaces, phases, touched, held)
    write_section(args.output, lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
