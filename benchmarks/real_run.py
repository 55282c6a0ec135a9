"""Where the time of a real-data run goes, per step, from Snakemake's own run logs.

    .venv/bin/python benchmarks/real_run.py [reports/real] [--json benchmarks/real_run.json] > benchmarks/real_run.txt

Reads every ``.snakemake/log/*.snakemake.log``, pairs each job's start and ``Finished``
lines, keeps the latest run of every output that the real profile's results depend on
(``data/`` and the given reports folder), and prints seconds per job and per rule, and the
training time recorded in each model card. ``--touch`` runs are skipped. ``--json`` also
writes the record the README's real results cite: the commit the run was made at (this
checkout's HEAD), wall seconds and Snakemake invocations, cores, CPU model, and the face
chain's seconds (the face CNN's training job, recalibration included, and its evaluation). Jobs run with ``-j8`` on 2 cores share them, so a
job's seconds are wall time while it ran, not CPU time.
"""

import argparse
import json
import os
import re
import subprocess
from collections import defaultdict
from datetime import datetime
from pathlib import Path

from emorec.models.store import read_timings
from emorec.runner import cpu_model

REPO = Path(__file__).resolve().parents[1]
STAMP = re.compile(r"^\[(\w{3} \w{3} +\d+ \d\d:\d\d:\d\d \d{4})\]$")


def jobs(log: Path) -> list[dict]:
    """(rule, first output, start, end) of every finished job in one run log."""
    started, found, when, rule = {}, [], None, None
    lines = log.read_text().splitlines()
    if any(x.strip().startswith("Command:") and "--touch" in x for x in lines[:20]):
        return []  # a --touch run only marks outputs as current; it ran nothing
    for i, line in enumerate(lines):
        if m := STAMP.match(line):
            when = datetime.strptime(m.group(1), "%a %b %d %H:%M:%S %Y")
        elif m := re.match(r"^(?:local)?rule (\w+):$", line):
            rule = m.group(1)
            block = lines[i + 1 : i + 12]
            output = next(
                (x.split(":", 1)[1].split(",")[0].strip() for x in block if x.strip().startswith("output:")),
                "",
            )
            jobid = next((x.split(":", 1)[1].strip() for x in block if x.strip().startswith("jobid:")), None)
            started[jobid] = (rule, output, when)
        elif (m := re.match(r"^Finished jobid: (\d+)", line)) and m.group(1) in started:
            rule, output, begin = started.pop(m.group(1))
            found.append({"rule": rule, "output": output, "start": begin, "end": when, "log": log.name})
    return found


def record(runs: dict[str, list[dict]], latest: dict[str, dict]) -> dict:
    """The machine-readable summary of the run (see the module docstring)."""
    walls = [(max(j["end"] for j in f) - min(j["start"] for j in f)).total_seconds() for f in runs.values()]
    face = [
        j
        for j in latest.values()
        if j["rule"] == "train_visual_cnn" or (j["rule"] == "evaluate" and "/visual/" in j["output"])
    ]
    cpu = cpu_model()
    commit = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    return {
        "commit": commit,
        "wall_s": round(sum(walls)),
        "invocations": len(walls),
        "cores": os.cpu_count(),
        "cpu": cpu,
        "face_chain_s": round(sum((j["end"] - j["start"]).total_seconds() for j in face)),
    }


def main(reports: str, json_path: str | None = None) -> None:
    latest: dict[str, dict] = {}
    for log in sorted((REPO / ".snakemake" / "log").glob("*.snakemake.log")):
        for job in jobs(log):
            if job["output"].startswith(("data/", reports + "/")) and job["rule"] != "all":
                latest[job["output"]] = job
    runs: dict[str, list[dict]] = defaultdict(list)
    for job in latest.values():
        runs[job["log"]].append(job)
    print("Snakemake invocations that made the current outputs (wall time, first job start to last job end):")
    for name, found in sorted(runs.items()):
        wall = (max(j["end"] for j in found) - min(j["start"] for j in found)).total_seconds()
        print(f"- {name}: {len(found)} jobs, {wall / 60:.1f} min")
    total = sum(
        (max(j["end"] for j in f) - min(j["start"] for j in f)).total_seconds() for f in runs.values()
    )
    print(f"- together: {total / 3600:.2f} h\n")
    per_rule: dict[str, list[float]] = defaultdict(list)
    for job in latest.values():
        per_rule[job["rule"]].append((job["end"] - job["start"]).total_seconds())
    print(f"Real-data run ({reports}), from .snakemake/log: seconds per rule (jobs, total, longest job)")
    print("| rule | jobs | total s | longest s |\n|---|---:|---:|---:|")
    for rule, seconds in sorted(per_rule.items(), key=lambda kv: -sum(kv[1])):
        print(f"| {rule} | {len(seconds)} | {sum(seconds):.0f} | {max(seconds):.0f} |")
    print(
        f"| all jobs | {sum(map(len, per_rule.values()))} | {sum(sum(s) for s in per_rule.values()):.0f} | |"
    )
    print("\nTraining time of each model (logs/train/*.timings.json, or the card of an older run):")
    for card in sorted((REPO / "data" / "models").glob("*/*/card.json")):
        timings = read_timings(card.parent.relative_to(REPO), root=REPO)
        epochs = [s for network in timings.get("epoch_seconds", []) for s in network]
        extra = (
            (
                f", {len(timings['epoch_seconds'])} network(s), {len(epochs)} epochs, median {sorted(epochs)[len(epochs) // 2]:.0f} s per epoch,"
                f" {sum(epochs) / 60:.0f} min of epochs (a resumed job counts its last process only)"
            )
            if epochs
            else ""
        )
        print(
            f"- {card.parent.parent.name}.{card.parent.name}: {timings.get('training_seconds', 0):.0f} s{extra}"
        )
    if json_path:
        Path(json_path).write_text(json.dumps(record(runs, latest), indent=2) + "\n")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reports", nargs="?", default="reports/real")
    parser.add_argument("--json", help="also write the run's record here (benchmarks/real_run.json)")
    args = parser.parse_args()
    main(args.reports, args.json)
