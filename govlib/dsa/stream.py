"""Stream the CSVs of a Transparency Database dump into DuckDB, without extracting them to disk.

A daily dump is an outer zip of part zips, each holding CSVs. :func:`list_csvs` lists the CSVs
with their headers; :class:`BatchFeed` parses several of them at once, each in its own thread,
decompressing the part zip straight out of the outer zip (ISA-L's inflate, about twice zlib's
speed, and pyarrow's CSV parser release the GIL), and hands DuckDB one stream of Arrow record
batches through a bounded queue.

(A first design fed named pipes to DuckDB's own CSV reader; DuckDB re-opens a file after
sniffing it, which a pipe cannot serve, so it deadlocked.)

A worker that fails (truncated or corrupt zip, bad CRC, malformed CSV) records its error and
stops; :meth:`BatchFeed.raise_failures` turns it into an error naming the file after the query,
so a short read is never taken for a complete one."""

from __future__ import annotations

import csv
import io
import queue
import shutil
import struct
import threading
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from govlib.dsa import DsaError


class DumpReadError(DsaError):
    """A dump's zip or CSV cannot be read (truncated, corrupt, unexpected header)."""


@dataclass(frozen=True)
class CsvMember:
    """One CSV of a dump: ``part`` is its index in reading order (part zips, then CSVs, by name)."""

    part: int
    label: str
    outer: Path
    inner_zip: str | None  # member of the outer zip holding the CSV, None if the CSV is in the outer zip
    csv_name: str | None  # member name of the CSV, None if ``outer`` is itself a CSV
    header: tuple[str, ...]


def _inflate_error() -> type[Exception]:
    from isal import isal_zlib

    return isal_zlib.error


_BAD_ZIP = (zipfile.BadZipFile, zlib.error, _inflate_error(), EOFError, OSError, KeyError, ValueError)


def _visible(name: str) -> bool:
    base = name.rsplit("/", 1)[-1]
    return not (name.endswith("/") or base.startswith(".") or name.startswith("__MACOSX"))


def _data_offset(fp, info: zipfile.ZipInfo) -> int:
    """Where member ``info``'s (compressed) bytes start in the zip file ``fp``."""
    fp.seek(info.header_offset)
    head = fp.read(30)
    if len(head) < 30 or head[:4] != b"PK\x03\x04":
        raise zipfile.BadZipFile(f"bad local header of {info.filename}")
    name_len, extra_len = struct.unpack("<HH", head[26:30])
    return info.header_offset + 30 + name_len + extra_len


class _Window(io.RawIOBase):
    """Bytes ``[start, start + size)`` of file ``fp`` as a seekable file: a part zip stored in the
    outer zip, opened in place (zipfile's own member stream emulates a seek by reading up to it,
    so opening a part zip read the whole part once more to find its directory at the end)."""

    def __init__(self, fp, start: int, size: int):
        super().__init__()
        self._fp, self._start, self._size, self._pos = fp, start, size, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = 0) -> int:
        base = (0, self._pos, self._size)[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer) -> int:
        n = max(0, min(len(buffer), self._size - self._pos))
        self._fp.seek(self._start + self._pos)
        data = self._fp.read(n)
        buffer[: len(data)] = data
        self._pos += len(data)
        return len(data)


def _open_part(outer: zipfile.ZipFile, name: str):
    """Part zip ``name`` of the outer zip as a seekable file (in place when stored, else spooled)."""
    info = outer.getinfo(name)
    if info.compress_type == zipfile.ZIP_STORED:
        return _Window(outer.fp, _data_offset(outer.fp, info), info.file_size)
    import tempfile  # a compressed part zip cannot be seeked cheaply: spool it (to disk above 64 MB)

    spooled = tempfile.SpooledTemporaryFile(64 << 20)
    with open_member(outer, name) as src:
        shutil.copyfileobj(src, spooled, 1 << 20)
    spooled.seek(0)
    return spooled


