"""The machine side: installing the tools, describing the host, timing child processes.

Each measured command runs as a child of this process and is reaped with ``os.wait4``, which
returns the rusage of that child and of the processes it waited for (git fast-import under the
peer's importer, index shards, a process pool): CPU seconds are their sum, peak RSS the largest
single process.

Peak RSS counts file pages a process has mapped as well as the memory it allocated: a search
engine reading its index through ``mmap`` (tantivy) is charged for every page of the segments a
merge reads, pages the kernel can drop at any time. So the reaper also samples, every
:data:`SAMPLE_EVERY` seconds, each process of the command's group in ``/proc`` and keeps the
largest anonymous resident set (``RssAnon``) of any one of them: what the command allocated.
A sample can miss a peak shorter than its interval, so this figure is a lower bound.
"""

from __future__ import annotations

import os
import platform
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.corpus import REPO

APT_TOOLS = {"public-inbox-init": "public-inbox", "wrk": "wrk"}


def say(text: str) -> None:
    """Progress for the person running ``make bench`` (stderr; stdout stays quiet)."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def ensure_tools() -> list[str]:
    """Install public-inbox and wrk from Debian when they are missing; returns what was missing.

    Raises ``RuntimeError`` when installing is impossible (not root, no apt-get).
    """
    missing = sorted({pkg for tool, pkg in APT_TOOLS.items() if shutil.which(tool) is None})
    if not missing:
        return []
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        raise RuntimeError(f"missing {', '.join(missing)}: install them (apt-get install "
                           f"{' '.join(missing)}) or run make bench as root")
    say(f"installing {' '.join(missing)}: apt-get update -qq && apt-get install -y ...")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", *missing], check=True, env=env,
                   stdout=subprocess.DEVNULL)
    return missing


@dataclass(frozen=True)
class Measured:
    """One finished child process and what it cost."""

    argv: tuple[str, ...]
    returncode: int
    wall: float
    cpu: float
    max_rss_mb: float
    stdout: str
    stderr: str
    timed_out: bool = False
    max_anon_mb: float = 0.0  # sampled: see the module's documentation

    def failure(self) -> str:
        """Why it failed, in one line: the time-out, or the exit status and its last line of
        output."""
        if self.timed_out:
            return f"timed out after {self.wall:.0f} s"
        tail = (self.stderr.strip().splitlines() or self.stdout.strip().splitlines()
                or ["no output"])[-1]
        return f"exit {self.returncode}: {tail[:300]}"


def run_measured(argv: Sequence[str], env: Mapping[str, str] | None = None,
                 cwd: Path | None = None, timeout: float = 3600.0,
                 stdin_path: Path | None = None) -> Measured:
    """Run ``argv`` to completion and measure wall time, CPU seconds and peak RSS.

    A run that exceeds ``timeout`` is killed (its whole process group) and marked timed out.
    """
    return run_together([argv], env, cwd, timeout, stdin_path)[0]


def run_together(argvs: Sequence[Sequence[str]], env: Mapping[str, str] | None = None,
                 cwd: Path | None = None, timeout: float = 3600.0,
                 stdin_path: Path | None = None) -> list[Measured]:
    """Start every command of ``argvs`` at once and measure each as :func:`run_measured` does
    (its wall time from its own start): two ingest workers writing one database side by side.

    When the ``timeout`` passes, every command still running is killed and marked timed out.
    """
    tag = f"{os.getpid()}-{time.monotonic_ns()}"
    outs = [REPO / "bench" / "scratch" / f".out-{tag}-{i}" for i in range(len(argvs))]
    outs[0].parent.mkdir(parents=True, exist_ok=True)
    files = []
    procs: list[tuple[subprocess.Popen[bytes], float]] = []
    try:
        for argv, out_path in zip(argvs, outs, strict=True):
            out, err = out_path.open("wb"), out_path.with_suffix(".err").open("wb")
            stdin = stdin_path.open("rb") if stdin_path else None
            files += [f for f in (out, err, stdin) if f is not None]
            procs.append((subprocess.Popen(list(argv), stdout=out, stderr=err,
                                           stdin=stdin or subprocess.DEVNULL,
                                           env=dict(env) if env is not None else None,
                                           cwd=cwd, start_new_session=True),
                          time.monotonic()))
        anon: dict[int, int] = {}
        ended = _reap([proc for proc, _start in procs], procs[0][1] + timeout, anon)
    finally:
        for f in files:
            f.close()
    results = []
    for (argv, out_path), (proc, start) in zip(zip(argvs, outs, strict=True), procs,
                                                 strict=True):
        status, usage, at, timed_out = ended[proc.pid]
        proc.returncode = os.waitstatus_to_exitcode(status)
        err_path = out_path.with_suffix(".err")
        stdout = out_path.read_text(errors="replace")
        stderr = err_path.read_text(errors="replace")
        out_path.unlink()
        err_path.unlink()
        results.append(Measured(tuple(argv), proc.returncode, at - start,
                                usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024.0,
                                stdout, stderr, timed_out, anon.get(proc.pid, 0) / 1024.0))
    return results


def _reap(procs: Sequence[subprocess.Popen[bytes]], deadline: float,
          anon: dict[int, int]) -> dict[int, tuple[int, resource.struct_rusage, float, bool]]:
    """Wait for every child with ``os.wait4``: pid -> (status, rusage, when it ended, whether
    it was killed at the deadline). Meanwhile ``anon`` gets, for each child, the largest
    ``RssAnon`` (kB) sampled in one process of its group."""
    ended: dict[int, tuple[int, resource.struct_rusage, float, bool]] = {}
    sampled = 0.0
    while len(ended) < len(procs):
        if time.monotonic() - sampled >= SAMPLE_EVERY:
            sampled = time.monotonic()
            running = {proc.pid for proc in procs if proc.pid not in ended}
            for group, kb in anon_by_group(running).items():
                anon[group] = max(anon.get(group, 0), kb)
        for proc in procs:
            if proc.pid in ended:
                continue
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                ended[proc.pid] = (status, usage, time.monotonic(), False)
            elif time.monotonic() > deadline:
                os.killpg(proc.pid, signal.SIGKILL)
                pid, status, usage = os.wait4(proc.pid, 0)
                ended[proc.pid] = (status, usage, time.monotonic(), True)
        time.sleep(0.05)
    return ended


SAMPLE_EVERY = 0.25


def anon_by_group(groups: set[int]) -> dict[int, int]:
    """For each process group in ``groups``, the largest ``RssAnon`` (kB) of one of its
    processes now (a process that ends while being read is skipped)."""
    found: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
            # pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses
            group = int(stat[stat.rindex(")") + 2:].split()[2])
            if group not in groups:
                continue
            status = Path(entry.path, "status").read_text()
        except (OSError, ValueError, IndexError):
            continue
        for line in status.splitlines():
            if line.startswith("RssAnon:"):
                found[group] = max(found.get(group, 0), int(line.split()[1]))
                break
    return found


def du(path: Path) -> int:
    """Bytes used on disk by everything under ``path`` (blocks, like ``du``)."""
    if not path.exists():
        return 0
    if path.is_file():
        return path.stat().st_blocks * 512
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_blocks * 512
            except FileNotFoundError:
                continue
    return total


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> bool:
    """True once something accepts connections on 127.0.0.1:port; False if the server died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            time.sleep(0.2)
    return False


