"""Validate a dataset against the data contract, in the engine.

Every check is generated from :mod:`govlib.contract` and runs as an Ibis aggregation
(one scan per table for the row rules, one grouped query or join per key rule), so
validation never pulls a table into pandas. Each problem names the table, the column,
the number of bad rows, up to five example keys (primary key, or 1-based row number
for keyless tables, in sorted order) and a hint how to fix it.

Rules (``Problem.rule``):

``missing_table``   a required table is absent
``unreadable``      a file is corrupt, not UTF-8, not comma-separated, or the engine cannot read it
``missing_column``  a contract column is absent (extra columns are allowed)
``type``            values that do not cast to the contract type
``not_null``        nulls in a non-nullable column
``allowed``         values outside the contract's allowed set
``unique``          duplicate primary keys
``foreign_key``     values with no match in the referenced table
``time_order``      a later timestamp before its earlier one (also through a join: appeals after their action)
``null_iff``        ``pending`` exactly when ``resolved_at`` is null
``min``/``max``     counts and money below 0, weights below 1, scores outside [0, 1]
``market_code``     not an upper-case ISO 3166-1 alpha-2 code (``GB`` not ``UK``, ``GR`` not ``EL``)
``language_code``   not a lower-case ISO 639-1 code
``policy``          neither in the policy taxonomy nor a local policy of the row's market (params)
``implausible_time`` a timestamp later than the time of the check plus one day, or before 2000-01-01
                    (``contract.TIME_FLOOR``); columns that may lie ahead (``restriction_ends_at``) excepted
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from govlib import contract
from govlib.data.dataset import (
    Dataset,
    DatasetError,
    engine_error_text,
    is_engine_error,
    nanos_to_timestamp,
    utc_literal,
)
from govlib.errors import GovlibError

LEVELS = ("schema", "full")
MAX_EXAMPLES = 5

_TYPE_EXAMPLES = {
    "str": "text",
    "timestamp": "ISO 8601 UTC timestamps such as 2026-10-01T12:00:00Z (or Parquet timestamps)",
    "int": "whole numbers",
    "float": "numbers with '.' as decimal separator",
    "bool": "true/false",
}


@dataclass(frozen=True)
class Problem:
    """One contract violation: which table and column, which rule, how many rows, examples, how to fix."""

    table: str
    column: str | None
    rule: str
    n_bad: int | None
    examples: tuple[str, ...] = ()
    hint: str = ""
    detail: str = ""
    key: str | None = None  # what the examples are: a primary-key column or "row"
    values: tuple[str, ...] = ()  # a few offending values, when they help

    @property
    def message(self) -> str:
        """One line, e.g. ``enforcement_actions.actioned_at: 2 rows earlier than detected_at (time_order)
        e.g. action_id=a_1, a_7 — fix: ...``."""
        where = f"{self.table}.{self.column}" if self.column else self.table
        text = f"{where}: "
        if self.n_bad is not None:
            text += f"{self.n_bad} row{'s' if self.n_bad != 1 else ''} "
        text += f"{self.detail} ({self.rule})"
        if self.examples:
            text += f" e.g. {self.key}={', '.join(self.examples)}"
        if self.values:
            text += f" (values: {', '.join(repr(v) for v in self.values)})"
        if self.hint:
            text += f" — fix: {self.hint}"
        return text

    def __str__(self) -> str:
        return self.message


class ContractError(GovlibError):
    """A dataset breaks the data contract; ``.problems`` lists every :class:`Problem`."""

    def __init__(self, problems: Iterable[Problem], dataset: str | Path | None = None):
        self.problems = list(problems)
        self.dataset = dataset
        head = f"dataset {dataset} " if dataset else "dataset "
        lines = [
            f"{head}breaks the data contract ({len(self.problems)} problem{'s' if len(self.problems) != 1 else ''}):"
        ]
        lines += [f"  {p.message}" for p in self.problems[:20]]
        if len(self.problems) > 20:
            lines.append(f"  ... and {len(self.problems) - 20} more; run `govlib validate --data {dataset}`")
        super().__init__("\n".join(lines))


@dataclass
class _Rule:
    column: str | None
    rule: str
    bad: Any  # ibis boolean expression on the checked table
    detail: str
    hint: str
    show_values: bool = False


@dataclass
class _Checked:
    """A table prepared for checks: contract columns typed (``try_cast``), raw copies, rules."""

    name: str
    table: Any
    key: str | None
    ok_columns: set[str] = field(default_factory=set)
    problems: list[Problem] = field(default_factory=list)
    n_rows: int = 0
    rules: list = field(default_factory=list)


def _family(t) -> str:
    if t.is_string():
        return "str"
    if t.is_boolean():
        return "bool"
    if t.is_integer():
        return "int"
    if t.is_floating() or t.is_decimal():
        return "float"
    if t.is_timestamp() or t.is_date():
        return "timestamp"
    if t.is_unknown() and "TIMESTAMP" in str(t).upper():
        return "timestamp"
    return "other"


# contract dtype -> stored family -> "ok" (cast), "check" (try every value) or missing ("bad")
_COMPAT = {
    "str": {"str": "ok", "int": "ok", "float": "ok", "bool": "ok", "timestamp": "ok"},
    "int": {"int": "ok", "float": "check", "str": "check"},
    "float": {"int": "ok", "float": "ok", "str": "check"},
    "bool": {"bool": "ok", "int": "check", "str": "check"},
    "timestamp": {"timestamp": "ok", "str": "check"},
}


def check_required_tables(ds) -> list[Problem]:
    """Problems for required contract tables missing from ``ds``."""
    out = []
    for name in contract.REQUIRED_TABLES:
        if not ds.has(name):
            out.append(
                Problem(
                    name,
                    None,
                    "missing_table",
                    None,
                    detail="required table is missing",
                    hint=f"add {name}.parquet, a directory {name}/ of Parquet files, or {name}.csv to {ds.path}",
                )
            )
    return out


def plausible_time_bounds(now: Any = None) -> tuple[pd.Timestamp, pd.Timestamp]:
    """``(floor, latest)``: the earliest and latest plausible timestamp at ``now`` (default: now).

    ``latest`` is ``now`` plus ``contract.FUTURE_TOLERANCE_HOURS``; ``floor`` is ``contract.TIME_FLOOR``.
    """
    now = pd.Timestamp.now(tz="UTC") if now is None else pd.Timestamp(now)
    now = now.tz_localize("UTC") if now.tzinfo is None else now.tz_convert("UTC")
    latest = (now + pd.Timedelta(hours=contract.FUTURE_TOLERANCE_HOURS)).floor("s")
    return pd.Timestamp(contract.TIME_FLOOR), latest


def _time_rules(t, spec: contract.Table, cols: dict[str, Any], now: Any = None) -> list[_Rule]:
    """``implausible_time``: timestamps in the future (beyond the tolerance) or before the floor."""

    floor, latest = plausible_time_bounds(now)
    rules = []
    for c in spec.columns:
        if c.dtype != "timestamp" or c.future_ok or c.name not in cols:
            continue
        v = t[c.name]
        rules.append(
            _Rule(
                c.name,
                "implausible_time",
                v.notnull() & (v > utc_literal(latest)),
                f"dated after {latest:%Y-%m-%d %H:%M} UTC, in the future (the time of the check "
                f"plus {contract.FUTURE_TOLERANCE_HOURS} h)",
                f"{c.name} must not lie in the future: check its unit (seconds vs milliseconds), "
                "day/month order and time zone, or drop the rows",
                show_values=True,
            )
        )
        rules.append(
            _Rule(
                c.name,
                "implausible_time",
                v.notnull() & (v < utc_literal(floor)),
                f"dated before {floor:%Y-%m-%d}, a default rather than an event",
                f"fill {c.name} with the real time (1970-01-01 is usually a zero or empty value "
                "converted to a date)",
                show_values=True,
            )
        )
    return rules


def _prepare(ds, name: str, level: str, now: Any = None) -> _Checked:
    """Read ``name``, find missing columns and type problems; build the typed table."""

    spec = contract.TABLES[name]
    try:
        raw = ds.raw(name)
    except DatasetError as exc:
        detail = exc.detail.split(": ", 1)[-1] if exc.detail.startswith(f"table {name}: ") else exc.detail
        return _Checked(
            name, None, None, problems=[Problem(name, None, "unreadable", None, detail=detail, hint=exc.hint)]
        )
    checked = _Checked(name, None, spec.primary_key)
    present = set(raw.columns)
    checked.problems += _missing_columns(name, spec, raw, present)
    cols = _cast_columns(checked, spec, raw, present, ds.nanos_columns(name))
    t = raw.select(**cols)
    rules = _cast_rules(t, spec, cols)
    if level == "full":
        rules += _row_rules(t, spec, cols) + _time_rules(t, spec, cols, now)
    checked.table = t
    checked.rules = rules
    return checked


def _missing_columns(name: str, spec: contract.Table, raw, present: set[str]) -> list[Problem]:
    """``missing_column`` problems, in contract order, naming the columns that were found."""
    problems: list[Problem] = []
    missing = [c.name for c in spec.columns if c.name not in present]
    for col in missing:
        problems.append(
            Problem(
                name,
                col,
                "missing_column",
                None,
                detail="column is missing",
                hint=f"add column {col!r} ({contract.TABLES[name].column(col).dtype}); columns found: {', '.join(raw.columns)}",
            )
        )
    return problems


def _cast_columns(checked: _Checked, spec: contract.Table, raw, present: set[str], nanos) -> dict[str, Any]:
    """Typed column expressions per present column (plus ``__raw_<name>`` for try-casts).

    Records the usable columns in ``checked.ok_columns`` and uncastable ones as ``type`` problems.
    """
    name = checked.name
    cols: dict[str, Any] = {}
    for c in spec.columns:
        if c.name not in present:
            continue
        rawcol = raw[c.name]
        fam = _family(rawcol.type())
        how = _COMPAT[c.dtype].get(fam)
        target = contract.ibis_type(c.dtype)
        if c.name in nanos and c.dtype == "timestamp" and fam == "int":
            # Spark reads Parquet nanosecond timestamps as int64 ns; convert like the loader does
            checked.ok_columns.add(c.name)
            cols[c.name] = nanos_to_timestamp(rawcol)
            continue
        if how is None:
            checked.problems.append(
                Problem(
                    name,
                    c.name,
                    "type",
                    None,
                    detail=f"column is stored as {rawcol.type()}, not castable to {c.dtype}",
                    hint=f"store {_TYPE_EXAMPLES[c.dtype]}",
                )
            )
            continue
        checked.ok_columns.add(c.name)
        if how == "ok":
            cols[c.name] = rawcol if rawcol.type() == target else rawcol.cast(target)
        else:
            cols[c.name] = rawcol.try_cast(target)
            cols["__raw_" + c.name] = rawcol
    return cols


def _cast_rules(t, spec: contract.Table, cols: dict[str, Any]) -> list[_Rule]:
    """``type`` rules: rows whose raw value did not survive the try-cast (or lost precision)."""
    rules: list[_Rule] = []
    for c in spec.columns:
        if c.name not in cols:
            continue
        if "__raw_" + c.name in cols:
            r = t["__raw_" + c.name]
            if c.dtype == "int" and _family(r.type()) == "float":
                bad = r.notnull() & (r != r.floor().cast("float64"))
            elif c.dtype == "bool" and _family(r.type()) == "int":
                bad = r.notnull() & ~r.isin([0, 1])
            else:
                bad = r.notnull() & t[c.name].isnull()
            rules.append(
                _Rule(
                    c.name,
                    "type",
                    bad,
                    f"not castable to {c.dtype}",
                    f"store {_TYPE_EXAMPLES[c.dtype]}",
                    show_values=True,
                )
            )
    return rules


_POLICY_CACHE: dict[tuple, dict[str, list[str]]] = {}


def _local_policies() -> dict[str, list[str]]:
    """Local policies per market from params (markets without params have none); cached per file state."""
    from govlib import config, params

    folder = Path(config.PARAMS_DIR) / "markets"
    files = sorted(folder.glob("*.yaml")) if folder.is_dir() else []
    state = (str(folder), tuple((f.name, f.stat().st_mtime_ns) for f in files))
    if state not in _POLICY_CACHE:
        out: dict[str, list[str]] = {}
        for code in params.list_markets():
            local = params.load_market(code).local_policies
            if local:
                out[code] = sorted(local)
        _POLICY_CACHE.clear()
        _POLICY_CACHE[state] = out
    return _POLICY_CACHE[state]


def _row_rules(t, spec: contract.Table, cols: dict[str, Any]) -> list[_Rule]:
    """Row-level rules of the ``full`` level: per column, then across columns."""
    rules: list[_Rule] = []
    for c in spec.columns:
        if c.name not in cols:
            continue
        v = t[c.name]
        raw_null = t["__raw_" + c.name].isnull() if "__raw_" + c.name in cols else v.isnull()
        rules += _value_rules(spec, c, v, raw_null) + _code_rules(t, c, v, cols)
    return rules + _cross_column_rules(t, spec, cols)


def _value_rules(spec: contract.Table, c: contract.Column, v, raw_null) -> list[_Rule]:
    """A column's ``not_null``, ``allowed``, ``min`` and ``max`` rules from its contract."""
    rules: list[_Rule] = []
    if not c.nullable:
        rules.append(
            _Rule(
                c.name,
                "not_null",
                raw_null,
                "with a null value (the column is required)",
                f"fill {c.name} in every row"
                + (" (it is the primary key)" if c.name == spec.primary_key else ""),
            )
        )
    if c.allowed is not None:
        rules.append(
            _Rule(
                c.name,
                "allowed",
                v.notnull() & ~v.isin(list(c.allowed)),
                "outside the allowed values",
                f"use one of {', '.join(c.allowed)}",
                show_values=True,
            )
        )
    if c.min is not None:
        rules.append(
            _Rule(
                c.name,
                "min",
                v.notnull() & (v < c.min),
                f"below {c.min:g}",
                f"{c.name} must be >= {c.min:g}"
                + (" (counts and money are never negative)" if c.min == 0 else ""),
                show_values=True,
            )
        )
    if c.max is not None:
        rules.append(
            _Rule(
                c.name,
                "max",
                v.notnull() & (v > c.max),
                f"above {c.max:g}",
                f"{c.name} must be <= {c.max:g}",
                show_values=True,
            )
        )
    return rules


