"""Loaders on every layout, pushed-down filters, the market window, engines (DuckDB and Spark).

Expected values come from the hand-made dataset of ``tests/datasets.py`` (counted by hand
there, see ``EXPECTED``), not from the code under test.
"""

from __future__ import annotations

import shutil

import ibis
import pandas as pd
import pytest
from datasets import EXPECTED, LAYOUTS, MARKETS, MONTH, valid_tables, write_valid_dataset
from spark_support import spark_available

from govlib import contract
from govlib.data import engine
from govlib.data.dataset import DatasetError
from govlib.data.load import load_market_window, open_dataset, window_bounds
from govlib.data.validate import ContractError
from govlib.timeutil import month_bounds


@pytest.fixture(scope="module", params=LAYOUTS)
def layout_dir(request, tmp_path_factory):
    root = tmp_path_factory.mktemp(f"ds-{request.param}")
    return write_valid_dataset(root / "data", layout=request.param), request.param


def _sorted(df: pd.DataFrame, name: str) -> pd.DataFrame:
    spec = contract.TABLES[name]
    keys = (
        [spec.primary_key]
        if spec.primary_key
        else [spec.time_column] + [c for c in spec.column_names if c != spec.time_column]
    )
    return df.sort_values(keys, kind="mergesort").reset_index(drop=True)


def test_every_table_round_trips_on_every_layout(layout_dir):
    path, layout = layout_dir
    ds = open_dataset(path)
    assert ds.tables == list(contract.TABLES)
    expected = valid_tables()
    for name in contract.TABLES:
        got = ds.load(name)
        want = _sorted(expected[name], name)
        # contract columns in contract order (a partition column read from the path included)
        assert list(got.columns) == contract.TABLES[name].column_names, (layout, name)
        pd.testing.assert_frame_equal(got, want, check_dtype=True, obj=f"{layout}:{name}")


def test_dtypes_follow_the_contract(layout_dir):
    path, _ = layout_dir
    df = open_dataset(path).load("enforcement_actions")
    assert str(df["actioned_at"].dtype) == "datetime64[us, UTC]"
    assert str(df["restriction_ends_at"].dtype) == "datetime64[us, UTC]"
    assert df["action_id"].map(type).eq(str).all()
    assert df["health_points"].dtype == "int64"
    assert df["content_id"].isna().sum() == 1  # a_04 is account-level
    labels = open_dataset(path).load("review_labels")
    assert labels["is_violating"].dtype == bool


@pytest.mark.parametrize("market", sorted(MARKETS))
def test_market_month_slice_counts_in_local_time(layout_dir, market):
    path, _ = layout_dir
    ds = open_dataset(path)
    start, end = month_bounds(MONTH, MARKETS[market])
    acts = ds.load("enforcement_actions", market=market, start=start, end=end)
    assert len(acts) == EXPECTED["actions"][market]
    assert set(acts.market) == {market}
    content = ds.load("content", market=market, start=start, end=end)
    assert len(content) == EXPECTED["content_published"][market]
    # month edge: 2026-10-31T23:30Z is November in Berlin, still October in London
    assert ("a_05" in set(acts.action_id)) is False if market == "DE" else ("a_09" in set(acts.action_id))


def test_filters_are_pushed_down_to_the_engine(tmp_path):
    path = write_valid_dataset(tmp_path / "d", layout="partitioned")
    ds = open_dataset(path)
    start, end = month_bounds(MONTH, "Europe/Berlin")
    expr = ds.filter_expr("enforcement_actions", "DE", start, end)
    sql = str(ibis.to_sql(expr))
    assert (
        "WHERE" in sql and "'DE'" in sql and "2026, 9, 30, 22" in sql
    )  # the filter is in the query, not in pandas
    # the market=GB partition is pruned by path: only the DE file is given to the scan (a corrupt GB
    # file cannot fail DE: test_corrupt_partition_of_one_market_fails_only_that_market), and the
    # time filter is pushed into the Parquet scan
    files = ds.market_files("enforcement_actions", "DE")
    assert files and [f.parent.name for f in files] == ["market=DE"]
    plan = "\n".join(r[1] for r in ds.con.raw_sql("EXPLAIN " + sql).fetchall())
    assert "Read Parquet" in plan and "actioned_at >=" in plan, plan
    # and only the slice comes back into pandas (10 actions in all, 4 in DE-October)
    assert len(ds.load("enforcement_actions")) == EXPECTED["rows"]["enforcement_actions"]
    assert len(ds.load("enforcement_actions", market="DE", start=start, end=end)) == EXPECTED["actions"]["DE"]


