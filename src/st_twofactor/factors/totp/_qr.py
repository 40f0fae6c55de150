"""QR codes (model 2, byte mode) of short ASCII texts such as ``otpauth://`` URIs, as SVG.

A QR code is drawn on every TOTP enrolment, on the event loop, and a general encoder spent
about 2.5 ms on one: it lays out the symbol's fixed parts (finder, timing and alignment
patterns, format and version information) and walks the data modules one at a time for each
code. Here the layout of a version and error level is worked out once (the function
modules as a string, the order of the data modules, the mask over them), so a code only
costs its codewords: Reed-Solomon by a table per block length, the codewords as one integer
masked with one XOR, the modules gathered into rows, the rows' dark runs found by a regex.

The symbol is the one segno (the QR library this replaces on this path) makes of the same
text with ``error="m"`` (raised to Q or H when the text still fits the same version) and a
fixed mask, and the SVG is the same text, byte for byte; the tests compare them over every
version. A text this does not cover (:func:`svg` answers ``None``) is left to segno.
"""

from __future__ import annotations

import functools
import re
from operator import itemgetter

__all__ = ["MASK", "svg"]

_LEVELS = "MQH"
"""The error correction levels tried, lowest first: M, raised while the text fits."""
_FORMAT_LEVEL = {"L": 1, "M": 0, "Q": 3, "H": 2}
"""The two bits that name an error correction level in the format information."""

# The standard's error correction per level, for versions 1 to 40: the error correction
# codewords of each block, and the number of blocks.
_ECC_PER_BLOCK = {
    "M": (
        "10 16 26 18 24 16 18 22 22 26 30 22 22 24 24 28 28 26 26 26 "
        "26 28 28 28 28 28 28 28 28 28 28 28 28 28 28 28 28 28 28 28"
    ),
    "Q": (
        "13 22 18 26 18 24 18 22 20 24 28 26 24 20 30 24 28 28 26 30 "
        "28 30 30 30 30 28 30 30 30 30 30 30 30 30 30 30 30 30 30 30"
    ),
    "H": (
        "17 28 22 16 22 28 26 26 24 28 24 28 22 24 24 30 28 28 26 28 "
        "30 24 30 30 30 30 30 30 30 30 30 30 30 30 30 30 30 30 30 30"
    ),
}
_BLOCKS = {
    "M": (
        "1 1 1 2 2 4 4 4 5 5 5 8 9 9 10 10 11 13 14 16 "
        "17 17 18 20 21 23 25 26 28 29 31 33 35 37 38 40 43 45 47 49"
    ),
    "Q": (
        "1 1 2 2 4 4 6 6 8 8 8 10 12 16 12 17 16 18 21 20 "
        "23 23 25 27 29 34 34 35 38 40 43 45 48 51 53 56 59 62 65 68"
    ),
    "H": (
        "1 1 2 4 4 4 5 6 8 8 11 11 16 16 18 16 19 21 25 25 "
        "25 34 30 32 35 37 40 42 45 48 51 54 57 60 63 66 70 74 77 81"
    ),
}


def _by_version(table: dict[str, str]) -> dict[str, tuple[int, ...]]:
    return {level: tuple(int(n) for n in row.split()) for level, row in table.items()}


_ECC = _by_version(_ECC_PER_BLOCK)
_BLOCK_COUNT = _by_version(_BLOCKS)

MASK = 2
"""The mask pattern, fixed: pattern 2 inverts each data module whose column is a multiple
of 3 (choosing the best of the eight for each code would cost more than the rest)."""
_BORDER = 4
"""The quiet zone around the symbol, in modules (the standard's minimum)."""
_ALPHANUMERIC = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")
_RUNS = re.compile("(0*)(1+)")
"""Each run of dark modules, and the light ones before it."""