def _code_rules(t, c: contract.Column, v, cols: dict[str, Any]) -> list[_Rule]:
    """Code-list rules of the ``market``, ``language`` and ``policy`` columns."""
    rules: list[_Rule] = []
    if c.name == "market":
        bad = v.notnull() & (~v.re_search(r"^[A-Z]{2}$") | v.isin(["UK", "EL", "EU"]))
        rules.append(
            _Rule(
                c.name,
                "market_code",
                bad,
                "not an upper-case ISO 3166-1 alpha-2 market code",
                "use codes such as DE, FR; GB not UK, GR not EL",
                show_values=True,
            )
        )
    if c.name == "language":
        rules.append(
            _Rule(
                c.name,
                "language_code",
                v.notnull() & ~v.re_search(r"^[a-z]{2}$"),
                "not a lower-case ISO 639-1 language code",
                "use codes such as de, en, fr",
                show_values=True,
            )
        )
    if c.name == "policy":
        ok = v.isin(list(contract.POLICIES))
        if "market" in cols:
            for market, local in _local_policies().items():
                ok = ok | ((t.market == market) & v.isin(local))
        rules.append(
            _Rule(
                c.name,
                "policy",
                v.notnull() & ~ok,
                "neither in the policy taxonomy nor a local policy of their market",
                "use a taxonomy policy (govlib.contract.POLICIES) or add it to the market's "
                "local_policies in params/markets/<CC>.yaml",
                show_values=True,
            )
        )
    return rules


