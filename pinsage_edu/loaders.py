"""§4.1 File formats: public data read into a :class:`~pinsage_edu.data.Dataset`.

* **MovieLens** (every public release): a user's set of movies rated ``>= min_rating`` becomes a
  collection; the movies are the items. Formats: ``ratings.csv`` (ml-latest-small, 20M, 25M, 32M),
  ``u.data`` (100K), ``ratings.dat`` with ``::`` separators (1M, 10M).
* **goodbooks-10k**: books × the shelves (tags) users put them on; edge weight = how many users did.
* **any interactions CSV** with an item column and a collection column (optionally weight, time).
* **by name or path**: :func:`load_dataset` takes a shipped name (:data:`SHIPPED`, found by
  :func:`dataset_path`), ``synthetic`` (:func:`~pinsage_edu.data.synthetic_pins_boards`) or a folder
  or file whose format :func:`detect_format` recognises; :func:`resolve_dataset` records it so it
  loads again from any working directory.

Loaders are strict: a missing, empty or unreadable file (or folder on the way to it), a wrong header,
a row with the wrong number of fields, a line longer than :data:`MAX_LINE_CHARS`, a non-numeric id or
rating (numbers are ASCII digits: no ``1_0``, no other scripts' digits), a rating out of range, an id
missing from the metadata, a threshold no row passes or a timestamp beyond the year 9999 raises
:class:`~pinsage_edu.data.DataError` naming the file, the line and the problem. Only what the
docstrings say is dropped is dropped, and it is counted in ``Dataset.dropped``. Every file may also be
gzipped (``ratings.csv.gz``).
"""

from __future__ import annotations

import csv
import gzip
import io
import math
import os
import re
import stat
import time as _time
import warnings
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
import torch

from .data import DataError, Dataset, Interactions, ItemTable, merge_duplicates, synthetic_pins_boards, synthetic_preset

__all__ = [
    "MAX_LINE_CHARS",
    "MAX_TIMESTAMP",
    "SHIPPED",
    "dataset_path",
    "detect_format",
    "resolve_dataset",
    "load_dataset",
    "load_movielens",
    "load_goodbooks",
    "canonical_name",
    "load_interactions_csv",
]

SHIPPED = ("ml-latest-small", "goodbooks-10k")
_ALIASES = {"movielens": "ml-latest-small", "ml": "ml-latest-small", "goodbooks": "goodbooks-10k"}


MAX_LINE_CHARS = 1 << 20
"""The longest line (in characters, its line end included) a loader reads: no real dataset comes near
it, and a longer one — a damaged file, or a small gzip that expands to one endless line — is refused
with a :class:`DataError` naming the file and line after reading at most this much of it."""

MAX_TIMESTAMP = 253_402_300_799
"""The last second of the year 9999 (UTC) in Unix time: a later MovieLens timestamp is refused."""


# ====================================================================== reading files
def _open_text(path: Path, encoding: str) -> io.TextIOBase:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding=encoding, newline="")
    return open(path, encoding=encoding, newline="")


def _first_file_on_the_way(path: Path) -> Path:
    """The first folder component of ``path`` that is in fact a file (``path`` itself if none is)."""
    for parent in reversed(path.parents):
        if parent.exists() and not parent.is_dir():
            return parent
    return path


def _first_closed_folder(path: Path) -> Path:
    """The first folder on the way to ``path`` (or ``path`` itself) this process may not enter or list."""
    for folder in [*reversed(path.parents), path]:
        try:
            if folder.is_dir() and not os.access(folder, os.R_OK | os.X_OK):
                return folder
        except OSError:
            return folder
    return path


def _stat(path: Path) -> os.stat_result | None:
    """``os.stat(path)``, or None where nothing is there; a :class:`DataError` naming the path actually
    refused where a folder on the way is a file or may not be entered."""
    try:
        return os.stat(path)
    except FileNotFoundError:
        return None
    except NotADirectoryError:
        raise DataError(f"{path}: {_first_file_on_the_way(path)} is a file, not a folder") from None
    except PermissionError:
        raise DataError(f"{path}: permission denied: cannot read the folder {_first_closed_folder(path.parent)}"
                        ) from None
    except OSError as exc:
        raise DataError(f"{path}: cannot be read ({exc.strerror or exc})") from None


def _exists(path: Path) -> bool:
    """Whether ``path`` exists; a :class:`DataError` if that cannot be told (see :func:`_stat`)."""
    return _stat(path) is not None


def _is_dir(path: Path) -> bool:
    st = _stat(path)
    return st is not None and stat.S_ISDIR(st.st_mode)


def _check_folder_readable(folder: Path) -> None:
    """A :class:`DataError` naming ``folder`` when this process may not list it or open files in it."""
    if not os.access(folder, os.R_OK | os.X_OK):
        raise DataError(f"{folder}: permission denied: cannot read the folder {_first_closed_folder(folder)}")


