"""``python -m st_twofactor.devcore``: run the development core in the foreground."""

from __future__ import annotations

import sys

from st_twofactor.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["devcore", *sys.argv[1:]]))