def _cross_column_rules(t, spec: contract.Table, cols: dict[str, Any]) -> list[_Rule]:
    """Rules between columns of a row: ``time_order`` and ``null_iff``."""
    rules: list[_Rule] = []
    for order in spec.time_orders:
        if order.via is None and order.later in cols and order.earlier in cols:
            later, earlier = t[order.later], t[order.earlier]
            rules.append(
                _Rule(
                    order.later,
                    "time_order",
                    later.notnull() & earlier.notnull() & (later < earlier),
                    f"earlier than {order.earlier}",
                    f"{order.later} must be at or after {order.earlier}; "
                    "check the two columns are not swapped and both are UTC",
                )
            )
    for rule in spec.null_iff:
        if rule.column in cols and rule.when_column in cols:
            is_null, is_value = (
                t[rule.column].isnull(),
                (t[rule.when_column] == rule.when_value).fill_null(False),
            )
            rules.append(
                _Rule(
                    rule.column,
                    "null_iff",
                    is_null != is_value,
                    f"where {rule.column} is null but {rule.when_column} is not {rule.when_value!r}, "
                    f"or set while it is",
                    f"{rule.when_column} is {rule.when_value!r} exactly when {rule.column} is empty",
                )
            )
    return rules


def _key_expr(checked: _Checked, t):
    import ibis

    if checked.key and checked.key in checked.ok_columns:
        return t, checked.key, t[checked.key]
    numbered = t.mutate(__row=ibis.row_number() + 1)
    return numbered, "row", numbered["__row"]


