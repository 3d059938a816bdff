"""``python -m desktop``: opens the window, or runs a headless sub-command (see desktop.cli)."""

from __future__ import annotations

import time

# Taken before anything heavy is imported: desktop.app reports startup time from here.
T0 = time.perf_counter()

from desktop.cli import main  # noqa: E402  (after T0 on purpose)

__all__ = ["T0", "main"]

if __name__ == "__main__":
    raise SystemExit(main())
