"""Every ```python block of README.md and docs/**/*.md is run or type-checked by a test
of this package, or listed in ``blocks.NOT_RUNNABLE`` with the reason (and then only
type-checked): a block that none of them takes fails here, so a page cannot grow code
that nothing checks."""

from __future__ import annotations

from collections.abc import Iterable

from . import (
    test_architecture_doc,
    test_docs_django,
    test_integrating,
    test_migrate_docs,
    test_readme,
)
from .blocks import NOT_RUNNABLE, OWN_TESTS, REPO, Block, page_blocks, pages

TAKEN: dict[str, list[Block]] = {
    "test_readme": test_readme.BLOCKS,
    "test_integrating": test_integrating.BLOCKS,
    "test_docs_django": test_docs_django.PAGE_BLOCKS,
    "test_migrate_docs": test_migrate_docs.PAGE_BLOCKS,
    "test_architecture_doc": test_architecture_doc.PAGE_BLOCKS,
}
"""The blocks each test module runs or type-checks."""


def untaken(every: Iterable[Block], taken: Iterable[Block], listed: Iterable[Block]) -> list[str]:
    """Where the blocks of ``every`` are that neither a test takes nor the list excuses."""
    known = {(b.page, b.line) for b in [*taken, *listed]}
    return [b.where for b in every if (b.page, b.line) not in known]


def test_every_python_block_is_run_or_listed_as_not_runnable() -> None:
    every = [block for page in pages() for block in page_blocks(page)]
    taken = [block for blocks in TAKEN.values() for block in blocks]
    missing = untaken(every, taken, test_readme.NOT_RUN)
    assert not missing, f"neither run nor listed in blocks.NOT_RUNNABLE: {missing}"
    run = {(b.page, b.line) for b in taken}
    assert not [b.where for b in test_readme.NOT_RUN if (b.page, b.line) in run]
    for (page, line), reason in NOT_RUNNABLE.items():
        matching = [b for b in page_blocks(REPO / page) if line in b.code.splitlines()]
        assert len(matching) == 1 and reason.strip(), (page, line, reason)


def test_a_new_block_that_nothing_takes_is_reported() -> None:
    """The check above is not vacuous: a block added to a page is caught by name."""
    taken = [block for blocks in TAKEN.values() for block in blocks]
    new = Block(section="Quick start", line=10_000, code="print('new')\n")
    assert untaken([*taken, new], taken, []) == ["README.md line 10000"]


def test_each_page_with_a_test_of_its_own_is_read_by_that_test() -> None:
    for page, module in OWN_TESTS.items():
        assert {block.page for block in TAKEN[module]} == {page}, module
        assert all(block.page not in OWN_TESTS for block in test_readme.BLOCKS)
