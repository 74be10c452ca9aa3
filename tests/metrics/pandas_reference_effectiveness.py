"""Today's pandas recidivism table, kept as the reference the engine expressions are tested against.

``build_recidivism_table`` was ``govlib.metrics.effectiveness.build_recidivism_table`` until the
report moved to :func:`govlib.metrics.effectiveness.recidivism_table_expr` (issue 15); its only
callers now are the equality tests (``tests/metrics/test_effectiveness_engine.py``).
"""

from __future__ import annotations

import pandas as pd

from govlib.contract import ACTION_TYPES
from govlib.metrics.effectiveness import _HARSHNESS, EVENT_TIMES, EffectivenessInputError, _require
from govlib.timeutil import to_utc

# action columns the recidivism table reads
_RECIDIVISM_COLUMNS = (
    "action_id",
    "creator_id",
    "market",
    "action_type",
    "policy",
    "severity",
    "detected_at",
    "actioned_at",
)


def build_recidivism_table(
    actions: pd.DataFrame,
    creators: pd.DataFrame | None = None,
    *,
    data_end=None,
    market: str | None = None,
    event_time: str = "detected_at",
    content: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Time from each creator's first action to their next violation (survival data).

    Definition: for every creator with an action, ``t0`` is the ``actioned_at`` of their
    earliest action; the first action type is the harshest action taken at ``t0``
    (contract order ``warning`` < ... < ``account_banned``). A *re-offence* is any other
    action of the creator whose ``event_time`` is after ``t0``; ``duration_days`` runs
    from ``t0`` to the earliest re-offence (``event = True``) or, with none, to
    ``data_end`` (right-censored, ``event = False``).

    Parameters
    ----------
    actions : DataFrame
        ``enforcement_actions`` (``action_id, creator_id, market, action_type, policy,
        severity, detected_at, actioned_at``); all history available, not one month.
    creators : DataFrame, optional
        ``creators``; adds ``tier``.
    data_end : str or Timestamp, optional
        End of observation (censoring time). Default: the latest ``actioned_at`` in
        ``actions``. Re-offences after it are ignored.
    market : str, optional
        Keep creators whose first action is in this market.
    event_time : {"detected_at", "committed", "actioned_at"}
        Time of a re-offence. ``"detected_at"`` (default) counts a violation detected
        after the first sanction. ``"committed"`` (needs ``content``) dates a violation
        at the ``published_at`` of the actioned content (``detected_at`` for
        account-level actions), so content published before the first sanction but
        caught after it is not taken for a failure of deterrence, and detection lag
        does not lengthen the times. ``"actioned_at"`` uses the decision time.
    content : DataFrame, optional
        ``content`` (``content_id, published_at``), for ``event_time="committed"``.

    Returns
    -------
    DataFrame
        ``creator_id, market, [tier,] first_action_id, first_action_type, first_policy,
        first_severity, t0, duration_days, event``. Creators first actioned at
        ``data_end`` (no follow-up) are dropped.

    Notes
    -----
    A suspended creator cannot offend while suspended, so part of a lower re-offence
    hazard after a suspension is incapacitation, not deterrence; a ban ends
    observation in practice (few events by design).
    """
    if event_time not in EVENT_TIMES:
        raise ValueError(f"event_time must be one of {EVENT_TIMES}, got {event_time!r}")
    _require(actions, "enforcement_actions", _RECIDIVISM_COLUMNS)
    a = _recidivism_actions(actions, event_time, content)
    end = (
        to_utc(pd.Series([pd.Timestamp(data_end)])).iloc[0]
        if data_end is not None
        else a["actioned_at"].max()
    )
    a = a[a["actioned_at"] <= end]
    first = _first_actions(a)
    later = a.merge(first[["creator_id", "first_action_id", "t0"]], on="creator_id")
    later = later[
        (later["action_id"] != later["first_action_id"])
        & (later[event_time] > later["t0"])
        & (later[event_time] <= end)
    ]
    nxt = later.groupby("creator_id")[event_time].min()
    out = first.set_index("creator_id")
    out["next_at"] = nxt
    out["event"] = out["next_at"].notna()
    stop = out["next_at"].where(out["event"], end)
    out["duration_days"] = (stop - out["t0"]).dt.total_seconds() / 86400.0
    out = out[out["duration_days"] > 0].drop(columns="next_at").reset_index()
    if market is not None:
        out = out[out["market"] == market]
    if creators is not None:
        _require(creators, "creators", ["creator_id", "tier"])
        tiers = creators.assign(creator_id=creators["creator_id"].astype(str)).set_index("creator_id")["tier"]
        out.insert(2, "tier", out["creator_id"].map(tiers).astype(object))
    cols = [c for c in out.columns if c not in ("duration_days", "event")] + ["duration_days", "event"]
    return out[cols].sort_values("creator_id").reset_index(drop=True)


def _recidivism_actions(actions: pd.DataFrame, event_time: str, content: pd.DataFrame | None) -> pd.DataFrame:
    """The actions the recidivism table reads, typed, with UTC times (and ``committed`` when asked for).

    Raises :class:`EffectivenessInputError` on an unknown ``action_type`` or a missing content table.
    """
    a = actions[
        list(_RECIDIVISM_COLUMNS) + (["content_id"] if "content_id" in actions.columns else [])
    ].copy()
    for c in ("action_id", "creator_id", "market", "action_type", "policy", "severity"):
        a[c] = a[c].astype(str)
    a["actioned_at"] = to_utc(a["actioned_at"])
    a["detected_at"] = to_utc(a["detected_at"])
    if event_time == "committed":
        if content is None or "content_id" not in a.columns:
            raise EffectivenessInputError(
                "event_time='committed' needs the content table (content_id, published_at) and the content_id "
                "column of enforcement_actions"
            )
        _require(content, "content", ["content_id", "published_at"])
        pub = pd.Series(to_utc(content["published_at"]).to_numpy(), index=content["content_id"].astype(str))
        pub = pub[~pub.index.duplicated()]
        cid = a["content_id"].astype(object).where(a["content_id"].notna(), None)
        when = pd.to_datetime(cid.map(pub), utc=True)  # null content_id -> NaT
        a["committed"] = when.fillna(a["detected_at"])
    unknown = ~a["action_type"].isin(_HARSHNESS)
    if unknown.any():
        raise EffectivenessInputError(
            f"table 'enforcement_actions', column 'action_type': {int(unknown.sum())} row(s) with values outside "
            f"{ACTION_TYPES} (e.g. {', '.join(a.loc[unknown, 'action_type'].unique()[:5])})"
        )
    return a


def _first_actions(a: pd.DataFrame) -> pd.DataFrame:
    """Each creator's first action: the harshest one at their earliest ``actioned_at`` (``t0``)."""
    a["_harsh"] = a["action_type"].map(_HARSHNESS)
    t0 = a.groupby("creator_id")["actioned_at"].transform("min")
    at_t0 = a[a["actioned_at"] == t0]
    first = (
        at_t0.sort_values(["creator_id", "_harsh", "action_id"], ascending=[True, False, True])
        .drop_duplicates("creator_id")
        .rename(
            columns={
                "action_id": "first_action_id",
                "action_type": "first_action_type",
                "policy": "first_policy",
                "severity": "first_severity",
                "actioned_at": "t0",
            }
        )
    )
    return first[
        [
            "creator_id",
            "market",
            "first_action_id",
            "first_action_type",
            "first_policy",
            "first_severity",
            "t0",
        ]
    ]
