"""Attacks on the refactor to one runtime and one factor base, one test per finding.

The refactor moved every rule out of the routes into the factors' shared base and the
store wrapper. These are the places where something was lost on the way:

- an app without security keys could no longer import the library without the optional
  ``webauthn`` package, since the runtime built the security-key factor eagerly;
- ``from st_twofactor import *`` needed that package too (its lazy ``WebAuthnPolicy``);
- new recovery codes for a session that is not fresh were hashed (ten PBKDF2 runs) before
  the freshness rule refused them, once that rule moved from the route into the update.

And one that held, kept as a test: every entry point finds its parts with
``TwoFactor.of(config, claim)``, so a runtime must never be handed to another config or
another claim (its store checks revocation, and completes sessions, with its claim).
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import st_twofactor
from st_twofactor import InMemoryStore, SecondFactorClaim, TwoFactorConfig
from st_twofactor.claim import make_second_factor_claim
from st_twofactor.factors.recovery_codes import codes as recovery_codes
from st_twofactor.runtime import TwoFactor
from st_twofactor.testing import reset_supertokens

from ..helpers.attacks import claim_reason, enrolled
from ..helpers.twofactor_app import STEP_UP_MAX_AGE, Harness, make_harness, user_id_of

SRC = str(Path(st_twofactor.__file__).resolve().parent.parent)
"""The ``src`` directory of the library under test, for the child processes."""

WITHOUT_THE_EXTRA = (
    "import sys\n"
    "for name in ('webauthn', 'cbor2'):\n"
    "    sys.modules[name] = None  # as if 'st-twofactor[webauthn]' were not installed\n"
)

APP_WITHOUT_SECURITY_KEYS = (
    "from st_twofactor import (\n"
    "    InMemoryStore, TwoFactorConfig, build_recipe_list, override_passwordless_apis,\n"
    "    override_session_functions, twofactor_plugin,\n"
    ")\n"
    "from st_twofactor.runtime import TwoFactor\n"
    "from st_twofactor.stores.state import TwoFactorState\n"
    "config = TwoFactorConfig(\n"
    "    secret_keys=['k' * 32], factors=('totp', 'recovery-code'), store=InMemoryStore(),\n"
    "    development=True,\n"
    ")\n"
    "build_recipe_list(config=config)\n"
    "twofactor_plugin(config)\n"
    "override_passwordless_apis(config)\n"
    "override_session_functions(config)\n"
    "runtime = TwoFactor.of(config)\n"
    "answer = runtime.overview(TwoFactorState(), {}, True)\n"
    "assert answer['securityKeys'] == [] and answer['enrollable'] == ['totp'], answer\n"
)


def _run(code: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": SRC}
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def make(devcore_app: str) -> Iterator[Callable[..., Harness]]:
    yield lambda **options: make_harness(devcore_app, **options)
    reset_supertokens()


# -- the optional webauthn package ----------------------------------------------------------


def test_an_app_without_security_keys_needs_no_webauthn_package() -> None:
    """The library, its public modules and an app wired without security keys work with
    the ``webauthn`` extra not installed (the refactor's runtime imported it for every
    app, so ``import st_twofactor`` itself failed)."""
    code = (
        WITHOUT_THE_EXTRA
        + "import st_twofactor\n"
        + "import st_twofactor.cli, st_twofactor.devcore, st_twofactor.django\n"
        + "import st_twofactor.fastapi, st_twofactor.flask, st_twofactor.migrate\n"
        + "import st_twofactor.testing\n"
        + APP_WITHOUT_SECURITY_KEYS
        + "assert 'WebAuthnPolicy' in dir(st_twofactor)\n"
        + "st_twofactor.WebAuthnPolicy(rp_id='example.com', rp_name='Example',\n"
        + "    origins=('https://example.com',))  # a policy is configuration only\n"
        + "print('ok')\n"
    )
    done = _run(code)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]


def test_a_star_import_needs_no_webauthn_package() -> None:
    """``from st_twofactor import *`` imports every name of ``__all__``, the lazy
    ``WebAuthnPolicy`` too: it is configuration, and needs no ``webauthn`` package."""
    without = _run(
        WITHOUT_THE_EXTRA + "from st_twofactor import *\nprint('WebAuthnPolicy' in globals())\n"
    )
    assert without.returncode == 0 and without.stdout.strip() == "True", without.stderr[-2000:]
    present = _run("from st_twofactor import *\nprint('WebAuthnPolicy' in globals())\n")
    assert present.returncode == 0 and present.stdout.strip() == "True", present.stderr[-2000:]


def test_an_app_without_security_keys_does_not_load_py_webauthn() -> None:
    """With the extra installed, an app that does not enable security keys does not pay
    for loading py_webauthn; one that does gets its security-key flows."""
    code = (
        "import sys\n"
        + APP_WITHOUT_SECURITY_KEYS
        + "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('webauthn', 'cbor2'))\n"
        + "assert 'st_twofactor.factors.webauthn.ceremonies' not in sys.modules\n"
        + "assert loaded == [], loaded\n"
        + "keys = TwoFactorConfig(secret_keys=['k' * 32], factors=('totp', 'webauthn'))\n"
        + "assert type(TwoFactor.of(keys).webauthn).__name__ == 'WebAuthnFlows'\n"
        + "assert TwoFactor.of(keys).webauthn is TwoFactor.of(keys).webauthn\n"
        + "print('ok')\n"
    )
    done = _run(code)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]


# -- freshness before cost -------------------------------------------------------------------


def test_a_stale_session_gets_no_recovery_codes_hashed(
    make: Callable[..., Harness], monkeypatch: pytest.MonkeyPatch
) -> None:
    """New recovery codes need a fresh 2FA (S8). A session that is not fresh, such as one
    signed in with the password alone, is refused before any code is hashed: otherwise
    each refused request costs the server ten PBKDF2 runs, without limit."""
    h = make()
    owner, _, _ = enrolled(h, "stale-regenerate@example.com")
    attacker = h.signed_in("stale-regenerate@example.com")
    h.clock.advance(STEP_UP_MAX_AGE * 10)
    before = h.document(user_id_of(owner))
    hashed: list[str] = []
    real = recovery_codes.hash_code
    monkeypatch.setattr(recovery_codes, "hash_code", lambda code: hashed.append(code) or real(code))
    for tokens in (attacker, owner):
        refused = h.post("/auth/2fa/recovery-codes", tokens)
        assert refused.status_code == 403
        assert claim_reason(refused)["message"] in ("expired", "wrong value")
    assert hashed == []
    assert h.document(user_id_of(owner)) == before


# -- one runtime per config and claim ---------------------------------------------------------


def test_a_runtime_is_shared_only_by_its_own_config_and_claim() -> None:
    """``TwoFactor.of`` returns one runtime per config and claim object: never the
    runtime of an equal config, of a config made from it with ``dataclasses.replace``,
    of another claim (also one under the same key), or of the default claim."""
    config = TwoFactorConfig(secret_keys=["k" * 32], store=InMemoryStore())
    mine = make_second_factor_claim("my-2fa")
    same_key = make_second_factor_claim("my-2fa")

    default = TwoFactor.of(config)
    assert TwoFactor.of(config, SecondFactorClaim) is default
    custom = TwoFactor.of(config, mine)
    assert custom is not default and custom.config is config
    for part in (custom, custom.store, custom.completion):
        assert part.claim is mine
    assert default.claim is default.store.claim is SecondFactorClaim
    assert TwoFactor.of(config, same_key).claim is same_key

    equal = TwoFactorConfig(secret_keys=["k" * 32], store=config.state_store)
    assert equal == config and TwoFactor.of(equal) is not default
    other_store = dataclasses.replace(config, store=InMemoryStore())
    assert TwoFactor.of(other_store).store.store is other_store.state_store
    assert TwoFactor.of(config) is default
