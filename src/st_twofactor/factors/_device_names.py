"""TOTP device names: which are accepted, and when two names are the same (S16).

A device name is shown back to the user (the 2FA overview, the authenticator list) and
names the device to remove, so two names that look alike must not stand side by side,
and a name must not hide characters. :func:`valid_device_name` accepts 1-64 characters
with no leading, trailing or double space and none of:

- control characters (C0, DEL, C1), format characters (zero-width, bidi controls, BOM,
  soft hyphen), surrogates, private-use and unassigned code points;
- line/paragraph separators and every space other than the ASCII space (U+0020);
- other default-ignorable (invisible) code points: variation selectors (except U+FE0E
  and U+FE0F right after a symbol, as in emoji), the combining grapheme joiner, Hangul
  fillers;
- a word (between spaces) whose letters come from two scripts, such as Latin with one
  Cyrillic U+0430; Latin, Han, Hiragana, Katakana and Hangul may mix (as Japanese does).

:func:`device_key` is what names are compared on: NFKC, then case-folded (U+FE0E and
U+FE0F left out), so ``Authenticator``, ``authenticator`` and the same word in fullwidth
letters are one name. A name written wholly in another script that happens to look
Latin (Cyrillic U+0441 U+043E U+0435 next to Latin ``coe``) is not caught: that would
need Unicode's confusables table.
"""

from __future__ import annotations

import unicodedata

from st_twofactor.http._body import is_text

MAX_LENGTH = 64

_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp", "Zs"})
"""Control, format, surrogate, private use, unassigned, separators (U+0020 excepted)."""

_INVISIBLE_RANGES = (
    (0x034F, 0x034F),  # combining grapheme joiner
    (0x115F, 0x1160),  # Hangul choseong/jungseong fillers
    (0x17B4, 0x17B5),  # Khmer inherent vowels
    (0x180B, 0x180F),  # Mongolian variation selectors
    (0x3164, 0x3164),  # Hangul filler
    (0xFE00, 0xFE0F),  # variation selectors
    (0xFFA0, 0xFFA0),  # halfwidth Hangul filler
    (0xE0100, 0xE01EF),  # variation selectors supplement
)
"""Default-ignorable code points that are not format characters (Unicode's
DerivedCoreProperties): they render as nothing."""

_EMOJI_STYLE = "\ufe0e\ufe0f"
"""Variation selectors 15 and 16: accepted right after a symbol, ignored in comparisons."""
_WITHOUT_EMOJI_STYLE = str.maketrans("", "", _EMOJI_STYLE)

_EAST_ASIAN = frozenset(
    {"CJK", "HIRAGANA", "KATAKANA", "KATAKANA-HIRAGANA", "HANGUL", "BOPOMOFO", "IDEOGRAPHIC"}
)


def valid_device_name(name: object) -> bool:
    """``name`` is an acceptable device name (see the module's rules)."""
    if not isinstance(name, str) or not is_text(name):
        return False
    name = unicodedata.normalize("NFC", name)
    if not 1 <= len(name) <= MAX_LENGTH or name.strip(" ") != name or "  " in name:
        return False
    for index, char in enumerate(name):
        if char in _EMOJI_STYLE and index and unicodedata.category(name[index - 1]) == "So":
            continue  # a symbol drawn as emoji (U+2764 U+FE0F) or as text
        if char != " " and _hidden(char):
            return False
    return not any(_mixes_scripts(word) for word in unicodedata.normalize("NFKC", name).split())


def earlier_device_name(name: object) -> bool:
    """``name`` was a valid device name before these rules (1-64 characters, no C0 control
    or DEL, no surrounding whitespace): one that may name an existing device."""
    return (
        isinstance(name, str)
        and 1 <= len(name) <= MAX_LENGTH
        and not any(char < " " or char == "\x7f" for char in name)
        and name.strip() == name
    )


def device_key(name: str) -> str:
    """The form two device names are compared on: equal keys are the same device."""
    folded = unicodedata.normalize("NFKC", name).casefold().translate(_WITHOUT_EMOJI_STYLE)
    return unicodedata.normalize("NFKC", folded)


def _hidden(char: str) -> bool:
    if unicodedata.category(char) in _REFUSED_CATEGORIES:
        return True
    point = ord(char)
    return any(low <= point <= high for low, high in _INVISIBLE_RANGES)


def _mixes_scripts(word: str) -> bool:
    """Letters of more than one script, other than Latin with the East Asian scripts."""
    scripts = {_script(char) for char in word if unicodedata.category(char).startswith("L")}
    return len(scripts) > 1 and not scripts <= {"LATIN", "EAST ASIAN"}


def _script(letter: str) -> str:
    """The script of a letter, from the first word of its Unicode name (``LATIN``, ...)."""
    script = unicodedata.name(letter, "UNKNOWN").split(" ")[0]
    return "EAST ASIAN" if script in _EAST_ASIAN else script
