"""How every entry point ends: a user's mistake as one line naming the key/file and the fix (exit 2), a run stopped
by a signal as one line saying where it can resume (exit 128 + signal), anything else as one line pointing at the
traceback (exit 1). The full traceback always goes to a file.

`guard(command, function)` wraps an entry point's work; `one_line(error)` is the line a failure is known by (also
in failure.json).
"""
from __future__ import annotations

import difflib
import os
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any, Callable

from hydra.errors import ConfigCompositionException, HydraException, InstantiationException, MissingConfigException
from omegaconf.errors import OmegaConfBaseException

from backbone.weights import PretrainedWeightsError
from data.errors import DatasetError

from ..core.checkpoint import CheckpointError
from ..core.runtime import RuntimeChoiceError
from ..distill import TeacherError
from ..distill.tf_graph import GraphError
from .config import ConfigError
from .formats.executorch import ExecuTorchExportError
from .formats.litert import LiteRtConversionError

# the errors a user causes (a config value, a file, a dataset, a checkpoint): their message is the whole story
USER_ERRORS = (ConfigError, DatasetError, CheckpointError, TeacherError, GraphError, PretrainedWeightsError,
               RuntimeChoiceError, ExecuTorchExportError, LiteRtConversionError, HydraException,
               OmegaConfBaseException)
CONFIG_VALUE_ERRORS = (ValueError, TypeError, KeyError, FileNotFoundError)
USAGE_EXIT, FAILURE_EXIT = 2, 1


class RunInterrupted(Exception):
    """A run stopped by a signal (SIGTERM from a scheduler, Ctrl+C) after writing its interrupted checkpoint."""

    def __init__(self, message: str, signum: int):
        super().__init__(message, signum)  # both in args: a sweep's job pickles it back to the launcher (submitit)
        self.signum = signum

    def __str__(self) -> str:
        return self.args[0]


def root_cause(error: BaseException) -> BaseException:
    """The error under the wrappers (Hydra's InstantiationException around a data module's own error, ...)."""
    while error.__cause__ is not None and isinstance(error, (HydraException, OmegaConfBaseException)) \
            and not isinstance(error, ConfigCompositionException):
        error = error.__cause__
    return error


def _override_error(error: ConfigCompositionException) -> str:
    """Hydra's multi-line composition errors as one line: the key or group, what is wrong, the fix (the nearest
    key when the key is a typo, the options of a group)."""
    if isinstance(error, MissingConfigException):  # task=dogz: "Could not find 'task/dogz'" + the options
        lines = [line.strip() for line in str(error).split("Config search path")[0].splitlines() if line.strip()]
        options = [line for line in lines[1:] if not line.endswith(":")]
        head = lines[0].removeprefix("In 'config': ")
        return f"{head}; available: {', '.join(options)}" if options else head
    cause = error.__cause__
    key = getattr(cause, "full_key", None)
    if isinstance(cause, OmegaConfBaseException) and key:
        parent = getattr(cause, "parent_node", None)
        leaf, prefix = key.split(".")[-1], (key.rsplit(".", 1)[0] + "." if "." in key else "")
        names = [str(k) for k in parent.keys()] if parent is not None and hasattr(parent, "keys") else []
        near = difflib.get_close_matches(leaf, names, n=1)
        hint = f"did you mean {prefix}{near[0]}? " if near else ""
        return f"{key}: no such config key; {hint}(+{key}=<value> adds a new key; python train.py --help)"
    return " ".join(line.strip() for line in str(error).splitlines() if line.strip())


def _from_config(error: BaseException) -> bool:
    """A ValueError/TypeError raised while building an object from the config (a data module, a backbone): the
    constructor refused a value of the config, so the user's config is what is wrong."""
    return isinstance(error, InstantiationException) and isinstance(root_cause(error), CONFIG_VALUE_ERRORS)


def one_line(error: BaseException) -> str:
    """The single line a failure is reported by: the root error's own message, flattened (never a repr)."""
    if isinstance(error, ConfigCompositionException):
        return _override_error(error)
    root = root_cause(error)
    text = " ".join(line.strip() for line in str(root).splitlines() if line.strip())
    if isinstance(root, USER_ERRORS + (RunInterrupted,)):
        return text or type(root).__name__
    if _from_config(error):  # "Error in call to target 'data.coco.CocoDataModule'": name what refused the value
        target = str(error).split("'")[1] if str(error).count("'") >= 2 else ""
        return f"{target}: {text}" if target else text
    return f"{type(root).__name__}: {text}" if text else type(root).__name__


def exit_code(error: BaseException) -> int:
    if isinstance(error, RunInterrupted):
        return 128 + error.signum
    if isinstance(error, ConfigCompositionException) or isinstance(root_cause(error), USER_ERRORS) \
            or _from_config(error):
        return USAGE_EXIT
    return FAILURE_EXIT


def write_traceback(error: BaseException, command: str, folder: Path | None = None) -> Path:
    """The full traceback in `folder`/error.txt, or (no folder yet) in the temp dir's mobilenet_suite_errors/."""
    text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    if folder is not None:
        path = Path(folder) / "error.txt"
    else:
        path = Path(tempfile.gettempdir()) / "mobilenet_suite_errors" / \
            f"{command}-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.txt"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    except OSError:
        pass
    return path


def fail(error: BaseException, command: str, folder: Path | None = None) -> None:
    """Print the failure's one line (stderr), keep its traceback in a file, exit with its code."""
    code = exit_code(error)
    path = write_traceback(error, command, folder)
    line = one_line(error)
    if code == FAILURE_EXIT:
        line += f" (traceback: {path})"
    print(line if isinstance(error, RunInterrupted) else f"error: {line}", file=sys.stderr, flush=True)
    raise SystemExit(code)


def guard(command: str, function: Callable[[], Any]) -> Any:
    """Run an entry point's work; a failure ends as `fail` describes."""
    try:
        return function()
    except BrokenPipeError:  # the output went to a pipe that closed early (`| head`): nothing left to say
        os._exit(0)
    except KeyboardInterrupt:
        print(f"{command}: interrupted", file=sys.stderr, flush=True)
        raise SystemExit(128 + signal.SIGINT) from None
    except Exception as error:  # noqa: BLE001 - every failure ends as one line; the traceback is kept in a file
        fail(error, command)
