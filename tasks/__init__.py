"""The suite's tasks: the engine (tasks.engine), the task modules and their shared core (tasks.core).

Importing the package silences the library messages a user cannot act on (tasks.core.quiet).
"""
from .core.quiet import install as _install_quiet_output

_install_quiet_output()
