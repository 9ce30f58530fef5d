"""A whole estate under Atlassian's points quota: what a first import and a daily sync cost.

    .venv/bin/python benchmarks/estate.py [--pages 10000] [--spaces 2]

Generates an estate (spaces of generated pages: folders, archived pages, embedded images on 10%
of them, a text file attached to 5%; written an edit an hour over years), serves it from the emulator in-process with its points
quota counting every answer (confluence-cloud-api.md §3, the per-object reading), and syncs it
into a local collection through OAuth, the traffic the quota applies to:

1. the first import, with attachments;
2. a daily sync after, over a day, 1% of the pages were edited and 0.1% got a new file
   (between full listings: only what changed is asked for);
3. a week later, the weekly full listing (after the day's changes), which notices what the
   trash does not show (its checkpoint aged seven days);
4. every fourth full listing, which lists every attachment again (aged 28 days).

Each run uses the default settings; beside each, the floor the API's rules allow and the ratio.
Then it extrapolates the points per page to 10,000, 100,000 and 1,000,000 pages, under the
global pool and each per-tenant tier, and writes the section of benchmarks/RESULTS.md between
the estate markers (run.py keeps that section when it rewrites the file).
"""

from __future__ import annotations

import argparse
import datetime
import math
import random
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

from llama_index_readers_confluence_v2 import (
    DEFAULT_SCOPES,
    ConfluenceReader,
    OAuthCredential,
    SyncReport,
    sync,
)
from llama_index_readers_confluence_v2.client import MAX_IDS
from llama_index_readers_confluence_v2.emulator import Emulator, Site, populate_space
from llama_index_readers_confluence_v2.emulator.generator import USERS, attachment_bytes, page_body
from llama_index_readers_confluence_v2.emulator.model import Content
from llama_index_readers_confluence_v2.emulator.quota import PointsQuota
from llama_index_readers_confluence_v2.recent import Checkpoint
from llama_index_readers_confluence_v2.routes import CQL_PAGE, NODE_KINDS
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
    routes: Counter[str]


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


@dataclass(frozen=True)
class Day:
    """What a day changed: the pages edited and the pages given a new file."""

    edited: list[Content]
    filed: list[Content]

    @property
    def touched(self) -> int:
        return len({p.id for p in self.edited} | {p.id for p in self.filed})


def change_a_day(emulator: Emulator, rng: random.Random) -> Day:
    """Over a day, 1% of the current pages edited and 0.1% given a new file."""
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
    return Day(edited, filed)


def age_checkpoints(
    reader: ConfluenceReader, collection: LocalCollection, keys: list[str], days: int
) -> None:
    """Move each scope's last full listings `days` back, as if that much time had passed."""
    for key in keys:
        scope, _ = reader.request(space_key=key, include_attachments=True).scope(reader.base_url)
        checkpoint = Checkpoint.from_json(collection.checkpoint(scope))
        assert checkpoint is not None and checkpoint.files_at is not None
        back = days * 86_400
        aged = replace(
            checkpoint, full_at=checkpoint.full_at - back, files_at=checkpoint.files_at - back
        )
        collection.save_checkpoint(scope, aged.to_json())


# ---- the floor: what the API's rules make each run cost at the least ----------------------------


def _listing(objects: int, per_request: int) -> int:
    """A listing's points: a point a request (at least one), a point an object."""
    return max(1, math.ceil(objects / per_request)) + objects


@dataclass(frozen=True)
class SpaceCounts:
    """What a space holds that a run must read."""

    pages: list[Content]  # current pages
    archived_parents: int  # archived pages above current ones (asked by id)
    nodes: int  # folders, whiteboards, databases, embeds
    attachments: int  # on current pages
    labelled: dict[str, int]  # label -> pages carrying it


def counts_of(site: Site, key: str) -> SpaceCounts:
    space = site.space_of(key)
    assert space is not None
    contents = [c for c in site.contents.values() if c.space_id == space.id]
    pages = [c for c in contents if c.kind == "page" and c.status == "current"]
    parents = {c.parent_id for c in pages}
    archived = [c for c in contents if c.status == "archived" and c.id in parents]
    attachments = sum(
        site.attachments[a].status == "current"
        for page in pages
        for a in site.page_attachments.get(page.id, [])
    )
    labelled = Counter(label for page in pages for label in page.labels)
    nodes = sum(c.kind in NODE_KINDS for c in contents)
    return SpaceCounts(pages, len(archived), nodes, attachments, dict(labelled))