def svg(text: str, *, scale: int) -> str | None:
    """``text`` as a QR code in a standalone SVG document, each module ``scale`` units.

    ``None`` when this encoder does not cover ``text``: not ASCII, only characters of the
    alphanumeric mode (a shorter mode fits them), or too long for any version; and for a
    ``scale`` that is not a positive whole number.
    """
    if not isinstance(text, str) or not text.isascii() or _ALPHANUMERIC.issuperset(text):
        return None
    if isinstance(scale, bool) or not isinstance(scale, int) or scale < 1:
        return None
    data = text.encode("ascii")
    chosen = _version_and_level(len(data))
    if chosen is None:
        return None
    version, level = chosen
    return _document(_modules(data, version, level), 4 * version + 17, scale)


def _version_and_level(length: int) -> tuple[int, str] | None:
    """The smallest version that holds ``length`` bytes at level M, and the highest level
    that still holds them in that version."""
    for version in range(1, 41):
        needed = 4 + _count_bits(version) + 8 * length
        if needed > 8 * _data_codewords(version, "M"):
            continue
        fitting = [lv for lv in _LEVELS if needed <= 8 * _data_codewords(version, lv)]
        return version, fitting[-1]
    return None


def _count_bits(version: int) -> int:
    """The length of the byte mode's character count."""
    return 8 if version < 10 else 16


def _data_codewords(version: int, level: str) -> int:
    blocks = _BLOCK_COUNT[level][version - 1]
    return _codewords(version) - blocks * _ECC[level][version - 1]


def _codewords(version: int) -> int:
    """The codewords a version holds: its modules less the fixed ones (finders with their
    separators, format information and the dark module, timing, alignment patterns less
    what they share with the timing patterns, version information), by 8. Counted here so
    that choosing a version lays out only the one chosen."""
    size = 4 * version + 17
    fixed = 3 * 64 + 31 + 2 * (size - 16)
    if version >= 2:
        side = version // 7 + 2  # alignment patterns per row and column
        fixed += 25 * (side * side - 3) - 10 * (side - 2)
    if version >= 7:
        fixed += 36
    return (size * size - fixed) // 8


def _modules(data: bytes, version: int, level: str) -> str:
    """The symbol's modules, row after row, ``"1"`` for a dark one."""
    layout = _layout(version)
    formatted = _formatted(version, level)
    codewords = _interleaved(_padded(data, version, level), version, level)
    bits = int.from_bytes(codewords, "big") << (layout.data_modules - 8 * len(codewords))
    bits ^= layout.mask
    return "".join(formatted.gather(format(bits, f"0{layout.data_modules}b") + formatted.fixed))


