"""Per-module mutation scores from mutmut's last run (``make mutation`` prints this).

killed / (killed + survived + no tests + timeout), per module and in all; a timeout counts as
killed (the mutant made a test hang, which mutmut stops), "no tests" as survived. A second
table leaves out the clients' many-series orchestration and Arrow tables (``ORCHESTRATION``),
which the fast unit tests do not reach and the server-backed suites test.
"""

from __future__ import annotations

import collections
import re
import subprocess
import sys

ORCHESTRATION = re.compile(
    r"(plan_downloads|iter_downloads|download_many|get_referenced_series|_run_table|_uids_of"
    r"|ǁ_Tablesǁ)"
)


def main() -> int:
    listing = subprocess.run(
        [sys.executable, "-m", "mutmut", "results", "--all", "true"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for title, skip in (("All mutants", None), ("Without the orchestration", ORCHESTRATION)):
        print(f"\n{title}:\n")
        _table(listing, skip)
    return 0


def _table(listing: str, skip: re.Pattern[str] | None) -> None:
    counts: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for line in listing.splitlines():
        match = re.match(r"\s*(\S+?)\.(x[_ǁ]\S*): (.+)$", line)
        if match and not (skip and skip.search(match.group(2))):
            counts[match.group(1)][match.group(3).strip()] += 1
    print("| module | mutants | killed | survived | no tests | timeout | score |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    total: collections.Counter[str] = collections.Counter()
    for module in sorted(counts):
        total.update(counts[module])
        print(_row(module, counts[module]))
    print(_row("all", total))


def _row(name: str, count: collections.Counter[str]) -> str:
    mutants = sum(count.values())
    killed = count["killed"] + count["timeout"]
    score = 100 * killed / mutants if mutants else 0.0
    return (
        f"| {name} | {mutants} | {count['killed']} | {count['survived']} | {count['no tests']} "
        f"| {count['timeout']} | {score:.1f}% |"
    )


if __name__ == "__main__":
    raise SystemExit(main())