def floor_of(run: str, site: Site, keys: list[str], day: Day, phase: Phase) -> dict[str, int]:
    """The least each kind of read costs under the API's rules (confluence-cloud-api.md §3:
    a point a request, a point a core object) for what the run must learn; requests that only
    say who and where (the cloud id, a space's id) and file downloads are counted as measured
    (each is needed once)."""
    floor: Counter[str] = Counter()
    floor["space ids, cloud id, downloads"] = sum(
        points
        for route, points in phase.routes.items()
        if route.endswith(("/accessible-resources", "/download", " /api/v2/spaces"))
    )
    today = {p.id for p in day.edited} | {p.id for p in day.filed}
    for key in keys:
        held = counts_of(site, key)
        ids = {p.id for p in held.pages}
        if run in ("first", "weekly", "monthly"):
            floor["pages"] += _listing(len(held.pages), MAX_IDS)
            if held.archived_parents:
                floor["archived parents"] += _listing(held.archived_parents, MAX_IDS)
            floor["folders"] += _listing(held.nodes, CQL_PAGE)
        if run in ("first", "monthly"):
            floor["attachments"] += _listing(held.attachments, CQL_PAGE)
        if run == "first":
            floor["labels"] += _listing(len(held.labelled), MAX_IDS) + sum(
                _listing(n, MAX_IDS) for n in held.labelled.values()
            )
        changed = [p for p in held.pages if p.id in today] if run == "daily" else []
        floor["edits since the watermark"] += 1 + len(changed) + 1  # one older page to stop
        floor["trash since the watermark"] += 1
        floor["files changed since the watermark"] += 1 + sum(
            p.id in ids for p in day.filed if run == "daily"
        )
        floor["labels of changed pages"] += sum(1 + len(p.labels) for p in changed)
        floor["attachments of changed pages"] += sum(
            1 + len(site.page_attachments.get(p.id, [])) for p in changed
        )
        floor["trashed files since the watermark"] += 1
    if run == "first":  # nothing to compare: no watermark yet
        for since in ("edits", "trash", "files changed", "trashed files"):
            floor.pop(f"{since} since the watermark")
    return dict(floor)


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
    routes_before = Counter(quota.by_route)
    for key in keys:
        reports.append(
            sync(reader, collection, space_key=key, include_attachments=True, full_every=full_every)
        )
    seconds = time.perf_counter() - started
    total = SyncReport.combined(reports)
    routes = Counter(quota.by_route)
    routes.subtract(routes_before)
    return Phase(name, total, quota.total - before, seconds, +routes)


def print_routes(phase: Phase) -> None:
    for route, points in phase.routes.most_common():
        print(f"  {points:>7,}  {route}")


def hours(points: float, per_hour: int) -> str:
    spent = points / per_hour
    return f"{spent:.2f}" if spent < 10 else f"{spent:,.0f}"


RUNS = {  # phase -> what the table calls it
    "first": "first import",
    "daily": "daily sync (1% edited, 0.1% new files)",
    "weekly": "weekly: the day's changes, then a full listing",
    "monthly": "every 4th full listing: attachments listed again",
}


