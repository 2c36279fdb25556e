"""Loaders read every supported format into dense ids, and count exactly what they drop.

Every expected figure below is worked out by hand from the files in tests/fixtures/.
"""

from __future__ import annotations

import gzip
import math
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from pinsage_edu.data import DataError, Dataset, synthetic_pins_boards
from pinsage_edu.loaders import (
    dataset_path,
    detect_format,
    load_dataset,
    load_goodbooks,
    load_interactions_csv,
    load_movielens,
)

from _helpers import edges_of


def triples(ds: Dataset) -> set[tuple[int, int, int]]:
    x = ds.interactions
    return set(zip(x.item.tolist(), x.collection.tolist(), x.time.tolist()))


def assert_dense(ds: Dataset) -> None:
    x = ds.interactions
    assert x.item.dtype == torch.long and x.collection.dtype == torch.long
    # dense: every id in 0..n-1 is used (loaders drop isolated items and empty collections)
    assert sorted(set(x.item.tolist())) == list(range(ds.num_items))
    assert sorted(set(x.collection.tolist())) == list(range(ds.num_collections))
    assert len(edges_of(x)) == len(x)  # one row per (item, collection)
    assert len(ds.items) == ds.num_items == len(ds.items.raw_ids)
    assert len(ds.collection_names) == ds.num_collections


# ---------------------------------------------------------------------------------------- MovieLens CSV
def test_movielens_csv_keeps_liked_ratings_as_dense_edges(fixtures_dir):
    ds = load_movielens(fixtures_dir / "ml_csv")
    assert_dense(ds)
    assert ds.name == "ml_csv"
    # liked (>= 4): user1: movies 1, 3; user2: movies 1, 7, 8. movies -> 0..3, users 1, 2 -> 0, 1
    assert ds.items.raw_ids.tolist() == [1, 3, 7, 8]
    assert ds.collection_names == ["user 1", "user 2"]
    assert triples(ds) == {
        (0, 0, 964982703), (1, 0, 964981247),
        (0, 1, 964983815), (2, 1, 964982400), (3, 1, 964982500),
    }
    assert ds.interactions.weight.tolist() == [1.0] * 5
    assert not ds.interactions.weighted and ds.interactions.timed


def test_movielens_csv_counts_what_it_drops(fixtures_dir):
    ds = load_movielens(fixtures_dir / "ml_csv")
    assert ds.dropped == {
        "ratings below 4": 3,  # 3.0, 2.5, 1.0
        "movies with no liked rating": 2,  # movies 2 and 6
        "users with no liked movie": 1,  # user 3
    }


@pytest.mark.parametrize(
    "min_rating, items, collections, dropped",
    [
        (3.0, [1, 3, 6, 7, 8], 2, {"ratings below 3": 2, "movies with no liked rating": 1, "users with no liked movie": 1}),
        (4.5, [1, 3], 2, {"ratings below 4.5": 6, "movies with no liked rating": 4, "users with no liked movie": 1}),
        (5.0, [1], 1, {"ratings below 5": 7, "movies with no liked rating": 5, "users with no liked movie": 2}),
    ],
)
def test_min_rating_sets_the_like_threshold(fixtures_dir, min_rating, items, collections, dropped):
    ds = load_movielens(fixtures_dir / "ml_csv", min_rating=min_rating)
    assert_dense(ds)
    assert ds.items.raw_ids.tolist() == items
    assert ds.num_collections == collections
    assert ds.dropped == dropped


def test_movielens_csv_parses_titles_genres_years_and_tags(fixtures_dir):
    items = load_movielens(fixtures_dir / "ml_csv").items
    assert items.titles == ["Toy Story (1995)", "American President, The (1995)", "Untitled Project",
                            "Fawlty Towers (1975-1979)"]
    assert items.genres == [
        ["Adventure", "Animation", "Children", "Comedy", "Fantasy"],
        ["Comedy", "Drama", "Romance"],
        [],  # "(no genres listed)"
        ["Comedy"],
    ]
    year = items.year.tolist()
    assert year[0] == 1995 and year[1] == 1995 and math.isnan(year[2]) and year[3] == 1975
    # tags of liked movies become their text, in file order; tags of dropped movies are ignored
    assert items.text == ["pixar fun", "politics, romance", "", ""]


