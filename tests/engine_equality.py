"""Comparing an engine result with its pandas reference: counts exact, floats to 1e-9 (issue 15)."""

from __future__ import annotations

import numpy as np
import pandas as pd

TOL = 1e-9


def assert_same(got: pd.DataFrame, want: pd.DataFrame, keys: list[str] | None = None) -> None:
    """Equal frames: the same rows (in ``keys`` order when given), counts exact, floats to 1e-9."""
    assert list(got.columns) == list(want.columns)
    if keys:
        got = got.sort_values(keys, kind="mergesort").reset_index(drop=True)
        want = want.sort_values(keys, kind="mergesort").reset_index(drop=True)
    assert len(got) == len(want)
    for c in want.columns:
        g, w = got[c], want[c]
        if pd.api.types.is_float_dtype(w) or pd.api.types.is_float_dtype(g):
            np.testing.assert_allclose(
                g.astype(float).to_numpy(), w.astype(float).to_numpy(), rtol=TOL, atol=0, err_msg=c
            )
        else:
            gv = [None if pd.isna(x) else (x.item() if hasattr(x, "item") else x) for x in g.astype(object)]
            wv = [None if pd.isna(x) else (x.item() if hasattr(x, "item") else x) for x in w.astype(object)]
            assert gv == wv, c
