"""Measuring a command on this machine: its wall time and the peak memory of its process tree,
the load average, and what the machine and the code are (for the report's header).

Peak memory: the sum of the proportional set sizes (PSS, /proc/<pid>/smaps_rollup) of the command
and all its descendants (runner, Jupyter kernel, the Spark JVM or the Sail server inside the kernel,
Python workers), sampled every 0.2 s; per process name, the peak RSS beside it.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PROJECT = HERE.parent
PYTHON = sys.executable
STEDI = [PYTHON, "-m", "stedi.cli"]
GiB = 1024**3


def _process_table() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, command name) of every process, from /proc."""
    table = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as handle:
                stat = handle.read().decode("utf-8", "replace")
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        table[int(entry.name)] = (int(fields[1]), name)
    return table


def _memory(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of a process in bytes; PSS (shared pages divided among their sharers) from
    smaps_rollup, RSS when that cannot be read."""
    rss = pss = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup") as handle:
            for line in handle:
                if line.startswith("Rss:"):
                    rss = int(line.split()[1]) * 1024
                elif line.startswith("Pss:"):
                    pss = int(line.split()[1]) * 1024
                    break
    except OSError:
        try:
            with open(f"/proc/{pid}/statm") as handle:
                rss = pss = int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except OSError:
            pass
    return rss, pss


def tree_memory(root: int) -> dict[int, tuple[str, int, int]]:
    """pid -> (name, RSS, PSS) of `root` and all its descendants."""
    table = _process_table()
    children: dict[int, list[int]] = {}
    for pid, (parent, _) in table.items():
        children.setdefault(parent, []).append(pid)
    found, todo = {}, [root]
    while todo:
        pid = todo.pop()
        if pid in table:
            found[pid] = (table[pid][1], *_memory(pid))
            todo.extend(children.get(pid, []))
    return found


class PeakMemory(threading.Thread):
    """Samples the process tree of `pid` every `interval` s: the peak of its summed PSS, and per
    process name the peak RSS.

    PSS, not RSS, is summed: a JVM that forks a helper (Hadoop runs `chmod` for local files)
    briefly has a child that shares all its pages; summed RSS would count them twice.
    """

    def __init__(self, pid: int, interval: float = 0.2):
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.peak, self.peak_at = 0, None  # peak_at: when (epoch seconds) the peak was sampled
        self.peak_by_name: dict[str, int] = {}
        self.samples = 0
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.is_set():
            tree = tree_memory(self.pid)
            total = sum(pss for _, _, pss in tree.values())
            if total > self.peak:
                self.peak, self.peak_at = total, time.time()
            for name, rss, _ in tree.values():
                self.peak_by_name[name] = max(self.peak_by_name.get(name, 0), rss)
            self.samples += 1
            self._done.wait(self.interval)

    def stop(self) -> None:
        self._done.set()
        self.join()


def measured(command: list[str], log: Path, env: dict | None = None) -> dict:
    """Run `command` (output to `log`); wall and CPU seconds, exit code and peak memory of its
    process tree."""
    started, load = time.monotonic(), load_average()[0]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with log.open("w") as out:
        process = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, cwd=PROJECT, env=env
        )
        sampler = PeakMemory(process.pid)
        sampler.start()
        code = process.wait()
        sampler.stop()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "seconds": round(time.monotonic() - started, 2),
        "returncode": code,
        # CPU seconds (user + system) of the command and the descendants it waited for: less
        # sensitive than the wall time to other work on the machine, which the load shows.
        "cpu_seconds": round(
            sum(getattr(after, k) - getattr(before, k) for k in ("ru_utime", "ru_stime")), 2
        ),
        "peak_rss": sampler.peak,
        "peak_rss_by_name": dict(sorted(sampler.peak_by_name.items(), key=lambda kv: -kv[1])[:6]),
        "peak_at": sampler.peak_at,
        "samples": sampler.samples,
        "load": [load, load_average()[0]],  # the 1-minute load average when it started and ended
    }


def machine() -> dict:
    with open("/proc/cpuinfo") as cpuinfo:
        cpu = next(
            (line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")),
            "?",
        )
    with open("/proc/meminfo") as meminfo:
        mem = next(
            (int(line.split()[1]) * 1024 for line in meminfo if line.startswith("MemTotal")),
            0,
        )
    versions = {}
    for module in ("pyspark", "pysail", "duckdb", "pyiceberg", "numpy"):
        try:
            versions[module] = __import__(module).__version__
        except ImportError:
            versions[module] = "?"
    java = subprocess.run(["java", "-version"], capture_output=True, text=True)
    git = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=PROJECT
    )
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        capture_output=True,
        text=True,
        cwd=PROJECT,
    )
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_bytes": mem,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "java": (java.stderr.splitlines() or ["?"])[0] if java.returncode == 0 else "?",
        "versions": versions,
        "spark_driver_memory": os.environ.get("STEDI_DRIVER_MEMORY", "2g"),
        "spark_shuffle_partitions": os.environ.get("STEDI_SHUFFLE_PARTITIONS", "2"),
        "commit": git.stdout.strip() or "?",
        "modified": [line[3:] for line in dirty.stdout.splitlines()],
    }


def load_average() -> tuple[float, float, float]:
    return tuple(float(x) for x in open("/proc/loadavg").read().split()[:3])


def last_json(log: Path) -> dict:
    """The JSON object a command printed last (its log also holds anything it wrote to stderr)."""
    return json.loads(
        next(line for line in reversed(log.read_text().splitlines()) if line.startswith("{"))
    )