class _InflatedMember(io.RawIOBase):
    """A deflated zip member, inflated by ISA-L (``isal``) with its CRC-32 and size checked at the end.

    zipfile inflates with zlib and checks the CRC with zlib too: together 2.5 s of CPU per GB of
    CSV, half of the parse. :meth:`read` hands out the inflated chunks themselves (no copy when
    the caller asks for a whole block, as pyarrow's reader does). A short or corrupt member raises
    :class:`zipfile.BadZipFile`, as zipfile would, so a truncated dump is never read as complete.
    """

    _CHUNK = 1 << 20  # compressed bytes per step: ~7 MB of CSV

    def __init__(self, fp, info: zipfile.ZipInfo):
        from isal import isal_zlib

        super().__init__()
        fp.seek(_data_offset(fp, info))
        self._fp, self._info, self._zlib = fp, info, isal_zlib
        self._left = info.compress_size
        self._inflate = isal_zlib.decompressobj(-15)
        self._pending = b""
        self._crc, self._size = 0, 0

    def readable(self) -> bool:
        return True

    def _inflate_next(self) -> bytes:
        """The next inflated chunk (``b""`` at the end, after the CRC-32 and size check)."""
        data = b""
        while not data and self._left:
            chunk = self._fp.read(min(self._CHUNK, self._left))
            if not chunk:
                raise EOFError(f"{self._info.filename}: the zip ends inside this member")
            self._left -= len(chunk)
            data = self._inflate.decompress(chunk)
            self._crc = self._zlib.crc32(data, self._crc)
            self._size += len(data)
            if not self._left and (self._crc != self._info.CRC or self._size != self._info.file_size):
                raise zipfile.BadZipFile(f"Bad CRC-32 or size for file {self._info.filename!r}")
        return data

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            parts = [self._pending]
            while part := self._inflate_next():
                parts.append(part)
            self._pending = b""
            return b"".join(parts)
        if not self._pending:
            self._pending = self._inflate_next()
        out, self._pending = (
            (self._pending, b"")
            if size >= len(self._pending)
            else (self._pending[:size], self._pending[size:])
        )
        return out

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def readline(self, size: int = -1) -> bytes:
        limit = size if size is not None and size >= 0 else 1 << 62
        while b"\n" not in self._pending[:limit] and len(self._pending) < limit:
            more = self._inflate_next()
            if not more:
                break
            self._pending += more
        end = self._pending.find(b"\n", 0, limit)
        n = min(limit, len(self._pending)) if end < 0 else end + 1
        out, self._pending = self._pending[:n], self._pending[n:]
        return out


def open_member(zf: zipfile.ZipFile, name: str) -> io.RawIOBase:
    """Member ``name`` of ``zf`` as a stream: deflated members through :class:`_InflatedMember`."""
    info = zf.getinfo(name)
    if info.compress_type != zipfile.ZIP_DEFLATED or info.flag_bits & 0x1:  # stored or encrypted
        return zf.open(info)
    return _InflatedMember(zf.fp, info)


@contextmanager
def open_csv(m: CsvMember) -> Iterator[io.BufferedIOBase]:
    """The CSV's bytes as a stream (decompressed on the fly; a part zip stored in the outer zip is
    read in place, a compressed one is decompressed into memory-mapped temporary storage once)."""
    if m.csv_name is None:
        with open(m.outer, "rb") as fh:
            yield fh
        return
    with zipfile.ZipFile(m.outer) as outer:
        if m.inner_zip is None:
            with open_member(outer, m.csv_name) as fh:
                yield fh
            return
        with _open_part(outer, m.inner_zip) as part, zipfile.ZipFile(part) as inner:
            with open_member(inner, m.csv_name) as fh:
                yield fh


def _read_header(m: CsvMember) -> tuple[str, ...]:
    with open_csv(m) as fh:
        first = fh.readline(1 << 20).decode("utf-8-sig", errors="replace")
    row = next(csv.reader([first]), [])
    return tuple(c.strip() for c in row)


def list_csvs(dump: Path) -> list[CsvMember]:
    """Every CSV of ``dump`` (outer zip of part zips, a part zip, or a CSV) with its header.

    Raises
    ------
    DumpReadError
        The dump or one of its part zips is not a readable zip (names the file).
    """
    dump = Path(dump)
    if dump.suffix == ".csv":
        members = [CsvMember(0, dump.name, dump, None, None, ())]
    else:
        members = []
        try:
            with zipfile.ZipFile(dump) as outer:
                for name in sorted(n for n in outer.namelist() if _visible(n)):
                    if name.endswith(".csv"):
                        members.append(CsvMember(len(members), f"{dump.name}/{name}", dump, None, name, ()))
                    elif name.endswith(".zip"):
                        m0 = CsvMember(0, f"{dump.name}/{name}", dump, name, None, ())
                        for csv_name in _inner_names(m0):
                            label = f"{dump.name}/{name}/{csv_name}"
                            members.append(CsvMember(len(members), label, dump, name, csv_name, ()))
        except _BAD_ZIP as exc:
            raise DumpReadError(
                f"{dump.name}: not a readable zip ({exc}); the file is truncated or corrupt, download it again"
            ) from None
    out = []
    for m in members:
        try:
            header = _read_header(m)
        except _BAD_ZIP as exc:
            raise DumpReadError(
                f"{m.label}: cannot be read ({exc}); the dump is truncated or corrupt"
            ) from None
        out.append(CsvMember(m.part, m.label, m.outer, m.inner_zip, m.csv_name, header))
    return out


