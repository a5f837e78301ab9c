"""Forensic scan: search the raw bytes of every file memoryd owns for what was erased.

Needles (bytes, held in RAM for the request only, never written anywhere):
  content   an erased memory's whole text (when no surviving memory holds that same text)
  token     a distinctive word of an erased memory: one that no surviving memory, tag,
            namespace or the schema contains (so finding it can only mean leftover data);
            checked with word boundaries in the raw bytes
  id        an erased memory's id
  field     a metadata value of an erased memory (tag, source, session, tool, kind,
            feedback note) or a value redacted from a kept one, when no survivor holds it
  derived   strings an ErasureHook derived from the memories (entity keys, summaries)

GNU grep -F (Aho-Corasick / Commentz-Walter, ~100+ MB/s here) does the multi-needle search
when available, fed through a pipe; otherwise a pure-Python scan of an mmap. Without the
needles (a receipt verified later, or an erasure resumed after the process was killed
post-commit) the scan looks for the *hashed* ids instead: every ULID-shaped string in the
files is hashed with the receipt's salt and compared.
"""

from __future__ import annotations

import logging
import mmap
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Needle", "FileScan", "ScanReport", "build_needles", "scan_files", "scan_hashed_ids", "MIN_TOKEN"]

log = logging.getLogger(__name__)

MIN_TOKEN = 5  # shorter words are neither distinctive nor cheap to search
MIN_CONTENT = 8  # a whole one-line text this long is searched, words or not ("Bo Li: 555-1234")
MIN_FIELD = 4  # a metadata value (tag, source, ...) no survivor holds, this long, is searched
MAX_NEEDLE = 4096
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_ULID = rb"[0-9A-HJKMNP-TV-Z]{26}"
_ALNUM = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") | frozenset(range(0x80, 0x100))


@dataclass(frozen=True)
class Needle:
    data: bytes
    kind: str  # content | token | id | field | derived


@dataclass
class FileScan:
    label: str  # role of the file (db, db-wal, db-shm, export, ...): never its content
    bytes: int
    hits: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)


@dataclass
class ScanReport:
    files: list[FileScan]
    needles: int
    engine: str

    @property
    def hits(self) -> int:
        return sum(f.hits for f in self.files)

    @property
    def total_bytes(self) -> int:
        return sum(f.bytes for f in self.files)

    def to_dict(self) -> dict:
        return {
            "performed": True, "engine": self.engine, "needles": self.needles, "files": len(self.files),
            "bytes": self.total_bytes, "hits": self.hits,
            "per_file": [{"file": f.label, "bytes": f.bytes, "hits": f.hits, **({"by_kind": f.by_kind} if f.hits else {})}
                         for f in self.files],
        }


def build_needles(
    contents: Sequence[str],
    ids: Sequence[str],
    *,
    is_common: Callable[[str], bool],
    content_survives: Callable[[str], bool],
    derived: Iterable[str] = (),
    fields: Iterable[str] = (),
) -> list[Needle]:
    """Needles for one erasure. `is_common(word)`: the word legitimately remains (a surviving
    memory or the schema has it). `content_survives(text)`: a surviving memory holds this
    whole text."""
    out: dict[bytes, str] = {}

    def distinctive(text: str) -> bool:
        return any(len(w) >= MIN_TOKEN and not is_common(w) for w in _WORD.findall(text))

    def add(b: bytes, kind: str) -> None:
        b = b[:MAX_NEEDLE]
        if len(b) >= (MIN_FIELD if kind == "field" else MIN_TOKEN) and b not in out:
            out[b] = kind

    for i in ids:
        add(i.encode("utf-8"), "id")
    for text in contents:
        if not content_survives(text):
            lines = text.split("\n")  # grep reads one pattern per line
            for line in lines:
                line = line.strip("\r")
                # a one-line text is searched whole even when short ("Bo Li: 555-1234");
                # a line of a longer text only when it is distinctive or long
                if distinctive(line) or len(line) >= (MIN_CONTENT if len(lines) == 1 else 24):
                    add(line.encode("utf-8"), "content")
        for w in dict.fromkeys(_WORD.findall(text)):
            if len(w) >= MIN_TOKEN and not is_common(w):
                add(w.encode("utf-8"), "token")
                add(w.lower().encode("utf-8"), "token")
    for v in fields:  # metadata values of erased memories and redacted values
        line = " ".join(v.split())
        if len(line) >= MIN_FIELD:
            add(line.encode("utf-8"), "field")
        for w in dict.fromkeys(_WORD.findall(v)):
            if len(w) >= MIN_TOKEN and not is_common(w):
                add(w.encode("utf-8"), "token")
                add(w.lower().encode("utf-8"), "token")
    for d in derived:
        for line in str(d).split("\n"):
            if distinctive(line):
                add(line.strip().encode("utf-8"), "derived")
    return [Needle(b, k) for b, k in out.items()]


