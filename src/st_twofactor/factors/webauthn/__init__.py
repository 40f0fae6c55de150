"""Security keys and passkeys (WebAuthn) as a second factor."""

__all__: list[str] = []
