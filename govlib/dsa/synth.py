"""Dump zips for tests and benchmarks: real rows packed as published, and large synthetic dumps.

:func:`build_dump` packs CSV files the way the Commission publishes them (an outer zip of
part zips). :func:`write_synthetic_dump` writes a large dump whose rows resample, column by
column, the values of real statements of reasons (so every value is one the import meets in
the wild), with fresh unique ``uuid`` values and optional planted duplicates.
"""

from __future__ import annotations

import io
import uuid
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

# The 38-column full layout (2025-07-01 onwards); the 37-column layout lacks content_id_ean.
FULL_COLUMNS_38 = (
    "uuid,decision_visibility,decision_visibility_other,end_date_visibility_restriction,decision_monetary,"
    "decision_monetary_other,end_date_monetary_restriction,decision_provision,end_date_service_restriction,"
    "decision_account,end_date_account_restriction,account_type,decision_ground,decision_ground_reference_url,"
    "illegal_content_legal_ground,illegal_content_explanation,incompatible_content_ground,"
    "incompatible_content_explanation,incompatible_content_illegal,category,category_addition,"
    "category_specification,category_specification_other,content_type,content_type_other,content_language,"
    "content_date,content_id_ean,territorial_scope,application_date,decision_facts,source_type,source_identity,"
    "automated_detection,automated_decision,platform_name,platform_uid,created_at"
).split(",")


def build_dump(path: str | Path, parts: Sequence[Sequence[tuple[str, bytes | Path]]]) -> Path:
    """Write an outer dump zip at ``path`` holding one part zip per item of ``parts``.

    Each part is a list of ``(csv_name, content)`` where content is bytes or a file path.
    Part zips are named ``<stem>-NNNNN.csv.zip`` after the outer zip's stem, as published.
    """
    path = Path(path)
    stem = path.name.removesuffix(".zip")
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as outer:
        for i, files in enumerate(parts):
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as inner:
                for name, content in files:
                    data = Path(content).read_bytes() if isinstance(content, Path) else content
                    inner.writestr(name, data)
            outer.writestr(f"{stem}-{i:05d}.csv.zip", buf.getvalue())
    return path


def _uuids(rng: np.random.Generator, n: int) -> np.ndarray:
    """Version-4 UUID strings from a seeded generator (deterministic)."""
    raw = rng.integers(0, 256, size=(n, 16), dtype=np.uint8)
    return np.array([str(uuid.UUID(bytes=row.tobytes(), version=4)) for row in raw], dtype=object)


def synthetic_rows(real: pd.DataFrame, n: int, rng: np.random.Generator) -> pd.DataFrame:
    """``n`` rows resampling each column of ``real`` independently; fresh uuids."""
    out = {}
    for col in FULL_COLUMNS_38:
        values = real[col].to_numpy(dtype=object) if col in real.columns else np.array([""], dtype=object)
        out[col] = values[rng.integers(0, len(values), size=n)]
    out["uuid"] = _uuids(rng, n)
    return pd.DataFrame(out, columns=FULL_COLUMNS_38)


def write_synthetic_dump(
    path: str | Path,
    real_csvs: Sequence[str | Path],
    n_rows: int,
    n_parts: int = 1,
    *,
    seed: int = 7,
    duplicates: int = 0,
    chunk_rows: int = 100_000,
    compresslevel: int = 1,
) -> Path:
    """A dump zip of ``n_rows`` synthetic rows split evenly over ``n_parts`` part zips.

    ``duplicates`` rows of part 0 are repeated at the start of the last part (across parts).
    Rows are generated and compressed ``chunk_rows`` at a time, so memory stays bounded.
    """
    path = Path(path)
    rng = np.random.default_rng(seed)
    real = pd.concat([pd.read_csv(p, dtype=str, keep_default_na=False) for p in real_csvs], ignore_index=True)
    stem = path.name.removesuffix(".zip")
    per_part = [n_rows // n_parts + (1 if i < n_rows % n_parts else 0) for i in range(n_parts)]
    planted: pd.DataFrame | None = None
    tmp_parts = []
    for i, n in enumerate(per_part):
        part_path = path.with_name(f"{stem}-{i:05d}.csv.zip")
        with zipfile.ZipFile(
            part_path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=compresslevel
        ) as z:
            with z.open(f"{stem}-{i:05d}-00000.csv", "w", force_zip64=True) as fh:
                text = io.TextIOWrapper(fh, encoding="utf-8", newline="")
                first = True
                if i == n_parts - 1 and duplicates and planted is not None:
                    planted.to_csv(text, index=False, header=True, lineterminator="\n")
                    first = False
                done = 0
                while done < n:
                    k = min(chunk_rows, n - done)
                    df = synthetic_rows(real, k, rng)
                    if i == 0 and planted is None and duplicates:
                        planted = df.head(duplicates).copy()
                    df.to_csv(text, index=False, header=first, lineterminator="\n")
                    first = False
                    done += k
                text.flush()
                text.detach()
        tmp_parts.append(part_path)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as outer:
        for p in tmp_parts:
            outer.write(p, p.name)
            p.unlink()
    return path
