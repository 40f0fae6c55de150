from __future__ import annotations

import base64
import hmac
import io
import xml.etree.ElementTree as ET
from collections.abc import Callable
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from st_twofactor.errors import ConfigurationError, MalformedDataError
from st_twofactor.factors.totp import algorithm as totp

# RFC 4226 appendix D: secret ASCII "12345678901234567890", counters 0-9.
HOTP_SECRET = b"12345678901234567890"
HOTP_VECTORS = [
    (0, "755224"),
    (1, "287082"),
    (2, "359152"),
    (3, "969429"),
    (4, "338314"),
    (5, "254676"),
    (6, "287922"),
    (7, "162583"),
    (8, "399871"),
    (9, "520489"),
]

# RFC 6238 appendix B: 8 digits, 30 s step; the seed is "1234567890" repeated to the
# hash's block-ish size (20 bytes for SHA1, 32 for SHA256, 64 for SHA512).
TOTP_SEEDS: dict[totp.Algorithm, bytes] = {
    "sha1": b"12345678901234567890",
    "sha256": b"12345678901234567890123456789012",
    "sha512": b"1234567890123456789012345678901234567890123456789012345678901234",
}
TOTP_VECTORS: list[tuple[int, totp.Algorithm, str]] = [
    (59, "sha1", "94287082"),
    (59, "sha256", "46119246"),
    (59, "sha512", "90693936"),
    (1111111109, "sha1", "07081804"),
    (1111111109, "sha256", "68084774"),
    (1111111109, "sha512", "25091201"),
    (1234567890, "sha1", "89005924"),
    (1234567890, "sha256", "91819424"),
    (1234567890, "sha512", "93441116"),
    (20000000000, "sha1", "65353130"),
    (20000000000, "sha256", "77737706"),
    (20000000000, "sha512", "47863826"),
]


def b32(seed: bytes) -> str:
    return base64.b32encode(seed).decode("ascii").rstrip("=")


def clock(t: float) -> Callable[[], float]:
    return lambda: t