def stop(proc: subprocess.Popen[bytes] | subprocess.Popen[str]) -> None:
    """Stop a server we started (its own process group), politely first."""
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _first(cmd: Sequence[str]) -> str:
    try:
        res = subprocess.run(list(cmd), capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    text = (res.stdout or res.stderr).strip()
    return text.splitlines()[0] if text else "?"


def machine() -> dict[str, str]:
    """The host and versions every figure was measured on."""
    cpu = "?"
    mem = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal"):
            mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    dirty = _first(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"])
    commit = _first(["git", "-C", str(REPO), "rev-parse", "--short=12", "HEAD"])
    return {
        "cpu": cpu,
        "nproc": str(os.cpu_count()),
        "memory": mem,
        "kernel": platform.release(),
        "os": _first(["sh", "-c", ". /etc/os-release && echo $PRETTY_NAME"]),
        "python": platform.python_version(),
        "commit": commit + (" (with uncommitted changes)" if dirty not in ("", "?") else ""),
        "public-inbox": _first(["dpkg-query", "-W", "-f=${Version}", "public-inbox"]),
        "xapian": _first(["dpkg-query", "-W", "-f=${Version}", "libxapian30"]),
        "git": _first(["git", "--version"]),
        "wrk": _first(["sh", "-c", "wrk -v 2>&1 | head -1"]),
        "server": _first([str(Path(sys.executable).parent / "granian"), "--version"]),
        "sqlite": _first([sys.executable, "-c", "import sqlite3; print(sqlite3.sqlite_version)"]),
        "postgresql": _first(["dpkg-query", "-W", "-f=${Version}", "postgresql"]),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "load average": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }
