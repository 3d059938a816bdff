"""Exit codes and the one-line error format shared by the command-line sub-commands."""

from __future__ import annotations

import sys

__all__ = ["EXIT_FAILURE", "EXIT_OK", "EXIT_USAGE", "error"]

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


def error(message: str) -> None:
    """One line on stderr, as scripts and clinicians' IT staff expect from a CLI."""
    print(f"error: {message}", file=sys.stderr)
