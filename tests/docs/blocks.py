"""The fenced code blocks of README.md and docs/**/*.md, read one way for every doc test.

The documentation is code that runs: every ```python block of every page is run (and
type-checked) by a test of this package, or listed in :data:`NOT_RUNNABLE` with the
reason, and then only type-checked. Which test takes which page:

- ``test_readme.py``: the README and every page without a test of its own, each block a
  module run on its own;
- ``test_integrating.py``, ``test_docs_django.py``, ``test_migrate_docs.py``: the pages
  in :data:`OWN_TESTS`, whose blocks build projects and apps driven end to end;
- ``test_every_block.py`` fails when a block is in none of them.
"""

from __future__ import annotations

import os
import re
import runpy
import subprocess
import sys
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"

OWN_TESTS = {
    "docs/howto/integrating.md": "test_integrating",
    "docs/howto/django.md": "test_docs_django",
    "docs/howto/migrating-from-legacy-2fa.md": "test_migrate_docs",
    "docs/architecture.md": "test_architecture_doc",
}
"""Pages whose blocks a test module of their own runs: page -> module of this package."""

NOT_RUNNABLE: dict[tuple[str, str], str] = {}
"""Blocks that are type-checked but not run: (page, a line of the block) -> why not.
Each entry must match exactly one block, so a stale one fails too."""

_FENCE = re.compile(
    r"^(?P<indent>[ \t]*)```(?P<lang>[\w+-]*)[ \t]*\n(?P<body>.*?)^(?P=indent)```[ \t]*$",
    re.M | re.S,
)
_HEADING = re.compile(r"^#{2,} (?P<title>.+)$", re.M)


@dataclass(frozen=True)
class Block:
    """One fenced block: the heading it is under, its first line's number, its code."""

    section: str
    line: int
    code: str
    page: str = "README.md"
    lang: str = "python"

    @property
    def name(self) -> str:
        """A test id: the page, the section and the line."""
        slug = re.sub(r"[^a-z0-9]+", "-", self.section.lower()).strip("-")
        if self.page == "README.md":
            return f"{slug}-line-{self.line}"
        return f"{Path(self.page).stem}--{slug}-line-{self.line}"

    @property
    def where(self) -> str:
        return f"{self.page} line {self.line}"


def relative(page: Path) -> str:
    return page.relative_to(REPO).as_posix()


def pages() -> list[Path]:
    """README.md and every Markdown page under docs/."""
    return [README, *sorted((REPO / "docs").rglob("*.md"))]


def page_blocks(page: Path, langs: Sequence[str] = ("python",)) -> list[Block]:
    """The page's fenced blocks in ``langs``, dedented (a block indented in a list too),
    each under the nearest heading of level 2 or more outside a code block."""
    text = page.read_text()
    fences = list(_FENCE.finditer(text))
    headings = [
        (m.start(), m["title"])
        for m in _HEADING.finditer(text)
        if not any(f.start() <= m.start() < f.end() for f in fences)
    ]
    blocks = []
    for match in fences:
        if match["lang"] not in langs:
            continue
        above = [title for start, title in headings if start < match.start()]
        blocks.append(
            Block(
                section=above[-1] if above else "top",
                line=text.count("\n", 0, match.start()) + 1,
                code=textwrap.dedent(match["body"]),
                page=relative(page),
                lang=match["lang"],
            )
        )
    return blocks


def fence_count(page: Path, lang: str = "python") -> int:
    """Opening fences of ``lang`` counted line by line, to check the extraction saw all."""
    return len(re.findall(rf"^[ \t]*```{lang}", page.read_text(), re.M))


def not_runnable(block: Block) -> str | None:
    """Why ``block`` is not run, if :data:`NOT_RUNNABLE` lists it."""
    for (page, marker), reason in NOT_RUNNABLE.items():
        if page == block.page and marker in block.code.splitlines():
            return reason
    return None


def run_block(block: Block, directory: Path, module: str = "readme_block") -> dict[str, Any]:
    """Run ``block`` as the module ``module`` from ``directory``, so files it makes (an
    SQLite database, say) land there and not in the checkout; its globals."""
    path = directory / f"{module}.py"
    path.write_text(block.code)
    before = os.getcwd()
    os.chdir(directory)
    try:
        return runpy.run_path(str(path), run_name=module)
    finally:
        os.chdir(before)


def write_modules(blocks: Sequence[Block], directory: Path, prefix: str) -> list[str]:
    """Each block as a module of its own, ``<prefix>_NN.py``; their paths."""
    files = []
    for number, block in enumerate(blocks):
        path = directory / f"{prefix}_{number:02d}.py"
        path.write_text(block.code)
        files.append(str(path))
    return files


def mypy(targets: Sequence[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Type-check ``targets`` as the doc tests do: untyped defs checked, third-party
    packages without types (flask-cors, Django) allowed."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--ignore-missing-imports",
            "--check-untyped-defs",
            "--cache-dir",
            str(REPO / ".mypy_cache"),
            *targets,
        ],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=600,
        check=False,
    )