def _in_folder(folder: Path, name: str) -> Path:
    """``folder / name``, or its gzipped copy ``name.gz`` where only that exists."""
    plain = folder / name
    gz = folder / (name + ".gz")
    return gz if not _exists(plain) and _exists(gz) else plain


def _require_file(path: Path, what: str) -> Path:
    st = _stat(path)
    if st is None:
        raise DataError(f"{path}: {what} not found")
    if stat.S_ISDIR(st.st_mode):
        raise DataError(f"{path}: expected the {what} file, found a folder")
    if st.st_size == 0:
        raise DataError(f"{path}: file is empty")
    if not os.access(path, os.R_OK):
        raise DataError(f"{path}: permission denied: cannot read the file")
    return path


def _require_path(path: str | os.PathLike) -> Path:
    """A dataset folder or file that exists and may be read (a mistyped path must not fall back to its
    parent); :class:`DataError` naming the path refused."""
    p = Path(path)
    if not _exists(p):
        raise DataError(f"{p}: no such file or folder")
    if _is_dir(p):
        _check_folder_readable(p)
    return p


class _Lines:
    """The lines of an open text file, each read holding at most :data:`MAX_LINE_CHARS` characters: a
    longer line is a :class:`DataError` naming the file and line, raised before the line is held whole
    (so a small gzip that expands to one endless line costs milliseconds and a megabyte, not gigabytes).
    ``line`` is the number of the last line read."""

    def __init__(self, f: io.TextIOBase, path: Path):
        self.f, self.path, self.line = f, path, 0

    def __iter__(self) -> "_Lines":
        return self

    def __next__(self) -> str:
        text = self.f.readline(MAX_LINE_CHARS + 1)
        if not text:
            raise StopIteration
        self.line += 1
        if len(text) > MAX_LINE_CHARS:
            raise DataError(f"{self.path}, line {self.line}: line longer than {MAX_LINE_CHARS:,} characters "
                            "(MAX_LINE_CHARS); a damaged file? refused without reading the rest")
        return text


def _rows(path: Path, *, delimiter: str = ",", encoding: str = "utf-8") -> Iterator[tuple[int, list[str]]]:
    """(line number, fields) for each line; ``delimiter`` may be several characters (``::``). Lines are
    read through :class:`_Lines`, so none longer than :data:`MAX_LINE_CHARS` is ever held."""
    lines: _Lines | None = None
    try:
        with _open_text(path, encoding) as f:
            lines = _Lines(f, path)
            if len(delimiter) == 1:
                # Only comma files quote fields (titles with commas); "|" and tab files never do, and
                # a title starting with a quote must not swallow the rest of the line there.
                quoting = csv.QUOTE_MINIMAL if delimiter == "," else csv.QUOTE_NONE
                reader = csv.reader(lines, delimiter=delimiter, quoting=quoting)
                start = 1
                for row in reader:
                    # line_num is the *last* physical line read; a quoted field may span several,
                    # and errors must point at the line where the record starts.
                    yield start, row
                    start = reader.line_num + 1
            else:
                for n, line in enumerate(lines, 1):
                    line = line.rstrip("\r\n")
                    yield n, (line.split(delimiter) if line else [])
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not valid {encoding} text ({exc.reason} at byte {exc.start})") from None
    except csv.Error as exc:
        raise DataError(f"{path}, line {lines.line if lines else 1}: cannot be read ({exc})") from None
    except PermissionError:
        raise DataError(f"{path}: permission denied: cannot read the file") from None
    except (OSError, EOFError) as exc:
        raise DataError(f"{path}: cannot be read ({exc})") from None


@dataclass
class _Table:
    path: Path
    columns: dict[str, list[str]]
    first_line: int  # line number of the first data row
    line_of_row: list[int] | None  # only kept when rows and lines do not map one to one

    def line(self, row: int) -> int:
        return self.line_of_row[row] if self.line_of_row is not None else self.first_line + row


