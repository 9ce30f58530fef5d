"""This reader at two commits, alternating, against the same served emulator: did a change make
any scenario slower, or change what it asks for?

    .venv/bin/python benchmarks/compare.py BEFORE_REV [--rounds 2] [--quick]

BEFORE_REV is checked out into a temporary git worktree; each import runs in its own process
(`workers.py ours`) with that tree or this one first on `PYTHONPATH`, the two taking turns
(before, after, after, before, ...). Prints a Markdown table of wall seconds and requests.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from run import HERE, all_scenarios, build_site, run_reader

ROOT = HERE.parent


def worktree(revision: str, folder: Path) -> Path:
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(folder), revision],
        check=True,
    )
    return folder


def environment(tree: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(tree)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("before", help="the commit to compare this tree with")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--quick", action="store_true", help="sites 10 times smaller")
    parser.add_argument("--only", nargs="*", help="scenario names (space, subtree, files, ...)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="compare-") as folder:
        before = worktree(args.before, Path(folder) / "before")
        try:
            trees = {"before": before, "after": ROOT}
            rows = compare(trees, args.rounds, args.latency, 10 if args.quick else 1, args.only)
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(before)])
    print(f"| scenario | before ({args.before}) | after (this tree) |")
    print("| --- | --- | --- |")
    for title, shown in rows:
        print(f"| {title} | {shown['before']} | {shown['after']} |")


def compare(
    trees: dict[str, Path], rounds: int, latency: float, scale: int, only: list[str] | None
) -> list[tuple[str, dict[str, str]]]:
    rows = []
    for scenario in all_scenarios(scale):
        if only and scenario.name not in only:
            continue
        emulator, target = build_site(scenario)
        runs: dict[str, list[dict[str, Any]]] = {name: [] for name in trees}
        with emulator.serve():
            emulator.faults.latency = latency
            for turn in range(rounds * 2):
                name = ("before", "after")[(turn + turn // 2) % 2]  # before, after, after, ...
                result = run_reader(
                    "ours", emulator, scenario, target, Path(), environment(trees[name])
                )
                runs[name].append(result)
                print(f"{scenario.name} {name}: {result['seconds']:.1f} s", flush=True)
        rows.append((scenario.title, {name: _shown(found) for name, found in runs.items()}))
    return rows


def _shown(results: list[dict[str, Any]]) -> str:
    seconds = ", ".join(f"{r['seconds']:.1f} s" for r in results)
    requests = sorted({r["requests"] for r in results})
    media = sorted({r["media_requests"] for r in results})
    return f"{seconds}; {'/'.join(map(str, requests))} requests (+{'/'.join(map(str, media))})"


if __name__ == "__main__":
    main()