def _grep() -> str | None:
    return shutil.which("grep")


def _grep_matches(path: Path, args: list[str], patterns: bytes | None) -> list[tuple[int, bytes]] | None:
    """(offset, match) pairs from `grep -a -o -b`, or None if grep is unusable."""
    exe = _grep()
    if exe is None:
        return None
    try:
        p = subprocess.run([exe, "-a", "-o", "-b", *args, "--", str(path)] if patterns is None
                           else [exe, "-a", "-o", "-b", *args, "-f", "-", "--", str(path)],
                           input=patterns, capture_output=True, env={"LC_ALL": "C"}, check=False)
    except OSError:
        return None
    if p.returncode not in (0, 1):
        log.warning("grep failed on %s (%s); falling back to Python", path, p.stderr[:200])
        return None
    out = []
    for line in p.stdout.split(b"\n"):
        if line:
            off, _, m = line.partition(b":")
            out.append((int(off), m))
    return out


def _python_matches(path: Path, needles: Sequence[bytes]) -> list[tuple[int, bytes]]:
    out = []
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        if size == 0:
            return out
        with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            for n in needles:
                i = mm.find(n)
                while i != -1:
                    out.append((i, n))
                    i = mm.find(n, i + 1)
    return out


def _bounded(path: Path, hits: list[tuple[int, bytes]]) -> list[tuple[int, bytes]]:
    """Keep token hits that are whole words in the raw bytes ('novak' inside 'novakova'
    is another word, not a leftover)."""
    if not hits:
        return hits
    keep = []
    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        n = len(mm)
        for off, m in hits:
            before = mm[off - 1] if off > 0 else 0
            after = mm[off + len(m)] if off + len(m) < n else 0
            if before not in _ALNUM and after not in _ALNUM:
                keep.append((off, m))
    return keep


def scan_files(files: Sequence[tuple[str, Path]], needles: Sequence[Needle]) -> ScanReport:
    kinds = {n.data: n.kind for n in needles}
    patterns = b"\n".join(kinds)
    engine = "grep -F" if _grep() else "python"
    report = ScanReport([], len(needles), engine)
    for label, path in files:
        try:
            size = path.stat().st_size
        except OSError:
            continue
        fs = FileScan(label, size)
        report.files.append(fs)
        if size == 0 or not needles:
            continue
        raw = _grep_matches(path, ["-F"], patterns)
        if raw is None:
            report.engine = "python"
            raw = _python_matches(path, list(kinds))
        # grep -o reports the longest match at a position: attribute it to a needle kind
        typed = [(off, m, kinds.get(m) or _kind_of(m, kinds)) for off, m in raw]
        tokens = _bounded(path, [(o, m) for o, m, k in typed if k == "token"])
        final = [(o, k) for o, m, k in typed if k != "token"] + [(o, "token") for o, _ in tokens]
        for _, k in final:
            fs.hits += 1
            fs.by_kind[k] = fs.by_kind.get(k, 0) + 1
    return report


def _kind_of(m: bytes, kinds: dict[bytes, str]) -> str:
    best = None
    for n, k in kinds.items():
        if n in m and (best is None or len(n) > len(best[0])):
            best = (n, k)
    return best[1] if best else "content"


def scan_hashed_ids(files: Sequence[tuple[str, Path]], is_erased: Callable[[str], bool]) -> dict:
    """Look for erased ids without knowing them: hash every ULID-shaped string found."""
    hits = 0
    per_file = []
    total = 0
    checked: dict[bytes, bool] = {}
    for label, path in files:
        try:
            size = path.stat().st_size
        except OSError:
            continue
        total += size
        found = 0
        if size:
            raw = _grep_matches(path, ["-E", _ULID.decode()], None)
            if raw is None:
                with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
                    raw = [(m.start(), m.group()) for m in re.finditer(_ULID, mm)]
            for _, m in raw:
                if m not in checked:
                    checked[m] = is_erased(m.decode("ascii"))
                if checked[m]:
                    found += 1
        hits += found
        per_file.append({"file": label, "bytes": size, "hits": found})
    return {"files": len(per_file), "bytes": total, "candidates": len(checked), "hits": hits, "per_file": per_file}