def _read_table(
    path: Path,
    names: Sequence[str],
    *,
    header: Sequence[str] | None,
    delimiter: str = ",",
    encoding: str = "utf-8",
    allow_empty: bool = False,
) -> _Table:
    """Read a delimited file into string columns, checking the header and every row's field count.

    ``header``: the exact header expected on line 1 (``None`` for headerless files, whose columns are
    then called ``names`` and must be exactly as many as each row's fields).
    """
    n = len(header) if header is not None else len(names)
    cols: list[list[str]] = [[] for _ in names]
    it = _rows(path, delimiter=delimiter, encoding=encoding)
    first_line = 1
    if header is not None:
        try:
            line_no, row = next(it)
        except StopIteration:
            raise DataError(f"{path}: file is empty") from None
        found = [c.strip().lstrip("\ufeff") for c in row]
        if found != list(header):
            raise DataError(
                f"{path}, line {line_no}: wrong header: expected {delimiter.join(header)!r}, "
                f"found {delimiter.join(row)!r}"
            )
        first_line = line_no + 1
        idx = [list(header).index(c) for c in names]
    else:
        idx = list(range(len(names)))
    lines: list[int] = []
    regular = True
    blank: int | None = None  # first blank line seen; harmless only if nothing but blanks follows it
    for k, (line_no, row) in enumerate(it):
        if not row:
            blank = line_no if blank is None else blank
            continue
        if blank is not None:
            raise DataError(f"{path}, line {blank}: empty line")
        if len(row) != n:
            raise DataError(f"{path}, line {line_no}: expected {n} fields, found {len(row)}: {row!r:.120}")
        for c, j in zip(cols, idx):
            c.append(row[j])
        lines.append(line_no)
        if regular and line_no != first_line + k:
            regular = False
    if not lines and not allow_empty:
        raise DataError(f"{path}: no data rows" + (" after the header" if header is not None else ""))
    return _Table(path, dict(zip(names, cols)), first_line, None if regular else lines)


# Numbers as data files write them: ASCII digits only. Python's int() and float() (and numpy's
# conversions, which use them) also take "1_0" (= 10) and other scripts' digits ("١٢" = 12).
_SPACE = " \t\r\n\f\v"
_ASCII_INT = re.compile(r"[+-]?[0-9]+")
_ASCII_FLOAT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def _number_problem(value: str, kind: type) -> str | None:
    """Why ``value`` is not an ``int`` (or finite ``float``) written in ASCII digits; None if it is one."""
    s = value.strip(_SPACE)
    if (_ASCII_INT if kind is int else _ASCII_FLOAT).fullmatch(s):
        if kind is int and not -(2**63) <= int(s) < 2**63:
            return "is too large for a 64-bit integer"
        if kind is float and not math.isfinite(float(s)):
            return "is not a finite number"
        return None
    what = "an integer" if kind is int else "a finite number"
    try:
        x = kind(s)  # accepted by Python but not by the format: say why
    except (ValueError, OverflowError):
        return f"is not {what}"
    if kind is float and not math.isfinite(x):
        return "is not a finite number"
    return f"is not {what} written in ASCII digits (0-9 only: no '_', no other scripts' digits)"


def _numeric(
    table: _Table,
    name: str,
    kind: type,
    *,
    label: str | None = None,
    low: float | None = None,
    high: float | None = None,
) -> np.ndarray:
    """Convert a string column to int64 or float64, vectorised; on failure find and name the row.

    Values are ASCII digits (with an optional sign, and for floats a decimal point and exponent):
    ``1_0`` or ``١٢``, which Python itself would read as 10 and 12, are refused.
    """
    values = table.columns[name]
    label = label or name
    dtype = np.int64 if kind is int else np.float64
    text = "".join(values)  # one pass in C: anything but ASCII without "_" needs the strict check below
    strict = text.isascii() and "_" not in text
    try:
        arr = np.asarray(values, dtype=dtype) if kind is float else np.asarray(values, dtype=np.str_).astype(dtype)
    except (ValueError, OverflowError):
        arr = None
    if arr is None or not strict or (kind is float and not np.isfinite(arr).all()):
        for r, v in enumerate(values):
            problem = _number_problem(v, kind)
            if problem:
                raise DataError(f"{table.path}, line {table.line(r)}: {label} {v!r} {problem}")
        if arr is None:
            raise DataError(f"{table.path}: column {label} could not be parsed")  # pragma: no cover
    bad = np.zeros(arr.shape, dtype=bool)
    if low is not None:
        bad |= arr < low
    if high is not None:
        bad |= arr > high
    if bad.any():
        r = int(np.nonzero(bad)[0][0])
        allowed = f"{low:g}..{high:g}" if low is not None and high is not None else (
            f">= {low:g}" if low is not None else f"<= {high:g}")
        raise DataError(f"{table.path}, line {table.line(r)}: {label} {values[r].strip()} is outside the allowed "
                        f"range ({allowed})")
    return arr


