"""The QR code of a TOTP enrolment: drawn without segno for an ``otpauth://`` URI, and the
same symbol and SVG as segno's for every version and error level, so apps and their tests
see no change; nothing of one user's code is kept for the next."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET

import pytest
import segno

from st_twofactor.factors.totp import _qr
from st_twofactor.factors.totp import algorithm as totp

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def segno_svg(text: str, scale: int = 4) -> tuple[str, str]:
    """What ``qr_svg`` answered when segno drew every code: the SVG, and the symbol's
    version and error level (``"8-M"``)."""
    code = segno.make(text, error="m", micro=False, mask=totp.QR_MASK)
    out = io.BytesIO()
    code.save(out, kind="svg", scale=scale, xmldecl=False, svgns=True, title="QR code")
    return out.getvalue().decode("utf-8"), code.designator


def filler(length: int) -> str:
    """An ASCII text of ``length`` characters in byte mode (lower-case letters)."""
    return ("otpauth://totp/x%40y?secret=" + "abcdefghij" * 240)[:length]


def test_an_otpauth_uri_is_drawn_without_segno(monkeypatch: pytest.MonkeyPatch) -> None:
    """segno took about 2.5 ms of each enrolment's event loop; the URIs the library makes
    never reach it now."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("segno was asked to draw an otpauth URI")

    monkeypatch.setattr(segno, "make", refuse)
    for account in ("alice@example.com", "a" * 200 + "@example.com", "Zoë Ünïcode"):
        uri = totp.otpauth_uri(SECRET, account, "Acme: the ACME Corporation")
        svg = totp.qr_svg(uri)
        assert svg.startswith('<svg xmlns="http://www.w3.org/2000/svg"')


@pytest.mark.parametrize(
    "version",
    [v if v <= 12 else pytest.param(v, marks=pytest.mark.slow) for v in range(1, 41)],
)  # an otpauth URI takes version 6 to 9; segno is slow to draw the largest ones
def test_each_version_and_level_is_segnos_symbol_byte_for_byte(version: int) -> None:
    """At the longest text each level holds in ``version``, one byte more and one less
    (so M raised to Q or H, and each version's first and last length), at several scales:
    the SVG is segno's, character for character."""
    checked = set()
    for level in "MQH":
        count_bits = 8 if version < 10 else 16
        longest = (8 * _qr._data_codewords(version, level) - 4 - count_bits) // 8
        for length in (longest - 1, longest, longest + 1):
            if length < 1:
                continue
            text = filler(length)
            scale = 1 + length % 5
            try:
                expected, designator = segno_svg(text, scale)
            except segno.DataOverflowError:
                assert _qr.svg(text, scale=scale) is None  # too long: segno says why
                continue
            assert _qr.svg(text, scale=scale) == expected, (designator, length)
            checked.add(designator)
    assert f"{version}-M" in checked


def test_uris_of_every_length_match_segno() -> None:
    """Real URIs (random secrets, the percent-encoding of the label) from a few characters
    to a few hundred."""
    for length in range(0, 400, 7):
        uri = totp.otpauth_uri(totp.new_secret(), "u" * length + "@example.com", "Acme")
        assert totp.qr_svg(uri) == segno_svg(uri)[0]


def test_the_svg_is_a_document_whose_path_draws_the_symbol() -> None:
    """Read back: the path's lines are exactly the symbol's dark modules, in a quiet zone
    of 4 modules, each module ``scale`` units wide."""
    uri = totp.otpauth_uri(SECRET, "alice@example.com", "Acme")
    svg = totp.qr_svg(uri, scale=3)
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    assert root.tag == f"{ns}svg" and root.findtext(f"{ns}title") == "QR code"
    path = root.find(f"{ns}path")
    assert path is not None and path.get("transform") == "scale(3)"
    symbol = segno.make(uri, error="m", micro=False, mask=totp.QR_MASK)
    size = len(symbol.matrix)
    assert root.get("width") == root.get("height") == str((size + 8) * 3)
    drawn = _dark_modules(path.get("d", ""))
    expected = {
        (x + 4, y + 4) for y, row in enumerate(symbol.matrix) for x, dark in enumerate(row) if dark
    }
    assert drawn == expected


def _dark_modules(d: str) -> set[tuple[int, int]]:
    """The modules an ``M x y h n m dx dy h n ...`` path (lines through the modules'
    middles) covers."""
    import re

    found: set[tuple[int, int]] = set()
    x = y = 0.0
    for command, dx, dy, length in re.findall(r"([Mm])(-?[\d.]+) (-?[\d.]+)h(\d+)", d):
        x, y = (float(dx), float(dy)) if command == "M" else (x + float(dx), y + float(dy))
        found.update((int(x) + i, int(y)) for i in range(int(length)))
        x += int(length)
    return found


@pytest.mark.parametrize(
    "text",
    ["ABC123 $%*+-./:", "0123456789", "zoë", "日本", ""],
    ids=["alphanumeric", "numeric", "latin-1", "utf-8", "empty"],
)
def test_a_text_the_fast_path_does_not_cover_is_left_to_segno(text: str) -> None:
    """A shorter mode, or an encoding other than ASCII: segno draws it, as before."""
    assert _qr.svg(text, scale=4) is None
    assert totp.qr_svg(text) == segno_svg(text)[0]


def test_too_long_a_text_fails_as_before() -> None:
    with pytest.raises(segno.DataOverflowError):
        totp.qr_svg(filler(2332))
    assert totp.qr_svg(filler(2331)) == segno_svg(filler(2331))[0]


@pytest.mark.parametrize("scale", [0, -1, 2.5, True])
def test_an_odd_scale_is_left_to_segno(scale: object) -> None:
    assert _qr.svg("otpauth://totp/a", scale=scale) is None  # type: ignore[arg-type]


def test_nothing_of_a_code_is_kept_for_the_next() -> None:
    """The encoder's caches hold only what a version and level determine (laid out from
    no text): one user's code leaves nothing that shows in, or changes, another's."""
    for cached in (_qr._layout, _qr._formatted, _qr._products, _qr._field):
        cached.cache_clear()
    carol = totp.otpauth_uri(totp.new_secret(), "carol@example.com", "Acme")
    carol_alone = totp.qr_svg(carol)
    alice_secret = totp.new_secret()
    alice = totp.otpauth_uri(alice_secret, "alice@example.com", "Acme")
    totp.qr_svg(alice)
    assert totp.qr_svg(carol) == carol_alone
    chosen = _qr._version_and_level(len(alice))
    assert chosen is not None
    version, level = chosen
    layout, formatted = _qr._layout(version), _qr._formatted(version, level)
    fresh_layout, fresh_formatted = _qr._Layout(version), _qr._Formatted(version, level)
    assert (layout.grid, layout.order, layout.mask) == (
        fresh_layout.grid,
        fresh_layout.order,
        fresh_layout.mask,
    )
    assert formatted.fixed == fresh_formatted.fixed
    assert _qr._layout.cache_info().currsize == 1  # only the version drawn is laid out
    assert _qr._formatted.cache_info().currsize == 1


def test_the_counted_codewords_are_those_laid_out() -> None:
    """Choosing a version counts its codewords without laying it out: the count agrees
    with the layout (itself checked against segno above) for every version."""
    for version in range(1, 41):
        assert _qr._codewords(version) == _qr._Layout(version).codewords
