"""The ``st-twofactor`` command line."""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import threading
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="st-twofactor")
    commands = parser.add_subparsers(dest="command", required=True)
    devcore = commands.add_parser(
        "devcore", help="run the embedded development core (development and tests only)"
    )
    devcore.add_argument("--host", default="127.0.0.1")
    devcore.add_argument("--port", type=int, default=3567)
    devcore.add_argument("--db", default=":memory:", help="SQLite file (default: in memory)")
    devcore.add_argument(
        "--licensed",
        action="store_true",
        help="answer the paid features (TOTP, MFA, account linking) instead of HTTP 402",
    )
    args = parser.parse_args(argv)

    from .devcore import DevCore

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with DevCore(args.db, host=args.host, port=args.port, licensed=args.licensed) as core:
        print(f"st-twofactor development core listening on {core.url}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()
    return 0