def test_movielens_csv_without_tags_has_empty_text(fixtures_dir, copy_fixture):
    assert load_movielens(fixtures_dir / "ml_csv", with_tags=False).items.text == ["", "", "", ""]
    folder = copy_fixture("ml_csv")
    (folder / "tags.csv").unlink()  # tags.csv is optional
    ds = load_movielens(folder)
    assert ds.items.text == ["", "", "", ""] and len(ds.interactions) == 5


def test_movielens_csv_reads_the_ratings_file_path_too(fixtures_dir):
    by_folder = load_movielens(fixtures_dir / "ml_csv")
    by_file = load_movielens(fixtures_dir / "ml_csv" / "ratings.csv")
    assert triples(by_file) == triples(by_folder)
    assert by_file.items.titles == by_folder.items.titles


def test_crlf_line_endings_and_a_byte_order_mark_load_the_same(fixtures_dir, copy_fixture):
    folder = copy_fixture("ml_csv")
    for name in ("ratings.csv", "movies.csv", "tags.csv"):
        p = folder / name
        text = p.read_text(encoding="utf-8")
        p.write_bytes(("\ufeff" if name == "ratings.csv" else "").encode("utf-8")
                      + text.replace("\n", "\r\n").encode("utf-8"))
    a, b = load_movielens(fixtures_dir / "ml_csv"), load_movielens(folder)
    assert triples(a) == triples(b)
    assert a.items.titles == b.items.titles and a.items.genres == b.items.genres
    assert a.items.text == b.items.text


def test_movielens_duplicate_ratings_merge_into_one_edge_with_the_earliest_time(copy_fixture):
    folder = copy_fixture("ml_csv")
    with open(folder / "ratings.csv", "a") as f:
        f.write("1,1,5.0,964000000\n")  # user 1 rates movie 1 again, earlier
    ds = load_movielens(folder)
    assert ds.dropped["duplicate (user, movie) ratings merged"] == 1
    assert len(ds.interactions) == 5
    assert (0, 0, 964000000) in triples(ds)


# ---------------------------------------------------------------------------------------- MovieLens 100K
def test_movielens_100k_loads_u_data_and_latin1_u_item(fixtures_dir):
    ds = load_movielens(fixtures_dir / "ml_100k")
    assert_dense(ds)
    assert ds.items.raw_ids.tolist() == [1, 3]
    assert triples(ds) == {(0, 0, 874965758), (0, 1, 888550871), (1, 1, 888551000)}
    assert ds.dropped == {"ratings below 4": 2, "movies with no liked rating": 1, "users with no liked movie": 1}
    assert ds.items.titles == ["Toy Story (1995)", "Caf\u00e9 au Lait (1993)"]
    # 19 genre flags become names ("unknown" is never a genre)
    assert ds.items.genres == [["Animation", "Children's", "Comedy"], ["Comedy", "Drama"]]
    assert ds.items.year.tolist() == [1995.0, 1993.0]


# ---------------------------------------------------------------------------------------- MovieLens 1M / 10M
def test_movielens_1m_falls_back_to_latin1(fixtures_dir):
    raw = (fixtures_dir / "ml_1m" / "movies.dat").read_bytes()
    assert b"Caf\xe9" in raw  # the fixture really is latin-1, not utf-8
    ds = load_movielens(fixtures_dir / "ml_1m")
    assert_dense(ds)
    assert ds.items.titles == ["Toy Story (1995)", "Jumanji (1995)", "Caf\u00e9 Society (1995)"]
    assert ds.items.genres[0] == ["Animation", "Children's", "Comedy"]
    assert triples(ds) == {(0, 0, 978300760), (1, 1, 978301968), (2, 1, 978300275)}
    assert ds.dropped == {"ratings below 4": 1, "movies with no liked rating": 1, "users with no liked movie": 0}


