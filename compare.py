"""Compare runs: `python compare.py <runs folder> [more folders ...] [--out DIR] [--measure]` (see docs/compare.md)."""
from tasks.engine.compare import main
from tasks.engine.errors import guard

if __name__ == "__main__":
    guard("compare", main)
