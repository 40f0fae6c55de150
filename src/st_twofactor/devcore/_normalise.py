"""The core's normalisation of e-mail addresses and phone numbers, in one place.

Every recipe that stores or looks up an e-mail or phone number uses these, so a
user found by one recipe is found by the others.
"""

from __future__ import annotations

import re

_PHONE_CHARS = re.compile(r"^\+[0-9\s().-]+$")


def normalise_email(email: str) -> str:
    """The real core's e-mail normalisation: surrounding spaces removed, lower case."""
    return email.strip().lower()


def normalise_phone(phone: str) -> str:
    """E.164-like form: ``+`` and digits when the text is an international number.

    The real core formats with libphonenumber and keeps the trimmed text when it
    cannot parse it; this keeps the common case (``+1 (555) 010-0000``) equal.
    """
    phone = phone.strip()
    if _PHONE_CHARS.match(phone):
        return "+" + "".join(c for c in phone if c.isdigit())
    return phone