def test_movielens_10m_reads_utf8_half_stars_and_tags(fixtures_dir):
    ds = load_movielens(fixtures_dir / "ml_10m")
    assert_dense(ds)
    assert ds.items.raw_ids.tolist() == [122, 185, 292, 4973]
    assert ds.items.titles[1] == "Net, The (1995)"
    assert ds.items.titles[3] == "Am\u00e9lie (2001)"  # utf-8 kept as utf-8, not mis-read as latin-1
    assert ds.items.year.tolist() == [1992.0, 1995.0, 1995.0, 2001.0]
    assert ds.items.text == ["dentist", "computers hacking", "", ""]
    assert ds.dropped["ratings below 4"] == 1  # the 3.5
    assert edges_of(ds.interactions) == {(0, 0), (1, 0), (2, 1), (3, 1)}


# ---------------------------------------------------------------------------------------- goodbooks
def _goodbooks_edges(ds: Dataset) -> set[tuple[int, int, float]]:
    x = ds.interactions
    return set(zip(x.item.tolist(), x.collection.tolist(), x.weight.tolist()))


def test_goodbooks_drops_nonpositive_counts_and_sums_duplicates(fixtures_dir):
    ds = load_goodbooks(fixtures_dir / "goodbooks_mini")
    assert_dense(ds)
    # books are dense in book_id order whatever the file order; shelves in tag order, unused ones dropped
    assert ds.items.raw_ids.tolist() == [1, 2, 3]
    assert ds.collection_names == ["to-read", "fantasy", "classics"]
    assert _goodbooks_edges(ds) == {(0, 0, 14.0), (0, 1, 5.0), (1, 0, 7.0), (1, 1, 3.0), (2, 2, 4.0)}
    assert ds.dropped == {
        "shelf rows with count <= 0": 2,
        "shelves with no book": 1,
        "duplicate (book, shelf) rows merged": 1,
    }
    assert ds.interactions.weighted and not ds.interactions.timed
    assert ds.graph().weighted


def test_goodbooks_metadata_is_aligned_with_book_ids(fixtures_dir):
    items = load_goodbooks(fixtures_dir / "goodbooks_mini").items
    assert items.titles == ["The Hunger Games (The Hunger Games, #1)",
                            "Harry Potter and the Sorcerer's Stone (Harry Potter, #1)", "Pride and Prejudice"]
    assert items.text == ["Suzanne Collins", "J.K. Rowling, Mary GrandPr\u00e9", "Jane Austen, Tony Tanner"]
    assert items.category == ["eng", "eng", "fre"]
    year = items.year.tolist()
    assert year[0] == 2008 and math.isnan(year[1]) and year[2] == 1813


def test_goodbooks_reads_gzipped_book_tags(fixtures_dir, copy_fixture):
    folder = copy_fixture("goodbooks_mini")
    plain = folder / "book_tags.csv"
    with gzip.open(folder / "book_tags.csv.gz", "wb") as f:
        f.write(plain.read_bytes())
    plain.unlink()
    ds = load_goodbooks(folder)
    assert ds.source.endswith("book_tags.csv.gz")
    ref = load_goodbooks(fixtures_dir / "goodbooks_mini")
    assert _goodbooks_edges(ds) == _goodbooks_edges(ref)
    assert ds.dropped == ref.dropped


# ---------------------------------------------------------------------------------------- generic CSV
def test_generic_csv_maps_string_ids_and_merges_duplicates(fixtures_dir):
    ds = load_interactions_csv(fixtures_dir / "interactions.csv", item_col="pin", collection_col="board",
                               weight_col="saves", time_col="saved_at", title_col="title")
    assert ds.name == "interactions"
    assert ds.items.raw_ids.tolist() == ["pin-a", "pin-b", "pin-c"]
    assert ds.collection_names == ["alice", "bob"]
    x = ds.interactions
    got = set(zip(x.item.tolist(), x.collection.tolist(), x.weight.tolist(), x.time.tolist()))
    # (pin-b, alice) twice: 1.0 + 2.0 = 3.0, earliest time 5
    assert got == {(0, 0, 2.5, 10), (1, 0, 3.0, 5), (1, 1, 0.5, 20), (2, 1, 1.0, 40)}
    assert ds.dropped == {"duplicate rows merged": 1}
    assert ds.items.titles == ["Apple", "Bread", "Cherry, sour"]  # first title seen for each item
    assert ds.items.index_of("pin-c") == 2


