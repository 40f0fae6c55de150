"""What ``import st_twofactor`` costs an app that has already imported the SDK recipes it
uses: it loads what the claim, the config and the session override need, and the rest
(the admin functions, the recipes, the plugin's routes, the CLI, the development core,
WebAuthn, the stores on Redis and SQL, the QR code library, the token crypto) when used."""

from __future__ import annotations

import importlib
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

import st_twofactor

_SDK_RECIPES = (
    "supertokens_python.recipe.session",
    "supertokens_python.recipe.emailpassword",
    "supertokens_python.recipe.thirdparty",
    "supertokens_python.recipe.passwordless",
    "supertokens_python.recipe.usermetadata",
)

_NOT_ON_IMPORT = (
    # optional extras and frameworks
    "segno",
    "webauthn",
    "redis",
    "sqlalchemy",
    "fastapi",
    "flask",
    "django",
    # what the SDK loads for the plugin's guard (its OAuth2 provider recipe), not for an app
    "supertokens_python.recipe.oauth2provider",
    # the library's parts an app uses only once set up, or on an operator's request
    "st_twofactor.admin",
    "st_twofactor.cli",
    "st_twofactor.devcore",
    "st_twofactor.migrate",
    "st_twofactor.policy",
    "supertokens_python.recipe.userroles",
    "st_twofactor.recipes",
    "st_twofactor.runtime",
    "st_twofactor.http.routes",
    "st_twofactor.http.passwordless",
    "st_twofactor.http.guard",
    "st_twofactor.factors.base",
    "st_twofactor.factors.totp",
    "st_twofactor.factors.codes",
    "st_twofactor.factors.recovery_codes",
    "st_twofactor.factors.webauthn",
    "st_twofactor.kernel.crypto",
    "st_twofactor.kernel.signer",
    "st_twofactor.stores.redis",
    "st_twofactor.stores.sql",
)

GOAL_MS = 50.0
"""What ``import st_twofactor`` may add, on an idle machine (docs/benchmarks.md)."""

BOUND_MS = 3 * GOAL_MS
"""What this test allows: three times the goal, so a loaded machine does not fail it."""

_RUNS = 5

_TIMED = """
import json, sys, time
t0 = time.perf_counter()
import {recipes}
t1 = time.perf_counter()
import st_twofactor
t2 = time.perf_counter()
print(json.dumps({{"recipes": t1 - t0, "added": t2 - t1}}))
"""


def _python(code: str) -> str:
    """Run ``code`` in a fresh interpreter importing this checkout's ``st_twofactor``."""
    src = str(Path(st_twofactor.__file__).resolve().parent.parent)
    path = os.pathsep.join([src, *filter(None, [os.environ.get("PYTHONPATH")])])
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "PYTHONPATH": path},
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_importing_the_package_loads_none_of_the_parts_used_later() -> None:
    code = (
        f"import sys, {', '.join(_SDK_RECIPES)}\n"
        "import st_twofactor\n"
        f"heavy = {_NOT_ON_IMPORT!r}\n"
        "print('\\n'.join(sorted(m for m in sys.modules"
        " if any(m == h or m.startswith(h + '.') for h in heavy))))\n"
    )
    assert _python(code).split() == []


def test_the_policies_load_the_user_roles_recipe_only_when_applied() -> None:
    """An app whose policy is not by role never loads the UserRoles recipe; one with a
    role policy loads it when the policy is first applied, not when it is made."""
    code = (
        f"import sys, {', '.join(_SDK_RECIPES)}\n"
        "from st_twofactor.policy import in_tenant, with_role\n"
        "policy = with_role('admin') | in_tenant('acme')\n"
        "print('\\n'.join(sorted(m for m in sys.modules if 'userroles' in m"
        " or m in ('st_twofactor.runtime', 'st_twofactor.factors.base'))))\n"
    )
    assert _python(code).split() == []


def test_importing_the_package_adds_little_to_the_sdk_recipes() -> None:
    """Median of fresh interpreters, each importing the SDK recipes (the baseline an app
    pays anyway, timed too), then ``st_twofactor``: what the second import adds must stay
    under :data:`BOUND_MS`, a generous bound (three times the goal) so that a machine
    running other work does not make this fail. It catches a heavy module put back on the
    import path (a framework, the factors); the test above names them."""
    code = _TIMED.format(recipes=", ".join(_SDK_RECIPES))
    _python(code)  # not timed: compiles the bytecode of a fresh checkout
    samples = [json.loads(_python(code)) for _ in range(_RUNS)]
    added = statistics.median(s["added"] for s in samples) * 1000
    recipes = statistics.median(s["recipes"] for s in samples) * 1000
    assert added <= BOUND_MS, f"adds {added:.0f} ms to the SDK recipes' {recipes:.0f} ms"


def test_every_exported_name_is_there_when_asked_for() -> None:
    """The names loaded on first use are listed, found, and the objects of the modules
    that define them."""
    assert set(st_twofactor.__all__) <= set(dir(st_twofactor))
    for name in st_twofactor.__all__:
        value = getattr(st_twofactor, name)
        home = st_twofactor._LAZY.get(name)
        if home is not None:
            assert value is getattr(importlib.import_module(home), name)