def _examples(checked: _Checked, bad) -> tuple[str, ...]:
    # ``bad`` is built on checked.table; Ibis dereferences it on the row-numbered child
    t, _, key = _key_expr(checked, checked.table)
    rows = t.filter(bad).select(__key=key).order_by("__key").limit(MAX_EXAMPLES).to_pandas()
    return tuple(str(v) for v in rows["__key"])


def _values(checked: _Checked, column: str, bad) -> tuple[str, ...]:
    t = checked.table
    src = "__raw_" + column if "__raw_" + column in t.columns else column
    rows = (
        t.filter(bad)
        .select(__v=t[src].cast("string"))
        .distinct()
        .order_by("__v")
        .limit(MAX_EXAMPLES)
        .to_pandas()
    )
    return tuple(str(v) for v in rows["__v"])


def _run_row_rules(checked: _Checked) -> None:
    import ibis

    rules: list[_Rule] = checked.rules
    t = checked.table
    aggs = {"__n": t.count()}
    for i, r in enumerate(rules):
        aggs[f"r{i}"] = ibis.ifelse(r.bad.fill_null(False), 1, 0).sum()
    counts = t.aggregate(**aggs).to_pandas().iloc[0]
    checked.n_rows = int(counts["__n"])
    _, key_name, _ = _key_expr(checked, t)
    for i, r in enumerate(rules):
        n = counts[f"r{i}"]
        n = 0 if pd.isna(n) else int(n)
        if n == 0:
            continue
        bad = r.bad.fill_null(False)
        examples = _examples(checked, bad)
        values = _values(checked, r.column, bad) if r.show_values and r.column else ()
        checked.problems.append(
            Problem(checked.name, r.column, r.rule, n, examples, r.hint, r.detail, key_name, values)
        )


