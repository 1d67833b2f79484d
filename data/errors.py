"""The one error type data modules raise for bad datasets: the message names the file or entry and the fix."""


class DatasetError(ValueError):
    """A dataset on disk is missing, malformed or inconsistent."""
