"""Parquet output of the generator with fixed options, so the same arrays give the same bytes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from govlib import contract

WRITE_OPTIONS = {
    "compression": "zstd",
    "compression_level": 3,
    "use_dictionary": True,
    "write_statistics": True,
    "version": "2.6",
    "data_page_size": 1 << 20,
}
ID_WIDTH = {"cr": 7}  # creators; every other id has 9 digits


def schema(table: str, drop: tuple[str, ...] = ()) -> pa.Schema:
    """Arrow schema of a contract table, columns in contract order."""
    return contract.arrow_schema(table, drop)


def ids(prefix: str, numbers: np.ndarray) -> pa.Array:
    """``cr_0000001``-style identifiers (zero-padded, so string order = numeric order)."""
    width = ID_WIDTH.get(prefix, 9)
    digits = pc.utf8_lpad(pc.cast(pa.array(np.asarray(numbers, dtype=np.int64)), pa.string()), width, "0")
    return pc.binary_join_element_wise(f"{prefix}_", digits, "")


def labels(values: tuple[str, ...], codes: np.ndarray, null: np.ndarray | None = None) -> pa.Array:
    """Strings from integer codes into ``values`` (null where ``null``)."""
    idx = pa.array(np.asarray(codes, dtype=np.int32), mask=null)
    return pa.array(values, pa.string()).take(idx)


def timestamps(us: np.ndarray, null: np.ndarray | None = None) -> pa.Array:
    return pa.array(np.asarray(us, dtype=np.int64), pa.int64(), mask=null).cast(
        contract.arrow_type("timestamp")
    )


def make_table(table: str, columns: dict[str, pa.Array | np.ndarray], drop: tuple[str, ...] = ()) -> pa.Table:
    """Build a contract table (contract column order and types) from arrays."""
    sch = schema(table, drop)
    arrays = []
    for f in sch:
        a = columns[f.name]
        if not isinstance(a, (pa.Array, pa.ChunkedArray)):
            a = pa.array(a, f.type) if f.type != contract.arrow_type("timestamp") else timestamps(a)
        arrays.append(a.cast(f.type) if a.type != f.type else a)
    return pa.Table.from_arrays(arrays, schema=sch)


SINGLE_ROW_GROUP = 262_144


def write_single(table: pa.Table, path: Path, row_group_size: int = SINGLE_ROW_GROUP) -> None:
    pq.write_table(table, path, row_group_size=row_group_size, **WRITE_OPTIONS)


class PartWriter:
    """One Hive partition file (``<table>/market=XX/part-00000.parquet``) written in chunks.

    Chunks are appended in time order (one or more row groups per local month), so a
    reader filtering on the time column skips whole row groups. A market generated in
    creator blocks has one file per block (``part-00001.parquet``, ...), each in time order.
    """

    def __init__(self, root: Path, table: str, market: str, row_group_size: int = 1_000_000, part: int = 0):
        folder = root / table / f"market={market}"
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / f"part-{part:05d}.parquet"
        self.schema = schema(table, drop=("market",))
        self.table = table
        self.rows = 0
        self.row_group_size = row_group_size
        self._writer = pq.ParquetWriter(self.path, self.schema, **WRITE_OPTIONS)

    def write(self, columns: dict) -> None:
        t = make_table(self.table, columns, drop=("market",))
        if t.num_rows:
            self._writer.write_table(t, row_group_size=self.row_group_size)
            self.rows += t.num_rows

    def close(self) -> None:
        self._writer.close()
