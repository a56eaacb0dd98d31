"""Errors that reach the user as one line and exit code 2."""


class InputError(Exception):
    """Bad input from the user (missing/corrupt file, no face, bad option): one line, exit 2."""


class NoFaceError(InputError):
    """No face was found where one is needed."""
