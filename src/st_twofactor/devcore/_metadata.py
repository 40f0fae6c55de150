"""The usermetadata recipe: one JSON object per user id, app-wide.

An update is a shallow merge (a top-level ``null`` deletes the key), read,
merged and written inside one transaction so concurrent updates never lose
each other's keys.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from ._http import Request, Routes

SCHEMA = """
CREATE TABLE IF NOT EXISTS user_metadata (
    app_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    metadata TEXT NOT NULL,
    PRIMARY KEY (app_id, user_id)
);
"""

routes = Routes()


def _load(conn: sqlite3.Connection, app_id: str, user_id: str) -> dict[str, Any]:
    row = conn.execute(
        "SELECT metadata FROM user_metadata WHERE app_id=? AND user_id=?", (app_id, user_id)
    ).fetchone()
    if row is None:
        return {}
    stored: dict[str, Any] = json.loads(row["metadata"])
    return stored


def merge(stored: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """The core's shallow merge: each top-level key replaced, or removed when null."""
    merged = dict(stored)
    for key, value in update.items():
        merged.pop(key, None)
        if value is not None:
            merged[key] = value
    return merged


@routes.get("/recipe/user/metadata")
def get_metadata(req: Request) -> dict[str, Any]:
    user_id = str(req.param("userId"))
    with req.core.db.transaction() as conn:
        metadata = _load(conn, req.app_id, user_id)
    return {"status": "OK", "metadata": metadata}


@routes.put("/recipe/user/metadata")
def update_metadata(req: Request) -> dict[str, Any]:
    user_id = req.str_field("userId")
    update = req.field("metadataUpdate", dict)
    with req.core.db.transaction() as conn:
        metadata = merge(_load(conn, req.app_id, user_id), update)
        conn.execute(
            "INSERT INTO user_metadata (app_id, user_id, metadata) VALUES (?,?,?)"
            " ON CONFLICT(app_id, user_id) DO UPDATE SET metadata=excluded.metadata",
            (req.app_id, user_id, json.dumps(metadata)),
        )
    return {"status": "OK", "metadata": metadata}


@routes.post("/recipe/user/metadata/remove")
def remove_metadata(req: Request) -> dict[str, Any]:
    user_id = req.str_field("userId")
    with req.core.db.transaction() as conn:
        conn.execute(
            "DELETE FROM user_metadata WHERE app_id=? AND user_id=?", (req.app_id, user_id)
        )
    return {"status": "OK"}