def _unique_problem(checked: _Checked) -> Problem | None:
    pk = checked.key
    if not pk or pk not in checked.ok_columns:
        return None
    t = checked.table
    keyed = t.filter(t[pk].notnull())
    dup = keyed.group_by(pk).aggregate(__n=keyed.count()).filter(lambda g: g["__n"] > 1)
    stats = dup.aggregate(__rows=dup["__n"].sum(), __keys=dup.count()).to_pandas().iloc[0]
    n = stats["__rows"]
    if pd.isna(n) or int(n) == 0:
        return None
    ex = dup.select(pk).order_by(pk).limit(MAX_EXAMPLES).to_pandas()[pk]
    return Problem(
        checked.name,
        pk,
        "unique",
        int(n),
        tuple(str(v) for v in ex),
        f"make {pk} unique: remove duplicate rows or re-key them",
        f"share a primary key with another row ({int(stats['__keys'])} duplicated keys)",
        pk,
    )


def _ref_table(ref: dict[str, _Checked], table: str, column: str):
    other = ref.get(table)
    if other is None or other.table is None or column not in other.ok_columns:
        return None
    return other.table


def _join_problems(checked: _Checked, ref: dict[str, _Checked]) -> list[Problem]:
    out: list[Problem] = []
    spec = contract.TABLES[checked.name]
    t = checked.table
    for c in spec.columns:
        if not c.references or c.name not in checked.ok_columns:
            continue
        ptable, pcol = c.references.split(".")
        parent = _ref_table(ref, ptable, pcol)
        if parent is None:
            continue
        keys = parent.select(__pk=parent[pcol]).distinct()
        fk = c.name

        def bad_rows(tt, keys=keys, fk=fk):
            return tt.filter(tt[fk].notnull()).anti_join(keys, tt[fk] == keys["__pk"])

        n = int(bad_rows(t).count().to_pandas())
        if n:
            tt, key_name, key = _key_expr(checked, t)
            b = bad_rows(tt)
            ex = b.select(__key=b[key.get_name()]).order_by("__key").limit(MAX_EXAMPLES).to_pandas()["__key"]
            vals = b.select(__v=b[fk]).distinct().order_by("__v").limit(MAX_EXAMPLES).to_pandas()["__v"]
            out.append(
                Problem(
                    checked.name,
                    fk,
                    "foreign_key",
                    n,
                    tuple(str(v) for v in ex),
                    f"add the missing {ptable} rows, or fix/empty {fk} (must match {c.references})",
                    f"reference {c.references} values that do not exist",
                    key_name,
                    tuple(str(v) for v in vals),
                )
            )
    for order in spec.time_orders:
        if order.via is None or order.later not in checked.ok_columns:
            continue
        fk, otable, okey = order.via
        other = _ref_table(ref, otable, okey)
        if other is None or fk not in checked.ok_columns or order.earlier not in ref[otable].ok_columns:
            continue
        parent = other.select(__pk=other[okey], __earlier=other[order.earlier])

        def bad_rows(tt, parent=parent, fk=fk, later=order.later):
            j = tt.inner_join(parent, tt[fk] == parent["__pk"])
            return j.filter(j[later].notnull() & j["__earlier"].notnull() & (j[later] < j["__earlier"]))

        n = int(bad_rows(t).count().to_pandas())
        if n:
            tt, key_name, key = _key_expr(checked, t)
            b = bad_rows(tt)
            ex = b.select(__key=b[key.get_name()]).order_by("__key").limit(MAX_EXAMPLES).to_pandas()["__key"]
            out.append(
                Problem(
                    checked.name,
                    order.later,
                    "time_order",
                    n,
                    tuple(str(v) for v in ex),
                    f"{order.later} must be at or after the {order.earlier} of the {otable} row it refers to",
                    f"earlier than the {otable}.{order.earlier} of their {fk}",
                    key_name,
                )
            )
    return out


