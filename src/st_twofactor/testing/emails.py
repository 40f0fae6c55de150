"""A recording delivery of security e-mails, for an app's own tests.

Pass it as ``TwoFactorConfig(notifications=Notifications(delivery=RecordingEmails()))``;
the e-mails are sent after the request, in the background, so wait for them with
:meth:`RecordingEmails.wait_for` rather than reading :attr:`RecordingEmails.sent` at once.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from supertokens_python.ingredients.emaildelivery.types import EmailDeliveryInterface

from st_twofactor.notifications import SecurityEmail

__all__ = ["RecordingEmails"]


class RecordingEmails(EmailDeliveryInterface[SecurityEmail]):
    """Keeps every security e-mail it is given, with its ``user_context``, in order."""

    def __init__(self) -> None:
        self.sent: list[SecurityEmail] = []
        self.contexts: list[dict[str, Any]] = []
        self._changed = threading.Condition()

    async def send_email(self, template_vars: SecurityEmail, user_context: dict[str, Any]) -> None:
        with self._changed:
            self.sent.append(template_vars)
            self.contexts.append(user_context)
            self._changed.notify_all()

    def wait_for(self, count: int, timeout: float = 5.0) -> list[SecurityEmail]:
        """The e-mails once there are at least ``count`` of them; raises ``AssertionError``
        after ``timeout`` seconds with fewer."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.sent) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{len(self.sent)} security e-mail(s), expected {count}")
                self._changed.wait(left)
            return list(self.sent)

    def templates(self) -> list[str]:
        """The template names sent so far, in order."""
        with self._changed:
            return [email.template for email in self.sent]