def section(
    pages: int, spaces: int, phases: dict[str, Phase], floors: dict[str, dict[str, int]], day: Day
) -> list[str]:
    held = phases["first"].report.added
    touched = day.touched
    changing = touched / held  # the share of the pages a day touches
    lines = [
        BEGIN,
        "## A whole estate under the points quota (issues 17 and 29)",
        "",
        f"Written by `benchmarks/estate.py --pages {pages}` on "
        f"{datetime.date.today().isoformat()}: {pages:,} pages generated in {spaces} spaces "
        "(folders, 3% archived, embedded images on 10%, a text file on 5%, labels), served "
        "in-process with the emulator's points quota counting every answer (each object a "
        "listing returns counted), synced into a local collection through OAuth with "
        "attachments, every run with the default settings. The floor is what the API's rules "
        "make the run cost at the least for what it must learn (`floor_of`: a point a request "
        "and a point an object, for the pages, folders, files and labels there are to read).",
        "",
        "| run | pages held | changed | requests | points (reader) | points (emulator) "
        "| floor | ratio | wall s |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, title in RUNS.items():
        phase, floor = phases[name], sum(floors[name].values())
        changed = {"first": held, "daily": touched}.get(name, 0)
        lines.append(
            f"| {title} | {held:,} | {changed:,} | {phase.report.requests:,} | "
            f"{phase.report.points:,} | {phase.emulated_points:,} | {floor:,} | "
            f"{phase.emulated_points / floor:.2f}x | {phase.seconds:.1f} |"
        )
    lines += ["", "Points by route (emulator's count) against the floor's parts:", ""]
    for name, title in RUNS.items():
        routes = ", ".join(f"{route} {n:,}" for route, n in phases[name].routes.most_common())
        parts = ", ".join(f"{part} {n:,}" for part, n in floors[name].items() if n)
        lines += [f"- **{title}**: {routes}.", f"  Floor: {parts}."]
    per_page = {name: phases[name].report.points / held for name in ("first", "weekly", "monthly")}
    per_change = phases["daily"].report.points / touched
    lines += [
        "",
        f"Per page: a first import costs {per_page['first']:.2f} points, a weekly full listing "
        f"{per_page['weekly']:.2f}, every fourth one {per_page['monthly']:.2f}; a daily sync "
        f"costs {per_change:.1f} points per page that changed, nothing per page that did not.",
        "",
        f"Extrapolated (hours of quota; per-tenant tiers for {USERS_ASSUMED:,} users; the same "
        f"share of pages touched a day, {changing:.1%}):",
        "",
        "| pages | run | points | " + " | ".join(f"h, {name}" for name in POOLS) + " |",
        "| --- | --- | --- | " + " | ".join("---" for _ in POOLS) + " |",
    ]
    for size in SIZES:
        estimates = [
            ("first import", per_page["first"] * size),
            ("daily sync", per_change * size * changing),
            ("weekly full listing", per_page["weekly"] * size),
            ("every 4th full listing", per_page["monthly"] * size),
        ]
        for title, points in estimates:
            cells = " | ".join(hours(points, per_hour) for per_hour in POOLS.values())
            lines.append(f"| {size:,} | {title} | {points:,.0f} | {cells} |")
    pool = POOLS["global pool"]
    lines += [
        "",
        f"Read: one hour of the default global pool ({pool:,} points, shared with every other "
        "app the tenant runs) holds a first import of "
        f"{_fits(pool, per_page['first'])} pages, a weekly full listing of "
        f"{_fits(pool, per_page['weekly'])} pages, and a daily sync of "
        f"{_fits(pool, per_change * changing)} pages. Beyond, a run that meets a spent hour "
        "stops with `RateLimitError.retry_at`, keeps every page it wrote, and the next run "
        "after the reset goes on from there; a full listing, which writes nothing until it is "
        "complete, needs `max_points_per_hour` (the run then spreads itself over the hours it "
        "needs instead of stopping) or a per-tenant pool.",
        END,
    ]
    return lines


def _fits(per_hour: int, points_per_page: float) -> str:
    """How many pages an hour's points cover, to two significant figures."""
    pages = per_hour / points_per_page
    magnitude = 10 ** max(0, len(str(int(pages))) - 2)
    return f"{int(pages // magnitude * magnitude):,}"


def write_section(path: Path, lines: list[str], begin: str = BEGIN, end: str = END) -> None:
    """The lines between the markers `begin` and `end` of RESULTS.md (added at its end)."""
    text = path.read_text() if path.exists() else ""
    block = "\n".join(lines) + "\n"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        tail = rest.split(end, 1)[1].lstrip("\n")
        text = head + block + ("\n" + tail if tail else "")
    else:
        text = text.rstrip("\n") + "\n\n" + block
    path.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=10_000)
    parser.add_argument("--spaces", type=int, default=2)  # 5,000 pages each by default
    parser.add_argument("--output", type=Path, default=HERE / "RESULTS.md")
    args = parser.parse_args()
    print(f"generating {args.pages:,} pages in {args.spaces} spaces...", flush=True)
    emulator, keys = build_estate(args.pages, args.spaces)
    quota = emulator.points_quota(limit=10**12)  # counting only: no hour is ever spent here
    reader = oauth_reader(emulator)
    phases: dict[str, Phase] = {}
    floors: dict[str, dict[str, int]] = {}
    quiet = Day([], [])
    with (
        tempfile.TemporaryDirectory() as folder,
        LocalCollection(Path(folder) / "estate.sqlite") as collection,
    ):
        for name, days_later in (("first", 0), ("daily", 1), ("weekly", 7), ("monthly", 28)):
            day = change_a_day(emulator, random.Random(3)) if name == "daily" else quiet
            if name in ("weekly", "monthly"):
                age_checkpoints(reader, collection, keys, days_later)
            phases[name] = run_phase(name, reader, collection, quota, keys)
            floors[name] = floor_of(name, emulator.site, keys, day, phases[name])
            if name == "daily":
                today = day
            report = phases[name].report
            print(f"{name}: {report.points:,} points, floor {sum(floors[name].values()):,}")
            print_routes(phases[name])
    for phase in phases.values():
        if phase.report.failures:
            raise SystemExit(f"{phase.name}: {len(phase.report.failures)} pages failed")
    if phases["daily"].report.full_listing or not phases["weekly"].report.full_listing:
        raise SystemExit("the default settings did not list as expected")
    lines = section(args.pages, args.spaces, phases, floors, today)
    write_section(args.output, lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
