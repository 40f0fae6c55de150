"""One-call setup: the ``recipe_list`` of an app with password/social first factors and 2FA.

::

    init(
        app_info=...,
        supertokens_config=...,
        framework="fastapi",
        recipe_list=build_recipe_list(config=TwoFactorConfig(...), providers=[...]),
    )

What it returns, in order:

- the first factors the app chose (``first_factors=``, default ``("emailpassword",
  "thirdparty")``, the modern form of the legacy guide's ``thirdpartyemailpassword``):
  ``emailpassword``, ``thirdparty`` with the app's providers; a recipe left out of
  ``first_factors`` is not initialised, so its routes do not exist;
- ``passwordless``: with ``"passwordless"`` in ``first_factors``, the app's ordinary
  passwordless sign-in/up without a session and a second factor with one; otherwise a
  second factor only (flow ``USER_INPUT_CODE``; contact method from the enabled factors:
  ``otp-email`` -> EMAIL, ``otp-phone`` -> PHONE, both -> EMAIL_OR_PHONE), left out when
  neither is enabled; also left out with ``add_passwordless=False``, for apps that call
  ``passwordless.init`` themselves with
  :func:`~st_twofactor.http.passwordless.override_passwordless_apis`;
- ``usermetadata`` (where users' 2FA state lives by default);
- ``session`` with :func:`~st_twofactor.session_override.override_session_functions`.

Every recipe takes the app's own options and overrides; ours are applied first and the
app's wrap them, so the app's code sees (and may extend) what the library did.

The package, one concept a module: ``_build`` (putting the list together), ``_checks``
(refusing a wrong option at start-up), ``_compose`` (the library's override inside the
app's), ``_emailpassword`` (a new password revokes remembered devices), ``_thirdparty``,
``_passwordless`` (codes as a second factor, and as a first).
"""

from __future__ import annotations

from st_twofactor.recipes._build import build_recipe_list
from st_twofactor.recipes._checks import DEFAULT_FIRST_FACTORS, FIRST_FACTORS
from st_twofactor.recipes._emailpassword import override_emailpassword_functions

__all__ = [
    "DEFAULT_FIRST_FACTORS",
    "FIRST_FACTORS",
    "build_recipe_list",
    "override_emailpassword_functions",
]
