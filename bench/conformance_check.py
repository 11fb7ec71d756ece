"""Time `camscan check` per conformance case: in-process (the rules alone) and via the CLI.

Runs the 150 cases of tests/data/conformance (x509-limbo server subset + IP cases) through the
offline check with each case's roots as the only anchors, prints the agreement figures and the
time per case. No network (--offline).

    .venv/bin/python bench/conformance_check.py            # in-process, 5 rounds, + 20 CLI runs
    .venv/bin/python bench/conformance_check.py --cli 150  # every case through a fresh process
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.rules.conformance_harness import check_case, judge, load_cases, summary


def case_argv(case: dict[str, object], directory: Path) -> list[str]:
    leaf = directory / "leaf.pem"
    leaf.write_text(str(case["leaf"]))
    roots = directory / "roots.pem"
    roots.write_text("".join(case["roots"]))  # type: ignore[arg-type]
    argv = [str(leaf), "--ca-bundle", str(roots), "--trust", "site", "--offline"]
    if case["intermediates"]:
        chain = directory / "chain.pem"
        chain.write_text("".join(case["intermediates"]))  # type: ignore[arg-type]
        argv += ["--chain", str(chain)]
    peer = case["peer"]
    assert isinstance(peer, dict)
    argv += ["--ip" if peer["kind"] == "IP" else "--dns", str(peer["value"])]
    if case["validation_time"]:
        argv += ["--as-of", str(case["validation_time"])]
    return argv


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5, help="in-process rounds over all cases")
    parser.add_argument("--cli", type=int, default=20, help="cases to run through a fresh process")
    args = parser.parse_args()
    cases = load_cases()

    per_round: list[float] = []
    outcomes = []
    for _ in range(args.rounds):
        started = time.perf_counter()
        outcomes = [judge(group, case, check_case(case)) for group, case in cases]
        per_round.append(time.perf_counter() - started)
    counts = summary(outcomes)
    figures = ", ".join(f"{k} {agree}/{total}" for k, (agree, total) in counts.items())
    print(f"conformance: {figures}")
    webpki = summary([judge(g, c, check_case(c, profile="webpki"), "webpki") for g, c in cases])
    print("conformance under --profile webpki: "
          + ", ".join(f"{k} {agree}/{total}" for k, (agree, total) in webpki.items()))
    median = statistics.median(per_round)
    print(f"in-process: {len(cases)} cases, median of {args.rounds} rounds {median:.3f} s "
          f"= {1000 * median / len(cases):.2f} ms per case (first round {per_round[0]:.3f} s)")

    sample = cases[:: max(1, len(cases) // max(1, args.cli))][: args.cli]
    timings: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        # A private intermediate cache, removed with the rest (mkdtemp left one behind per run).
        env = {**os.environ, "XDG_CACHE_HOME": str(Path(tmp) / "cache")}
        for _, case in sample:
            argv = case_argv(case, Path(tmp))
            started = time.perf_counter()
            subprocess.run([sys.executable, "-m", "camscan", "check", *argv], env=env, check=False,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
            timings.append(time.perf_counter() - started)
    if timings:
        print(f"CLI (`python -m camscan check`, fresh process each): {len(timings)} cases, median "
              f"{1000 * statistics.median(timings):.0f} ms, max {1000 * max(timings):.0f} ms per case")


if __name__ == "__main__":
    main()
