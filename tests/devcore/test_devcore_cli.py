"""The development core as a command and as a registered pytest plugin."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from importlib.metadata import entry_points
from pathlib import Path

import pytest
import requests

from st_twofactor.devcore import DevCore, LoggedRequest

from ..helpers.ports import free_port


def _wait_for(url: str, process: subprocess.Popen[str], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the core exited early: {process.communicate()[0]}")
        try:
            if requests.get(url, timeout=1).text == "Hello\n":
                return
        except requests.ConnectionError:
            time.sleep(0.1)
    raise AssertionError(f"{url} did not answer in {timeout} s")


@pytest.mark.slow
@pytest.mark.parametrize(
    "command",
    [
        [sys.executable, "-m", "st_twofactor.devcore"],
        # The script installed beside this interpreter, whether or not its venv is active.
        [shutil.which("st-twofactor", path=str(Path(sys.executable).parent)), "devcore"],
    ],
    ids=["python -m", "console script"],
)
def test_command_serves_and_stops_on_sigterm(command: list[str], tmp_path: Path) -> None:
    port = free_port()
    db = tmp_path / "core.sqlite3"
    process = subprocess.Popen(
        [*command, "--port", str(port), "--db", str(db)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        _wait_for(f"http://127.0.0.1:{port}/hello", process)
        versions = requests.get(f"http://127.0.0.1:{port}/apiversion", timeout=5).json()
        assert "5.4" in versions["versions"]
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0
    assert "for development and tests only" in output
    assert db.exists()


def test_registered_as_a_pytest_plugin() -> None:
    plugins = {ep.name: ep.value for ep in entry_points(group="pytest11")}
    assert plugins.get("st_twofactor_devcore") == "st_twofactor.devcore.pytest_plugin"


def test_fixtures_come_from_the_plugin(devcore: DevCore, devcore_app: str) -> None:
    assert devcore_app.startswith(devcore.url + "/appid-")
    assert requests.get(devcore_app + "/hello", timeout=5).text == "Hello\n"


def test_context_manager_stops_the_server() -> None:
    with DevCore() as core:
        url = core.url
        assert requests.get(url + "/hello", timeout=5).status_code == 200
    with pytest.raises(requests.ConnectionError):
        requests.get(url + "/hello", timeout=2)


def test_removing_an_app_removes_all_its_data() -> None:
    """A re-created app with the same id must not get old sessions, keys or users back."""
    with DevCore() as core:
        url = core.create_app("gone")
        created = requests.post(
            url + "/public/recipe/signup",
            json={"email": "a@example.com", "password": "pw-123456789"},
            timeout=10,
        ).json()
        assert created["status"] == "OK"
        requests.get(url + "/.well-known/jwks.json", timeout=10)
        removed = requests.post(
            core.url + "/recipe/multitenancy/app/remove", json={"appId": "gone"}, timeout=10
        ).json()
        assert removed == {"status": "OK", "didExist": True}
        with core.db.transaction() as conn:
            leftovers = [
                (
                    table,
                    conn.execute(
                        f'SELECT COUNT(*) FROM "{table}" WHERE app_id=?', ("gone",)
                    ).fetchone()[0],
                )
                for table in ("users", "user_tenants", "signing_keys", "apps", "tenants")
            ]
        assert all(count == 0 for _, count in leftovers), leftovers


def test_a_request_is_logged_before_its_answer_is_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests count core calls right after a call returns, so the log must already have it."""
    with DevCore() as core:
        add = core.request_log.add

        def slow_add(entry: LoggedRequest) -> None:
            time.sleep(0.05)  # a log written after the answer would now be seen late
            add(entry)

        monkeypatch.setattr(core.request_log, "add", slow_add)
        for expected in range(1, 6):
            assert requests.get(core.url + "/hello", timeout=5).text == "Hello\n"
            assert len(core.requests()) == expected


KEY = "devcore-cli-key-0123456789"


