"""``st-twofactor migrate legacy-2fa`` on the development core: time, throughput, memory.

``python -m benchmarks.legacy_migration [--users 1000,10000]`` prints a markdown table.

For each size N, the core's database is seeded **directly** (bulk
inserts: N first users of ``emailpassword``, N second users of ``passwordless`` holding a
phone number, each first user's metadata ``passwordlessUserId`` linking its second user;
this bypasses HTTP and is only a fast way to make the tables big). The command runs as an
operator would run it, in its own process, three times:

- ``--dry-run --delete-second-users``: the plan (every user read, nothing written);
- ``--delete-second-users``: the migration (pin, link replaced by a note, second user
  deleted, note removed);
- ``--delete-second-users`` again: the re-run, which finds nothing to do.

By default the core keeps its database in memory, as ``st-twofactor devcore`` and the
tests run it, serving from a thread of this process (idle while the command runs);
``--file``: in a SQLite file, from its own process, every write committed to disk.
Wall time includes starting Python and importing the SDK (about 1.5 s); users/s is the
users with 2FA (N) over that wall time. Peak memory is the command process's
maximum resident set size (Linux's ``VmHWM``): the core's users are read a page at a time,
so it grows only with the report (one entry per user with a link; none in the re-run).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from st_twofactor.config import TwoFactorConfig
from st_twofactor.devcore import DevCore

REPO = Path(__file__).resolve().parent.parent
SECRET_KEY = "benchmark-secret-key-0123456789abcdef"

config = TwoFactorConfig(secret_keys=[SECRET_KEY], factors=("otp-phone", "otp-email", "totp"))
"""The app's config after the switch (``--config benchmarks.legacy_migration:config``)."""

_RUN_WITH_PEAK_MEMORY = (
    "import sys\n"
    "from st_twofactor.cli import main\n"
    "status = main(sys.argv[1:])\n"
    "peak = [line for line in open('/proc/self/status') if line.startswith('VmHWM:')]\n"
    "print(f'peak-rss-kib {peak[0].split()[1]}', file=sys.stderr)\n"
    "sys.exit(status)\n"
)
"""The command, then its peak resident set size (Linux's ``VmHWM``: ``ru_maxrss`` would
also count the memory of this process, which the child is forked from)."""


def seed(core: DevCore, users: int) -> None:
    """``users`` legacy 2FA users in the core's database (no HTTP)."""
    now = int(time.time() * 1000)
    with core.db.transaction() as conn:
        rows = []
        for i in range(users):
            first, second = str(uuid.uuid4()), str(uuid.uuid4())
            rows.append((first, second, f"user-{i}@seed.example", f"+1650{i:07d}"))
        conn.executemany(
            "INSERT INTO users (app_id, user_id, recipe_id, email, password_hash,"
            " time_joined) VALUES ('public', ?, 'emailpassword', ?, 'not-a-hash', ?)",
            ((first, email, now + i) for i, (first, _, email, _) in enumerate(rows)),
        )
        conn.executemany(
            "INSERT INTO users (app_id, user_id, recipe_id, phone_number, time_joined)"
            " VALUES ('public', ?, 'passwordless', ?, ?)",
            ((second, phone, now + i) for i, (_, second, _, phone) in enumerate(rows)),
        )
        conn.executemany(
            "INSERT INTO user_tenants (app_id, tenant_id, user_id) VALUES ('public', 'public', ?)",
            ((user_id,) for row in rows for user_id in row[:2]),
        )
        conn.executemany(
            "INSERT INTO user_metadata (app_id, user_id, metadata) VALUES ('public', ?, ?)",
            ((first, json.dumps({"passwordlessUserId": second})) for first, second, _, _ in rows),
        )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _core_process(path: str) -> Iterator[str]:
    """``python -m st_twofactor.devcore --db path`` (its own process); its URL."""
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "st_twofactor.devcore", "--db", path, "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("the development core did not start")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=30)


@contextmanager
def seeded_core(users: int, *, in_file: bool) -> Iterator[str]:
    """A development core holding ``users`` legacy 2FA users; its URL. In memory, it
    serves from a thread of this process (idle while the command runs); in a file, from
    its own process, each write committed to disk."""
    if not in_file:
        with DevCore() as core:
            seed(core, users)
            yield core.url
        return
    with tempfile.TemporaryDirectory() as directory:
        path = str(Path(directory) / "core.sqlite3")
        core = DevCore(path)  # makes the schema; never started
        try:
            seed(core, users)
        finally:
            core.db.close()
        with _core_process(path) as url:
            yield url


@dataclass(frozen=True)
class Measured:
    what: str
    seconds: float
    users_read: int
    counts: dict[str, int]
    peak_mib: float


def _command(core: str, what: str, *flags: str) -> Measured:
    env = {**os.environ, "SUPERTOKENS_CONNECTION_URI": core}
    args = ["migrate", "legacy-2fa", "--config", "benchmarks.legacy_migration:config", "--json"]
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", _RUN_WITH_PEAK_MEMORY, *args, *flags],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{what}: exit {done.returncode}: {done.stderr[-2000:]}")
    report = json.loads(done.stdout)
    peak = next(line for line in done.stderr.splitlines() if line.startswith("peak-rss-kib"))
    return Measured(
        what, seconds, report["users_read"], report["counts"], int(peak.split()[1]) / 1024
    )


def measure(users: int, *, in_file: bool) -> list[Measured]:
    with seeded_core(users, in_file=in_file) as url:
        plan = _command(url, "dry run", "--dry-run", "--delete-second-users")
        assert plan.counts["migrated"] == users, plan
        migration = _command(url, "migration", "--delete-second-users")
        assert migration.counts["migrated"] == users and not migration.counts["failed"]
        again = _command(url, "re-run", "--delete-second-users")
        assert again.counts["migrated"] == again.counts["deleted_for_earlier_runs"] == 0
        return [plan, migration, again]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--users", default="1000,10000", help="sizes, comma-separated")
    parser.add_argument(
        "--file", action="store_true", help="the core keeps its database in a file (fsync)"
    )
    args = parser.parse_args(argv)
    sizes = [int(n) for n in args.users.split(",")]
    load = os.getloadavg()
    print(
        f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average"
        f" {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} at the start; the core's database"
        f" {'in a file' if args.file else 'in memory'}\n"
    )
    print("| users with 2FA | run | users read | wall s | users/s | peak MiB |")
    print("|---|---|---|---|---|---|")
    for users in sizes:
        for m in measure(users, in_file=args.file):
            rate = users / m.seconds
            print(
                f"| {users} | {m.what} | {m.users_read} | {m.seconds:.1f} | {rate:.0f} |"
                f" {m.peak_mib:.0f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