def _run_guarded(checked: _Checked, fn) -> Any:
    """Run a check; an engine failure while scanning (corrupt file, bad bytes) becomes an ``unreadable`` problem."""

    try:
        return fn()
    except Exception as exc:
        if not is_engine_error(exc):
            raise

        checked.problems.append(
            Problem(
                checked.name,
                None,
                "unreadable",
                None,
                detail=f"cannot be read by the engine ({engine_error_text(exc)})",
                hint="replace the corrupt file(s) with a readable copy (re-export it)",
            )
        )
        checked.table = None
        return None


def check_schema(ds, name: str) -> list[Problem]:
    """The loaders' fast subset for one table: readable, contract columns present, types castable.

    Columns stored with a compatible type (e.g. Parquet int64 for an ``int``) need no scan;
    text columns that should hold numbers, flags or timestamps (CSV) are scanned once to
    count values that do not cast.
    """
    checked = _prepare(ds, name, "schema")
    if checked.table is not None and checked.rules:
        _run_guarded(checked, lambda: _run_row_rules(checked))
    return checked.problems


class LoaderChecks:
    """The fast contract checks a loader runs while it reads (:class:`govlib.data.dataset.LoaderCheck`).

    :func:`govlib.data.load.open_dataset` passes them to the :class:`~govlib.data.dataset.Dataset`
    it opens: required tables when it is opened (:func:`check_required_tables`), a table's
    columns and types when it is first used (:func:`check_schema`). Each raises
    :class:`ContractError` listing the problems.
    """

    def required_tables(self, ds: Dataset) -> None:
        """Raise :class:`ContractError` when a required table is missing."""
        problems = check_required_tables(ds)
        if problems:
            raise ContractError(problems, dataset=ds.path)

    def table(self, ds: Dataset, name: str) -> None:
        """Raise :class:`ContractError` when table ``name`` is unreadable or its columns or types are wrong."""
        problems = check_schema(ds, name)
        if problems:
            raise ContractError(problems, dataset=ds.path)


