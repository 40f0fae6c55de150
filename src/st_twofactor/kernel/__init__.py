"""The machinery every factor and entry point shares: throttling and send quotas, secret
encryption and signing, remember-device and known-device tokens, session revocation, the
store wrapper every flow reads and writes through, and completing a session's 2FA."""
