"""The exception tree of st-twofactor.

A wrong code is never an exception here: checks return ``bool``/``None`` or a status.
Exceptions are for misuse (bad configuration or arguments) and for faults (corrupt stored
data, a store or core that cannot be reached). They all derive from :class:`TwoFactorError`
so an application can catch the library's errors with one ``except``.

Messages never contain secrets, codes or tokens.
"""

from __future__ import annotations

__all__ = [
    "ConfigurationError",
    "CoreUnavailableError",
    "DecryptionError",
    "MalformedDataError",
    "StoreUnavailableError",
    "TwoFactorError",
]


class TwoFactorError(Exception):
    """Root of every exception raised by st-twofactor."""


class ConfigurationError(TwoFactorError, ValueError):
    """A setting or argument is invalid; the message says what to change."""


class MalformedDataError(TwoFactorError, ValueError):
    """Stored data (a user's 2FA state, a TOTP secret, a code hash) cannot be parsed.

    Raised instead of guessing, so that corrupt state fails closed.
    """


class DecryptionError(TwoFactorError):
    """A ciphertext cannot be decrypted: unknown key, wrong context, tampered or garbled.

    :attr:`key_id` is the key id named by the ciphertext, when it could be read; it is not
    secret and helps to tell a missing rotation key from tampering.
    """

    def __init__(self, message: str, *, key_id: str | None = None) -> None:
        super().__init__(message)
        self.key_id = key_id


class StoreUnavailableError(TwoFactorError):
    """The 2FA state store cannot be read or written.

    Callers must fail closed: no verification succeeds without the store, because replay
    protection and throttling live there.
    """


class CoreUnavailableError(TwoFactorError):
    """The SuperTokens core cannot be reached or answered unexpectedly."""


class NoFactorError(TwoFactorError):
    """Recovery codes were asked for a user with no other factor enrolled (S18): they are
    a fallback for a factor, never a factor on their own."""
