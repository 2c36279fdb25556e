"""Broken data files raise DataError naming the file and, where there is one, the line.

Each case copies a good fixture into tmp_path and breaks one thing in it, so the good fixtures stay the
single source of truth and every broken variant differs from a loadable file by exactly one edit.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from pinsage_edu.data import DataError
from pinsage_edu.loaders import load_dataset, load_goodbooks, load_interactions_csv, load_movielens

ENCODING = {"u.item": "latin-1", "movies.dat": "latin-1"}


def set_line(path: Path, line: int, text: str | None) -> None:
    """Replace line ``line`` (1-based) of ``path`` with ``text``; ``None`` deletes it."""
    enc = ENCODING.get(path.name, "utf-8") if path.parent.name != "ml_10m" else "utf-8"
    lines = path.read_text(encoding=enc).split("\n")
    if text is None:
        del lines[line - 1]
    else:
        lines[line - 1] = text
    path.write_text("\n".join(lines), encoding=enc)


def keep_lines(path: Path, n: int) -> None:
    """Keep only the first ``n`` lines of ``path`` (0 gives an empty, 0-byte file)."""
    lines = path.read_bytes().split(b"\n")[:n]
    path.write_bytes(b"\n".join(lines) + (b"\n" if n else b""))


def load(fixture: str, folder: Path):
    if fixture == "goodbooks_mini":
        return load_goodbooks(folder)
    if fixture == "interactions.csv":
        return load_interactions_csv(folder, item_col="pin", collection_col="board", weight_col="saves",
                                     time_col="saved_at", title_col="title")
    return load_movielens(folder)


# (fixture, file, edit, expected fragments of the message besides the file name)
# edit: ("line", n, text) replaces line n, ("del", n) deletes line n, ("keep", n) keeps n lines.
CASES = [
    # --- MovieLens CSV
    ("ml_csv", "ratings.csv", ("keep", 0), ["file is empty"]),
    ("ml_csv", "ratings.csv", ("keep", 1), ["no data rows"]),
    ("ml_csv", "ratings.csv", ("line", 1, "user,movie,rating,timestamp"), ["line 1", "wrong header"]),
    ("ml_csv", "ratings.csv", ("line", 3, "1,3,4.5"), ["line 3", "expected 4 fields, found 3"]),
    ("ml_csv", "ratings.csv", ("line", 3, "1,3,4.5,964981247,extra"), ["line 3", "expected 4 fields, found 5"]),
    ("ml_csv", "ratings.csv", ("line", 3, ""), ["line 3", "empty line"]),
    ("ml_csv", "ratings.csv", ("line", 3, "one,3,4.5,964981247"), ["line 3", "userId 'one' is not an integer"]),
    ("ml_csv", "ratings.csv", ("line", 3, "1,3x,4.5,964981247"), ["line 3", "movieId '3x' is not an integer"]),
    ("ml_csv", "ratings.csv", ("line", 3, "1,3,four,964981247"), ["line 3", "rating 'four' is not a finite number"]),
    ("ml_csv", "ratings.csv", ("line", 3, "1,3,nan,964981247"), ["line 3", "is not a finite number"]),
    ("ml_csv", "ratings.csv", ("line", 3, "1,3,7,964981247"), ["line 3", "rating 7 is outside"]),
    ("ml_csv", "ratings.csv", ("line", 3, "1,3,0,964981247"), ["line 3", "rating 0 is outside"]),
    ("ml_csv", "ratings.csv", ("line", 3, "1,3,4.5,yesterday"), ["line 3", "timestamp 'yesterday'"]),
    ("ml_csv", "ratings.csv", ("line", 3, "1,999,4.5,964981247"), ["line 3", "unknown movieId 999"]),
    # an unknown movie is an error even when its rating is below the like threshold
    ("ml_csv", "ratings.csv", ("line", 4, "1,999,1.0,964982224"), ["line 4", "unknown movieId 999"]),
    ("ml_csv", "movies.csv", ("keep", 0), ["file is empty"]),
    ("ml_csv", "movies.csv", ("line", 1, "movieId,title"), ["line 1", "wrong header"]),
    ("ml_csv", "movies.csv", ("line", 3, "2,Jumanji (1995)"), ["line 3", "expected 3 fields, found 2"]),
    ("ml_csv", "movies.csv", ("line", 3, "1,Jumanji (1995),Adventure"), ["line 3", "movieId 1 appears twice"]),
    ("ml_csv", "movies.csv", ("line", 3, "two,Jumanji (1995),Adventure"), ["line 3", "movieId 'two'"]),
    ("ml_csv", "tags.csv", ("line", 3, "2,999,fun,1139045765"), ["line 3", "unknown movieId 999"]),
    ("ml_csv", "tags.csv", ("line", 1, "userId,movieId,tag"), ["line 1", "wrong header"]),
    # --- MovieLens 100K
    ("ml_100k", "u.data", ("keep", 0), ["file is empty"]),
    ("ml_100k", "u.data", ("line", 2, "1\t2\t3"), ["line 2", "expected 4 fields, found 3"]),
    ("ml_100k", "u.data", ("line", 2, "1\tx\t3\t876893171"), ["line 2", "movieId 'x' is not an integer"]),
    ("ml_100k", "u.data", ("line", 2, "1\t2\t6\t876893171"), ["line 2", "rating 6 is outside"]),
    ("ml_100k", "u.data", ("line", 2, "1\t42\t3\t876893171"), ["line 2", "unknown movieId 42"]),
    ("ml_100k", "u.item", ("line", 2, "2|GoldenEye (1995)|01-Jan-1995||http://x|0|1|1|0|0|0|0|0|0|0|0|0|0|0|0|0|1|0"),
     ["line 2", "expected 24 fields, found 23"]),
    # --- MovieLens 1M / 10M
    ("ml_1m", "ratings.dat", ("line", 2, "1::2::3"), ["line 2", "expected 4 fields, found 3"]),
    ("ml_1m", "ratings.dat", ("line", 2, "1::two::3::978302109"), ["line 2", "movieId 'two' is not an integer"]),
    ("ml_1m", "ratings.dat", ("line", 2, "1::9::3::978302109"), ["line 2", "unknown movieId 9"]),
    ("ml_1m", "ratings.dat", ("keep", 0), ["file is empty"]),
    ("ml_1m", "movies.dat", ("line", 2, "2::Jumanji (1995)"), ["line 2", "expected 3 fields, found 2"]),
    ("ml_10m", "ratings.dat", ("line", 3, "2::122::0::868245777"), ["line 3", "rating 0 is outside"]),
    ("ml_10m", "ratings.dat", ("line", 3, "2::122::5.5::868245777"), ["line 3", "rating 5.5 is outside"]),
    ("ml_10m", "tags.dat", ("line", 2, "20::999::computers::1193435062"), ["line 2", "unknown movieId 999"]),
    # --- goodbooks
    ("goodbooks_mini", "book_tags.csv", ("keep", 0), ["file is empty"]),
    ("goodbooks_mini", "book_tags.csv", ("keep", 1), ["no data rows"]),
    ("goodbooks_mini", "book_tags.csv", ("line", 1, "book_id,tag_id,count"), ["line 1", "wrong header"]),
    ("goodbooks_mini", "book_tags.csv", ("line", 3, "101,1"), ["line 3", "expected 3 fields, found 2"]),
    ("goodbooks_mini", "book_tags.csv", ("line", 3, "101,1,many"), ["line 3", "count 'many' is not an integer"]),
    ("goodbooks_mini", "book_tags.csv", ("line", 3, "101,one,5"), ["line 3", "tag_id 'one' is not an integer"]),
    ("goodbooks_mini", "book_tags.csv", ("line", 3, "101,99,5"), ["line 3", "unknown tag_id 99"]),
    ("goodbooks_mini", "book_tags.csv", ("line", 3, "999,1,5"), ["line 3", "unknown goodreads_book_id 999"]),
    ("goodbooks_mini", "books.csv", ("keep", 0), ["file is empty"]),
    ("goodbooks_mini", "books.csv", ("line", 1, "book_id,goodreads_book_id,title"), ["line 1", "wrong header"]),
    ("goodbooks_mini", "books.csv", ("line", 3, "3,103,103"), ["line 3", "expected 23 fields, found 3"]),
    ("goodbooks_mini", "tags.csv", ("keep", 0), ["file is empty"]),
    ("goodbooks_mini", "tags.csv", ("keep", 1), ["no data rows"]),
    ("goodbooks_mini", "tags.csv", ("line", 3, "one,fantasy"), ["line 3", "tag_id 'one' is not an integer"]),
    # --- generic interactions CSV
    ("interactions.csv", None, ("keep", 0), ["file is empty"]),
    ("interactions.csv", None, ("keep", 1), ["no data rows"]),
    ("interactions.csv", None, ("line", 1, "board,item,saves,saved_at,title"), ["line 1", "'pin' not found"]),
    ("interactions.csv", None, ("line", 3, "alice,pin-a,2.5,10"), ["line 3", "expected 5 fields, found 4"]),
    ("interactions.csv", None, ("line", 3, "alice,pin-a,lots,10,Apple"), ["line 3", "saves 'lots' is not a finite number"]),
    ("interactions.csv", None, ("line", 3, "alice,pin-a,-2.5,10,Apple"), ["line 3", "saves -2.5 is outside"]),
    ("interactions.csv", None, ("line", 3, "alice,pin-a,2.5,10.5,Apple"), ["line 3", "saved_at '10.5' is not an integer"]),
]


def _case_id(case) -> str:
    fixture, file, edit, _ = case
    what = {"keep": lambda e: "empty" if e[1] == 0 else "header-only",
            "line": lambda e: f"line{e[1]}:{e[2][:24]}",
            "del": lambda e: f"del{e[1]}"}[edit[0]](edit)
    return f"{fixture}/{file or ''}/{what}"


@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_broken_file_raises_data_error_naming_file_and_line(copy_fixture, case):
    fixture, file, edit, fragments = case
    root = copy_fixture(fixture)
    path = root / file if file else root
    if edit[0] == "keep":
        keep_lines(path, edit[1])
    elif edit[0] == "line":
        set_line(path, edit[1], edit[2])
    else:
        set_line(path, edit[1], None)
    with pytest.raises(DataError) as exc:
        load(fixture, root)
    message = str(exc.value)
    assert str(path) in message, message
    for fragment in fragments:
        assert fragment in message, message


@pytest.mark.parametrize(
    "fixture, file, text, label",
    [
        ("ml_csv", "ratings.csv", "-1,3,4.5,964981247", "userId"),
        ("ml_csv", "ratings.csv", "1,3,4.5,-5", "timestamp"),
        ("goodbooks_mini", "book_tags.csv", "101,-1,5", "tag_id"),
    ],
)
def test_negative_ids_and_times_raise_data_error_naming_the_line(copy_fixture, fixture, file, text, label):
    # The range check has only a lower bound here; its message must still be a DataError.
    root = copy_fixture(fixture)
    set_line(root / file, 3, text)
    with pytest.raises(DataError) as exc:
        load(fixture, root)
    message = str(exc.value)
    assert str(root / file) in message and "line 3" in message and label in message, message


@pytest.mark.parametrize(
    "fixture, file",
    [
        ("ml_csv", "movies.csv"),
        ("ml_100k", "u.item"),
        ("ml_1m", "movies.dat"),
        ("goodbooks_mini", "books.csv"),
        ("goodbooks_mini", "tags.csv"),
        ("goodbooks_mini", "book_tags.csv"),
    ],
)
def test_missing_companion_file_is_named(copy_fixture, fixture, file):
    root = copy_fixture(fixture)
    (root / file).unlink()
    with pytest.raises(DataError, match="not found") as exc:
        load(fixture, root)
    assert str(root / file) in str(exc.value)


def test_a_folder_where_a_file_belongs_is_refused(copy_fixture):
    root = copy_fixture("ml_csv")
    (root / "movies.csv").unlink()
    (root / "movies.csv").mkdir()
    with pytest.raises(DataError, match="found a folder") as exc:
        load_movielens(root)
    assert str(root / "movies.csv") in str(exc.value)


@pytest.mark.parametrize("loader", ["movielens", "goodbooks", "csv", "load_dataset"])
def test_missing_folder_or_file_raises_data_error(tmp_path, loader):
    missing = tmp_path / "no-such-data"
    call = {
        "movielens": lambda: load_movielens(missing),
        "goodbooks": lambda: load_goodbooks(missing),
        "csv": lambda: load_interactions_csv(missing),
        "load_dataset": lambda: load_dataset(missing),
    }[loader]
    with pytest.raises(DataError) as exc:
        call()
    assert "no-such-data" in str(exc.value)


def test_latin1_bytes_in_a_utf8_only_file_are_reported(copy_fixture):
    root = copy_fixture("ml_csv")
    path = root / "movies.csv"
    path.write_bytes(path.read_bytes().replace(b"Heat (1995)", b"H\xe9at (1995)"))
    with pytest.raises(DataError, match="not valid utf-8") as exc:
        load_movielens(root)
    assert str(path) in str(exc.value)


def test_corrupt_gzip_is_reported_as_data_error(copy_fixture):
    root = copy_fixture("goodbooks_mini")
    (root / "book_tags.csv").unlink()
    data = gzip.compress(b"goodreads_book_id,tag_id,count\n101,0,10\n" * 50)
    (root / "book_tags.csv.gz").write_bytes(data[: len(data) // 2])  # truncated download
    with pytest.raises(DataError) as exc:
        load_goodbooks(root)
    assert str(root / "book_tags.csv.gz") in str(exc.value)


@pytest.mark.parametrize("loader", ["goodbooks", "movielens-csv"])
def test_a_mistyped_path_inside_a_dataset_folder_is_not_read_as_that_folder(fixtures_dir, loader):
    # A path that does not exist must be an error, never a silent load of its parent folder's data.
    if loader == "goodbooks":
        missing = fixtures_dir / "goodbooks_mini" / "typo"
        call = lambda: load_goodbooks(missing)  # noqa: E731
    else:
        missing = fixtures_dir / "ml_csv" / "typo"
        call = lambda: load_movielens(missing, format="movielens-csv")  # noqa: E731
    with pytest.raises(DataError) as exc:
        call()
    assert "typo" in str(exc.value)


# ------------------------------------------------------------------ found in review
def test_a_quoted_field_spanning_lines_is_reported_at_the_line_it_starts(copy_fixture):
    folder = copy_fixture("ml_csv")
    set_line(folder / "ratings.csv", 3, '1,"3,4.5,964981247')  # opens a quote that swallows later lines
    with pytest.raises(DataError, match=r"ratings\.csv, line 3: expected 4 fields"):
        load_movielens(folder)


def test_an_id_too_large_for_64_bits_names_its_line(copy_fixture):
    folder = copy_fixture("ml_csv")
    set_line(folder / "ratings.csv", 3, "99999999999999999999,3,4.5,964981247")
    with pytest.raises(DataError, match=r"line 3: userId '99999999999999999999' is too large"):
        load_movielens(folder)


@pytest.mark.parametrize("file, line, text, message", [
    ("books.csv", 3, None, "book_id"),
    ("tags.csv", 3, None, "tag_id"),
])
def test_a_repeated_id_in_goodbooks_metadata_names_its_line(copy_fixture, file, line, text, message):
    folder = copy_fixture("goodbooks_mini")
    path = folder / file
    lines = path.read_text().split("\n")
    lines.insert(line, lines[line - 1])  # the row of line `line` again, as line `line + 1`
    path.write_text("\n".join(lines))
    with pytest.raises(DataError, match=rf"{file}, line {line + 1}: {message} \d+ appears twice"):
        load_goodbooks(folder)


def test_generic_csv_with_bad_encoding_names_the_file(tmp_path):
    p = tmp_path / "saves.csv"
    p.write_bytes(b"board,pin\na,\xff\n")
    with pytest.raises(DataError, match=r"saves\.csv: not valid utf-8"):
        load_interactions_csv(p, item_col="pin", collection_col="board")


def test_generic_csv_rejects_an_empty_id_and_a_column_used_twice(tmp_path):
    p = tmp_path / "saves.csv"
    p.write_text("board,pin\na,x\nb,\n")
    with pytest.raises(DataError, match=r"saves\.csv, line 3: empty pin id"):
        load_interactions_csv(p, item_col="pin", collection_col="board")
    with pytest.raises(ValueError, match="different columns"):
        load_interactions_csv(p, item_col="pin", collection_col="pin")


def test_min_rating_outside_the_rating_scale_is_refused(fixtures_dir):
    for bad in (0.0, 6.0, float("nan")):
        with pytest.raises(ValueError, match="min_rating"):
            load_movielens(fixtures_dir / "ml_csv", min_rating=bad)