@pytest.mark.slow
def test_command_takes_an_api_key_and_the_limits() -> None:
    """``--api-key``: every call but hello (and the JWKS) needs it, as on the real core;
    ``--idle-timeout`` (like the other limits) reaches the server."""
    port = free_port()
    command = [sys.executable, "-m", "st_twofactor.devcore", "--port", str(port)]
    process = subprocess.Popen(
        [*command, "--api-key", KEY, "--idle-timeout", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for(url + "/hello", process)
        signup = {"email": "a@example.com", "password": "pw-123456789"}
        refused = requests.post(url + "/public/recipe/signup", json=signup, timeout=5)
        assert (refused.status_code, refused.text) == (401, "Invalid API key\n")
        wrong = requests.get(url + "/apiversion", headers={"api-key": KEY + "x"}, timeout=5)
        assert (wrong.status_code, wrong.text) == (401, "Invalid API key\n")
        keyed = requests.post(
            url + "/public/recipe/signup", json=signup, headers={"api-key": KEY}, timeout=5
        )
        assert keyed.json()["status"] == "OK"
        assert requests.get(url + "/.well-known/jwks.json", timeout=5).status_code == 200
        with socket.create_connection(("127.0.0.1", port), timeout=4) as silent:
            started = time.monotonic()
            assert silent.recv(1) == b""  # closed by the core, not by our 4 s timeout
            assert time.monotonic() - started < 3
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.communicate(timeout=10)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()


def test_help_names_the_options_and_their_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    from st_twofactor.cli import main
    from st_twofactor.devcore._server import ServerLimits

    with pytest.raises(SystemExit):
        main(["devcore", "--help"])
    shown = " ".join(capsys.readouterr().out.split())
    assert "--api-key KEY" in shown
    limits = ServerLimits()
    for option, default in (
        ("--request-timeout SECONDS", limits.request_timeout),
        ("--idle-timeout SECONDS", limits.idle_timeout),
        ("--workers N", limits.workers),
        ("--max-connections N", limits.max_connections),
    ):
        assert option in shown, option
        described = shown.rsplit(option, 1)[1].split(" --", 1)[0]
        assert f"(default: {default:g})" in described, (option, described)


@pytest.mark.parametrize(
    "key",
    ["short-key", "a key with spaces 0123456789", "comma,separated,key-0123456789", ""],
)
def test_api_keys_follow_the_real_cores_rules(key: str, capsys: pytest.CaptureFixture[str]) -> None:
    """At least 20 characters of letters, digits, ``=`` and ``-``: a key that the real core
    would refuse at start-up is refused here too, before anything listens."""
    from st_twofactor.cli import main

    with pytest.raises(ValueError, match="API key"):
        DevCore(api_keys=[key])
    with pytest.raises(SystemExit) as exited:
        main(["devcore", "--port", "0", "--api-key", key])
    assert exited.value.code == 2
    assert "API key" in capsys.readouterr().err


@pytest.mark.parametrize(
    "option", ["--request-timeout", "--idle-timeout", "--workers", "--max-connections"]
)
def test_limits_must_be_positive(option: str, capsys: pytest.CaptureFixture[str]) -> None:
    from st_twofactor.cli import main

    with pytest.raises(SystemExit) as exited:
        main(["devcore", "--port", "0", option, "0"])
    assert exited.value.code == 2
    assert "must be greater than 0" in capsys.readouterr().err


_PLUGIN_PROBE = """
import requests


def test_probe(devcore, devcore_app):
    flags = requests.get(devcore_app + "/ee/featureflag", timeout=10).json()["features"]
    tenant = requests.put(
        devcore_app + "/recipe/multitenancy/tenant/v2", json={"tenantId": "t1"}, timeout=10
    )
    user = requests.post(
        devcore_app + "/t1/recipe/multitenancy/tenant/user", json={"recipeUserId": "u"}, timeout=10
    )
    print("PROBE", devcore.licensed, "multi_tenancy" in flags, tenant.status_code, user.status_code)
"""


@pytest.mark.slow
@pytest.mark.parametrize(
    ("how", "licensed"),
    [
        ("default", False),
        ("option", True),
        ("ini", True),
    ],
)
def test_the_plugin_serves_a_licensed_core_only_when_asked(
    tmp_path: Path, how: str, licensed: bool
) -> None:
    (tmp_path / "test_probe.py").write_text(_PLUGIN_PROBE)
    (tmp_path / "pytest.ini").write_text(
        "[pytest]\n" + ("devcore_licensed = true\n" if how == "ini" else "")
    )
    args = ["--devcore-licensed"] if how == "option" else []
    src = str(Path(__file__).resolve().parents[2] / "src")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    probe = next(line for line in run.stdout.splitlines() if line.startswith("PROBE"))
    # Unlicensed, associating a user with a tenant is the paid feature (402; licensed, an
    # unknown user is a status in a 200); creating the tenant itself is free.
    user_status = "200" if licensed else "402"
    assert probe.split()[1:] == [str(licensed), str(licensed), "200", user_status]


def test_help_says_what_the_licensed_mode_opens(capsys: pytest.CaptureFixture[str]) -> None:
    from st_twofactor.cli import main

    with pytest.raises(SystemExit):
        main(["devcore", "--help"])
    shown = " ".join(capsys.readouterr().out.split())
    described = shown.rsplit("--licensed", 1)[1].split(" --", 1)[0]
    for feature in ("multi-tenancy", "account linking", "TOTP", "dashboard users"):
        assert feature in described, (feature, described)
    assert "402" in described
