"""Command lines of the entry points that use trained models (eval.py, predict.py, export.py): `key=value`
arguments, values parsed as YAML as Hydra does."""
from __future__ import annotations

from typing import Any, Sequence

import yaml


def parse_args(argv: Sequence[str], known: dict[str, Any], usage: str,
               passthrough: Sequence[str] = ()) -> tuple[dict[str, Any], list[str]]:
    """`key=value` arguments (values parsed as YAML, as Hydra does) -> (known options, passthrough overrides such
    as `data.root=...`); anything else is an error naming the argument."""
    options, overrides = dict(known), []
    for arg in argv:
        key, sep, value = arg.partition("=")
        if not sep:
            raise SystemExit(f"{arg!r}: expected key=value\nusage: {usage}")
        if key in known:
            options[key] = yaml.safe_load(value) if value else None
        elif key.split(".")[0] in passthrough:
            overrides.append(arg)
        else:
            raise SystemExit(f"unknown option {key!r}; known: {sorted(known)}"
                             f"{' and ' + ', '.join(k + '.*' for k in passthrough) if passthrough else ''}\n"
                             f"usage: {usage}")
    missing = [k for k, v in options.items() if v == "???"]
    if missing:
        raise SystemExit(f"missing {missing}\nusage: {usage}")
    return options, overrides