def validate_dataset(
    path_or_dataset,
    *,
    level: str = "full",
    tables: Iterable[str] | None = None,
    engine: str | None = None,
    now: Any = None,
) -> list[Problem]:
    """Check a dataset against the data contract; return every problem found (empty when valid).

    Parameters
    ----------
    path_or_dataset : str, Path or Dataset
        Dataset directory or an open :class:`govlib.data.dataset.Dataset`.
    level : {"full", "schema"}
        ``"schema"``: tables, columns and types only (what the loaders run);
        ``"full"``: every rule of the module docstring.
    tables : list of str, optional
        Check only these tables (foreign keys into other tables still resolve).
    engine : {"duckdb", "spark"}, optional
        Engine when a path is given.
    now : timestamp-like, optional
        The time the ``implausible_time`` rule measures the future from (default: now).

    Returns
    -------
    list of Problem
        In contract order of tables, then columns and rules; deterministic.
    """

    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}, got {level!r}")
    ds = (
        path_or_dataset
        if isinstance(path_or_dataset, Dataset)
        else Dataset(path_or_dataset, engine, check=False)
    )
    selected = list(tables) if tables is not None else list(contract.TABLES)
    unknown = [t for t in selected if t not in contract.TABLES]
    if unknown:
        from govlib.errors import UsageError

        raise UsageError(
            f"unknown table(s) {', '.join(unknown)}; contract tables: {', '.join(contract.TABLES)}"
        )
    problems = [p for p in check_required_tables(ds) if p.table in selected]
    checked: dict[str, _Checked] = {}
    for name in ds.tables:
        checked[name] = _prepare(ds, name, level, now)
    for name in ds.tables:
        c = checked[name]
        if name not in selected or c.table is None:
            continue
        _run_guarded(c, lambda c=c: _run_row_rules(c))
    if level == "full":
        for name in ds.tables:
            c = checked[name]
            if name not in selected or c.table is None:
                continue
            p = _run_guarded(c, lambda c=c: _unique_problem(c))
            if p:
                c.problems.append(p)
            if c.table is not None:
                c.problems.extend(_run_guarded(c, lambda c=c: _join_problems(c, checked)) or [])
    order = {name: i for i, name in enumerate(contract.TABLES)}
    for name in sorted(checked, key=order.get):
        if name in selected:
            problems.extend(_sorted_problems(checked[name].problems, name))
    validate_dataset.last_rows = sum(c.n_rows for n, c in checked.items() if n in selected)  # type: ignore[attr-defined]
    return problems


