"""The built-in texts of the security e-mails: English, French and German.

Each text is a :class:`string.Template`: ``$name`` is replaced by a value the library
computes (see :data:`~st_twofactor.notifications.PLACEHOLDERS`); nothing else is
evaluated, so a replaced template cannot reach into the library's objects.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["BUILT_IN", "FACTOR_NAMES", "EmailTemplate"]


@dataclass(frozen=True)
class EmailTemplate:
    """One e-mail: its subject and plain-text body, with ``$placeholders``."""

    subject: str
    body: str


_NOT_YOU = {
    "en": "If this was not you, change your password and contact us right away.",
    "fr": "Si ce n'était pas vous, changez votre mot de passe et contactez-nous sans attendre.",
    "de": "Falls Sie das nicht waren, ändern Sie Ihr Passwort und melden Sie sich sofort bei uns.",
}

BUILT_IN: dict[str, dict[str, EmailTemplate]] = {
    "en": {
        "factor-added": EmailTemplate(
            "$app: a second factor was added to your account",
            "A second factor was added to your $app account on $time: $what.\n\n" + _NOT_YOU["en"],
        ),
        "factor-removed": EmailTemplate(
            "$app: a second factor was removed from your account",
            "A second factor was removed from your $app account on $time: $what.\n\n"
            + _NOT_YOU["en"],
        ),
        "recovery-code-used": EmailTemplate(
            "$app: a recovery code was used",
            "A recovery code was used to sign in to your $app account on $time. "
            "$codes_left codes are left; make new ones in your security settings when you "
            "run low.\n\n" + _NOT_YOU["en"],
        ),
        "device-remembered": EmailTemplate(
            "$app: a device was remembered",
            "A device ($device) was remembered for your $app account on $time: it will not "
            "be asked for a second factor for a while. You can forget it in your security "
            "settings.\n\n" + _NOT_YOU["en"],
        ),
        "factor-locked": EmailTemplate(
            "$app: too many wrong codes",
            "After too many wrong codes, $factor was locked for your $app account on $time, "
            "for $minutes minutes. Someone may know your password.\n\n" + _NOT_YOU["en"],
        ),
    },
    "fr": {
        "factor-added": EmailTemplate(
            "$app : un second facteur a été ajouté à votre compte",
            "Un second facteur a été ajouté à votre compte $app le $time : $what.\n\n"
            + _NOT_YOU["fr"],
        ),
        "factor-removed": EmailTemplate(
            "$app : un second facteur a été retiré de votre compte",
            "Un second facteur a été retiré de votre compte $app le $time : $what.\n\n"
            + _NOT_YOU["fr"],
        ),
        "recovery-code-used": EmailTemplate(
            "$app : un code de secours a été utilisé",
            "Un code de secours a servi à vous connecter à votre compte $app le $time. "
            "Il vous en reste $codes_left ; créez-en de nouveaux dans vos réglages de "
            "sécurité quand il en reste peu.\n\n" + _NOT_YOU["fr"],
        ),
        "device-remembered": EmailTemplate(
            "$app : un appareil a été mémorisé",
            "Un appareil ($device) a été mémorisé pour votre compte $app le $time : le second "
            "facteur ne lui sera pas demandé pendant un temps. Vous pouvez l'oublier dans vos "
            "réglages de sécurité.\n\n" + _NOT_YOU["fr"],
        ),
        "factor-locked": EmailTemplate(
            "$app : trop de codes erronés",
            "Après trop de codes erronés, $factor a été bloqué pour votre compte $app le "
            "$time, pour $minutes minutes. Quelqu'un connaît peut-être votre mot de passe.\n\n"
            + _NOT_YOU["fr"],
        ),
    },
    "de": {
        "factor-added": EmailTemplate(
            "$app: Ein zweiter Faktor wurde hinzugefügt",
            "Ihrem $app-Konto wurde am $time ein zweiter Faktor hinzugefügt: $what.\n\n"
            + _NOT_YOU["de"],
        ),
        "factor-removed": EmailTemplate(
            "$app: Ein zweiter Faktor wurde entfernt",
            "Aus Ihrem $app-Konto wurde am $time ein zweiter Faktor entfernt: $what.\n\n"
            + _NOT_YOU["de"],
        ),
        "recovery-code-used": EmailTemplate(
            "$app: Ein Wiederherstellungscode wurde verwendet",
            "Am $time wurde mit einem Wiederherstellungscode eine Anmeldung bei Ihrem "
            "$app-Konto bestätigt. Es bleiben $codes_left Codes; erstellen Sie in Ihren "
            "Sicherheitseinstellungen neue, wenn sie knapp werden.\n\n" + _NOT_YOU["de"],
        ),
        "device-remembered": EmailTemplate(
            "$app: Ein Gerät wurde gespeichert",
            "Am $time wurde für Ihr $app-Konto ein Gerät ($device) gespeichert: Es wird eine "
            "Zeit lang nicht nach dem zweiten Faktor gefragt. Sie können es in Ihren "
            "Sicherheitseinstellungen entfernen.\n\n" + _NOT_YOU["de"],
        ),
        "factor-locked": EmailTemplate(
            "$app: Zu viele falsche Codes",
            "Nach zu vielen falschen Codes wurde $factor für Ihr $app-Konto am $time für "
            "$minutes Minuten gesperrt. Möglicherweise kennt jemand Ihr Passwort.\n\n"
            + _NOT_YOU["de"],
        ),
    },
}
"""The built-in texts, by language and template name."""

FACTOR_NAMES: dict[str, dict[str, str]] = {
    "en": {
        "totp": "authenticator app",
        "otp-email": "codes by e-mail",
        "otp-phone": "codes by text message",
        "recovery-code": "recovery codes",
        "webauthn": "security key",
    },
    "fr": {
        "totp": "application d'authentification",
        "otp-email": "codes par e-mail",
        "otp-phone": "codes par SMS",
        "recovery-code": "codes de secours",
        "webauthn": "clé de sécurité",
    },
    "de": {
        "totp": "Authenticator-App",
        "otp-email": "Codes per E-Mail",
        "otp-phone": "Codes per SMS",
        "recovery-code": "Wiederherstellungscodes",
        "webauthn": "Sicherheitsschlüssel",
    },
}
"""The factors' names in the texts (``$factor``), by language."""
