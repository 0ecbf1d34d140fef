"""User-facing errors: the CLI prints their message (which names the file, line or key) instead of a
traceback."""


class KazllmError(Exception):
    """A problem with the user's input or configuration, explained in the message."""


class ConfigError(KazllmError):
    """An unknown, mistyped or invalid config key; the message names the key and its source."""


class InputError(KazllmError):
    """A missing, empty or unreadable input file or directory."""
