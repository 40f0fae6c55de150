"""A config with a role policy and an enrolment grace period, for ``st-twofactor user
explain`` (loaded with ``--config tests.helpers.cli_policy_config:config``; secret keys
from ``ST2FA_CLI_KEYS``, as :mod:`tests.helpers.cli_config`)."""

from __future__ import annotations

import os
from datetime import timedelta

from st_twofactor.config import TwoFactorConfig
from st_twofactor.policy import with_role

config = TwoFactorConfig(
    secret_keys=[k for k in os.environ.get("ST2FA_CLI_KEYS", "").split(",") if k],
    factors=("totp", "recovery-code"),
    required=with_role("admin"),
    enrolment_grace=timedelta(days=7),
)
