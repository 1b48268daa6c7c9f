"""What machine a benchmark ran on, recorded beside its figures."""

from __future__ import annotations

import os
import platform
import subprocess


def describe() -> dict[str, str]:
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    memory = "unknown"
    try:
        with open("/proc/meminfo", encoding="utf-8") as handle:
            kib = int(handle.readline().split()[1])
            memory = f"{kib / 1024 / 1024:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    try:
        pg = subprocess.run(["psql", "--version"], capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        pg = "unknown"
    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "memory": memory,
        "python": platform.python_version(),
        "os": platform.platform(),
        "postgresql_client": pg,
        "load_average": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def cpu_seconds_by_program(pids: dict[str, list[int]] | None = None) -> dict[str, float]:
    """CPU time (user + system, seconds) used so far by every ``postgres`` and ``mosquitto`` process on the
    machine, and by the processes of ``pids`` under their names; from /proc (Linux).

    The difference of two snapshots around a measurement says where the CPU went; it is only meaningful
    on a machine that runs nothing else meanwhile.
    """
    ticks = os.sysconf("SC_CLK_TCK")
    named = {pid: name for name, group in (pids or {}).items() for pid in group}
    totals: dict[str, float] = {"postgres": 0.0, "mosquitto": 0.0, **{name: 0.0 for name in pids or {}}}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8") as handle:
                stat = handle.read()
        except OSError:
            continue  # ended meanwhile
        command = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        seconds = (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
        name = named.get(int(entry)) or (command if command in ("postgres", "mosquitto") else None)
        if name is not None:
            totals[name] += seconds
    return totals
