"""Updating a passwordless user's e-mail or phone number (``PUT /recipe/user``, rid passwordless).

A change must keep contacts unique per tenant and, with account linking, must not
take a contact of another primary user; pending sign-ins of a changed contact are
void. Apart from the sign-in because it changes users, not sign-in attempts.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from . import _users
from ._http import Request, bad_request
from ._normalise import normalise_email, normalise_phone
from ._passwordless_devices import delete_devices_of
from ._user_routes import recipe_user_handler


@dataclass(frozen=True)
class _Contacts:
    email: str | None
    phone: str | None


def _contact_update(req: Request, name: str, current: str | None) -> str | None:
    """The value after the update: unchanged when absent, cleared by JSON null."""
    body = req.json()
    if name not in body:
        return current
    if body[name] is None:
        return None
    value = req.str_field(name)
    return normalise_email(value) if name == "email" else normalise_phone(value)


@recipe_user_handler("PUT", "passwordless")
def update_user(req: Request) -> dict[str, Any]:
    user_id = req.str_field("recipeUserId")
    for name in ("email", "phoneNumber"):
        _contact_update(req, name, None)  # a 400 for a wrong type, before any lookup
    with req.core.db.transaction() as conn:
        row = _users.get_row(conn, req.app_id, user_id)
        if row is None or row["recipe_id"] != "passwordless":
            return {"status": "UNKNOWN_USER_ID_ERROR"}
        old = _Contacts(row["email"], row["phone_number"])
        new = _Contacts(
            _contact_update(req, "email", old.email),
            _contact_update(req, "phoneNumber", old.phone),
        )
        if new.email is None and new.phone is None:
            raise bad_request("You cannot clear both email and phone number of a user")
        problem = _update_conflict(conn, req.app_id, user_id, old, new)
        if problem is not None:
            return problem
        conn.execute(
            "UPDATE users SET email=?, phone_number=? WHERE app_id=? AND user_id=?",
            (new.email, new.phone, req.app_id, user_id),
        )
        _forget_devices_after_update(conn, req.app_id, user_id, old, new)
    return {"status": "OK"}


def _update_conflict(
    conn: sqlite3.Connection, app_id: str, user_id: str, old: _Contacts, new: _Contacts
) -> dict[str, Any] | None:
    """The status refusing the update, or None.

    Passwordless contacts are unique per tenant; a linked user may not take a
    contact that another primary user of its tenants has.
    """
    email = new.email if new.email != old.email else None
    phone = new.phone if new.phone != old.phone else None
    checks = (
        (email, None, "EMAIL_ALREADY_EXISTS_ERROR", "EMAIL_CHANGE_NOT_ALLOWED_ERROR", "email"),
        (
            None,
            phone,
            "PHONE_NUMBER_ALREADY_EXISTS_ERROR",
            "PHONE_NUMBER_CHANGE_NOT_ALLOWED_ERROR",
            "phone number",
        ),
    )
    for by_email, by_phone, taken, not_allowed, what in checks:
        if by_email is None and by_phone is None:
            continue
        contact = {"email": by_email, "phone": by_phone}
        if _users.contact_taken_in_its_tenants(conn, app_id, user_id, "passwordless", **contact):
            return {"status": taken}
        if _users.contact_of_another_primary_user(conn, app_id, user_id, **contact):
            return {
                "status": not_allowed,
                "reason": f"New {what} is associated with another primary user ID",
            }
    return None


def _forget_devices_after_update(
    conn: sqlite3.Connection, app_id: str, user_id: str, old: _Contacts, new: _Contacts
) -> None:
    """Pending sign-ins of the old and the new contact are void once a contact changes."""
    changed_emails = [e for e in (old.email, new.email) if e is not None and old.email != new.email]
    changed_phones = [p for p in (old.phone, new.phone) if p is not None and old.phone != new.phone]
    for tenant in _users.tenant_ids(conn, app_id, user_id):
        for email in changed_emails:
            delete_devices_of(conn, app_id, tenant, email=email)
        for phone in changed_phones:
            delete_devices_of(conn, app_id, tenant, phone=phone)
