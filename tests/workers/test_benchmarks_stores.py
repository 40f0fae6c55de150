"""The benchmark part "stores" at tiny size: SQLStore beside the default store."""

from __future__ import annotations

import pytest

from benchmarks.__main__ import QUICK, run
from benchmarks.alternatives import FLOWS
from benchmarks.report import Run, render


@pytest.mark.slow
def test_sql_store_flows_make_fewer_core_calls() -> None:
    result = run(QUICK, ["stores"], command="python -m benchmarks --quick --parts stores")
    assert isinstance(result, Run)
    stores = result.stores
    assert stores is not None
    assert list(stores.samples) == ["st-twofactor", "st-twofactor-sql"]
    assert stores.titles["st-twofactor-sql"] == "st-twofactor, SQLStore (sqlite)"
    assert stores.failed == {"st-twofactor": {}, "st-twofactor-sql": {}}
    fewer = 0
    for flow, _ in FLOWS:
        default = stores.measured("st-twofactor", flow)
        sql = stores.measured("st-twofactor-sql", flow)
        assert default is not None and sql is not None, flow
        assert sql.call_count <= default.call_count, flow
        fewer += sql.call_count < default.call_count
        assert not any("/recipe/user/metadata" in call for call in sql.typical_calls), flow
    assert fewer >= 4  # every flow that reads or writes the state
    markdown, _ = render(result)
    assert "## Where the 2FA state lives: user metadata or SQL" in markdown