def test_columns_where_and_multiple_markets(tmp_path):
    ds = open_dataset(write_valid_dataset(tmp_path / "d"))
    df = ds.load(
        "enforcement_actions",
        market=["DE", "GB"],
        columns=["action_id", "detection_source"],
        where=lambda t: t.detection_source.isin(list(contract.PROACTIVE_SOURCES)),
    )
    assert list(df.columns) == ["action_id", "detection_source"]
    # automated or proactive_review: a_01, a_04, a_05, a_06, a_09, a_10
    assert list(df.action_id) == ["a_01", "a_04", "a_05", "a_06", "a_09", "a_10"]
    t = ds.table("content")
    assert list(ds.load("content", where=t.views > 10000).content_id) == ["ct_07", "ct_08"]
    with pytest.raises(DatasetError, match="no column"):
        ds.load("content", columns=["nope"])


def test_market_window_adds_referenced_content_by_semi_join(tmp_path):
    ds = open_dataset(write_valid_dataset(tmp_path / "d", layout="partitioned"))
    w = load_market_window(ds, "DE", MONTH, "Europe/Berlin", months_back=1)
    assert set(w) == set(contract.TABLES)
    # ct_01 was published 2025-06 but a_01 (October) acts on it; ct_05 is November locally
    assert list(w["content"].content_id) == EXPECTED["window_content_DE_1"]
    assert list(w["creators"].creator_id) == ["cr_de_1", "cr_de_2", "cr_de_3"]
    # September + October in Berlin: a_06 (Sep) and a_01..a_04; not a_05 (Nov), not GB
    assert list(w["enforcement_actions"].action_id) == ["a_01", "a_02", "a_03", "a_04", "a_06"]
    start, end = window_bounds(MONTH, "Europe/Berlin", 1)
    assert start == pd.Timestamp("2026-08-31T22:00Z") and end == pd.Timestamp("2026-10-31T23:00Z")


def test_optional_tables_may_be_absent(tmp_path):
    ds = open_dataset(
        write_valid_dataset(tmp_path / "d", only=["creators", "content", "enforcement_actions"])
    )
    assert ds.tables == ["creators", "content", "enforcement_actions"]
    assert not ds.has("appeals")
    w = load_market_window(ds, "GB", MONTH, "Europe/London", months_back=0)
    assert set(w) == {"creators", "content", "enforcement_actions"}
    with pytest.raises(DatasetError, match="appeals is not in dataset"):
        ds.load("appeals")


def test_missing_required_table_raises_contract_error(tmp_path):
    path = write_valid_dataset(tmp_path / "d", only=["creators", "content"])
    with pytest.raises(ContractError, match=r"enforcement_actions: required table is missing") as info:
        open_dataset(path)
    assert [p.rule for p in info.value.problems] == ["missing_table"]


