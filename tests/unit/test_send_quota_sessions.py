"""The send quota never breaks SuperTokens' own UIs (st_twofactor.kernel.send_quota):
the cooldown is not longer than the prebuilt UI's resend timer, and a new sign-in's first
code is not refused because of codes sent in earlier sessions; the hourly and daily caps
still count every send."""

from __future__ import annotations

from st_twofactor.kernel.send_quota import DAY, CodeSend, SendQuota, check_send, record_send

PREBUILT_UI_RESEND_SECONDS = 15
"""When SuperTokens' prebuilt passwordless screens offer "Resend" (their default)."""

T = 1_800_000_000.0


def test_the_default_cooldown_is_not_longer_than_the_prebuilt_uis_resend_timer() -> None:
    quota = SendQuota()
    assert quota.cooldown <= PREBUILT_UI_RESEND_SECONDS
    sends = record_send((), "a@example.com", pinned=True, now=T)
    # The UI's "Resend", clicked as soon as it shows, in the same session:
    later = T + PREBUILT_UI_RESEND_SECONDS
    assert check_send(quota, sends, pinned=True, now=later, session_started=T - 1) is None


def test_a_new_sign_ins_first_code_is_not_held_back_by_an_earlier_session() -> None:
    quota = SendQuota()
    sends = record_send((), "a@example.com", pinned=True, now=T)  # at sign-up
    started = T + 5  # signs in again 5 s later
    assert check_send(quota, sends, pinned=True, now=T + 6, session_started=started) is None
    sends = record_send(sends, "a@example.com", pinned=True, now=T + 6)
    # Its second send is its own: the cooldown holds.
    refused = check_send(quota, sends, pinned=True, now=T + 7, session_started=started)
    assert refused is not None and refused.retry_after_ms == int(quota.cooldown - 1) * 1000
    # Without the session's start (an older claim), every send counts, as before.
    assert check_send(quota, sends[:1], pinned=True, now=T + 6) is not None


def test_the_first_code_of_many_sign_ins_is_still_capped_per_hour_and_day() -> None:
    quota = SendQuota()
    sends: tuple[CodeSend, ...] = ()
    now = T
    allowed = 0
    for _ in range(20):  # a sign-in every minute, each asking for its first code
        now += 60
        if check_send(quota, sends, pinned=True, now=now, session_started=now - 1) is None:
            sends = record_send(sends, "a@example.com", pinned=True, now=now)
            allowed += 1
    assert allowed == quota.per_hour
    for _ in range(30):  # and over the day
        now += 3600
        if check_send(quota, sends, pinned=True, now=now, session_started=now - 1) is None:
            sends = record_send(sends, "a@example.com", pinned=True, now=now)
            allowed += 1
    in_a_day = [s for s in sends if s.at > now - DAY]
    assert len(in_a_day) <= quota.per_day


def test_unpinned_destinations_stay_capped_across_sessions() -> None:
    quota = SendQuota()
    sends: tuple[CodeSend, ...] = ()
    now = T
    for n in range(quota.unpinned_per_day):
        now += 1
        sends = record_send(sends, f"+1415555{n:04d}", pinned=False, now=now)
    now += 1
    assert check_send(quota, sends, pinned=False, now=now, session_started=now) is not None
