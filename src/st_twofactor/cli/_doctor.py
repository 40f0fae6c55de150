"""``st-twofactor doctor``: what a deployment needs, one check a line, with the fix.

It takes the loaded config rather than its runtime: the point of a check is to report
what fails, so a part that cannot be made (a key, the runtime's store) fails its own
check instead of stopping the doctor. See :mod:`st_twofactor.cli`.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from st_twofactor.cli._output import EXIT_FAILED, EXIT_OK, Core, Output

if TYPE_CHECKING:
    from st_twofactor.config import TwoFactorConfig
    from st_twofactor.stores.state import TwoFactorState

DOCTOR_USER_ID = "st-twofactor:doctor"
"""The user id whose state ``doctor`` writes and reads back (its round trip)."""


@dataclass
class Check:
    name: str
    status: str
    """``ok``, ``fail`` or ``skip`` (cannot tell from here; does not fail the doctor)."""
    detail: str
    fix: str = ""


async def doctor(
    config: TwoFactorConfig, core: Core, out: Output, app_url: str | None, api_base_path: str
) -> int:
    """Check what a deployment needs; one line each, with the fix of what fails."""
    checks = [
        await _check_core(core),
        _check_keys(config),
        await _check_store(config),
        *_check_deliveries(config, core),
        await _check_plugin(core, app_url, api_base_path),
    ]
    ok = all(check.status != "fail" for check in checks)
    lines = []
    for check in checks:
        lines.append(f"{check.status:4}  {check.name}: {check.detail}")
        if check.status == "fail" and check.fix:
            lines.append(f"      fix: {check.fix}")
    out.result({"ok": ok, "checks": [asdict(c) for c in checks]}, lines)
    return EXIT_OK if ok else EXIT_FAILED


async def _check_core(core: Core) -> Check:
    import httpx

    headers = {"api-key": core.api_key} if core.api_key else {}
    uri = core.uri.split(";")[0].rstrip("/")
    try:
        async with httpx.AsyncClient(timeout=5.0) as client:
            hello = await client.get(f"{uri}/hello", headers=headers)
            versions = await client.get(f"{uri}/apiversion", headers=headers)
        hello.raise_for_status()
        versions.raise_for_status()
        newest = versions.json()["versions"][-1]
    except Exception as exc:
        return Check(
            "core",
            "fail",
            f"{uri} does not answer ({type(exc).__name__})",
            "start the core, or pass --core URL / set SUPERTOKENS_CONNECTION_URI"
            " (and SUPERTOKENS_API_KEY if it has one)",
        )
    return Check("core", "ok", f"{uri} answers, API versions up to {newest}")


def _check_keys(config: TwoFactorConfig) -> Check:
    from st_twofactor.kernel.crypto import SecretBox

    if not config.secret_keys:
        return Check(
            "keys",
            "fail",
            "development mode with its fixed, public key",
            "pass secret_keys=[...] (secrets.token_urlsafe(32)) from the environment",
        )
    try:
        # A box of its own, made here rather than taken from the runtime: this check is
        # there to report a box that cannot be made, so making it is part of the check.
        box = SecretBox(config.keys_in_use)
        sealed = box.encrypt("doctor", context=DOCTOR_USER_ID)
        assert box.decrypt(sealed, context=DOCTOR_USER_ID) == "doctor"
    except Exception as exc:
        return Check("keys", "fail", f"cannot seal a secret ({type(exc).__name__})", str(exc))
    count = len(config.secret_keys)
    return Check("keys", "ok", f"{count} key(s); the first (id {box.primary_key_id}) seals")


async def _check_store(config: TwoFactorConfig) -> Check:
    """A write and a read back, through the store every flow goes through (the runtime's)."""
    from st_twofactor.runtime import TwoFactor

    name = type(config.state_store).__name__
    started = time.perf_counter()

    def bump(state: TwoFactorState) -> int:
        state.epoch += 1
        return state.epoch

    try:
        store = TwoFactor.of(config).store  # in the try: a runtime not built is reported
        written = await store.update(DOCTOR_USER_ID, bump)
        read = (await store.load(DOCTOR_USER_ID)).epoch
    except Exception as exc:
        return Check(
            "store",
            "fail",
            f"{name}: the round trip failed ({type(exc).__name__}: {exc})",
            "check the store's server and URL; for SQLStore run `st-twofactor store create-table`",
        )
    if read != written:
        return Check("store", "fail", f"{name}: wrote epoch {written}, read {read}", "")
    elapsed = (time.perf_counter() - started) * 1000
    return Check("store", "ok", f"{name}: write and read back in {elapsed:.0f} ms")


def _check_deliveries(config: TwoFactorConfig, core: Core) -> list[Check]:
    needs = {"otp-email": "email_delivery", "otp-phone": "sms_delivery"}
    checks = []
    for factor, ingredient in needs.items():
        if factor not in config.factors:
            continue
        name = f"{factor} delivery"
        if config.development:
            checks.append(Check(name, "ok", "development mode: codes are written to the log"))
            continue
        if not core.initialised_by_app:
            checks.append(Check(name, "skip", NOT_INITIALISED))
            continue
        checks.append(_check_delivery(name, ingredient))
    return checks


NOT_INITIALISED = (
    "cannot tell: importing the --config module does not call supertokens_python.init(),"
    " so the app's passwordless recipe is not known here; to check it, name a module"
    " that calls init() (or a function there that calls it and returns the config)"
)
"""Why the delivery checks are skipped: they read the passwordless recipe the app set up."""


def _check_delivery(name: str, ingredient: str) -> Check:
    """The passwordless recipe the app initialised: it sends second-factor codes (the
    library's API override is on it) through the app's own sender."""
    from supertokens_python.recipe.passwordless.recipe import PasswordlessRecipe

    from st_twofactor.http._setup_check import COMPLETES_2FA

    kind = "SMSDeliveryConfig" if ingredient == "sms_delivery" else "EmailDeliveryConfig"
    sender = (
        f"pass {ingredient}={kind}(service=...) (your own sender) to build_recipe_list"
        " or to your own passwordless.init"
    )
    own_init = (
        "with your own passwordless.init, pass override=PasswordlessOverrideConfig("
        "apis=override_passwordless_apis(config))"
    )
    try:
        recipe = PasswordlessRecipe.get_instance()
    except Exception:
        return Check(
            name,
            "fail",
            "the passwordless recipe is not initialised: codes cannot be sent",
            f"build_recipe_list adds it; or call passwordless.init yourself, {own_init}",
        )
    if not getattr(recipe.api_implementation, COMPLETES_2FA, False):
        return Check(
            name,
            "fail",
            "the passwordless recipe has no override_passwordless_apis(config): a code"
            " asked for with a session is a plain sign-in, never a second factor",
            f"{own_init} (composed with yours); or let build_recipe_list add the recipe",
        )
    service = getattr(recipe, ingredient).ingredient_interface_impl
    module = type(service).__module__
    if "backward_compatibility" in module:
        return Check(name, "fail", "codes would go through SuperTokens' hosted service", sender)
    return Check(name, "ok", f"sent by {type(service).__name__}")


async def _check_plugin(core: Core, app_url: str | None, api_base_path: str) -> Check:
    from st_twofactor.ids import PLUGIN_ID

    fix = "add twofactor_plugin(config) to supertokens_python.init(..., plugins=[...])"
    if app_url:
        import httpx

        url = f"{app_url.rstrip('/')}{api_base_path.rstrip('/')}/2fa"
        try:
            async with httpx.AsyncClient(timeout=5.0) as client:
                response = await client.get(url)
        except httpx.HTTPError as exc:
            return Check("plugin", "fail", f"{url}: no answer ({type(exc).__name__})", fix)
        if response.status_code == 401:
            return Check("plugin", "ok", f"GET {url} asks for a session (mounted)")
        return Check("plugin", "fail", f"GET {url} answered {response.status_code}", fix)
    if core.initialised_by_app:
        from supertokens_python.supertokens import Supertokens

        ids = [plugin.id for plugin in Supertokens.get_instance().plugin_list]
        if PLUGIN_ID in ids:
            return Check("plugin", "ok", "twofactor_plugin is in the SDK's plugins")
        return Check("plugin", "fail", "twofactor_plugin is not in the SDK's plugins", fix)
    return Check(
        "plugin",
        "skip",
        "pass --app-url URL to check the running app's 2FA routes, or name a --config"
        " module that calls init()",
    )