def test_generic_csv_without_weights_counts_duplicates_as_weight(fixtures_dir):
    ds = load_interactions_csv(fixtures_dir / "interactions.csv", item_col="pin", collection_col="board",
                               name="plain")
    x = ds.interactions
    assert ds.name == "plain" and not x.timed
    assert ds.items.titles == ["pin-a", "pin-b", "pin-c"]  # raw ids stand in for titles
    got = set(zip(x.item.tolist(), x.collection.tolist(), x.weight.tolist()))
    assert got == {(0, 0, 1.0), (1, 0, 2.0), (1, 1, 1.0), (2, 1, 1.0)}


# ---------------------------------------------------------------------------------------- format detection
@pytest.mark.parametrize(
    "rel, fmt",
    [
        ("ml_csv", "movielens-csv"),
        ("ml_csv/ratings.csv", "movielens-csv"),
        ("ml_100k", "movielens-100k"),
        ("ml_100k/u.data", "movielens-100k"),
        ("ml_1m", "movielens-dat"),
        ("ml_10m/ratings.dat", "movielens-dat"),
        ("goodbooks_mini", "goodbooks"),
        ("goodbooks_mini/book_tags.csv", "goodbooks"),
    ],
)
def test_detect_format_recognises_folders_and_main_files(fixtures_dir, rel, fmt):
    assert detect_format(fixtures_dir / rel) == fmt


def test_detect_format_recognises_gzipped_book_tags(copy_fixture):
    folder = copy_fixture("goodbooks_mini")
    shutil.move(folder / "book_tags.csv", folder / "book_tags.csv.gz")  # the name is what counts here
    assert detect_format(folder) == "goodbooks"
    assert detect_format(folder / "book_tags.csv.gz") == "goodbooks"


@pytest.mark.parametrize("rel", ["interactions.csv", "ml_csv/movies.csv", "ml_100k/u.item", "EMPTY_DIR"])
def test_detect_format_refuses_what_it_cannot_tell(fixtures_dir, tmp_path, rel):
    path = tmp_path if rel == "EMPTY_DIR" else fixtures_dir / rel
    with pytest.raises(DataError, match="cannot tell the format") as exc:
        detect_format(path)
    assert str(path) in str(exc.value)


def test_detect_format_names_a_missing_path(tmp_path):
    with pytest.raises(DataError, match="no such file or folder") as exc:
        detect_format(tmp_path / "nowhere")
    assert "nowhere" in str(exc.value)


# ---------------------------------------------------------------------------------------- load_dataset
@pytest.mark.parametrize("rel", ["ml_csv", "ml_100k", "ml_1m", "ml_10m", "ml_csv/ratings.csv"])
def test_load_dataset_by_path_matches_the_movielens_loader(fixtures_dir, rel):
    path = fixtures_dir / rel
    a, b = load_dataset(path), load_movielens(path)
    assert triples(a) == triples(b) and a.items.titles == b.items.titles and a.dropped == b.dropped
    c = load_dataset(str(path))  # str paths work as well as Path objects
    assert triples(c) == triples(a)


def test_load_dataset_passes_min_rating_to_movielens(fixtures_dir):
    ds = load_dataset(fixtures_dir / "ml_csv", min_rating=3.0)
    assert ds.items.raw_ids.tolist() == [1, 3, 6, 7, 8]


def test_load_dataset_by_path_reads_goodbooks_and_ignores_min_rating(fixtures_dir):
    a = load_dataset(fixtures_dir / "goodbooks_mini")
    b = load_dataset(fixtures_dir / "goodbooks_mini", min_rating=5.0)
    assert _goodbooks_edges(a) == _goodbooks_edges(b) == _goodbooks_edges(load_goodbooks(fixtures_dir / "goodbooks_mini"))


def test_load_dataset_synthetic_passes_its_arguments_to_the_generator():
    a = load_dataset("synthetic", num_pins=300, num_boards=40, num_edges=1500, seed=3)
    b = synthetic_pins_boards(300, 40, 1500, seed=3)
    assert a.num_items == 300 and a.num_collections == 40
    assert torch.equal(a.interactions.item, b.interactions.item)
    assert torch.equal(a.interactions.collection, b.interactions.collection)