def _inner_names(m: CsvMember) -> list[str]:
    with zipfile.ZipFile(m.outer) as outer, _open_part(outer, m.inner_zip) as part:
        with zipfile.ZipFile(part) as inner:
            return sorted(n for n in inner.namelist() if _visible(n) and n.endswith(".csv"))


class BatchFeed:
    """Record batches of the needed columns of every CSV, parsed by ``threads`` worker threads.

    Each worker takes the next CSV, streams it out of its zip through pyarrow's streaming CSV
    reader (``block_size`` bytes at a time, quoted line breaks allowed, every column as text)
    and puts its batches, with a ``source_part`` column, into a bounded queue: memory holds at
    most ``threads * 2`` blocks whatever the dump size. :meth:`reader` is the queue as a
    ``pyarrow.RecordBatchReader`` that DuckDB scans as a stream.
    """

    def __init__(self, members: list[CsvMember], columns: tuple[str, ...], threads: int = 2,
                 block_size: int = 8 << 20, transform=None, schema=None):  # fmt: skip
        import pyarrow as pa

        self.members, self.columns, self.block_size = members, columns, block_size
        self.schema = pa.schema([(c, pa.string()) for c in columns] + [("source_part", pa.int32())])
        # ``transform(batch) -> batch of ``schema``: per-batch work done in the parsing threads
        self.transform = transform
        self.out_schema = schema or self.schema
        self.errors: dict[int, str] = {}
        self.rows: dict[int, int] = {}
        self._todo: queue.Queue = queue.Queue()
        for m in members:
            self._todo.put(m)
        self._out: queue.Queue = queue.Queue(maxsize=2 * max(1, threads))
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._work, daemon=True) for _ in range(max(1, threads))]

    def _work(self) -> None:
        while not self._stop.is_set():
            try:
                m = self._todo.get_nowait()
            except queue.Empty:
                break
            try:
                self._parse(m)
            except _BAD_ZIP as exc:
                self.errors[m.part] = f"{type(exc).__name__}: {exc}"
            except Exception as exc:  # noqa: BLE001 - pyarrow's CSV errors: named with the file after the query
                self.errors[m.part] = str(exc).splitlines()[0]
        self._out.put(None)

    def _parse(self, m: CsvMember) -> None:
        import pyarrow as pa
        import pyarrow.csv as pacsv

        present = [c for c in self.columns if c in m.header]
        n = 0
        with open_csv(m) as fh:
            reader = pacsv.open_csv(
                fh,
                read_options=pacsv.ReadOptions(block_size=self.block_size, use_threads=False),
                parse_options=pacsv.ParseOptions(newlines_in_values=True),
                convert_options=pacsv.ConvertOptions(
                    column_types={c: pa.string() for c in m.header}, include_columns=present,
                    strings_can_be_null=False, quoted_strings_can_be_null=False,
                ),
            )  # fmt: skip
            for batch in reader:
                k = batch.num_rows
                cols = [batch.column(c) if c in present else pa.nulls(k, pa.string()) for c in self.columns]
                cols.append(pa.repeat(pa.scalar(m.part, pa.int32()), k))
                out = pa.record_batch(cols, schema=self.schema)
                n += k
                if self.transform is not None:
                    out = self.transform(out)
                while not self._stop.is_set():
                    try:
                        self._out.put(out, timeout=0.2)
                        break
                    except queue.Full:
                        continue
        self.rows[m.part] = n

    def _batches(self):
        for t in self._threads:
            t.start()
        done = 0
        while done < len(self._threads):
            item = self._out.get()
            if item is None:
                done += 1
            else:
                yield item

    def reader(self):
        """The batches as one ``pyarrow.RecordBatchReader`` (starts the workers; read it once)."""
        import pyarrow as pa

        return pa.RecordBatchReader.from_batches(self.out_schema, self._batches())

    def close(self) -> None:
        """Stop the workers (after a failed query) and wait for them."""
        self._stop.set()
        while any(t.is_alive() for t in self._threads):
            try:
                while True:
                    self._out.get_nowait()
            except queue.Empty:
                pass
            for t in self._threads:
                t.join(0.05)

    def raise_failures(self) -> None:
        """Raise :class:`DumpReadError` naming the CSVs that could not be read to the end."""
        bad = [(m, self.errors[m.part]) for m in self.members if m.part in self.errors]
        if bad:
            lines = "; ".join(f"{m.label} ({err})" for m, err in bad[:5])
            raise DumpReadError(
                f"{len(bad)} CSV file(s) of the dump could not be read to the end: {lines}. "
                "The dump is truncated or corrupt; download it again (nothing from it was stored)."
            )
