"""E-mail and SMS codes as a second factor, on the passwordless recipe's own endpoints.

:func:`override_passwordless_apis` overrides the passwordless recipe's APIs so that
SuperTokens' frontend SDKs work unchanged (``POST /auth/signinup/code``, ``.../resend``,
``.../consume``) while passwordless is a *second* factor (unless the app also chose it
as a first factor, ``first_factor=True``):

- Every endpoint needs a session (401 without one; see ``first_factor`` below); the 2FA
  claim itself is not required, since these endpoints are how it gets completed. With a
  session no passwordless user and no new session is ever created, and nothing is made
  in the core: the library makes the code (six random digits, or the app's
  ``get_custom_user_input_code``), keeps it sealed in the user's state with its device
  (:mod:`~st_twofactor.factors.codes._devices`), sends it through the recipe's e-mail or
  SMS delivery, checks it itself, and sets the claim in the session that asked for it.
  The SDK's own ``create_code_post`` is not used: its sign-in/up checks (account
  lookups, the tenant's first factors) are about a passwordless user that is never
  created here, so they decide nothing for a second factor and cost three core calls.
- With ``first_factor=True`` (passwordless is also how users sign in) the request's
  ``shouldTryLinkingWithSessionUser`` decides, as it does in the SDK. ``true`` (what
  SuperTokens' MFA screens send) makes a request to ``signinup/code``, ``.../resend`` or
  ``.../consume`` a second factor of the request's session, as below (401 without a
  valid session). ``false`` or absent (what a sign-in form sends) hands it to the SDK's
  own implementation, the app's ordinary passwordless sign-in/up, whose new session gets
  the claim from the session override (``False`` unless 2FA is not required); a session
  the request carries is not looked at, so such a request never completes or changes it,
  and a user whose 2FA is pending can sign in to another account. The contact of the
  passwordless login method the session signed in with cannot be its second factor
  (that would be the first factor twice). A second-factor code works only in the session
  that asked for it, and only as a second factor: used in a sign-in (with or without a
  session) it is a ``RESTART_FLOW_ERROR``, no user and no session is made, and such a
  resend sends nothing; a second factor's device is no device of the core's, which the
  SDK's sign-in would need.
- Codes go only to the contact pinned for the user (:attr:`TwoFactorState.email` /
  :attr:`~TwoFactorState.phone`), so someone who knows the password cannot have the code
  sent to their own inbox or phone (S6). Until an e-mail is pinned, the default is one of the
  account's own e-mail addresses (its login methods); a phone number has no default. The
  first successful use of a contact pins it, which is an enrolment (epoch bumped,
  :class:`~st_twofactor.events.FactorEnrolled`), allowed only to a user with no factor yet
  or with a 2FA completed within the step-up window (S8).
- A destination other than the user's (the pinned one; before an e-mail address is
  pinned, one of the account's) gets a *decoy*: the answer a real code gets (ids of the
  same format; the same quota, lockout and step-up refusals; about the same time), and a
  pending device that resends and checks codes like a real one, on which every code is
  wrong; it is metered by the send quota like a send (S15). But nothing is sent. So
  someone holding the session (the password known, the second factor pending, the pinned
  number shown masked) cannot tell from the answers which destination is pinned, and
  their guesses are bounded by the send quota. A user who mistypes their own number
  waits for a code that never comes, and asks again.
- A user whose account has no e-mail address and no pinned e-mail cannot use
  ``otp-email``: the request is answered ``GENERAL_ERROR`` and nothing is sent. That is
  the case of a social login that shared no e-mail, for which the SDK stores a made-up
  ``...@stfakeemail.supertokens.com`` address (never used here). Such users enrol TOTP or
  a phone number instead.
- Each code is bound to the user, the session and the request that made it: the
  ``preAuthSessionId`` of its device is recorded with the session handle in the user's
  state (:attr:`TwoFactorState.otp_pending`, at most :data:`MAX_PENDING_CODES`); the
  ``deviceId`` handed out with it (:mod:`~st_twofactor.factors.codes._devices`) must be
  presented with it (400 otherwise); a consume or resend naming a device that is not
  pending for this session is a ``RESTART_FLOW_ERROR``. A code works once, also under
  concurrent use (removing the pending entry is the atomic step that decides).
- Every code of a device expires ``config.otp_code_lifetime`` seconds after the device was
  created (10 minutes by default); a resend sends a new code (the device's earlier codes
  stay good, the latest five are kept) but does not extend that deadline; the e-mail or
  SMS states the time left. At most ``config.otp_max_attempts`` wrong codes per device (then it is
  gone), and the factor is throttled per user across devices and sessions (S2):
  a locked factor is answered ``GENERAL_ERROR`` with the wait in the message and in
  ``retryAfterMs``, and no code is sent or checked.
- Only ``deviceId`` + ``userInputCode`` is accepted: the recipe runs in the
  ``USER_INPUT_CODE`` flow, so no magic link is ever sent, and a ``linkCode`` is refused.
- ``GET /auth/passwordless/email/exists`` and ``.../phonenumber/exists`` need a session
  too: without one they would let anyone probe which contacts have accounts.
- Malformed bodies are a 400 (S13). The SDK's own request handlers read the body before
  any override runs and crash (a 500) on a non-object body or a non-string ``email``, so
  installing the override also installs, once the SDK is initialised, a check of the body's
  shape in front of the passwordless recipe's handlers (:func:`guard_request_bodies`).

Cost, in core calls with the default user-metadata store: asking for a code takes 3
(the state read; the user, for their e-mail; the state written with the device and its
sealed code), 2 once the contact is pinned (no user lookup); using it takes 4 (the state
read; the state written: the attempt counted, the code compared and the device claimed
in that one update; the session's new access token; the user for the answer). A decoy
makes the same calls and, in place of a delivery, waits about as long as real
deliveries took lately (:mod:`~st_twofactor.factors.codes._timing`). Each request's
steps are one store transaction, so the state is read once.

A right code completes the session through :mod:`~st_twofactor.kernel.completion`, as every
factor does; ``rememberDevice: true`` in the consume body remembers the device (when the
app offers it), as on the TOTP and recovery-code routes.

Layout: this module holds the override (the endpoints); the flows behind it are in
:mod:`st_twofactor.factors.codes`: ``_send`` (asking for a code, quotas, pending devices,
decoys), ``_check`` (using one), ``_inputs`` (the request: session, body shape, ids, the
typed code), ``_devices`` (device ids and sealed codes), ``_timing`` (decoys' timing),
``_delivery`` (the e-mail/SMS deliveries as a second factor) and ``flows`` (what those
share).

Codes never appear in logs or messages from this module; in development mode
:func:`~st_twofactor.recipes.build_recipe_list` configures a delivery that writes them to
the log, and that is the only place they are logged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from supertokens_python.exceptions import raise_bad_input_exception
from supertokens_python.post_init_callbacks import PostSTInitCallbacks
from supertokens_python.recipe.passwordless.interfaces import (
    APIInterface,
    APIOptions,
    ConsumeCodePostRestartFlowError,
    EmailExistsGetOkResult,
    PhoneNumberExistsGetOkResult,
    ResendCodePostRestartFlowError,
)
from supertokens_python.recipe.session import SessionContainer
from supertokens_python.recipe.session.claims import BooleanClaim
from supertokens_python.types.response import GeneralErrorResponse

from st_twofactor.claim import SecondFactorClaim
from st_twofactor.config import TwoFactorConfig
from st_twofactor.factors.codes._check import CodeChecking
from st_twofactor.factors.codes._devices import core_pair
from st_twofactor.factors.codes._inputs import (
    CodeEntry,
    checked_code,
    device_ref,
    forgotten_device,
    guard_request_bodies,
    remember_requested,
    request_session,
    require_session,
)
from st_twofactor.factors.codes._send import CodeSending, Resendable
from st_twofactor.factors.codes.flows import (
    MAX_PENDING_CODES,
    ConsumeCodePostResult,
    CreateCodePostResult,
    LimitReachedResponse,
    ResendCodePostResult,
    SendLimitResponse,
)
from st_twofactor.http._setup_check import mark_completing
from st_twofactor.runtime import TwoFactor

__all__ = [
    "MAX_PENDING_CODES",
    "LimitReachedResponse",
    "PasswordlessAPIOverride",
    "SendLimitResponse",
    "override_passwordless_apis",
]

PasswordlessAPIOverride = Callable[[APIInterface], APIInterface]
"""The shape of ``PasswordlessOverrideConfig(apis=...)``."""


def override_passwordless_apis(
    config: TwoFactorConfig,
    *,
    claim: BooleanClaim = SecondFactorClaim,
    first_factor: bool = False,
) -> PasswordlessAPIOverride:
    """Make the override for ``PasswordlessOverrideConfig(apis=...)`` (see the module doc).

    An app that calls ``passwordless.init`` itself composes it with its own override
    (``build_recipe_list(add_passwordless=False, ...)``)::

        ours = override_passwordless_apis(config, first_factor=True)
        PasswordlessOverrideConfig(apis=lambda original: my_apis(ours(original)))

    :param config: the app's :class:`~st_twofactor.config.TwoFactorConfig` (lifetime,
        attempts, throttling, step-up window, store, events, clock).
    :param claim: the second-factor claim set on success; the same one the session
        override uses.
    :param first_factor: ``True`` when passwordless is also how users sign in: a
        request to ``signinup/code``, ``.../resend`` or ``.../consume`` with
        ``"shouldTryLinkingWithSessionUser": true`` is then a second factor of its
        session (401 without one), and one with ``false`` or without the field is the
        SDK's ordinary passwordless sign-in/up, whatever session it carries (its new
        session starts with the claim ``False`` unless 2FA is not required for the
        user). The contact the session signed in with (its passwordless login method)
        cannot also be its second factor. ``False`` (default): a second factor only,
        every request needs a session (401 without one, S10) whatever the field says.
    """
    runtime = TwoFactor.of(config, claim)
    sending = CodeSending(runtime, first_factor=first_factor)
    checking = CodeChecking(runtime, first_factor=first_factor)

    def override(original_implementation: APIInterface) -> APIInterface:
        original_create = original_implementation.create_code_post
        original_consume = original_implementation.consume_code_post
        original_resend = original_implementation.resend_code_post
        original_email_exists = original_implementation.email_exists_get
        original_phone_exists = original_implementation.phone_number_exists_get

        async def create_code_post(
            email: str | None,
            phone_number: str | None,
            session: SessionContainer | None,
            should_try_linking_with_session_user: bool | None,
            tenant_id: str,
            api_options: APIOptions,
            user_context: dict[str, Any],
        ) -> CreateCodePostResult:
            session = await request_session(api_options.request, user_context, first_factor)
            if session is None:  # a first-factor sign-in/up: the SDK's own
                return await original_create(
                    email=email,
                    phone_number=phone_number,
                    session=None,
                    should_try_linking_with_session_user=False,
                    tenant_id=tenant_id,
                    api_options=api_options,
                    user_context=user_context,
                )
            contact = sending.requested_contact(email, phone_number)
            return await sending.send_code(session, contact, api_options, user_context)

        async def resend_code_post(
            device_id: str,
            pre_auth_session_id: str,
            session: SessionContainer | None,
            should_try_linking_with_session_user: bool | None,
            tenant_id: str,
            api_options: APIOptions,
            user_context: dict[str, Any],
        ) -> ResendCodePostResult:
            session = await request_session(api_options.request, user_context, first_factor)
            if session is None:  # a first-factor sign-in/up: the SDK's own
                if core_pair(pre_auth_session_id, device_id) is False:
                    return ResendCodePostRestartFlowError()  # a second factor's device
                return await original_resend(
                    device_id=device_id,
                    pre_auth_session_id=pre_auth_session_id,
                    session=None,
                    should_try_linking_with_session_user=False,
                    tenant_id=tenant_id,
                    api_options=api_options,
                    user_context=user_context,
                )
            if forgotten_device(pre_auth_session_id, device_id):
                return ResendCodePostRestartFlowError()
            device = device_ref(pre_auth_session_id, device_id)
            found = await sending.resendable(session, device, api_options, user_context)
            if not isinstance(found, Resendable):
                await sending.report_refused_send(session, found)
                return found
            return await sending.resend(found, session, api_options, user_context)

        async def consume_code_post(
            pre_auth_session_id: str,
            user_input_code: str | None,
            device_id: str | None,
            link_code: str | None,
            session: SessionContainer | None,
            should_try_linking_with_session_user: bool | None,
            tenant_id: str,
            api_options: APIOptions,
            user_context: dict[str, Any],
        ) -> ConsumeCodePostResult:
            session = await request_session(api_options.request, user_context, first_factor)
            if session is None:  # a first-factor sign-in/up: the SDK's own
                if device_id is not None and core_pair(pre_auth_session_id, device_id) is False:
                    # A second factor's device (no device of the core's): its code
                    # works only in the session that asked for it, never as a sign-in.
                    return ConsumeCodePostRestartFlowError()
                return await original_consume(
                    pre_auth_session_id=pre_auth_session_id,
                    user_input_code=user_input_code,
                    device_id=device_id,
                    link_code=link_code,
                    session=None,
                    should_try_linking_with_session_user=False,
                    tenant_id=tenant_id,
                    api_options=api_options,
                    user_context=user_context,
                )
            if link_code is not None or device_id is None or user_input_code is None:
                raise_bad_input_exception(
                    "Please provide deviceId and userInputCode: links are not used for 2FA"
                )
            if forgotten_device(pre_auth_session_id, device_id):
                return ConsumeCodePostRestartFlowError()
            entry = CodeEntry(
                device=device_ref(pre_auth_session_id, device_id),
                code=checked_code(user_input_code),
                remember=await remember_requested(api_options.request),
            )
            return await checking.consume(session, entry, api_options, user_context)

        async def email_exists_get(
            email: str, tenant_id: str, api_options: APIOptions, user_context: dict[str, Any]
        ) -> EmailExistsGetOkResult | GeneralErrorResponse:
            await require_session(api_options.request, user_context)
            return await original_email_exists(
                email=email, tenant_id=tenant_id, api_options=api_options, user_context=user_context
            )

        async def phone_number_exists_get(
            phone_number: str,
            tenant_id: str,
            api_options: APIOptions,
            user_context: dict[str, Any],
        ) -> PhoneNumberExistsGetOkResult | GeneralErrorResponse:
            await require_session(api_options.request, user_context)
            return await original_phone_exists(
                phone_number=phone_number,
                tenant_id=tenant_id,
                api_options=api_options,
                user_context=user_context,
            )

        PostSTInitCallbacks.add_post_init_callback(
            lambda: guard_request_bodies(first_factor=first_factor)
        )
        mark_completing(original_implementation)  # consuming a code completes 2FA
        original_implementation.create_code_post = create_code_post  # type: ignore[method-assign]
        original_implementation.resend_code_post = resend_code_post  # type: ignore[method-assign]
        original_implementation.consume_code_post = consume_code_post  # type: ignore[method-assign]
        original_implementation.email_exists_get = email_exists_get  # type: ignore[method-assign]
        original_implementation.phone_number_exists_get = phone_number_exists_get  # type: ignore[method-assign]
        return original_implementation

    return override
