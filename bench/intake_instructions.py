"""Report intake's cost in machine instructions, which do not depend on the machine's speed.

The intake benchmark's goal sits near one core's capacity, so its tail depends on the CPU per
report; and this machine's speed drifts by a factor of two from day to day and by a quarter
within minutes, so seconds measured on different runs do not compare. Instructions do:
``valgrind --tool=callgrind`` counts them the same, run after run, whatever else the machine
does. This benchmark runs the real app in process (``bench/_intake_driver.py``: the direct
lane, the group-commit writer, SQLite with ``synchronous=FULL``; no socket and no HTTP parser,
which the intake benchmark has) and counts the instructions of ``TAKEDOWN_BENCH_REPORTS``
reports after a warm-up, sent in waves of 1 and of 4, so the writer commits groups of that
size. From the two it splits the cost into a part per report and a part per commit.

Needs valgrind (Debian's package); without it, it says so and measures nothing. Takes about a
minute per wave size.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "results"
REPORTS = int(os.environ.get("TAKEDOWN_BENCH_REPORTS", "600"))
WAVES = (1, 4)
console = Console(stderr=True)


def _count(tools: tuple[str, str], wave: int, reports: int, tmp: Path) -> tuple[int, str]:
    """Instructions for ``reports`` reports sent ``wave`` at a time, and the driver's line."""
    ready, go, out = tmp / f"ready-{wave}", tmp / f"go-{wave}", tmp / f"callgrind-{wave}.out"
    child = subprocess.Popen(
        [
            tools[0],
            "--tool=callgrind",
            "--instr-atstart=no",  # the imports and the warm-up are not counted
            "--dump-before=binascii_crc_hqx*",  # the driver's start and end marks
            f"--callgrind-out-file={out}",
            sys.executable,
            "-m",
            "bench._intake_driver",
            f"--reports={reports}",
            f"--wave={wave}",
            f"--ready={ready}",
            f"--go={go}",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 900
    while not ready.exists():
        if child.poll() is not None or time.monotonic() > deadline:
            child.kill()
            raise SystemExit(f"the driver stopped before it was ready:\n{child.stderr.read()}")
        time.sleep(0.5)
    subprocess.run([tools[1], "-i", "on", str(child.pid)], capture_output=True, check=True)
    go.touch()
    stdout, stderr = child.communicate(timeout=900)
    if child.returncode != 0:
        raise SystemExit(f"the driver failed:\n{stderr[-2000:]}")
    # Dumps: .1 up to the start mark, .2 the reports, then the rest.
    text = Path(f"{out}.2").read_text()
    found = re.search(r"^summary:\s+(\d+)", text, re.MULTILINE)
    if found is None:
        raise SystemExit(f"no instruction count in {out}.2")
    return int(found.group(1)), stdout.strip()


def main() -> None:
    valgrind, control = shutil.which("valgrind"), shutil.which("callgrind_control")
    if valgrind is None or control is None:
        Console().print("intake_instructions: skipped, valgrind is not installed")
        return
    rows = []
    with tempfile.TemporaryDirectory(prefix="takedown-bench-") as tmp:
        for wave in WAVES:
            total, line = _count((valgrind, control), wave, REPORTS, Path(tmp))
            rows.append({"wave": wave, "reports": REPORTS, "instructions": total})
            console.print(f"wave {wave}: {total / REPORTS:,.0f} instructions a report ({line})")
    per = {r["wave"]: r["instructions"] / r["reports"] for r in rows}
    # cost(w) = report + commit / w, from waves of 1 and 4.
    commit = (per[1] - per[4]) * 4 / 3
    report = per[1] - commit
    table = Table(title="Report intake, instructions (callgrind, in process, SQLite)")
    for column in ("reports at once", "instructions a report"):
        table.add_column(column, justify="right")
    for r in rows:
        table.add_row(str(r["wave"]), f"{r['instructions'] / r['reports']:,.0f}")
    Console().print(table)
    Console().print(
        f"Split: about {report:,.0f} instructions a report and {commit:,.0f} a commit (a group)."
    )
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "intake_instructions.json").write_text(
        json.dumps({"runs": rows, "per_report": report, "per_commit": commit}, indent=2)
    )


if __name__ == "__main__":
    main()