def _check_unix_times(table: _Table, label: str, ts: np.ndarray) -> None:
    """Check a column of Unix timestamps (seconds since 1970, UTC).

    **Refused** (:class:`DataError` naming the file, the line and the value): a timestamp after the
    year 9999 (:data:`MAX_TIMESTAMP`) — no calendar date, so an overflow, a unit mix-up (milliseconds)
    or damage. **Warned about** (``warnings.warn`` naming the file, how many and the first line), and
    kept: timestamps more than a day in the future — a wrong clock where the file was written, or test
    data; they only order the edges, so the data still loads.
    """
    if ts.size == 0:
        return
    absurd = ts > MAX_TIMESTAMP
    if absurd.any():
        r = int(np.nonzero(absurd)[0][0])
        raise DataError(f"{table.path}, line {table.line(r)}: {label} {int(ts[r])} is after the year 9999 "
                        "(Unix time in seconds expected; milliseconds, or a damaged value?)")
    now = int(_time.time())
    future = ts > now + 86_400
    if future.any():
        r = int(np.nonzero(future)[0][0])
        when = datetime.fromtimestamp(int(ts[r]), timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
        warnings.warn(f"{table.path}: {int(future.sum()):,} {label} value(s) lie more than a day in the future, "
                      f"the first on line {table.line(r)} ({int(ts[r])} = {when}); kept, as they only order "
                      "the edges", UserWarning, stacklevel=3)


def _sorted_unique(table: _Table, label: str, ids: np.ndarray) -> np.ndarray:
    """The order that sorts ``ids``; a repeated id is an error naming its second line."""
    order = np.argsort(ids, kind="stable")
    s = ids[order]
    dup = np.nonzero(s[1:] == s[:-1])[0]
    if len(dup):
        raise DataError(f"{table.path}, line {table.line(int(order[dup[0] + 1]))}: {label} {s[dup[0]]} appears twice")
    return order


def _dense_ids(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(sorted unique raw ids, dense id of each entry)."""
    uniq, inv = np.unique(raw, return_inverse=True)
    return uniq, inv.reshape(-1)


def _lookup(keys: np.ndarray, sorted_ids: np.ndarray, table: _Table, label: str, where: str) -> np.ndarray:
    """Positions of ``keys`` in ``sorted_ids``; a key that is absent is an unknown id (DataError)."""
    pos = np.searchsorted(sorted_ids, keys)
    pos_c = np.minimum(pos, max(len(sorted_ids) - 1, 0))
    missing = (pos >= len(sorted_ids)) | (sorted_ids[pos_c] != keys) if len(sorted_ids) else np.ones_like(keys, bool)
    if missing.any():
        r = int(np.nonzero(missing)[0][0])
        raise DataError(f"{table.path}, line {table.line(r)}: unknown {label} {keys[r]} (not in {where})")
    return pos_c


_YEAR = re.compile(r"\((\d{4})(?:[-–]\d{0,4})?\)\s*$")


def _year_from_title(title: str) -> float:
    m = _YEAR.search(title.strip())
    return float(m.group(1)) if m else float("nan")


# ====================================================================== finding data
def dataset_path(name: str) -> Path:
    """Folder of a shipped dataset (``ml-latest-small``, ``goodbooks-10k``).

    Looks in ``$PINSAGE_EDU_DATASETS`` if set, else in the repository's ``datasets/`` folder, so
    notebooks find the data whatever their working directory.
    """
    name = canonical_name(name)
    root = Path(os.environ.get("PINSAGE_EDU_DATASETS", Path(__file__).resolve().parent.parent / "datasets"))
    path = root / name
    if not _is_dir(path):
        raise DataError(f"{path}: dataset folder {name!r} not found (shipped: {', '.join(SHIPPED)}; "
                        "set PINSAGE_EDU_DATASETS to the folder holding them)")
    return path


def detect_format(path: str | os.PathLike) -> str:
    """Which loader reads ``path``: ``movielens-csv``, ``movielens-100k``, ``movielens-dat`` or ``goodbooks``.

    ``path`` may be a dataset folder or its main file (``ratings.csv``, ``u.data``, ``ratings.dat``,
    ``book_tags.csv``), each possibly gzipped (``ratings.dat.gz``): the ``.gz`` suffix is ignored.
    """
    p = _require_path(path)
    is_dir = _is_dir(p)
    folder = p if is_dir else p.parent
    name = None if is_dir else p.name.removesuffix(".gz")
    probes = [
        ("book_tags.csv", "goodbooks"),
        ("ratings.csv", "movielens-csv"), ("u.data", "movielens-100k"), ("ratings.dat", "movielens-dat"),
    ]
    for fname, fmt in probes:
        if (name == fname) or (name is None and _exists(_in_folder(folder, fname))):
            return fmt
    raise DataError(
        f"{p}: cannot tell the format (expected a folder or file named ratings.csv, u.data, ratings.dat "
        "or book_tags.csv, each possibly .gz); for other CSVs use load_interactions_csv"
    )


def canonical_name(name: str | os.PathLike) -> str:
    """A shipped dataset's own name for ``name`` (``goodbooks`` → ``goodbooks-10k``, ``ml`` →
    ``ml-latest-small``); any other name or path unchanged."""
    key = str(name)
    return _ALIASES.get(key, key)


def resolve_dataset(name_or_path: str | os.PathLike) -> str:
    """How a run should record the dataset ``name_or_path`` so that it loads again from any working
    directory: shipped names, their aliases and ``synthetic`` unchanged; an existing path made absolute
    (``data/ml-1m`` → ``/home/me/data/ml-1m``); anything else as given (:func:`load_dataset` will
    say what is wrong with it)."""
    key = str(name_or_path)
    if key == "synthetic" or canonical_name(key) in SHIPPED:
        return key
    try:
        return str(Path(key).resolve()) if _exists(Path(key)) else key
    except DataError:
        return key


def load_dataset(name_or_path: str | os.PathLike, *, min_rating: float = 4.0, **kwargs: Any) -> Dataset:
    """Load a shipped dataset by name, ``synthetic``, or any supported folder/file by path.

    ``min_rating`` applies to MovieLens data (a rating ``>=`` it is a like) and is ignored by the
    others; other ``kwargs`` go to :func:`synthetic_pins_boards` (sizes, seed), or with ``preset=`` to
    :func:`synthetic_preset` (a named setting, the other kwargs overriding it).
    """
    key = str(name_or_path)
    if key == "synthetic":
        return synthetic_preset(**kwargs) if "preset" in kwargs else synthetic_pins_boards(**kwargs)
    if kwargs:
        raise TypeError(f"unexpected arguments for {key!r}: {sorted(kwargs)}")
    key = canonical_name(key)
    if key in SHIPPED:
        path = dataset_path(key)
    else:
        path = Path(name_or_path)
        if not _exists(path):
            raise DataError(f"unknown dataset {str(name_or_path)!r}: not one of "
                            f"{', '.join(SHIPPED + ('synthetic',))} and no such path")
    fmt = detect_format(path)
    if fmt == "goodbooks":
        return load_goodbooks(path)
    return load_movielens(path, format=fmt, min_rating=min_rating)


# ====================================================================== MovieLens
_ML100K_GENRES = [
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary", "Drama",
    "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western",
]


def load_movielens(path: str | os.PathLike, *, min_rating: float = 4.0, format: str | None = None,
                   with_tags: bool = True) -> Dataset:
    """Load any MovieLens release as items (movies) × collections (each user's liked movies).

    A user "likes" a movie rated ``>= min_rating``; those edges are kept with weight 1 and the rating
    time. **Dropped, and counted in** ``Dataset.dropped``: ratings below the threshold, movies with no
    liked rating (they would be isolated items), users with no liked movie (empty collections).
    Ratings must lie in 0.5..5; at least one must reach ``min_rating`` (else :class:`DataError` naming
    the file and the threshold); every rated movie must appear in the movie file. Timestamps (Unix
    seconds) after the year 9999 are refused, ones more than a day in the future draw a warning
    (:func:`_check_unix_times`). Any file may be gzipped (``ratings.csv.gz``).

    Formats (``format=None`` detects them): ``movielens-csv`` (``ratings.csv`` + ``movies.csv``
    [+ ``tags.csv``]: ml-latest(-small), 20M, 25M, 32M), ``movielens-100k`` (``u.data`` + ``u.item``),
    ``movielens-dat`` (``ratings.dat`` + ``movies.dat`` [+ ``tags.dat``], ``::``-separated: 1M, 10M).
    """
    if not 0.5 <= min_rating <= 5.0:
        raise ValueError(f"min_rating must lie in the MovieLens rating range 0.5..5, got {min_rating}")
    p = _require_path(path)
    fmt = format or detect_format(p)
    is_file = not _is_dir(p)
    folder = p.parent if is_file else p
    tags: dict[int, list[str]] = {}
    if fmt == "movielens-csv":
        rpath = _require_file(p if is_file else _in_folder(folder, "ratings.csv"), "ratings file")
        ratings = _read_table(rpath, ["userId", "movieId", "rating", "timestamp"],
                              header=["userId", "movieId", "rating", "timestamp"])
        movie_ids, titles, genres = _movies_csv(_require_file(_in_folder(folder, "movies.csv"),
                                                              "movie file (movies.csv)"))
        tpath = _in_folder(folder, "tags.csv")
        if with_tags and _exists(tpath):
            tags = _tags_table(_read_table(_require_file(tpath, "tag file"), ["movieId", "tag"],
                                           header=["userId", "movieId", "tag", "timestamp"], allow_empty=True),
                               movie_ids)
        name = folder.name
    elif fmt == "movielens-100k":
        rpath = _require_file(p if is_file else _in_folder(folder, "u.data"), "ratings file (u.data)")
        ratings = _read_table(rpath, ["userId", "movieId", "rating", "timestamp"], header=None, delimiter="\t")
        movie_ids, titles, genres = _movies_100k(folder)
        name = folder.name or "ml-100k"
    elif fmt == "movielens-dat":
        rpath = _require_file(p if is_file else _in_folder(folder, "ratings.dat"), "ratings file (ratings.dat)")
        enc = _sniff_encoding(rpath)
        ratings = _read_table(rpath, ["userId", "movieId", "rating", "timestamp"], header=None, delimiter="::",
                              encoding=enc)
        mpath = _require_file(_in_folder(folder, "movies.dat"), "movie file (movies.dat)")
        mt = _read_table(mpath, ["movieId", "title", "genres"], header=None, delimiter="::",
                         encoding=_sniff_encoding(mpath))
        movie_ids, titles, genres = _movie_columns(mt)
        tpath = _in_folder(folder, "tags.dat")
        if with_tags and _exists(tpath):
            tags = _tags_table(_read_table(_require_file(tpath, "tag file"), ["userId", "movieId", "tag", "timestamp"],
                                           header=None, delimiter="::", encoding=_sniff_encoding(tpath),
                                           allow_empty=True), movie_ids)
        name = folder.name
    else:
        raise DataError(f"{p}: unknown MovieLens format {fmt!r}")

    user = _numeric(ratings, "userId", int, low=0)
    num_users = len(np.unique(user))
    movie = _numeric(ratings, "movieId", int, low=0)
    rating = _numeric(ratings, "rating", float, low=0.5, high=5.0)
    ts = _numeric(ratings, "timestamp", int, low=0)
    _check_unix_times(ratings, "timestamp", ts)
    _lookup(movie, movie_ids, ratings, "movieId", "the movie file")

    liked = rating >= min_rating
    if not liked.any():
        raise DataError(f"{rpath}: no rating reaches the threshold min_rating {min_rating:g} (the highest is "
                        f"{rating.max():g}), so no user likes any movie: lower min_rating (--min-rating)")
    dropped = {f"ratings below {min_rating:g}": int((~liked).sum())}
    user, movie, ts = user[liked], movie[liked], ts[liked]
    item_raw, item = _dense_ids(movie)
    user_raw, coll = _dense_ids(user)
    dropped["movies with no liked rating"] = int(len(movie_ids) - len(item_raw))
    dropped["users with no liked movie"] = int(num_users - len(user_raw))
    item, coll, _, ts, merged = merge_duplicates(item, coll, np.ones(len(item)), ts, len(user_raw))
    w = None  # a like is a like: a repeated (user, movie) row stays one unweighted edge
    if merged:
        dropped["duplicate (user, movie) ratings merged"] = merged
    midx = np.searchsorted(movie_ids, item_raw)
    items = ItemTable(
        raw_ids=item_raw,
        titles=[titles[i] for i in midx],
        genres=[genres[i] for i in midx],
        year=torch.tensor([_year_from_title(titles[i]) for i in midx], dtype=torch.float32),
        text=[" ".join(tags.get(int(r), [])) for r in item_raw],
        category=["" for _ in midx],
    )
    return Dataset(
        name=name,
        interactions=Interactions.from_arrays(item, coll, w, ts, len(item_raw), len(user_raw)),
        items=items,
        collection_names=[f"user {u}" for u in user_raw],
        dropped=dropped,
        source=str(rpath),
    )


def _sniff_encoding(path: Path) -> str:
    """MovieLens 1M is latin-1, 10M is utf-8: try utf-8 on the whole file (gzipped or not), fall back to
    latin-1. A line longer than :data:`MAX_LINE_CHARS` is refused here already (DataError naming it), so
    a small gzip that expands to one endless line is not decompressed to the end first."""
    try:
        with _open_text(path, "utf-8") as f:
            line, run = 1, 0  # the line being read, and its characters read so far
            while chunk := f.read(MAX_LINE_CHARS):
                last = chunk.rfind("\n")
                if last < 0:
                    run += len(chunk)
                else:  # lines inside the chunk are shorter than it; the first one continues `run`
                    if run + chunk.find("\n") + 1 > MAX_LINE_CHARS:
                        break
                    line += chunk.count("\n")
                    run = len(chunk) - last - 1
                if run > MAX_LINE_CHARS:
                    break
            else:
                return "utf-8"
        raise DataError(f"{path}, line {line}: line longer than {MAX_LINE_CHARS:,} characters (MAX_LINE_CHARS); "
                        "a damaged file? refused without reading the rest")
    except UnicodeDecodeError:
        return "latin-1"
    except PermissionError:
        raise DataError(f"{path}: permission denied: cannot read the file") from None
    except (OSError, EOFError) as exc:
        raise DataError(f"{path}: cannot be read ({exc})") from None


def _movie_columns(t: _Table) -> tuple[np.ndarray, list[str], list[list[str]]]:
    ids = _numeric(t, "movieId", int, low=0)
    order = _sorted_unique(t, "movieId", ids)
    sorted_ids = ids[order]
    titles = [t.columns["title"][i] for i in order]
    genres = [[g for g in t.columns["genres"][i].split("|") if g and g != "(no genres listed)"] for i in order]
    return sorted_ids, titles, genres


def _movies_csv(path: Path) -> tuple[np.ndarray, list[str], list[list[str]]]:
    return _movie_columns(_read_table(path, ["movieId", "title", "genres"], header=["movieId", "title", "genres"]))


def _movies_100k(folder: Path) -> tuple[np.ndarray, list[str], list[list[str]]]:
    ipath = _require_file(_in_folder(folder, "u.item"), "movie file (u.item)")
    names = ["movieId", "title", "release", "video_release", "url"] + _ML100K_GENRES
    t = _read_table(ipath, names, header=None, delimiter="|", encoding="latin-1")
    # 19 genre flags per movie become one "|"-joined string of names, as in the other formats.
    flags = np.array([t.columns[g] for g in _ML100K_GENRES[1:]]) == "1"  # [18, movies]
    t.columns["genres"] = ["|".join(g for g, f in zip(_ML100K_GENRES[1:], col) if f) for col in flags.T]
    return _movie_columns(t)


def _tags_table(t: _Table, movie_ids: np.ndarray) -> dict[int, list[str]]:
    movie = _numeric(t, "movieId", int, low=0)
    _lookup(movie, movie_ids, t, "movieId", "the movie file")
    out: dict[int, list[str]] = {}
    for m, tag in zip(movie.tolist(), t.columns["tag"]):
        out.setdefault(m, []).append(tag)
    return out


# ====================================================================== goodbooks
def load_goodbooks(path: str | os.PathLike) -> Dataset:
    """Load goodbooks-10k as items (books) × collections (shelves/tags), weight = users who shelved it so.

    Reads ``books.csv``, ``book_tags.csv`` (or ``.gz``) and ``tags.csv``. **Dropped, and counted**:
    rows with ``count <= 0`` (upstream has six rows of -1; a file where no row has ``count > 0`` is a
    :class:`DataError`), shelves left with no book; duplicate (book, shelf) rows are merged by summing
    their counts. Any of the files may be gzipped. Every book in ``book_tags`` must be in
    ``books.csv`` and every tag in ``tags.csv``. The data has no timestamps, so :meth:`Dataset.split`
    makes a seeded random split.
    """
    p = _require_path(path)
    folder = p if _is_dir(p) else p.parent
    bt_path = folder / "book_tags.csv.gz" if _exists(folder / "book_tags.csv.gz") else folder / "book_tags.csv"
    bt = _read_table(_require_file(bt_path, "book–shelf file (book_tags.csv[.gz])"),
                     ["goodreads_book_id", "tag_id", "count"], header=["goodreads_book_id", "tag_id", "count"])
    books = _read_table(_require_file(_in_folder(folder, "books.csv"), "book file (books.csv)"),
                        ["book_id", "goodreads_book_id", "authors", "original_publication_year", "title",
                         "language_code"], header=_BOOKS_HEADER)
    tags = _read_table(_require_file(_in_folder(folder, "tags.csv"), "tag file (tags.csv)"), ["tag_id", "tag_name"],
                       header=["tag_id", "tag_name"])

    book_id = _numeric(books, "book_id", int, low=0)
    gr_id = _numeric(books, "goodreads_book_id", int, low=0)
    order = _sorted_unique(books, "book_id", book_id)  # items are dense in book_id order
    gr_sorted = _sorted_unique(books, "goodreads_book_id", gr_id)
    tag_ids = _numeric(tags, "tag_id", int, low=0)
    tag_order = _sorted_unique(tags, "tag_id", tag_ids)

    b_gr = _numeric(bt, "goodreads_book_id", int, low=0, label="goodreads_book_id")
    b_tag = _numeric(bt, "tag_id", int, low=0)
    count = _numeric(bt, "count", int)
    row_in_books = gr_sorted[_lookup(b_gr, gr_id[gr_sorted], bt, "goodreads_book_id", "books.csv")]
    row_in_tags = tag_order[_lookup(b_tag, tag_ids[tag_order], bt, "tag_id", "tags.csv")]
    rank_of_row = np.empty(len(order), dtype=np.int64)
    rank_of_row[order] = np.arange(len(order))
    item_all = rank_of_row[row_in_books]

    keep = count > 0
    if not keep.any():
        raise DataError(f"{bt_path}: no row has count > 0 (the threshold of a shelving), so no book is on any "
                        "shelf")
    dropped = {"shelf rows with count <= 0": int((~keep).sum())}
    item, tag_row, count = item_all[keep], row_in_tags[keep], count[keep]
    coll_rows, coll = _dense_ids(tag_row)
    dropped["shelves with no book"] = int(len(tag_ids) - len(coll_rows))
    item, coll, w, _, merged = merge_duplicates(item, coll, count.astype(np.float64), None, len(coll_rows))
    dropped["duplicate (book, shelf) rows merged"] = merged

    years = _numeric_or_nan(books.columns["original_publication_year"])
    items = ItemTable(
        raw_ids=book_id[order],
        titles=[books.columns["title"][i] for i in order],
        genres=[[] for _ in order],
        year=torch.from_numpy(years[order].astype(np.float32)),
        # Shelf names are the graph itself; content must not repeat them, so text = title + authors.
        text=[books.columns["authors"][i] for i in order],
        category=[books.columns["language_code"][i] for i in order],
    )
    return Dataset(
        name="goodbooks-10k",
        interactions=Interactions.from_arrays(item, coll, w, None, len(order), len(coll_rows)),
        items=items,
        collection_names=[tags.columns["tag_name"][i] for i in coll_rows],
        dropped=dropped,
        source=str(bt_path),
    )


_BOOKS_HEADER = [
    "book_id", "goodreads_book_id", "best_book_id", "work_id", "books_count", "isbn", "isbn13", "authors",
    "original_publication_year", "original_title", "title", "language_code", "average_rating", "ratings_count",
    "work_ratings_count", "work_text_reviews_count", "ratings_1", "ratings_2", "ratings_3", "ratings_4",
    "ratings_5", "image_url", "small_image_url",
]


def _numeric_or_nan(values: list[str]) -> np.ndarray:
    """Floats where the field is a number in ASCII digits, NaN where it is blank or not one (metadata may
    be missing or malformed; it is never an id)."""
    out = np.full(len(values), np.nan)
    for i, v in enumerate(values):
        if v.strip(_SPACE) and _number_problem(v, float) is None:
            out[i] = float(v)
    return out


# ====================================================================== generic CSV
def load_interactions_csv(
    path: str | os.PathLike,
    *,
    item_col: str = "item",
    collection_col: str = "collection",
    weight_col: str | None = None,
    time_col: str | None = None,
    title_col: str | None = None,
    delimiter: str = ",",
    name: str | None = None,
) -> Dataset:
    """Load any CSV with a header naming an item column and a collection column.

    Ids may be any strings (they are mapped to dense ids in sorted order). ``weight_col`` values must
    be finite and ``>= 0``; ``time_col`` values integers in ASCII digits, in any unit (they only order
    each collection's edges, so neither the year-9999 nor the future check of MovieLens applies). No row
    is filtered by a threshold, so nothing can leave the data empty. Duplicate (item, collection) rows
    are merged (weights summed, earliest time kept) and counted in ``Dataset.dropped``. The file may be
    gzipped (``saves.csv.gz``).
    """
    p = _require_file(Path(path), "interactions")
    if item_col == collection_col:
        raise ValueError(f"item_col and collection_col must name different columns, both are {item_col!r}")
    rows = _rows(p, delimiter=delimiter)
    try:
        _, first = next(rows)
    except StopIteration:
        raise DataError(f"{p}: file is empty") from None
    finally:
        rows.close()
    header = [h.strip().lstrip("\ufeff") for h in first]
    wanted = [c for c in (item_col, collection_col, weight_col, time_col, title_col) if c is not None]
    for c in wanted:
        if c not in header:
            raise DataError(f"{p}, line 1: wrong header: column {c!r} not found in {header}")
    t = _read_table(p, wanted, header=header, delimiter=delimiter)
    for col in (item_col, collection_col):
        blank = [r for r, v in enumerate(t.columns[col]) if not v.strip()]
        if blank:
            raise DataError(f"{p}, line {t.line(blank[0])}: empty {col} id")
    item_raw, item = _dense_ids(np.asarray(t.columns[item_col], dtype=np.str_))
    coll_raw, coll = _dense_ids(np.asarray(t.columns[collection_col], dtype=np.str_))
    w = _numeric(t, weight_col, float, low=0.0, high=float("inf")) if weight_col else np.ones(len(item))
    time = _numeric(t, time_col, int) if time_col else None
    item, coll, w, time, merged = merge_duplicates(item, coll, w, time, len(coll_raw))
    titles = [str(r) for r in item_raw]
    if title_col:
        first_row = {}
        for r, v in zip(np.asarray(t.columns[item_col], dtype=np.str_), t.columns[title_col]):
            first_row.setdefault(r, v)
        titles = [first_row[r] for r in item_raw]
    n = len(item_raw)
    return Dataset(
        name=name or Path(p.name.removesuffix(".gz")).stem,
        interactions=Interactions.from_arrays(item, coll, w, time, n, len(coll_raw)),
        items=ItemTable(raw_ids=item_raw, titles=titles, genres=[[] for _ in range(n)],
                        year=torch.full((n,), float("nan")), text=["" for _ in range(n)],
                        category=["" for _ in range(n)]),
        collection_names=[str(c) for c in coll_raw],
        dropped={"duplicate rows merged": merged} if merged else {},
        source=str(p),
    )
