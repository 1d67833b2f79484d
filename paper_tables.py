"""The paper's Tables 4-14, efficiency only: `python paper_tables.py [table ...] [--out FILE]` (docs/compare.md)."""
from tasks.engine.errors import guard
from tasks.engine.paper_tables import main

if __name__ == "__main__":
    guard("paper_tables", main)
