"""The ``st-twofactor`` command run as a subprocess, from the repository's root.

:func:`run_cli` runs it with the secret keys in ``ST2FA_CLI_KEYS`` (read by
:mod:`tests.helpers.cli_config`) and the core in ``SUPERTOKENS_CONNECTION_URI``;
:func:`as_json` reads what ``--json`` printed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
"""The repository, where ``--config tests.helpers.cli_config:...`` is found."""
OLD_KEY = "old-cli-secret-key-0123456789abcdef"
NEW_KEY = "new-cli-secret-key-0123456789abcdef"
SCRIPT = shutil.which("st-twofactor", path=str(Path(sys.executable).parent))


def run_cli(
    *args: str, core: str | None = None, keys: list[str] | None = None, **options: Any
) -> subprocess.CompletedProcess[str]:
    """``st-twofactor ARGS`` in a subprocess; ``env`` entries added to the environment."""
    assert SCRIPT is not None, "the st-twofactor script is not installed beside python"
    env = {
        **os.environ,
        "ST2FA_CLI_KEYS": ",".join(keys or [OLD_KEY]),
        "SUPERTOKENS_TLDEXTRACT_DISABLE_HTTP": "1",
        **options.pop("env", {}),
    }
    env.pop("SUPERTOKENS_CONNECTION_URI", None)
    if core is not None:
        env["SUPERTOKENS_CONNECTION_URI"] = core
    return subprocess.run(
        [SCRIPT, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        input=options.pop("input", ""),
        check=False,
    )


def as_json(result: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(result.stdout)
