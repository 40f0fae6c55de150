from __future__ import annotations

import hashlib
import hmac
import math
import re
import time

import pytest

from st_twofactor.errors import ConfigurationError, MalformedDataError
from st_twofactor.factors.recovery_codes import codes as rc
from st_twofactor.kernel.crypto import b64encode

FORMAT = re.compile(r"^[0-9a-hjkmnp-tv-z]{5}-[0-9a-hjkmnp-tv-z]{5}$")


def test_each_code_has_at_least_50_bits() -> None:
    assert len(set(rc.ALPHABET)) == len(rc.ALPHABET) == 32
    assert rc.CODE_LENGTH * math.log2(len(rc.ALPHABET)) >= 50
    assert not set("ilou") & set(rc.ALPHABET)


def test_generate_defaults_to_ten_distinct_grouped_codes() -> None:
    codes = rc.generate()
    assert len(codes) == 10
    assert len(set(codes)) == 10
    assert all(FORMAT.match(code) for code in codes)


def test_generate_uses_the_whole_alphabet() -> None:
    seen = set("".join(rc.generate(100)).replace("-", ""))
    assert seen == set(rc.ALPHABET)  # 1000 draws: a missing letter is ~2**-45 unlikely


def test_each_letter_is_equally_likely() -> None:
    """A letter per random byte is fair only because 32 divides 256 (with 30 letters the
    first 16 would come 9 times in 8): the table gives each letter to 8 byte values."""
    table = rc._LETTER_OF_BYTE
    assert sorted(table) == sorted(rc.ALPHABET.encode() * 8)
    letters = "".join(code for _ in range(100) for code in rc.generate(100))
    counts = [letters.count(letter) for letter in rc.ALPHABET]
    expected = 100 * 100 * rc.CODE_LENGTH / 32  # 3,125 of 100,000, give or take 56
    assert all(abs(n - expected) < 6 * math.sqrt(expected) for n in counts), counts


def test_codes_come_from_the_secrets_module(monkeypatch: pytest.MonkeyPatch) -> None:
    import secrets

    monkeypatch.setattr(secrets, "token_bytes", lambda n: bytes(range(31, 31 + n)))
    assert rc.generate(1) == ["z0123-45678"]


def test_generate_is_not_repeatable() -> None:
    assert set(rc.generate()).isdisjoint(rc.generate())


@pytest.mark.parametrize("count", [0, -1, 101, True, 2.0])
def test_generate_refuses_bad_counts(count: object) -> None:
    with pytest.raises(ConfigurationError):
        rc.generate(count)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "typed",
    [
        "abcde-fgh12",
        "ABCDE-FGH12",
        "abcdefgh12",
        " abcde fgh12 ",
        "ab-cd-ef-gh-12",
        "abcde-fghI2",
        "abcde-fghL2",
        "abcde-fgh1z",
    ],
)
def test_normalise_accepts_what_users_type(typed: str) -> None:
    expected = "abcdefgh1z" if typed.endswith("1z") else "abcdefgh12"
    assert rc.normalise(typed) == expected


def test_normalise_reads_o_as_zero() -> None:
    assert rc.normalise("OOOOO-00000") == "0000000000"


@pytest.mark.parametrize(
    "typed",
    [
        None,
        1234567890,
        b"abcde-fgh12",
        "",
        "abcde-fgh1",
        "abcde-fgh123",
        "abcde-fghu2",
        "abcde_fgh12",
        "abcde\tfgh12",
        "abcde-fgh12".translate({c: c + 0xFEE0 for c in range(0x21, 0x7F)}),  # fullwidth
        "abcde-fgh\u0661\u0662",  # Arabic-Indic digits
        "abcde-fgh12\u200b",
        "-" * 60 + "abcde-fgh12",
        "a" * 100_000,
    ],
)
def test_normalise_refuses_malformed_input(typed: object) -> None:
    assert rc.normalise(typed) is None
    assert rc.find_match(typed, [rc.hash_code("abcde-fgh12")]) is None


def test_hashes_are_salted_and_do_not_contain_the_code() -> None:
    code = "abcde-fgh12"
    first, second = rc.hash_code(code), rc.hash_code(code)
    assert first != second
    for stored in (first, second):
        assert "abcde" not in stored
        assert "fgh12" not in stored
        scheme, iterations, _salt, _digest = stored.split("$")
        assert (scheme, iterations) == ("pbkdf2_sha256", "10000")
    assert first.split("$")[2] != second.split("$")[2]


@pytest.mark.parametrize("code", ["abcde-fgh1", "", "\uff58" * 10])
def test_hash_code_refuses_non_codes(code: str) -> None:
    with pytest.raises(MalformedDataError):
        rc.hash_code(code)


def test_find_match_returns_the_index() -> None:
    codes = rc.generate()
    hashes = [rc.hash_code(code) for code in codes]
    for index, code in enumerate(codes):
        assert rc.find_match(code, hashes) == index
    assert rc.find_match(codes[3].upper().replace("-", " "), hashes) == 3


def test_find_match_refuses_wrong_codes() -> None:
    codes = rc.generate()
    hashes = [rc.hash_code(code) for code in codes[:5]]
    for code in codes[5:]:
        assert rc.find_match(code, hashes) is None
    assert rc.find_match(codes[0], []) is None


def test_find_match_checks_every_hash(monkeypatch: pytest.MonkeyPatch) -> None:
    codes = rc.generate(4)
    hashes = [rc.hash_code(code) for code in codes]
    calls = 0
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        nonlocal calls
        calls += 1
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    assert rc.find_match(codes[0], hashes) == 0
    assert calls == 4


def test_find_match_reads_parameters_from_each_hash() -> None:
    salt = b"0123456789abcdef"
    digest = hashlib.pbkdf2_hmac("sha256", b"abcdefgh12", salt, 1000)
    legacy = f"pbkdf2_sha256$1000${b64encode(salt)}${b64encode(digest)}"
    assert rc.find_match("abcde-fgh12", [rc.hash_code("zzzzz-zzzzz"), legacy]) == 1


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "garbage",
        "pbkdf2_sha256$10000$AAAA",
        "md5$10000$AAAAAAAAAAAAAAAAAAAAAA$" + "A" * 43,
        "pbkdf2_sha256$0$AAAAAAAAAAAAAAAAAAAAAA$" + "A" * 43,
        "pbkdf2_sha256$99999999$AAAAAAAAAAAAAAAAAAAAAA$" + "A" * 43,
        "pbkdf2_sha256$ten$AAAAAAAAAAAAAAAAAAAAAA$" + "A" * 43,
        "pbkdf2_sha256$10000$AAAAAAAAAAAAAAAAAAAAAA$AAAA",
        "pbkdf2_sha256$10000$!!!$" + "A" * 43,
        None,
    ],
)
def test_corrupt_stored_hashes_fail_closed(stored: object) -> None:
    with pytest.raises(MalformedDataError):
        rc.find_match("abcde-fgh12", [rc.hash_code("abcde-fgh12"), stored])  # type: ignore[list-item]


def test_matching_ten_hashes_is_fast() -> None:
    codes = rc.generate()
    hashes = [rc.hash_code(code) for code in codes]
    best = math.inf
    for _ in range(3):
        start = time.perf_counter()
        rc.find_match("zzzzz-zzzzz", hashes)
        best = min(best, time.perf_counter() - start)
    assert best < 0.2  # ~25 ms expected; a loose bound that still catches a slow KDF