def _padded(data: bytes, version: int, level: str) -> bytes:
    """Mode, count, ``data``, terminator and padding: the data codewords."""
    capacity = _data_codewords(version, level)
    count_bits = _count_bits(version)
    bits = ((0b0100 << count_bits) | len(data)) << (8 * len(data)) | int.from_bytes(data, "big")
    length = 4 + count_bits + 8 * len(data)
    tail = min(4, 8 * capacity - length)  # the terminator, cut short by a full symbol
    # Zero bits up to the next byte: a whole zero byte when the terminator ends on one, as
    # segno writes it (readers stop at the terminator), so the symbols are the same.
    tail += 8 - (length + tail) % 8
    body = (bits << tail).to_bytes((length + tail) // 8, "big")[:capacity]
    return body + (b"\xec\x11" * capacity)[: capacity - len(body)]


def _interleaved(data: bytes, version: int, level: str) -> bytes:
    """The data codewords split into blocks, each block's error correction added, and
    both interleaved as the standard orders them."""
    blocks = _BLOCK_COUNT[level][version - 1]
    ecc = _ECC[level][version - 1]
    total = _codewords(version)
    short = blocks - total % blocks  # blocks one data codeword shorter than the rest
    short_length = total // blocks - ecc
    data_total = total - blocks * ecc
    out = bytearray(total)
    start = 0
    for index in range(blocks):
        length = short_length + (index >= short)
        block = data[start : start + length]
        start += length
        out[index : blocks * short_length : blocks] = block[:short_length]
        if index >= short:
            out[blocks * short_length + index - short] = block[short_length]
        out[data_total + index :: blocks] = _remainder(block, ecc)
    return bytes(out)


def _remainder(block: bytes, ecc: int) -> bytes:
    """The Reed-Solomon error correction of ``block``: ``ecc`` codewords."""
    table = _products(ecc)
    shift = 8 * (ecc - 1)
    full = (1 << 8 * ecc) - 1
    register = 0
    for byte in block:
        register = ((register << 8) & full) ^ table[(register >> shift) ^ byte]
    return register.to_bytes(ecc, "big")


@functools.cache
def _field() -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Powers and logarithms of GF(256) with the polynomial the standard uses (0x11D)."""
    powers = [0] * 510
    logs = [0] * 256
    value = 1
    for exponent in range(255):
        powers[exponent] = powers[exponent + 255] = value
        logs[value] = exponent
        value <<= 1
        if value & 0x100:
            value ^= 0x11D
    return tuple(powers), tuple(logs)


def _times(a: int, b: int) -> int:
    if a == 0 or b == 0:
        return 0
    powers, logs = _field()
    return powers[logs[a] + logs[b]]


@functools.cache
def _products(ecc: int) -> tuple[int, ...]:
    """For each byte value ``f``: the generator polynomial of degree ``ecc`` (its roots the
    powers 0 to ``ecc - 1`` of 2), leading term left out, times ``f``, as one integer."""
    powers, _ = _field()
    generator = [1]
    for exponent in range(ecc):
        shifted = [*generator, 0]
        for index in range(1, len(shifted)):
            shifted[index] ^= _times(generator[index - 1], powers[exponent])
        generator = shifted
    return tuple(
        int.from_bytes(bytes(_times(c, f) for c in generator[1:]), "big") for f in range(256)
    )


class _Layout:
    """What every code of one version shares: which modules are fixed (and how, but for
    the format information), the order of the data modules, and the mask over them."""

    def __init__(self, version: int) -> None:
        size = 4 * version + 17
        grid: list[list[int | None]] = [[None] * size for _ in range(size)]
        self.size = size
        self.grid = grid
        for i in range(size):  # timing patterns
            grid[6][i] = grid[i][6] = 1 - i % 2
        for cx, cy in ((3, 3), (size - 4, 3), (3, size - 4)):  # finders and separators
            for dy in range(-4, 5):
                for dx in range(-4, 5):
                    if 0 <= cx + dx < size and 0 <= cy + dy < size:
                        grid[cy + dy][cx + dx] = int(max(abs(dx), abs(dy)) not in (2, 4))
        centres = _alignment_centres(version, size)
        corners = {(6, 6), (6, size - 7), (size - 7, 6)}  # the finders' places
        for ay in centres:
            for ax in centres:
                if (ax, ay) not in corners:
                    for dy in range(-2, 3):
                        for dx in range(-2, 3):
                            grid[ay + dy][ax + dx] = int(max(abs(dx), abs(dy)) != 1)
        for x, y in _format_places(size):
            grid[y][x] = 0  # reserved; filled per level by _formatted
        grid[size - 8][8] = 1  # the dark module
        if version >= 7:
            bits = version << 12 | _bch(version, 0x1F25)
            for i in range(18):
                a, b = size - 11 + i % 3, i // 3
                grid[b][a] = grid[a][b] = bits >> i & 1
        order: list[int] = []
        right = size - 1
        while right >= 1:
            if right == 6:  # the vertical timing pattern: the columns shift by one
                right = 5
            upward = (right + 1) & 2 == 0
            for step in range(size):
                y = size - 1 - step if upward else step
                order.extend(y * size + x for x in (right, right - 1) if grid[y][x] is None)
            right -= 2
        self.order = order
        self.data_modules = len(order)
        self.codewords = len(order) // 8
        # Pattern 2 (MASK), the data modules' bits in their order as one integer.
        self.mask = int("".join("1" if p % size % 3 == 0 else "0" for p in order), 2)


@functools.cache
def _layout(version: int) -> _Layout:
    return _Layout(version)


class _Formatted:
    """A version's fixed modules with one level's format information (``fixed``, row
    after row), and where each module of the symbol comes from: the masked data bits,
    followed by ``fixed`` (``gather``)."""

    def __init__(self, version: int, level: str) -> None:
        layout = _layout(version)
        size = layout.size
        grid = [row[:] for row in layout.grid]
        data = (_FORMAT_LEVEL[level] << 3) | MASK
        bits = ((data << 10) | _bch(data, 0x537)) ^ 0x5412
        for i, (x, y) in enumerate(_format_places(size)):
            grid[y][x] = bits >> (i % 15) & 1
        sources: list[int] = [-1] * (size * size)
        for index, position in enumerate(layout.order):
            sources[position] = index
        cells = [cell for row in grid for cell in row]
        fixed = [str(cells[p]) for p in range(size * size) if sources[p] < 0]
        next_fixed = iter(range(layout.data_modules, layout.data_modules + len(fixed)))
        self.fixed = "".join(fixed)
        self.gather = itemgetter(*(s if s >= 0 else next(next_fixed) for s in sources))


@functools.cache
def _formatted(version: int, level: str) -> _Formatted:
    return _Formatted(version, level)


def _alignment_centres(version: int, size: int) -> list[int]:
    """The rows (and columns) of the alignment patterns' centres."""
    if version == 1:
        return []
    count = version // 7 + 2
    step = 26 if version == 32 else (version * 4 + count * 2 + 1) // (count * 2 - 2) * 2
    return [6, *reversed([size - 7 - i * step for i in range(count - 1)])]


def _format_places(size: int) -> list[tuple[int, int]]:
    """The (column, row) of each of the 15 format bits, lowest first, in both copies."""
    first = [(8, i) for i in range(6)] + [(8, 7), (8, 8), (7, 8)]
    first += [(14 - i, 8) for i in range(9, 15)]
    second = [(size - 1 - i, 8) for i in range(8)] + [(8, size - 15 + i) for i in range(8, 15)]
    return first + second


def _bch(value: int, generator: int) -> int:
    """The remainder of ``value`` times x^degree by ``generator`` (polynomials over GF(2)):
    the error correction of the format and version information."""
    degree = generator.bit_length() - 1
    remainder = value << degree
    while remainder.bit_length() > degree:
        remainder ^= generator << (remainder.bit_length() - 1 - degree)
    return remainder


def _document(modules: str, size: int, scale: int) -> str:
    """The SVG: one path of horizontal lines, one per run of dark modules, each move
    relative to the end of the line before (a row's first from the last row drawn)."""
    parts: list[str] = []
    pen: tuple[int, int] | None = None
    for row in range(size):
        runs = _RUNS.findall(modules, row * size, (row + 1) * size)
        if not runs:
            continue
        y = row + _BORDER
        gap, dark = runs[0]
        x = len(gap) + _BORDER
        if pen is None:
            parts.append(f"M{x} {y}.5h{len(dark)}")
        else:
            parts.append(f"m{x - pen[0]} {y - pen[1]}h{len(dark)}")
        parts.extend([f"m{len(gap)} 0h{len(dark)}" for gap, dark in runs[1:]])
        pen = (len(modules[row * size : (row + 1) * size].rstrip("0")) + _BORDER, y)
    width = (size + 2 * _BORDER) * scale
    transform = f' transform="scale({scale})"' if scale != 1 else ""
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{width}" '
        f'class="segno"><title>QR code</title><path{transform} class="qrline" '
        f'stroke="#000" d="{"".join(parts)}"/></svg>\n'
    )
