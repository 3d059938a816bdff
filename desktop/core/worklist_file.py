"""The worklist kept between sessions: closing at lunch (or a power cut) half-way through a
batch brings the same list back, with what was saved, read and found, at the next start.

Files are referred to by path, not copied: a file that is gone when the list comes back (a
USB stick not plugged in again) is listed as not found rather than dropped, so the doctor
sees that it was part of the batch, and is read again once it is back. A saved file stays
saved either way: its study holds its own copy of the image.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from desktop.core.files import write_text_durably
from desktop.core.worklist import EntryState, Findings, Worklist, WorklistEntry

__all__ = ["NOT_FOUND", "load_worklist", "save_worklist"]

log = logging.getLogger(__name__)

_FORMAT = 1
NOT_FOUND = "not found: moved, deleted, or on a drive that is not plugged in"


def _entry_dict(entry: WorklistEntry) -> dict[str, Any]:
    return {"path": str(entry.path), "state": entry.state.value, "line": entry.findings.line,
            "detail": entry.findings.detail, "flagged": entry.findings.flagged, "problem": entry.problem,
            "study_key": entry.study_key}


def save_worklist(path: Path, worklist: Worklist) -> None:
    """Write the list (an empty list removes the file). Raises OSError."""
    if not len(worklist):
        path.unlink(missing_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"format": _FORMAT, "entries": [_entry_dict(e) for e in worklist.entries]}
    write_text_durably(path, json.dumps(data, ensure_ascii=False, indent=1))


def load_worklist(path: Path) -> Worklist:
    """The list written last (empty when none, or when it cannot be read: it is a convenience,
    never a reason not to start)."""
    worklist = Worklist()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("format") != _FORMAT:
            raise ValueError(f"unknown format {data.get('format')!r}")
        entries = [_entry_from(item) for item in data["entries"]]
    except FileNotFoundError:
        return worklist
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        log.warning("worklist in %s not restored: %s", path, exc)
        return worklist
    worklist.add_entries(entries)
    return worklist


def _entry_from(item: dict[str, Any]) -> WorklistEntry:
    path = Path(item["path"])
    findings = Findings(str(item.get("line") or ""), str(item.get("detail") or ""), bool(item.get("flagged")))
    key = item.get("study_key")
    entry = WorklistEntry(path, EntryState(item["state"]), findings, str(item.get("problem") or ""),
                          int(key) if key is not None else None)
    if entry.state is EntryState.SAVED:
        return entry  # the records keep their own copy of the image: a saved study stays saved
    if not path.exists():
        entry.state, entry.problem = EntryState.FAILED, NOT_FOUND
    elif entry.problem == NOT_FOUND:
        entry.state, entry.problem = EntryState.WAITING, ""  # the drive is back: read it again
    return entry
