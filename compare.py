"""Compare runs: `python compare.py <runs folder> [more folders ...] [--out DIR] [--measure]` (see docs/compare.md)."""
from tasks.engine.compare import main

if __name__ == "__main__":
    main()
