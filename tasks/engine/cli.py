"""Command lines of the entry points that use trained models (eval.py, predict.py, export.py): `key=value`
arguments, values parsed as YAML as Hydra does; `--help` prints the command's help text. A wrong argument is a
ConfigError (one line, exit 2 through errors.guard)."""
from __future__ import annotations

import argparse
import difflib
from typing import Any, Sequence

import yaml

from .config import ConfigError, check_values


def parse_args(argv: Sequence[str], known: dict[str, Any], usage: str, passthrough: Sequence[str] = (),
               help_text: str = "") -> tuple[dict[str, Any], list[str]]:
    """`key=value` arguments -> (known options, passthrough overrides such as `data.root=...`). `-h`/`--help`
    prints `help_text` (or `usage`) and exits 0; anything else unknown is an error naming the argument."""
    if any(arg in ("-h", "--help", "help") for arg in argv):
        print(help_text or f"usage: {usage}")
        raise SystemExit(0)
    options, overrides = dict(known), []
    command = usage.split()[1] if usage.startswith("python ") else "the command"
    for arg in argv:
        key, sep, value = arg.partition("=")
        if not sep:
            raise ConfigError(f"{arg!r}: expected key=value (python {command} --help lists the keys)")
        if key in known:
            try:
                options[key] = yaml.safe_load(value) if value else None
            except yaml.YAMLError:
                raise ConfigError(f"{key}={value}: not a value YAML can read; quote it, e.g. {key}='{value}'") \
                    from None
        elif key.lstrip("+").split(".")[0] in passthrough:
            overrides.append(arg)
        else:
            near = difflib.get_close_matches(key, list(known), n=1)
            hint = f"did you mean {near[0]}? " if near else ""
            extra = f" and {', '.join(k + '.*' for k in passthrough)}" if passthrough else ""
            raise ConfigError(f"unknown option {key!r}: {hint}known: {', '.join(known)}{extra} "
                              f"(python {command} --help)")
    missing = [k for k, v in options.items() if v == "???"]
    if missing:
        raise ConfigError(f"missing {', '.join(k + '=...' for k in missing)}: usage: {usage}")
    check_values(options)
    return options, overrides


class ArgumentParser(argparse.ArgumentParser):
    """argparse for the entry points with flags (compare, paper_tables, benchmarks): a wrong argument is a
    ConfigError, ending as one line with exit 2 through errors.guard (argparse's own prints usage on two)."""

    def error(self, message: str):
        raise ConfigError(f"{message} ({self.prog} --help)")
