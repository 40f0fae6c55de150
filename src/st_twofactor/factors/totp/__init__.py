"""Time-based one-time passwords (RFC 6238) from an authenticator app."""
