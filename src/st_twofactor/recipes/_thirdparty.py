"""The thirdparty first factor: the app's override, and the body checks when no
emailpassword recipe installs them."""

from __future__ import annotations

from supertokens_python.recipe.thirdparty import ThirdPartyOverrideConfig

from st_twofactor.recipes._compose import install_body_checks, then


def thirdparty_override_config(
    app: ThirdPartyOverrideConfig | None, *, body_checks: bool
) -> ThirdPartyOverrideConfig | None:
    """The app's thirdparty override; with ``body_checks``, composed with the installation
    of the first-factor body checks (for an app without emailpassword, whose override
    otherwise installs them)."""
    if not body_checks:
        return app
    if app is None:
        return ThirdPartyOverrideConfig(apis=install_body_checks)
    return ThirdPartyOverrideConfig(
        functions=app.functions, apis=then(install_body_checks, app.apis)
    )
