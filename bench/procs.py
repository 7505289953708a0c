"""CPU seconds and resident memory of the processes a figure costs, read from /proc (Linux).

A Group is one role (a service, a server, the benchmark itself): the processes whose command line
matches it, summed. CPU is user + system time; processes that come and go between two readings
(none here: pools and servers are long-lived) would be missed, not double counted.
"""

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True)
class Group:
    name: str
    matches: Callable[[int, str], bool]  # (pid, command line) -> is it one of this group's


def _processes() -> dict[int, str]:
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                found[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
    return found


def _cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def rss_mb(pid: int) -> float:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE / 1e6
    except OSError:
        return 0.0


def cpu_seconds(groups: list[Group]) -> dict[str, float]:
    """Each group's CPU seconds so far."""
    processes = _processes()
    return {
        group.name: sum(_cpu(pid) for pid, line in processes.items() if group.matches(pid, line))
        for group in groups
    }


def pid_is(pid: int) -> Callable[[int, str], bool]:
    return lambda candidate, _: candidate == pid


def line_has(*words: str) -> Callable[[int, str], bool]:
    return lambda _, line: any(word in line for word in words)


def servers() -> list[Group]:
    """The three servers as this machine runs them (infra/provision.sh)."""
    return [
        Group("rabbitmq", line_has("beam.smp")),
        # The event store's sessions and PostgreSQL's own processes (WAL writer, checkpointer...).
        Group("postgresql", lambda _, line: _postgres(line) and not _ferretdb_session(line)),
        Group("ferretdb", line_has("cqrs-ferretdb")),
        # The sessions FerretDB opens to keep the read model in PostgreSQL (its role is ferretdb).
        Group("ferretdb's pg", lambda _, line: _ferretdb_session(line)),
    ]


def _postgres(line: str) -> bool:
    return line.startswith("postgres:") or "/bin/postgres " in line


def _ferretdb_session(line: str) -> bool:
    return line.startswith("postgres:") and ": ferretdb " in line
