"""Reading the CSVs of a dump in place: part zips opened inside the outer zip, members inflated by
ISA-L with their CRC-32 checked, so a damaged dump is an error and never a short read."""

from __future__ import annotations

import hashlib
import io
import zipfile

import pytest
from paths import FIXTURES

from govlib import cli
from govlib.dsa.stream import list_csvs, open_csv, open_member

V2 = FIXTURES / "dsa" / "sor_rows" / "sor-global-2025-07-01-full-00000-00000.csv"


def _zip(members: dict[str, bytes], compression: int) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=compression) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


@pytest.mark.parametrize("outer_compression", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
def test_every_csv_reads_back_byte_for_byte(tmp_path, outer_compression):
    text = V2.read_bytes()
    parts = {
        "d-00000.csv.zip": _zip(
            {"a.csv": text, "b.csv": text[: text.index(b"\n") + 1]}, zipfile.ZIP_DEFLATED
        ),
        "d-00001.csv.zip": _zip({"c.csv": text}, zipfile.ZIP_STORED),
    }
    dump = tmp_path / "d.zip"
    dump.write_bytes(_zip(parts, outer_compression))
    members = list_csvs(dump)
    assert [m.label.rsplit("/", 1)[1] for m in members] == ["a.csv", "b.csv", "c.csv"]
    assert {m.header[0] for m in members} == {"uuid"}
    for m, expected in zip(members, (text, text[: text.index(b"\n") + 1], text), strict=True):
        with open_csv(m) as fh:
            assert fh.readline() == expected[: expected.index(b"\n") + 1]
            assert fh.read() == expected[expected.index(b"\n") + 1 :]


def test_inflated_member_checks_its_crc(tmp_path):
    """Intact deflate data under a wrong CRC-32 in the zip's directory: only the CRC check sees it."""
    data = bytearray(_zip({"a.csv": V2.read_bytes()}, zipfile.ZIP_DEFLATED))
    central = data.index(b"PK\x01\x02")
    data[central + 16] ^= 0x01  # CRC-32 field of the central directory entry
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as z:
        with pytest.raises(zipfile.BadZipFile, match="CRC-32 or size for file 'a.csv'"):
            open_member(z, "a.csv").read()


def test_sync_refuses_a_part_whose_csv_is_damaged(tmp_path, capsys):
    """A flipped byte inside the compressed CSV (checksum file matching): an error naming the CSV."""
    data = _zip({"a.csv": V2.read_bytes()}, zipfile.ZIP_DEFLATED)
    info = zipfile.ZipFile(io.BytesIO(data)).getinfo("a.csv")
    damaged = bytearray(data)
    damaged[info.header_offset + 30 + len("a.csv") + info.compress_size - 40] ^= 0x55
    archive = tmp_path / "archive"
    archive.mkdir()
    dump = archive / "sor-global-2025-07-02-full.zip"
    dump.write_bytes(_zip({"sor-global-2025-07-02-full-00000.csv.zip": bytes(damaged)}, zipfile.ZIP_STORED))
    dump.with_name(dump.name + ".sha1").write_text(hashlib.sha1(dump.read_bytes()).hexdigest() + "\n")
    code = cli.main(["dsa", "sync", "--archive", str(archive), "--store", str(tmp_path / "store")])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    assert "sor-global-2025-07-02-full-00000.csv.zip/a.csv" in err
    assert not (tmp_path / "store" / "statements").exists()
