"""The efficiency-only tables (tasks.engine.paper_tables) against the paper's printed params and mult-adds."""
from __future__ import annotations

import math

import pytest

from tasks.engine.config import ConfigError

from tasks.engine import paper_tables
from tasks.engine.paper_tables import ROWS, measure, within

CHECKED = [row for row in ROWS if row.checked and row.kind != "none"]


@pytest.mark.parametrize("row", CHECKED, ids=[f"T{r.table}-{r.label}" for r in CHECKED])
def test_checked_rows_match_the_paper(row):
    """1% for backbones, 10% for detectors, or one unit of the printed figure's last digit when that is larger."""
    got = measure(row)
    assert within(got["mult_adds"], row.mult_adds, row.tolerance), (got, row.mult_adds)
    assert within(got["params"], row.params, row.tolerance), (got, row.params)
    if row.label.startswith("Faster"):
        assert got["proposals"] == 300  # the box head's cost is counted at the paper's proposal count


def test_every_table_4_to_14_has_checked_rows_or_says_why_not():
    for table in range(4, 15):
        rows = [r for r in ROWS if r.table == table]
        assert rows, table
        assert all(r.note for r in rows if not r.checked or r.kind == "none"), table
    assert {r.table for r in CHECKED} == {4, 5, 6, 7, 8, 9, 10, 12, 13}


def test_the_tolerance_rule():
    assert within(568.7, "569", 0.01) and within(290.7, "290", 0.01)  # rounded, and truncated
    assert not within(575.0, "569", 0.01)  # 1.05 % off
    assert within(0.46, "0.5", 0.01) and not within(0.38, "0.5", 0.01)  # one unit of the last printed digit: 0.1
    assert within(1290, "1200", 0.10) and not within(1330, "1200", 0.10)


def test_cli_writes_the_markdown_of_the_chosen_tables(tmp_path, capsys):
    """Table 9 (cheap reference networks) and Table 12 (a row shown, not checked; one not buildable)."""
    out = tmp_path / "tables.md"
    paper_tables.main(["9", "12", "--out", str(out)])
    text = out.read_text()
    assert text == capsys.readouterr().out.split("written:")[0].rstrip("\n") + "\n"
    assert "### Table 9" in text and "### Table 12" in text and "### Table 6" not in text
    squeezenet = next(line for line in text.splitlines() if line.startswith("| Squeezenet"))
    ours = float(squeezenet.split("|")[2])
    assert math.isfinite(ours) and 700 < ours < 900 and "shown" in squeezenet
    assert "| Baseline | — | 1600 |" in text and "not built" in text
    assert text.count("yes (1%)") == 5 and "NO" not in text
    with pytest.raises(ConfigError, match="no such table"):
        paper_tables.main(["3"])
