"""The one contract-type -> Arrow/Ibis map (govlib.contract) is what every writer and reader uses."""

from __future__ import annotations

import pyarrow as pa

from govlib import contract
from govlib.analyses import feedback
from govlib.demo import writer


def test_every_contract_type_maps_to_arrow_and_ibis():
    dtypes = {c.dtype for t in contract.TABLES.values() for c in t.columns}
    assert dtypes == {"str", "timestamp", "int", "float", "bool"}
    assert contract.arrow_type("timestamp") == pa.timestamp("us", tz="UTC")
    assert str(contract.ibis_type("timestamp")) == "timestamp('UTC')"
    assert [str(contract.ibis_type(d)) for d in ("str", "int", "float", "bool")] == [
        "string",
        "int64",
        "float64",
        "boolean",
    ]


def test_demo_writer_and_label_import_use_the_contract_schema():
    assert writer.schema("enforcement_actions", drop=("market",)) == contract.arrow_schema(
        "enforcement_actions", drop=("market",)
    )
    assert "market" not in writer.schema("content", drop=("market",)).names
    assert feedback._contract_schema() == contract.arrow_schema("review_labels")
    assert contract.arrow_schema("review_labels").names == contract.TABLES["review_labels"].column_names
