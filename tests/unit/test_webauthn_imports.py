"""What importing the WebAuthn modules costs, and what an app without the optional
``webauthn`` package (py_webauthn) gets: a policy it can name, and a configuration error
that says what to install, rather than a failure at the first ceremony."""

from __future__ import annotations

import subprocess
import sys

_WITHOUT_PY_WEBAUTHN = "import sys; sys.modules['webauthn'] = None  # import webauthn fails\n"
_NO_PY_WEBAUTHN_LOADED = (
    "loaded = [m for m in sys.modules if m == 'webauthn' or m.startswith('webauthn.')]\n"
    "assert not loaded, loaded\n"
)


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )


def test_the_policy_module_does_not_import_py_webauthn() -> None:
    code = (
        "import sys\n"
        "from st_twofactor.factors.webauthn.policy import WebAuthnPolicy\n"
        "import st_twofactor\n"
        "assert st_twofactor.WebAuthnPolicy is WebAuthnPolicy\n"
        "WebAuthnPolicy.from_app_info(app_name='a', website_domain='https://example.com')\n"
        + _NO_PY_WEBAUTHN_LOADED
    )
    result = _run(code)
    assert result.returncode == 0, result.stderr


def test_a_policy_can_be_made_without_py_webauthn() -> None:
    code = (
        _WITHOUT_PY_WEBAUTHN + "from st_twofactor import WebAuthnPolicy\n"
        "WebAuthnPolicy(rp_id='example.com', rp_name='E', origins=('https://example.com',))\n"
    )
    result = _run(code)
    assert result.returncode == 0, result.stderr


def test_without_py_webauthn_the_configuration_says_what_to_install() -> None:
    """With the factor named, or a policy given: a ConfigurationError at configuration
    time, naming the extra to install."""
    for imported, arguments in (
        ("TwoFactorConfig", "factors=('totp', 'webauthn')"),
        (
            "TwoFactorConfig, WebAuthnPolicy",
            "webauthn=WebAuthnPolicy(rp_id='example.com', rp_name='E',"
            " origins=('https://example.com',))",
        ),
    ):
        code = (
            _WITHOUT_PY_WEBAUTHN + f"from st_twofactor import {imported}\n"
            "from st_twofactor.errors import ConfigurationError\n"
            "try:\n"
            f"    TwoFactorConfig(secret_keys=['k' * 32], {arguments})\n"
            "except ConfigurationError as error:\n"
            "    assert \"pip install 'st-twofactor[webauthn]'\" in str(error), error\n"
            "else:\n"
            "    raise SystemExit('no ConfigurationError')\n"
        )
        result = _run(code)
        assert result.returncode == 0, (arguments, result.stdout, result.stderr)


def test_a_configuration_without_webauthn_does_not_import_it() -> None:
    code = (
        "import sys\n"
        "from st_twofactor import TwoFactorConfig\n"
        "TwoFactorConfig(secret_keys=['k' * 32], factors=('totp', 'recovery-code'))\n"
        + _NO_PY_WEBAUTHN_LOADED
    )
    result = _run(code)
    assert result.returncode == 0, result.stderr
