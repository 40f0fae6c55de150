"""Every relative link of README.md and docs/**/*.md leads to a file or folder of the
repository, and a link to a heading (``page.md#heading``, ``#heading``) to a heading that
page has, with GitHub's rule for the anchor. Links inside code are not links."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .blocks import REPO, pages, relative

_FENCED = re.compile(r"^([ \t]*)```.*?^\1```[ \t]*$", re.M | re.S)
_INLINE_CODE = re.compile(r"`[^`\n]*`")
_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\((?P<target>[^)\s]+)(?:\s+\"[^\"]*\")?\)")
_HEADING = re.compile(r"^#{1,6} +(?P<title>.+?) *#*$", re.M)
_EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.I)


def _prose(text: str) -> str:
    """The page without its fenced code, line numbers kept."""
    return _FENCED.sub(lambda m: "\n" * m.group(0).count("\n"), text)


def anchors(page: Path) -> set[str]:
    """The anchors GitHub makes for the page's headings: lower case, punctuation but ``-``
    and ``_`` dropped, spaces as ``-``; a repeated one gets ``-1``, ``-2``, ..."""
    seen: dict[str, int] = {}
    found = set()
    for match in _HEADING.finditer(_prose(page.read_text())):
        slug = re.sub(r"[^\w\- ]", "", match["title"].strip().lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        found.add(slug if count == 0 else f"{slug}-{count}")
    return found


def broken_links(page: Path, root: Path = REPO) -> list[str]:
    """The page's relative links that lead nowhere (or out of ``root``), as
    ``line N: target (why)``."""
    text = _INLINE_CODE.sub("code", _prose(page.read_text()))
    broken = []
    for match in _LINK.finditer(text):
        target = match["target"]
        if _EXTERNAL.match(target):
            continue
        line = text.count("\n", 0, match.start()) + 1
        path, _, anchor = target.partition("#")
        leads_to = (page.parent / path).resolve() if path else page
        if not leads_to.is_relative_to(root):
            broken.append(f"line {line}: {target} (outside the repository)")
        elif not leads_to.exists():
            broken.append(f"line {line}: {target} (no such file)")
        elif anchor and leads_to.suffix == ".md" and anchor not in anchors(leads_to):
            broken.append(f"line {line}: {target} (no such heading)")
    return broken


PAGES = pages()


@pytest.mark.parametrize("page", PAGES, ids=[relative(p) for p in PAGES])
def test_every_relative_link_leads_somewhere(page: Path) -> None:
    assert broken_links(page) == []


def test_the_check_sees_links_and_catches_broken_ones(tmp_path: Path) -> None:
    """Not vacuous: links are found (the README has many), and each kind of break is
    reported while links inside code are ignored."""
    readme = REPO / "README.md"
    assert len(_LINK.findall(_prose(readme.read_text()))) >= 20
    (tmp_path / "README.md").write_text("# Readme\n\n## Quick start\n")
    (tmp_path / "docs").mkdir()
    page = tmp_path / "docs" / "probe.md"
    page.write_text(
        "# Probe\n\n## A `heading`, here\n\n"
        "[ok](#a-heading-here) [ok](../README.md#quick-start) [ok](https://example.com/x)\n"
        "[bad](missing.md) [bad](#nowhere) [bad](../README.md#nowhere) [bad](../../x.md)\n"
        "`[code](missing.md)`\n\n```md\n[code](missing.md)\n```\n"
    )
    assert broken_links(page, root=tmp_path) == [
        "line 6: missing.md (no such file)",
        "line 6: #nowhere (no such heading)",
        "line 6: ../README.md#nowhere (no such heading)",
        "line 6: ../../x.md (outside the repository)",
    ]