def test_bad_paths_and_duplicate_tables(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        open_dataset(tmp_path / "nowhere")
    path = write_valid_dataset(tmp_path / "d")
    shutil.copy(path / "creators.parquet", path / "creators.csv")
    with pytest.raises(DatasetError, match="creators is stored more than once"):
        open_dataset(path)


def test_loader_runs_the_type_check_and_raises_the_validation_message(tmp_path):
    from datasets import break_dataset

    from govlib.data.validate import validate_dataset

    break_dataset(tmp_path / "b", "wrong_type")
    ds = open_dataset(tmp_path / "b")
    with pytest.raises(ContractError) as info:
        ds.load("content")
    assert [p.message for p in info.value.problems] == [p.message for p in validate_dataset(tmp_path / "b")]
    assert "content.views: 2 rows not castable to int" in str(info.value)
    ds.load("creators")  # other tables still load


def test_csv_ids_keep_leading_zeros(tmp_path):
    tables = valid_tables()
    tables["creators"].loc[0, "creator_id"] = "007"
    tables["content"].loc[tables["content"].creator_id == "cr_de_1", "creator_id"] = "007"
    tables["enforcement_actions"].loc[tables["enforcement_actions"].creator_id == "cr_de_1", "creator_id"] = (
        "007"
    )
    tables["appeals"].loc[tables["appeals"].creator_id == "cr_de_1", "creator_id"] = "007"
    path = write_valid_dataset(tmp_path / "d", layout="csv", tables=tables)
    assert "007" in set(open_dataset(path).load("creators").creator_id)


def test_engine_selection_and_spark_settings(monkeypatch):
    assert engine.resolve_engine(None) in engine.ENGINES
    monkeypatch.setenv("GOVLIB_ENGINE", "spark")
    assert engine.resolve_engine(None) == "spark"
    assert engine.resolve_engine("DuckDB") == "duckdb"
    with pytest.raises(engine.EngineError, match="unknown engine 'postgres'"):
        engine.resolve_engine("postgres")
    monkeypatch.setenv(
        "GOVLIB_SPARK_CONF", '{"spark.executor.memory": "8g", "spark.sql.shuffle.partitions": 64}'
    )
    conf = engine.spark_conf()
    assert conf["spark.executor.memory"] == "8g" and conf["spark.sql.shuffle.partitions"] == "64"
    assert conf["spark.sql.session.timeZone"] == "UTC"
    monkeypatch.setenv("GOVLIB_SPARK_CONF", "{not json")
    with pytest.raises(engine.EngineError, match="GOVLIB_SPARK_CONF is not valid JSON"):
        engine.spark_conf()


@pytest.mark.spark
@pytest.mark.skipif(not spark_available(), reason="needs pyspark and Java")
def test_spark_and_duckdb_load_identical_frames(tmp_path):
    path = write_valid_dataset(tmp_path / "d", layout="partitioned")
    # one table as a single file with pandas' default nanosecond timestamps (Spark reads them as int64)
    shutil.rmtree(path / "content")
    content = valid_tables()["content"]
    content["published_at"] = content["published_at"].astype("datetime64[ns, UTC]")
    content.to_parquet(path / "content.parquet", index=False)
    duck, spark = open_dataset(path, "duckdb"), open_dataset(path, "spark")
    for name in contract.TABLES:
        pd.testing.assert_frame_equal(spark.load(name), duck.load(name), obj=name)
    start, end = month_bounds(MONTH, "Europe/Berlin")
    a = spark.load("enforcement_actions", market="DE", start=start, end=end)
    pd.testing.assert_frame_equal(a, duck.load("enforcement_actions", market="DE", start=start, end=end))
    assert len(a) == EXPECTED["actions"]["DE"]
    ws = load_market_window(spark, "DE", MONTH, "Europe/Berlin", months_back=1)
    wd = load_market_window(duck, "DE", MONTH, "Europe/Berlin", months_back=1)
    assert list(ws["content"].content_id) == EXPECTED["window_content_DE_1"]
    for name in wd:
        pd.testing.assert_frame_equal(ws[name], wd[name], obj=f"window:{name}")


def _window(path, market, months_back=1):
    return load_market_window(open_dataset(path), market, MONTH, MARKETS[market], months_back=months_back)


def test_corrupt_partition_of_one_market_fails_only_that_market(tmp_path):
    path = write_valid_dataset(tmp_path / "d", layout="partitioned")
    before = _window(path, "GB")
    bad = sorted((path / "content" / "market=DE").rglob("*.parquet"))
    assert bad, "the partitioned layout must have a market=DE directory"
    bad[0].write_bytes(b"PAR1 not a parquet file")
    after = _window(path, "GB")  # reads only market=GB files of the partitioned tables
    assert list(after) == list(before)
    for name in before:
        pd.testing.assert_frame_equal(after[name], before[name], check_like=False)
    # London, Sep + Oct: ct_10 (Sep 30 23:30Z = Oct 1 BST) and ct_08 (Oct 31 23:30 GMT) are in; ct_11 is
    # referenced only by a_10 of August (outside the window); ct_12 (Dec 2025) by nothing
    assert list(after["content"].content_id) == ["ct_07", "ct_08", "ct_09", "ct_10"]
    with pytest.raises(DatasetError, match=r"table content: .*market=DE"):
        _window(path, "DE")


def test_market_window_reads_other_partitions_only_for_cross_market_references(tmp_path):
    tables = valid_tables()
    acts = tables["enforcement_actions"]
    # a DE action on GB content and a GB creator: the window must still carry both rows
    acts.loc[acts.action_id == "a_02", ["content_id", "creator_id"]] = ["ct_12", "cr_gb_3"]
    part = write_valid_dataset(tmp_path / "p", layout="partitioned", tables=tables)
    flat = write_valid_dataset(tmp_path / "f", layout="parquet", tables=tables)
    w_part, w_flat = _window(part, "DE"), _window(flat, "DE")
    assert list(w_part["content"].content_id) == ["ct_01", "ct_02", "ct_03", "ct_04", "ct_06", "ct_12"]
    assert "cr_gb_3" in set(w_part["creators"].creator_id)
    for name in w_flat:
        pd.testing.assert_frame_equal(w_part[name].drop(columns=[], errors="ignore"), w_flat[name])
    # a corrupt GB file is read only because a DE action points into GB: DE then fails, clearly
    next((part / "content" / "market=GB").rglob("*.parquet")).write_bytes(b"PAR1 broken")
    with pytest.raises(DatasetError, match="table content"):
        _window(part, "DE")


def test_duckdb_connection_has_the_configured_memory_limit(monkeypatch, tmp_path):
    monkeypatch.setenv("GOVLIB_DUCKDB_MEMORY_LIMIT", "512MB")
    monkeypatch.setenv("GOVLIB_CACHE", str(tmp_path / "it's cache"))  # a quote in the path stays one path
    con = engine.connect("duckdb")
    limit = con.raw_sql("SELECT current_setting('memory_limit')").fetchone()[0]
    assert limit == "488.2 MiB"  # 512 MB shown in binary units
    temp = con.raw_sql("SELECT current_setting('temp_directory')").fetchone()[0]
    assert temp == str(tmp_path / "it's cache" / "duckdb-tmp")
    monkeypatch.setenv("GOVLIB_DUCKDB_MEMORY_LIMIT", "lots")
    with pytest.raises(Exception, match="GOVLIB_DUCKDB_MEMORY_LIMIT"):
        engine.connect("duckdb")
