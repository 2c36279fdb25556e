"""Every number in a notebook's prose is rendered from an output or asserted in a cell.

NOTEBOOKS.md: "A number in prose is rendered from an output or asserted in a cell, so the prose cannot go
stale." This test reads each committed notebook and fails on a number in a markdown cell that appears
nowhere in the notebook's code cells (an assert, a constant, a comment next to the assert that states the
claim) nor in its stored text outputs. A number the notebook measures must therefore be printed by the
cell that measures it, or asserted there (with a tolerance where it is a measurement that can vary).

What is not scanned, and why — each exemption is narrow on purpose:

* equations (``$…$``, ``$$…$$``): symbols and the paper's formulas, not measurements;
* section references (``§3.2``, ``§3.3–3.4``) and link targets (``](…)``, bare ``http…``);
* blockquotes that restate the paper (a ``>`` paragraph that opens with a quotation mark or with
  "The paper …" / "Table N of the paper" / "Table N (the paper)"); our own blockquoted remarks
  ("> Our remark: …") are scanned like any other prose;
* inline code that sets a value (`` `num_walks=10_000` ``) and the closing "## Exercises" list (with the
  markdown cells that continue it): settings a student is invited to try, not results;
* decades ("1980s–90s") and publication years next to a venue or an author list (``KDD 2018``, ``et al., 2017``);
* references to other notebooks: a course notebook's number where the text says it is one ("notebook 05",
  "notebooks 02 and 07", a link ``[08](08_….ipynb)``) — ``NOTEBOOK_IDS``, taken from the notebooks present;
* the per-notebook allowlist ``PAPER_FIGURES``: the paper's own figures that a notebook quotes outside a
  blockquote, each of which must be a key of ``_PAPER_COMMON``, which names the PAPER.md line or table it
  comes from. Nothing else.

Run ``python tests/test_prose_numbers.py`` to list every notebook's unguarded numbers.

A number matches when its value equals the value of a number token in the code or outputs, so
``34,148`` matches ``34148`` or ``34_148`` and ``0.50`` matches ``0.5``; a percentage also matches its
fraction (``46%`` ↔ ``0.46``).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")

ROOT = Path(__file__).resolve().parent.parent
NB_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(p.stem for p in NB_DIR.glob("[0-9][0-9]*.ipynb"))

# References to other notebooks ("notebook 05", "notebooks 02 and 07", "[08](08_…ipynb)"): a two-digit
# token that names a notebook of the course, only where the text around it says it is a notebook.
NOTEBOOK_IDS = {p.split("_", 1)[0] for p in NOTEBOOKS}
_NB_REF = re.compile(
    r"(?:[Nn]otebooks?|NB|nb)\s+((?:\d\d[a-z]?(?:\s*(?:,|and|or|–|-|to|&)\s*)?)+)"
    r"|\[(\d\d[a-z]?)[^\]]*\]\(\d\d[a-z]?_[^)]*\)"
)

# The paper's own figures, quoted outside blockquotes. Each entry names where PAPER.md states it.
_PAPER_COMMON = {
    "18": "PAPER.md §3.1: 'over 18 billion edges'; §4 Scale: '3B nodes, 18B edges'",
    "300": "PAPER.md §3.4: 'trained on a 300-million-item subgraph'",
    "378": "PAPER.md §3.4: 'a Hadoop2 cluster of 378 AWS d2.8xlarge nodes'",
    "24": "PAPER.md §3.4: 'in under 24 hours'",
    "500": "PAPER.md §3.3 Negatives: '500 negatives'; §4 Offline metrics: 'top K = 500'",
    "2048": "PAPER.md §3.2 Stacking: 'hidden m = 2048'; §3.3 Multi-GPU: 'A batch size of 2048'",
    "1024": "PAPER.md §3.2 Stacking: 'embedding d = 1024'",
    "4096": "PAPER.md §4 Features: 'visual embedding … (4096-d, VGG-16 fc layer)'; §3.3: 'minibatches (512–4096)'",
    "512": "PAPER.md §3.3 Multi-GPU: 'Large minibatches (512–4096)'",
    "256": "PAPER.md §4 Features: 'text annotation embedding (256-d, Word2Vec-based)'",
    "67": "PAPER.md §4 Table 1: 'PinSage 67%, 0.59'",
    "46": "PAPER.md §4 Table 1: 'mean-pooling-hard 46%, 0.56'",
    "41": "PAPER.md §4 Table 1: 'mean-pooling 41%, 0.51'",
    "39": "PAPER.md §4 Table 1: 'max-pooling 39%, 0.37'",
    "29": "PAPER.md §4 Table 1: 'mean-pooling-xent 29%, 0.35'",
    "27": "PAPER.md §4 Table 1: 'Combined 27%, 0.37'",
    "17": "PAPER.md §4 Table 1: 'Visual 17%, 0.23'; Pixie section: '3 billion nodes, 17 billion edges'",
    "14": "PAPER.md §4 Table 1: 'Annot. 14%, 0.19'",
    "0.59": "PAPER.md §4 Table 1: 'PinSage 67%, 0.59'",
    "0.56": "PAPER.md §4 Table 1: 'mean-pooling-hard 46%, 0.56'",
    "0.51": "PAPER.md §4 Table 1: 'mean-pooling 41%, 0.51'",
    "0.37": "PAPER.md §4 Table 1: 'Combined 27%, 0.37' / 'max-pooling 39%, 0.37'",
    "0.35": "PAPER.md §4 Table 1: 'mean-pooling-xent 29%, 0.35'",
    "0.23": "PAPER.md §4 Table 1: 'Visual 17%, 0.23'",
    "0.19": "PAPER.md §4 Table 1: 'Annot. 14%, 0.19'",
    "50": "PAPER.md §3.2: 'The paper reports T = 50 as its choice'; Table 4: '50: 67% / 0.59 / 78'",
    "2000": "PAPER.md §3.3 Negatives: 'pick randomly from ranks 2000–5000'",
    "5000": "PAPER.md §3.3 Negatives: 'pick randomly from ranks 2000–5000'",
    "100": "PAPER.md §4 Offline metrics: 'scaled MRR = mean over queries of 1 / ⌈rank / 100⌉'",
    "7.5": "PAPER.md §3.3 Curriculum / §4 Scale: '7.5 billion training examples'",
    "1.2": "PAPER.md §3.3 Curriculum / §4 Scale: '1.2 billion positive pairs'",
    "32": "PAPER.md §3.3 Producer–consumer: 'one machine with 32 cores and 16 Tesla K80 GPUs'",
    "16": "PAPER.md §3.3 Producer–consumer: '16 Tesla K80 GPUs'",
    "0.43": "PAPER.md §4 Figure 4: 'kurtosis … 0.43 for PinSage'",
    "1.20": "PAPER.md §4 Figure 4: 'kurtosis … 1.20 visual'",
    "2.49": "PAPER.md §4 Figure 4: 'kurtosis … 2.49 annotation'",
    "60": "PAPER.md §4 Table 4: '10: 60% / 0.51 / 20'; Table 2: 'about 60% of decided comparisons'",
    "63": "PAPER.md §4 Table 4: '20: 63% / 0.54 / 33'",
    "10": "PAPER.md §4 Table 4: 'T … 10: 60%'; §4.4 A/B: '10–30% higher repin rate'",
    "20": "PAPER.md §4 Table 4: 'T … 20: 63%' and '10: 60% / 0.51 / 20' (hours)",
    "33": "PAPER.md §4 Table 4: '20: 63% / 0.54 / 33' (training hours)",
    "78": "PAPER.md §4 Table 4: '50: 67% / 0.59 / 78' (training hours)",
    "1.65": "PAPER.md §4 Table 4: training hours 20 → 33 for T = 10 → 20 (33 / 20)",
    "3.9": "PAPER.md §4 Table 4: training hours 20 → 78 (78 / 20); Table 3: iterations 390k → 100k (512 → 4096)",
    "130": "PAPER.md §4 Table 3: '2048: 1350 / 130k / 48.8'",
    "21": "PAPER.md §4 Table 1: PinSage 67% vs mean-pooling-hard 46% (67 − 46 points)",
}

# Per notebook: the paper figures its prose quotes outside blockquotes (keys of _PAPER_COMMON).
PAPER_FIGURES: dict[str, set[str]] = {
    "01_problem_setup": {"18", "500", "4096", "256", "1.2"},
    "02_importance_neighborhoods": {"67", "512", "33", "78", "5000"},
    "03_convolve": {"46", "67", "39"},
    "04_minibatch": {"3.9", "4096", "2048", "63", "67"},
    "05_margin_loss": {"50", "46", "1.2", "7.5", "4096", "5000", "41", "0.51", "29", "0.35"},
    "06_hard_negatives": {"7.5"},
    "07_training_at_scale": {"3.9", "130", "1.2"},
    "08_inference_and_serving": {"24", "378"},
    "09_experiments": {"1.65", "21"},
    "10_scale_up": {"32", "300", "24", "378", "1024"},
}

YEAR = re.compile(r"(?:\b(?:KDD|WWW|ICLR|NeurIPS|NIPS|ICML|WSDM|RecSys|SIGIR|arXiv)\s+|et al\.,?\s+|[A-Z][a-z]+,\s+)"
                  r"(?:19|20)\d\d\b")
# Decades, as in "the 1980s–90s favourites" (a description of the titles a list shows).
DECADE = re.compile(r"\b(?:19|20)\d0s(?:\s*[–-]\s*\d0s)?")
# An inline code span that sets a value (`min_rating=3.5`, `num_walks=10_000`): a setting the student types.
SETTING = re.compile(r"`[^`\n]*=[^`\n]*`")
# The closing "## Exercises" list: what to try (settings), not what the notebook measured.
EXERCISES = re.compile(r"^#{1,2}\s+Exercises\b.*", re.S | re.M)
NUMBER = re.compile(r"(?<![\w.])\d[\d,_]*(?:\.\d+)?(?:[eE][-+]?\d+)?")
EQUATION = re.compile(r"\$\$.*?\$\$|\$[^$\n]+\$", re.S)
SECTION = re.compile(r"§\s*\d+(?:\.\d+)*(?:\s*[–-]\s*\d+(?:\.\d+)*)?")
LINK_TARGET = re.compile(r"\]\([^)]*\)|https?://\S+|\b\w+\.(?:ipynb|py|md|json|csv)\b(?:#\S*)?")
PAPER_QUOTE_START = re.compile(r"^\s*(?:\*\*)?(?:[\"“]|The paper\b|Table \d+ of the paper|Table \d+ \(the paper\))")


def _digits(tok: str) -> int:
    return sum(ch.isdigit() for ch in tok.split("e")[0].split("E")[0])


def _norm(tok: str) -> str:
    return tok.replace(",", "").replace("_", "")


def _value(tok: str) -> float | None:
    try:
        return float(tok.replace(",", "").replace("_", ""))
    except ValueError:
        return None


def _strip_quotes_of_paper(md: str) -> str:
    """Drop the blockquote paragraphs that restate the paper; keep everything else."""
    out, skipping, in_quote = [], False, False
    for line in md.split("\n"):
        if line.lstrip().startswith(">"):
            body = line.lstrip()[1:]
            if not in_quote:
                skipping = bool(PAPER_QUOTE_START.match(body))
            in_quote = True
            if not skipping:
                out.append(body)
        else:
            in_quote = skipping = False
            out.append(line)
    return "\n".join(out)


def prose_numbers(md: str) -> list[tuple[str, bool]]:
    """The numbers of at least two digits in one markdown cell, after the exemptions above."""
    text = EXERCISES.sub(" ", _strip_quotes_of_paper(md))
    text = SETTING.sub(" ", text)
    text = EQUATION.sub(" ", text)
    text = SECTION.sub(" ", text)
    text = YEAR.sub(" ", text)
    text = DECADE.sub(" ", text)
    text = _NB_REF.sub(lambda m: " " if (m.group(2) or "") in NOTEBOOK_IDS or all(
        t in NOTEBOOK_IDS for t in re.findall(r"\d\d[a-z]?", m.group(1) or "")) else m.group(0), text)
    text = LINK_TARGET.sub(" ", text)
    found = []
    for m in NUMBER.finditer(text):
        tok = m.group(0).rstrip(",_")
        if _digits(tok) >= 2:
            found.append((tok, text[m.end():m.end() + 2].lstrip().startswith("%")))
    return found


def _code_and_output_values(nb) -> set[float]:
    texts = []
    for c in nb.cells:
        if c.cell_type != "code":
            continue
        texts.append(c.source)
        for o in c.get("outputs", []):
            if o.get("output_type") == "stream":
                texts.append(o.get("text", ""))
            elif "data" in o:
                for mime in ("text/plain", "text/html", "text/markdown", "text/latex"):
                    if mime in o["data"]:
                        v = o["data"][mime]
                        texts.append(v if isinstance(v, str) else "".join(v))
            elif o.get("output_type") == "error":
                texts.append("\n".join(o.get("traceback", [])))
    values = set()
    for m in NUMBER.finditer("\n".join(texts)):
        v = _value(m.group(0).rstrip(",_"))
        if v is not None:
            values.add(round(v, 9))
    return values


def _matches(tok: str, values: set[float], percent: bool) -> bool:
    v = _value(tok)
    if v is None:
        return False
    if round(v, 9) in values:
        return True
    return percent and round(v / 100, 9) in values


def unguarded(name: str) -> list[str]:
    nb = nbformat.read(NB_DIR / f"{name}.ipynb", as_version=4)
    values = _code_and_output_values(nb)
    allowed = {_norm(t) for t in PAPER_FIGURES.get(name, set())}
    bad, in_exercises = [], False
    for i, c in enumerate(nb.cells):
        if c.cell_type != "markdown":
            continue
        # the exercise list may go on in the next markdown cells, until a cell opens a new section
        heading = re.search(r"^#{1,2}\s+(\S+)", c.source, re.M)
        if heading:
            in_exercises = heading.group(1) == "Exercises" or bool(EXERCISES.search(c.source))
        elif in_exercises:
            continue
        for tok, percent in prose_numbers(c.source):
            if _norm(tok) in allowed:
                continue
            if not _matches(tok, values, percent):
                bad.append(f"cell {i}: {tok!r}")
    return bad


def test_allowlists_name_paper_figures():
    for name, figures in PAPER_FIGURES.items():
        assert name in NOTEBOOKS, name
        unknown = figures - set(_PAPER_COMMON)
        assert not unknown, f"{name}: {sorted(unknown)} are not figures PAPER.md states (add them to _PAPER_COMMON with the line)"


def test_scanner_finds_what_it_should_and_skips_the_exemptions():
    md = ("Taken one by one the fields add up to 34,148 rows, 74% of the catalogue (§3.2, $T = 50$, "
          "notebooks 02 and 07, [08](08_inference_and_serving.ipynb), Hamilton et al., 2017; `num_walks=10_000`).\n\n"
          "> **The paper (Table 1), in our words:** PinSage 67%.\n\n"
          "> Our remark: our run reached 12.5%.\n\n"
          "## Exercises\n\n1. Try 1,000 walks.")
    assert prose_numbers(md) == [("34,148", False), ("74", True), ("12.5", True)]
    assert _matches("34,148", {34148.0}, False) and _matches("74", {0.74}, True) and not _matches("74", {0.74}, False)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_prose_numbers_are_printed_or_asserted(name):
    bad = unguarded(name)
    assert not bad, (
        f"{name}: numbers in markdown that the notebook neither prints nor asserts (print them in the cell that "
        f"computes them, assert them there, or — only for the paper's own figures — list them in PAPER_FIGURES): "
        + ", ".join(bad))


if __name__ == "__main__":
    for n in NOTEBOOKS:
        b = unguarded(n)
        print(n, len(b), b)
