"""Investigations: one creator, or one policy in one market over a date range.

::

    govlib investigate --creator ID [--data DIR] [--out reports/investigations] [--lang en_GB]
    govlib investigate --policy P --market M --from YYYY-MM-DD --to YYYY-MM-DD [...]

The command validates the case (the creator exists; the market, policy and dates are valid and
the range is not empty), then runs ``notebooks/investigation.ipynb`` with papermill into
``<out>/<case-id>/`` (``investigation.ipynb`` and ``investigation.html``). The output keeps
identifiers (that is its purpose), carries the banner "CONFIDENTIAL — contains identifiers",
and lives under ``reports/investigations/``, never in the monthly report folders.

The notebook uses the functions here:

- :func:`open_case` - the case's scope and its tables (content, actions, notices, appeals);
- :func:`build_timeline` - every event in time order;
- :func:`find_related_creators` - creators acted on in the same window on the same product
  categories (or policies) as the case;
- :func:`trace_health` - the health-score trajectory of creators (``govlib.metrics.health``);
- :func:`summarise_case` - the counts of the case summary.

Dates are local dates of the market (``--from`` inclusive, ``--to`` inclusive).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from govlib import contract
from govlib.errors import GovlibError, UsageError

__all__ = [
    "Case",
    "InvestigationError",
    "build_timeline",
    "case_id",
    "find_related_creators",
    "open_case",
    "summarise_case",
    "trace_health",
    "validate_case",
]

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MAX_RANGE_DAYS = 400
NOTEBOOK = "investigation"
TIMELINE_COLUMNS = ["at", "event", "creator_id", "content_id", "action_id", "policy", "detail"]


class InvestigationError(GovlibError):
    """The case cannot be opened: unknown creator or market, dates outside the data."""


@dataclass
class Case:
    """An investigation's scope and tables (identifiers included).

    ``mode`` is ``"creator"`` or ``"policy"``; ``creators`` the creator ids in scope; ``start``,
    ``end`` the UTC half-open window; ``tables`` the rows of the case.
    """

    mode: str
    market: str
    tz: str
    start: pd.Timestamp
    end: pd.Timestamp
    creator: str = ""
    policy: str = ""
    creators: list[str] = field(default_factory=list)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)

    @property
    def case_id(self) -> str:
        return case_id(self.creator or None, self.policy or None, self.market, self.date_from, self.date_to)

    @property
    def date_from(self) -> str:
        return self.start.tz_convert(self.tz).strftime("%Y-%m-%d")

    @property
    def date_to(self) -> str:
        return (self.end.tz_convert(self.tz) - pd.Timedelta(days=1)).strftime("%Y-%m-%d")


def _folder_part(text: str | None) -> str:
    # letters, digits, _ and - only: never a path separator, "." or ".."
    return re.sub(r"[^A-Za-z0-9_-]", "_", str(text or ""))


def case_id(
    creator: str | None = None,
    policy: str | None = None,
    market: str | None = None,
    date_from: str | None = None,
    date_to: str | None = None,
) -> str:
    """Folder name of a case: ``creator-<ID>`` or ``policy-<P>-<M>-<from>-<to>``.

    Every part is sanitised (characters other than letters, digits, ``_`` and ``-`` become
    ``_``), so the name is one folder inside the output directory whatever the values.
    """
    if creator:
        return "creator-" + _folder_part(creator)
    parts = (policy, market, date_from, date_to)
    return "policy-" + "-".join(_folder_part(x) for x in parts)


def _parse_date(text: str, what: str, tz: str) -> pd.Timestamp:
    if not isinstance(text, str) or not _DATE.match(text):
        raise UsageError(f"{what} {text!r} is not a date of the form YYYY-MM-DD (e.g. 2026-10-01)")
    try:
        return pd.Timestamp(text).tz_localize(tz)
    except ValueError:
        raise UsageError(f"{what} {text!r} is not a calendar date") from None


def _creator_case(ds, creator: str, date_from: str | None, date_to: str | None) -> tuple[str, str, str, str]:
    """Check a creator-mode case; return its market, timezone and window.

    The window defaults to the creator's whole history: registration to the last action or
    publication (local dates of the creator's home market).
    """
    from govlib.params import load_market

    if not _ID.match(creator):
        raise UsageError(f"--creator {creator!r} is not a creator id (letters, digits, _ . : -)")
    found = ds.load(
        "creators",
        columns=["creator_id", "market", "registered_at"],
        where=lambda t: t.creator_id == creator,
    )
    if found.empty:
        raise InvestigationError(
            f"creator {creator!r} is not in the creators table of {ds.path}; "
            "check the id (ids are case-sensitive)"
        )
    market = str(found.iloc[0]["market"])
    tz = load_market(market).timezone
    if date_from or date_to:
        if not (date_from and date_to):
            raise UsageError("give both --from and --to, or neither (the creator's whole history)")
    else:
        date_from = pd.Timestamp(found.iloc[0]["registered_at"]).tz_convert(tz).strftime("%Y-%m-%d")
        last = ds.load(
            "enforcement_actions",
            market=market,
            columns=["actioned_at"],
            where=lambda t: t.creator_id == creator,
            ordered=False,
        )["actioned_at"]
        pub = ds.load(
            "content",
            market=market,
            columns=["published_at"],
            where=lambda t: t.creator_id == creator,
            ordered=False,
        )["published_at"]
        ends = [s.max() for s in (last, pub) if len(s)]
        end = max(ends) if ends else pd.Timestamp(found.iloc[0]["registered_at"])
        date_to = pd.Timestamp(end).tz_convert(tz).strftime("%Y-%m-%d")
    return market, tz, date_from, date_to


def _policy_case(policy: str | None, market: str | None, date_from: str | None, date_to: str | None) -> str:
    """Check a policy-mode case (all four values given, known market, policy it has); return its timezone."""
    from govlib.params import list_markets, load_market

    if not (policy and market and date_from and date_to):
        raise UsageError("policy mode needs --policy, --market, --from and --to")
    if market not in list_markets():
        raise InvestigationError(f"unknown market {market!r}; known: {', '.join(list_markets())}")
    params = load_market(market)
    if policy not in contract.POLICY_DSA_CATEGORY and policy not in params.local_policies:
        raise UsageError(
            f"--policy {policy!r} is neither in the policy taxonomy nor a local policy of {market}; "
            f"allowed: {', '.join(list(contract.POLICIES) + sorted(params.local_policies))}"
        )
    return params.timezone


def _check_range(ds, creator: str, market: str, date_from: str, date_to: str, tz: str) -> None:
    """Check the dates: well-formed and ordered; in policy mode also at most MAX_RANGE_DAYS and overlapping the data."""
    start = _parse_date(date_from, "--from", tz)
    stop = _parse_date(date_to, "--to", tz)
    if stop < start:
        raise UsageError(f"--to {date_to} is before --from {date_from}")
    if (stop - start).days + 1 > MAX_RANGE_DAYS and not creator:
        raise UsageError(
            f"the range {date_from} to {date_to} is longer than {MAX_RANGE_DAYS} days; narrow it"
        )
    if not creator:
        acts = ds.load("enforcement_actions", market=market, columns=["actioned_at"], ordered=False)
        if (
            acts.empty
            or start.tz_convert("UTC") > acts["actioned_at"].max()
            or (stop + pd.Timedelta(days=1)).tz_convert("UTC") <= acts["actioned_at"].min()
        ):
            lo = acts["actioned_at"].min() if len(acts) else None
            hi = acts["actioned_at"].max() if len(acts) else None
            raise InvestigationError(
                f"the range {date_from} to {date_to} has no data for {market}: its actions run from "
                f"{lo:%Y-%m-%d} to {hi:%Y-%m-%d}"
                if lo is not None
                else f"{market} has no enforcement actions"
            )


def validate_case(
    ds,
    *,
    creator: str | None = None,
    policy: str | None = None,
    market: str | None = None,
    date_from: str | None = None,
    date_to: str | None = None,
) -> dict:
    """Check a case before anything runs; return its normalised parameters.

    Creator mode: ``creator`` exists in ``creators`` (its market is the creator's home market;
    the window defaults to the creator's whole history). Policy mode: ``market`` has params,
    ``policy`` is in the taxonomy (``govlib.contract.POLICIES``) or one of the market's local
    policies (else :class:`UsageError` listing the allowed values), ``date_from <=
    date_to``, the range is at most 400 days and overlaps the data.

    Returns
    -------
    dict
        ``creator, policy, market, date_from, date_to`` as strings (empty when not used).

    Raises
    ------
    UsageError
        Both or neither mode given, a malformed value, a policy the market does not have.
    InvestigationError
        An unknown creator or market, or dates outside the data.
    """
    if bool(creator) == bool(policy or market):
        raise UsageError("give either --creator ID, or --policy P --market M --from DATE --to DATE")
    if creator:
        market, tz, date_from, date_to = _creator_case(ds, creator, date_from, date_to)
        policy = ""
    else:
        tz = _policy_case(policy, market, date_from, date_to)
        creator = ""
    _check_range(ds, creator, market, date_from, date_to, tz)
    return {
        "creator": creator or "",
        "policy": policy or "",
        "market": market,
        "date_from": date_from,
        "date_to": date_to,
    }


def open_case(
    ds, *, creator: str = "", policy: str = "", market: str = "", date_from: str = "", date_to: str = ""
) -> Case:
    """Validate the case and load its rows: content, actions, notices and appeals in scope.

    Creator mode: the creator's content (published in the window), actions, notices about them
    or their content, and appeals. Policy mode: actions of ``policy`` in ``market`` in the
    window, their content and creators, the notices of that policy and the appeals of those
    actions. ``tables`` also holds ``creators`` (the creators in scope) and, for related
    creators and health, ``market_actions`` / ``market_content`` (the market's rows in the
    window).
    """
    from govlib.params import load_market

    p = validate_case(
        ds,
        creator=creator or None,
        policy=policy or None,
        market=market or None,
        date_from=date_from or None,
        date_to=date_to or None,
    )
    tz = load_market(p["market"]).timezone
    start = pd.Timestamp(p["date_from"]).tz_localize(tz).tz_convert("UTC")
    end = (pd.Timestamp(p["date_to"]).tz_localize(tz) + pd.Timedelta(days=1)).tz_convert("UTC")
    m = p["market"]
    acts = ds.load("enforcement_actions", market=m, start=start, end=end)
    content = ds.load("content", market=m, start=start, end=end)
    if p["creator"]:
        cids = [p["creator"]]
        case_acts = acts[acts["creator_id"] == p["creator"]]
        case_content = content[content["creator_id"] == p["creator"]]
    else:
        case_acts = acts[acts["policy"] == p["policy"]]
        cids = sorted(case_acts["creator_id"].unique().tolist())
        ids = set(case_acts["content_id"].dropna())
        case_content = content[content["content_id"].isin(ids)]
        missing = sorted(ids - set(case_content["content_id"]))
        if missing:  # acted on in the window, published before it
            older = ds.load("content", market=m, where=lambda t: t.content_id.isin(missing))
            case_content = pd.concat([case_content, older], ignore_index=True)
    tables = {
        "content": case_content.reset_index(drop=True),
        "enforcement_actions": case_acts.reset_index(drop=True),
        "market_actions": acts,
        "market_content": content,
    }
    tables["creators"] = (
        ds.load("creators", where=lambda t: t.creator_id.isin(cids))
        if cids
        else ds.load("creators", where=lambda t: t.creator_id == "")
    )
    # full action history of the creators in scope (health needs the deductions before the window)
    tables["creator_actions"] = ds.load(
        "enforcement_actions", where=lambda t: t.creator_id.isin(cids or [""]), end=end
    )
    if ds.has("notices"):
        n = ds.load("notices", market=m, start=start, end=end)
        if p["creator"]:
            n = n[(n["creator_id"] == p["creator"]) | n["content_id"].isin(set(case_content["content_id"]))]
        else:
            n = n[n["policy"] == p["policy"]]
        tables["notices"] = n.reset_index(drop=True)
    if ds.has("appeals"):
        action_ids = list(case_acts["action_id"])
        tables["appeals"] = ds.load("appeals", where=lambda t: t.action_id.isin(action_ids or [""]))
        tables["creator_appeals"] = ds.load("appeals", where=lambda t: t.creator_id.isin(cids or [""]))
    return Case(
        mode="creator" if p["creator"] else "policy",
        market=m,
        tz=tz,
        start=start,
        end=end,
        creator=p["creator"],
        policy=p["policy"],
        creators=cids,
        tables=tables,
    )


def build_timeline(case: Case) -> pd.DataFrame:
    """Every event of the case in time order.

    Events: ``content_published``, ``action`` (detail: action type, severity, detection
    source), ``notice_received`` (detail: reporter type, outcome), ``appeal_submitted`` and
    ``appeal_resolved`` (detail: channel, outcome). Only events inside the case window.

    Returns
    -------
    DataFrame
        ``at`` (UTC), ``event, creator_id, content_id, action_id, policy, detail``; sorted by
        time, then event, then ids.
    """
    t = case.tables
    parts = []
    c = t.get("content")
    if c is not None and len(c):
        parts.append(
            pd.DataFrame(
                {
                    "at": c["published_at"],
                    "event": "content_published",
                    "creator_id": c["creator_id"],
                    "content_id": c["content_id"],
                    "action_id": None,
                    "policy": None,
                    "detail": c["content_type"].astype(str) + ", " + c["views"].astype(str) + " views",
                }
            )
        )
    a = t.get("enforcement_actions")
    if a is not None and len(a):
        parts.append(
            pd.DataFrame(
                {
                    "at": a["actioned_at"],
                    "event": "action",
                    "creator_id": a["creator_id"],
                    "content_id": a["content_id"],
                    "action_id": a["action_id"],
                    "policy": a["policy"],
                    "detail": a["action_type"] + ", " + a["severity"] + ", " + a["detection_source"],
                }
            )
        )
    n = t.get("notices")
    if n is not None and len(n):
        parts.append(
            pd.DataFrame(
                {
                    "at": n["received_at"],
                    "event": "notice_received",
                    "creator_id": n["creator_id"],
                    "content_id": n["content_id"],
                    "action_id": n["action_id"],
                    "policy": n["policy"],
                    "detail": n["reporter_type"] + ", " + n["outcome"],
                }
            )
        )
    ap = t.get("appeals")
    if ap is not None and len(ap):
        pol = a.set_index("action_id")["policy"] if a is not None and len(a) else pd.Series(dtype=object)
        for col, ev in (("submitted_at", "appeal_submitted"), ("resolved_at", "appeal_resolved")):
            x = ap[ap[col].notna()]
            parts.append(
                pd.DataFrame(
                    {
                        "at": x[col],
                        "event": ev,
                        "creator_id": x["creator_id"],
                        "content_id": None,
                        "action_id": x["action_id"],
                        "policy": x["action_id"].map(pol),
                        "detail": x["channel"] + ", " + x["outcome"],
                    }
                )
            )
    if not parts:
        return pd.DataFrame(columns=TIMELINE_COLUMNS)
    out = pd.concat(
        [p.astype({"content_id": object, "action_id": object, "policy": object}) for p in parts],
        ignore_index=True,
    )
    out["at"] = pd.to_datetime(out["at"], utc=True)
    out = out[(out["at"] >= case.start) & (out["at"] < case.end)]
    out = out.sort_values(
        ["at", "event", "creator_id", "action_id", "content_id"], kind="mergesort", na_position="first"
    )
    return out[TIMELINE_COLUMNS].reset_index(drop=True)


def find_related_creators(case: Case, by: str = "product_category", top: int = 20) -> pd.DataFrame:
    """Creators outside the case acted on in the same window on the same ``by`` values.

    ``by`` is ``"product_category"`` (of the actioned content; the default) or ``"policy"``.
    Related creators share at least one value with the case's actions; they are ranked by
    the number of shared values, then their actions on them.

    Returns
    -------
    DataFrame
        ``creator_id, shared`` (the shared values, comma-separated), ``n_shared, actions,
        policies``; at most ``top`` rows.
    """
    if by not in ("product_category", "policy"):
        raise UsageError(f"by must be 'product_category' or 'policy', got {by!r}")
    acts = case.tables["market_actions"].merge(
        case.tables["market_content"][["content_id", "product_category"]], on="content_id", how="left"
    )
    if by == "product_category":
        case_rows = case.tables["enforcement_actions"].merge(
            case.tables["content"][["content_id", "product_category"]], on="content_id", how="left"
        )
    else:
        case_rows = case.tables["enforcement_actions"]
    values = sorted(set(case_rows[by].dropna()))
    cols = ["creator_id", "shared", "n_shared", "actions", "policies"]
    others = acts[~acts["creator_id"].isin(case.creators) & acts[by].isin(values)]
    if others.empty:
        return pd.DataFrame(columns=cols)
    g = others.groupby("creator_id")
    out = pd.DataFrame(
        {
            "shared": g[by].agg(lambda s: ", ".join(sorted(set(s)))),
            "n_shared": g[by].nunique(),
            "actions": g.size(),
            "policies": g["policy"].agg(lambda s: ", ".join(sorted(set(s)))),
        }
    ).reset_index()
    out = out.sort_values(
        ["n_shared", "actions", "creator_id"], ascending=[False, False, True], kind="mergesort"
    )
    return out[cols].head(top).reset_index(drop=True)


def trace_health(
    case: Case, settings=None, creators: list[str] | None = None, freq_days: int = 7
) -> pd.DataFrame:
    """Health-score trajectory of creators over the case window (``govlib.metrics.health``).

    Scores every ``freq_days`` days from the window start, and at its end, with
    :func:`govlib.metrics.health.score_health` on the creators' whole action history.

    Returns
    -------
    DataFrame
        ``creator_id, at, score, milestone, restriction`` in creator then time order.
    """
    from govlib.metrics.health import score_health
    from govlib.params import load_market

    settings = settings or load_market(case.market).health
    ids = creators if creators is not None else case.creators
    cr = case.tables["creators"]
    cr = cr[cr["creator_id"].isin(ids)]
    acts = case.tables["creator_actions"]
    acts = acts[acts["creator_id"].isin(ids)]
    appeals = case.tables.get("creator_appeals")
    times = list(pd.date_range(case.start, case.end, freq=f"{int(freq_days)}D", inclusive="left"))
    times.append(case.end - pd.Timedelta(microseconds=1))
    rows = []
    for at in times:
        s = score_health(acts, cr, at, settings, appeals=appeals)
        rows.append(s[["creator_id", "at", "score", "milestone", "restriction"]])
    if not rows:
        return pd.DataFrame(columns=["creator_id", "at", "score", "milestone", "restriction"])
    out = pd.concat(rows, ignore_index=True)
    return out.sort_values(["creator_id", "at"], kind="mergesort").reset_index(drop=True)


def summarise_case(case: Case) -> pd.DataFrame:
    """The case in numbers: ``item, value`` rows (content, actions by type, notices, appeals...)."""
    t = case.tables
    a = t["enforcement_actions"]
    rows = [("creators", len(case.creators)), ("content_published", len(t["content"])), ("actions", len(a))]
    for kind, n in a["action_type"].value_counts().sort_index().items():
        rows.append((f"actions:{kind}", int(n)))
    for pol, n in a["policy"].value_counts().sort_index().items():
        rows.append((f"policy:{pol}", int(n)))
    if "notices" in t:
        rows.append(("notices", len(t["notices"])))
    if "appeals" in t:
        ap = t["appeals"]
        rows.append(("appeals", len(ap)))
        rows.append(("appeals_overturned", int(ap["outcome"].isin(contract.OVERTURN_OUTCOMES).sum())))
    rows.append(("views_of_content", int(t["content"]["views"].sum()) if len(t["content"]) else 0))
    rows.append(
        (
            "gmv_eur_of_content",
            float(np.round(t["content"]["gmv_eur"].sum(), 2)) if len(t["content"]) else 0.0,
        )
    )
    return pd.DataFrame(rows, columns=["item", "value"], dtype=object)
