"""What the tests share; test modules import from here, never from one another.

- Setting up: :mod:`.sdk` (``sdk_init``: the SDK's ``init()`` for a test; the HTTP
  drivers and tokens), :mod:`.ports` (``free_port``), :mod:`.race` (calls started
  together), :mod:`.django_settings`.
- Apps under test: :mod:`.twofactor_app` (the app the attack, load and fault tests drive,
  and its in-process harness), :mod:`.codes_harness` (e-mailed and texted codes on
  FastAPI or Flask), :mod:`.legacy_guide_app`, :mod:`.devcore_recipes`,
  :mod:`.cli_config` (configs the command loads).
- Test doubles and data: :mod:`.outbox`, :mod:`.fake_metadata`, :mod:`.store_ops`,
  :mod:`.cose_keys`, :mod:`.attacks`, :mod:`.webauthn_http`.
- Processes: :mod:`.servers` (the core and app workers), :mod:`.redis_server`,
  :mod:`.postgres_server`, :mod:`.examples`, :mod:`.cli` (the command), :mod:`.load`
  (the load and fault driver), :mod:`.browser` (headless Chromium).

The fixtures are in ``tests/conftest.py`` (and ``tests/browser/conftest.py``).
"""