SECRET = b32(HOTP_SECRET)
T0 = 1_700_000_000.0  # an arbitrary "now"
STEP0 = int(T0 // 30)


@pytest.mark.parametrize(("counter", "expected"), HOTP_VECTORS)
def test_rfc4226_hotp_vectors(counter: int, expected: str) -> None:
    assert totp.hotp(HOTP_SECRET, counter) == expected


@pytest.mark.parametrize(("t", "algorithm", "expected"), TOTP_VECTORS)
def test_rfc6238_vectors_through_verification(
    t: int, algorithm: totp.Algorithm, expected: str
) -> None:
    secret = b32(TOTP_SEEDS[algorithm])
    now = clock(t)
    step = totp.match_step(secret, expected, now=now, skew=0, digits=8, algorithm=algorithm)
    assert step == t // 30
    assert totp.match_step(secret, expected, now=now, digits=8, algorithm=algorithm) == t // 30
    assert totp.verify(secret, expected, now=now, digits=8, algorithm=algorithm)
    assert totp.code_at(secret, t, digits=8, algorithm=algorithm) == expected


@pytest.mark.parametrize(("t", "algorithm", "expected"), TOTP_VECTORS)
def test_rfc6238_vectors_refused_far_from_their_time(
    t: int, algorithm: totp.Algorithm, expected: str
) -> None:
    secret = b32(TOTP_SEEDS[algorithm])
    later = clock(t + 5 * 30)
    assert totp.match_step(secret, expected, now=later, digits=8, algorithm=algorithm) is None


def test_skew_window() -> None:
    now = clock(T0)
    for offset in (-1, 0, 1):
        code = totp.code_at(SECRET, T0 + offset * 30)
        assert totp.match_step(SECRET, code, now=now) == STEP0 + offset
        assert totp.match_step(SECRET, code, now=now, skew=0) == (STEP0 if offset == 0 else None)
    for offset in (-2, 2):
        code = totp.code_at(SECRET, T0 + offset * 30)
        assert totp.match_step(SECRET, code, now=now) is None
        assert totp.match_step(SECRET, code, now=now, skew=2) == STEP0 + offset


def test_wrong_code_is_refused() -> None:
    good = totp.code_at(SECRET, T0)
    wrong = str((int(good) + 1) % 1_000_000).zfill(6)
    assert totp.match_step(SECRET, wrong, now=clock(T0), skew=0) is None
    assert not totp.verify(SECRET, wrong, now=clock(T0), skew=0)


def test_every_step_of_the_window_is_compared(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    code = totp.code_at(SECRET, T0 - 30)  # matches the first step tried
    assert totp.match_step(SECRET, code, now=clock(T0), skew=1) == STEP0 - 1
    assert len(calls) == 3
    assert all(isinstance(a, bytes) and isinstance(b, bytes) for a, b in calls)


def test_spaces_between_digit_groups_are_accepted() -> None:
    code = totp.code_at(SECRET, T0)
    assert totp.match_step(SECRET, f"{code[:3]} {code[3:]}", now=clock(T0)) == STEP0
    assert totp.match_step(SECRET, f" {code}\n", now=clock(T0)) == STEP0


def to_arabic_indic(code: str) -> str:
    return "".join(chr(0x0660 + int(c)) for c in code)


def to_fullwidth(code: str) -> str:
    return "".join(chr(0xFF10 + int(c)) for c in code)


CORRECT = totp.code_at(SECRET, T0)
MALFORMED: list[object] = [
    None,
    int(CORRECT),
    CORRECT.encode("ascii"),
    [CORRECT],
    "",
    CORRECT[:5],
    CORRECT + "0",
    CORRECT[:5] + "a",
    "-" + CORRECT[1:],
    to_arabic_indic(CORRECT),
    to_fullwidth(CORRECT),
    "¹²³⁴⁵⁶",
    CORRECT + "\x00",
    "1" * 10_000,
]


@pytest.mark.parametrize("code", MALFORMED)
def test_malformed_codes_are_a_non_match(code: object) -> None:
    assert totp.match_step(SECRET, code, now=clock(T0)) is None
    assert totp.verify(SECRET, code, now=clock(T0)) is False


def test_steps_before_the_epoch_are_skipped() -> None:
    code = totp.code_at(SECRET, 0)
    assert totp.match_step(SECRET, code, now=clock(0)) == 0


def test_new_secret_has_at_least_160_bits() -> None:
    secret = totp.new_secret()
    assert "=" not in secret
    assert secret == secret.upper()
    assert len(totp.decode_secret(secret)) >= 20
    assert len(totp.decode_secret(totp.new_secret(32))) == 32
    assert len({totp.new_secret() for _ in range(100)}) == 100
    with pytest.raises(ConfigurationError):
        totp.new_secret(16)


def test_decode_secret_is_tolerant_of_case_and_padding() -> None:
    padded = base64.b32encode(HOTP_SECRET).decode("ascii")
    assert totp.decode_secret(padded) == HOTP_SECRET
    assert totp.decode_secret(SECRET.lower()) == HOTP_SECRET


@pytest.mark.parametrize("secret", ["", "not base32!", b32(b"x" * 16), "٣" * 32])
def test_decode_secret_refuses_garbage_and_short_secrets(secret: str) -> None:
    with pytest.raises(MalformedDataError):
        totp.decode_secret(secret)
    with pytest.raises(MalformedDataError):
        totp.match_step(secret, "123456", now=clock(T0))


@pytest.mark.parametrize(
    "options",
    [
        {"digits": 5},
        {"digits": 9},
        {"digits": True},
        {"algorithm": "md5"},
        {"step": 0},
        {"skew": -1},
        {"skew": 11},
    ],
)
def test_bad_parameters_are_configuration_errors(options: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError):
        totp.match_step(SECRET, "123456", now=clock(T0), **options)  # type: ignore[arg-type]


def test_hotp_refuses_out_of_range_counters() -> None:
    with pytest.raises(ConfigurationError):
        totp.hotp(HOTP_SECRET, -1)
    with pytest.raises(ConfigurationError):
        totp.hotp(HOTP_SECRET, 2**64)


def test_otpauth_uri() -> None:
    uri = totp.otpauth_uri(SECRET, "alice@example.com", "Acme")
    parts = urlsplit(uri)
    assert (parts.scheme, parts.netloc) == ("otpauth", "totp")
    assert parts.path == "/Acme:alice@example.com"
    query = parse_qs(parts.query)
    assert query == {
        "secret": [SECRET],
        "issuer": ["Acme"],
        "algorithm": ["SHA1"],
        "digits": ["6"],
        "period": ["30"],
    }


def test_otpauth_uri_quotes_the_label_and_parameters() -> None:
    uri = totp.otpauth_uri(
        SECRET, "bob:evil name&x=1", "Acme: Corp/#?", digits=8, algorithm="sha256"
    )
    parts = urlsplit(uri)
    assert parts.fragment == ""
    issuer, account = parts.path.removeprefix("/").split(":")  # exactly one raw separator
    assert unquote(issuer) == "Acme: Corp/#?"
    assert unquote(account) == "bob:evil name&x=1"
    assert " " not in uri
    query = parse_qs(parts.query)
    assert query["issuer"] == ["Acme: Corp/#?"]
    assert query["algorithm"] == ["SHA256"]
    assert query["digits"] == ["8"]
    assert "x" not in query


@pytest.mark.parametrize(("account", "issuer"), [("", "Acme"), ("alice", "")])
def test_otpauth_uri_needs_issuer_and_account(account: str, issuer: str) -> None:
    with pytest.raises(ConfigurationError):
        totp.otpauth_uri(SECRET, account, issuer)


def test_qr_svg_is_a_standalone_svg() -> None:
    uri = totp.otpauth_uri(SECRET, "alice@example.com", "Acme")
    svg = totp.qr_svg(uri)
    assert svg.startswith("<svg")
    root = ET.fromstring(svg)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert root.find("{http://www.w3.org/2000/svg}path") is not None
    assert totp.qr_svg(uri) == svg
    assert totp.qr_svg(totp.otpauth_uri(SECRET, "bob@example.com", "Acme")) != svg


def test_a_qr_code_scores_no_masks_and_encodes_the_uri(monkeypatch: pytest.MonkeyPatch) -> None:
    """Drawing and scoring all eight masks was most of a QR code's cost on the event loop:
    the fixed mask skips it, and the code still holds the whole URI."""
    import segno
    from segno import encoder

    scored: list[object] = []
    real = encoder.evaluate_mask
    monkeypatch.setattr(encoder, "evaluate_mask", lambda *a: scored.append(a) or real(*a))
    uri = totp.otpauth_uri(SECRET, "alice@example.com", "Acme")
    svg = totp.qr_svg(uri)
    assert scored == []
    expected = segno.make(uri, error="m", micro=False, mask=totp.QR_MASK)
    assert expected.mask == totp.QR_MASK and expected.designator == "8-M"
    again = io.BytesIO()
    expected.save(again, kind="svg", scale=4, xmldecl=False, svgns=True, title="QR code")
    assert again.getvalue().decode("utf-8") == svg