def market_time_problems(ds, market: str, now: Any = None) -> list[Problem]:
    """The ``implausible_time`` rule on every row of one market, every table (``govlib run``'s subset).

    One aggregate per table over the market's rows (its Hive partition when partitioned),
    so rows dated years ahead are found although no report window contains them.
    """
    out: list[Problem] = []
    for name in ds.tables:
        spec = contract.TABLES[name]
        t = ds.filter_expr(name, market)
        cols = {c.name: t[c.name] for c in spec.columns if c.name in t.columns}
        rules = _time_rules(t, spec, cols, now)
        checked = _Checked(name, t, spec.primary_key, ok_columns=set(cols), rules=rules)
        if checked.rules:
            _run_row_rules(checked)
        out.extend(_sorted_problems(checked.problems, name))
    return out


def slice_reference_problems(slice_path: str | Path, ds) -> list[Problem]:
    """Foreign keys of a slice of ``ds`` (a market's report window, same layout): values found nowhere.

    Each key column's distinct values are anti-joined with the slice's parent table;
    only the few left over (rows that rightly point outside the window, e.g. an appeal
    of an action taken before it) are looked up in the whole dataset's parent table.
    """
    import ibis

    sl = Dataset(slice_path, ds.engine, check=False)
    out: list[Problem] = []
    for name in sl.tables:
        child = sl.table(name)
        for c in contract.TABLES[name].columns:
            ptable, _, pcol = (c.references or "").partition(".")
            if not c.references or not ds.has(ptable) or c.name not in child.columns:
                continue
            vals = child.filter(child[c.name].notnull()).select(__v=child[c.name]).distinct()
            if sl.has(ptable):
                parent = sl.table(ptable)
                vals = vals.anti_join(parent, vals["__v"] == parent[pcol])
            left = vals.to_pyarrow().column("__v").to_pylist()
            if not left:
                continue
            full = ds.table(ptable)
            keys = ibis.memtable(pd.DataFrame({"__v": pd.Series(left, dtype=object)}))
            found = full.filter(full[pcol].isin(keys["__v"])).select(pcol).distinct().to_pyarrow()
            missing = sorted(set(left) - set(found.column(pcol).to_pylist()))
            if missing:
                out.append(_dangling(sl, name, c, missing))
    return out


def _dangling(sl, name: str, col: contract.Column, missing: list[str]) -> Problem:
    spec = contract.TABLES[name]
    t = sl.table(name)
    checked = _Checked(name, t, spec.primary_key, ok_columns=set(t.columns))
    bad = t[col.name].isin(missing)
    n = int(t.filter(bad).count().to_pyarrow().as_py())
    _, key_name, _ = _key_expr(checked, t)
    return Problem(
        name,
        col.name,
        "foreign_key",
        n,
        _examples(checked, bad),
        f"add the missing {col.references.split('.')[0]} rows, or fix/empty {col.name} "
        f"(must match {col.references})",
        f"reference {col.references} values that exist nowhere in the dataset",
        key_name,
        tuple(missing[:MAX_EXAMPLES]),
    )


def _sorted_problems(problems: list[Problem], table: str) -> list[Problem]:
    cols = {c: i for i, c in enumerate(contract.TABLES[table].column_names)}
    rank = {
        r: i
        for i, r in enumerate(
            (
                "unreadable",
                "missing_column",
                "type",
                "not_null",
                "unique",
                "allowed",
                "market_code",
                "language_code",
                "policy",
                "min",
                "max",
                "foreign_key",
                "time_order",
                "implausible_time",
                "null_iff",
            )
        )
    }
    return sorted(
        problems, key=lambda p: (p.column is not None, cols.get(p.column or "", -1), rank.get(p.rule, 99))
    )


def check_dataset(path_or_dataset, *, level: str = "full", tables: Iterable[str] | None = None) -> None:
    """Raise :class:`ContractError` listing every problem if the dataset breaks the contract."""
    problems = validate_dataset(path_or_dataset, level=level, tables=tables)
    if problems:
        path = getattr(path_or_dataset, "path", path_or_dataset)
        raise ContractError(problems, dataset=path)
