"""Slides: every notebook carries reveal.js slide metadata, one command builds a deck per notebook, and a deck
renders in a real browser (headless Chromium; skipped where none is installed)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
pytest.importorskip("nbconvert")
pytest.importorskip("jupytext")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import notebooks as nbtools  # noqa: E402

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")


def test_every_cell_of_every_notebook_has_its_place_on_a_slide():
    assert NOTEBOOKS
    for p in NOTEBOOKS:
        nb = nbformat.read(p, as_version=4)
        types = [c.metadata.get("slideshow", {}).get("slide_type") for c in nb.cells]
        assert None not in types, f"{p.name}: cell {types.index(None)} has no slide metadata (rebuild it)"
        assert types[0] == "slide", f"{p.name}: the title cell must open the deck"
        assert types == [nbtools.slide_type(c) for c in nb.cells], p.name
        assert types.count("slide") >= 3, f"{p.name}: a deck of {types.count('slide')} slides"


def test_slide_types_follow_the_headings():
    cell = nbformat.v4.new_markdown_cell
    assert nbtools.slide_type(cell("# 02 · Title\n\ntext")) == "slide"
    assert nbtools.slide_type(cell("## §3.2 Random walks")) == "slide"
    assert nbtools.slide_type(cell("### Exercise 1")) == "subslide"
    assert nbtools.slide_type(cell("With many walks the counts converge.")) == "-"
    assert nbtools.slide_type(nbformat.v4.new_code_cell("x = 1")) == "-"
    params = nbformat.v4.new_code_cell("SIZE = 'classroom'", metadata={"tags": ["parameters"]})
    assert nbtools.slide_type(params) == "skip"


@pytest.fixture(scope="module")
def deck(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("slides")
    written = nbtools.slides(out, ["02_importance_neighborhoods"])
    assert written == [out / "02_importance_neighborhoods.slides.html"]
    return written[0]


def test_a_deck_builds_with_everything_it_loads_beside_it(deck):
    html = deck.read_text(encoding="utf-8")
    nb = nbformat.read(ROOT / "notebooks" / "02_importance_neighborhoods.ipynb", as_version=4)
    slides = sum(c.metadata["slideshow"]["slide_type"] == "slide" for c in nb.cells)
    assert html.count("<section") >= slides
    for local in ("reveal.js/dist/reveal.js", "reveal.js/dist/reveal.css", "reveal.js/vendor/require.js",
                  "reveal.js/vendor/jquery.min.js", "reveal.js/dist/theme/simple.css", "reveal.js/plugin/notes/notes.js"):
        assert local in html, local
        assert (deck.parent / local).is_file(), local
    assert "unpkg.com" not in html and "require.min.js" not in html  # reveal.js, RequireJS, jQuery: local
    assert "Importance-based neighbourhoods" in html and "data:image/png;base64" in html  # prose and figures


def test_a_deck_renders_in_a_real_browser(deck, tmp_path):
    browser = next((shutil.which(b) for b in BROWSERS if shutil.which(b)), None)
    if browser is None:
        pytest.skip("no Chromium or Chrome installed (apt install chromium) to render a deck")
    flags = [browser, "--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,800",
             "--virtual-time-budget=8000"]
    url = deck.as_uri()
    dom = subprocess.run([*flags, "--dump-dom", url], capture_output=True, text=True, timeout=120).stdout
    # reveal.js ran: it marks the slide on screen "present" and adds its controls and progress bar
    assert 'class="present' in dom and 'class="controls' in dom and 'class="progress' in dom, dom[:2000]
    shot = tmp_path / "slide.png"
    subprocess.run([*flags, f"--screenshot={shot}", url + "#/1"], capture_output=True, timeout=120)
    from matplotlib import image

    pixels = image.imread(shot)[..., :3]
    dark = (pixels.mean(axis=2) < 0.5).mean()
    assert 0.005 < dark < 0.5, f"the second slide looks blank or broken ({dark:.1%} dark pixels)"