def test_load_dataset_refuses_unknown_names_and_stray_arguments(fixtures_dir):
    with pytest.raises(DataError, match="unknown dataset 'no-such-dataset'"):
        load_dataset("no-such-dataset")
    with pytest.raises(TypeError, match="seed"):
        load_dataset(fixtures_dir / "ml_csv", seed=1)


def test_shipped_names_and_aliases_resolve_to_the_datasets_folder():
    root = Path(__file__).resolve().parent.parent / "datasets"
    assert dataset_path("ml-latest-small") == dataset_path("ml") == dataset_path("movielens")
    assert dataset_path("goodbooks") == dataset_path("goodbooks-10k")
    if "PINSAGE_EDU_DATASETS" not in os.environ:
        assert dataset_path("ml") == root / "ml-latest-small"


def test_shipped_names_follow_the_datasets_environment_variable(tmp_path, monkeypatch, fixtures_dir):
    shutil.copytree(fixtures_dir / "ml_csv", tmp_path / "ml-latest-small")
    monkeypatch.setenv("PINSAGE_EDU_DATASETS", str(tmp_path))
    ds = load_dataset("ml-latest-small")
    assert ds.source == str(tmp_path / "ml-latest-small" / "ratings.csv")
    assert ds.items.raw_ids.tolist() == [1, 3, 7, 8]
    with pytest.raises(DataError, match="goodbooks-10k"):
        dataset_path("goodbooks")


# ---------------------------------------------------------------------------------------- item table, summary
def test_item_table_finds_and_subsets_items(fixtures_dir):
    items = load_movielens(fixtures_dir / "ml_csv").items
    assert items.index_of(7) == 2
    with pytest.raises(KeyError):
        items.index_of(2)  # dropped (no liked rating)
    assert items.find("story") == [0]
    assert items.find("(1995)") == [0, 1]
    sub = items.subset(np.array([3, 0]))
    assert sub.raw_ids.tolist() == [8, 1]
    assert sub.titles == ["Fawlty Towers (1975-1979)", "Toy Story (1995)"]
    assert sub.year.tolist() == [1975.0, 1995.0]
    assert sub.text == ["", "pixar fun"]


def test_dataset_summary_reports_sizes_and_drops(fixtures_dir):
    ds = load_movielens(fixtures_dir / "ml_csv")
    text = ds.summary()
    assert "ml_csv" in text and "items 4" in text and "collections 2" in text and "edges 5" in text
    assert "ratings below 4 3" in text
    split_text = ds.summary(ds.split(0.0, 0.0))
    assert "split (temporal)" in split_text


def test_blank_lines_at_the_end_of_a_file_are_harmless(copy_fixture, fixtures_dir):
    folder = copy_fixture("ml_csv")
    ratings = folder / "ratings.csv"
    ratings.write_bytes(ratings.read_bytes() + b"\r\n\r\n")
    assert edges_of(load_movielens(folder).interactions) == edges_of(load_movielens(fixtures_dir / "ml_csv").interactions)


def test_a_repeated_movielens_rating_stays_one_unweighted_edge(copy_fixture):
    folder = copy_fixture("ml_csv")
    ratings = folder / "ratings.csv"
    lines = ratings.read_bytes().split(b"\n")
    lines.insert(2, lines[1])  # line 2 (a like: 1,1,4.0) twice
    ratings.write_bytes(b"\n".join(lines))
    ds = load_movielens(folder)
    assert ds.dropped["duplicate (user, movie) ratings merged"] == 1
    assert not ds.interactions.weighted and not ds.graph().weighted


def test_an_optional_tag_file_with_only_a_header_means_no_tags(copy_fixture):
    folder = copy_fixture("ml_csv")
    (folder / "tags.csv").write_text("userId,movieId,tag,timestamp\n")
    ds = load_movielens(folder)
    assert all(t == "" for t in ds.items.text)


def test_index_of_finds_exact_ids_only(fixtures_dir):
    items = load_movielens(fixtures_dir / "ml_csv").items
    first = items.raw_ids[0]
    assert items.index_of(int(first)) == 0 and items.index_of(str(first)) == 0
    for bad in (float(first) + 0.5, True, "x", [int(first)]):
        with pytest.raises(KeyError):
            items.index_of(bad)
