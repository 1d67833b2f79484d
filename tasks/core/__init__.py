"""The shared core of the task modules: the TaskModule base and its hooks, checkpoint reading, runtime sessions,
measurement, atomic writes and figures, shared heads. It imports only backbone/ and data/."""
