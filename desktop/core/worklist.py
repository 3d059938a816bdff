"""The worklist: several X-rays queued for one sitting, each with where it stands.

A clinic often has a batch of films at once (a morning's chest films copied off the reader, a
folder from a USB stick). Dropping them all, or a folder, queues them here; the doctor then
steps through them, and every entry shows whether it was opened, saved or could not be read,
and what the models said about it, so none is forgotten and the worrying ones stand out.

Qt-free on purpose: the window shows a :class:`Worklist`, and the tests drive it directly.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from desktop.core.imaging import SUPPORTED_SUFFIXES, is_dicom_file
from desktop.core.joint_regions import JointRegion, patient_sides, side_label
from desktop.core.model_card import ModelCard, readable_label
from desktop.core.prediction import Prediction
from desktop.core.records.export import write_csv

__all__ = ["EntryState", "Findings", "Worklist", "WorklistEntry", "files_to_queue", "findings_of", "export_worklist_csv",
           "MAX_QUEUED"]

# A worklist is read by a person, one film after another: a few hundred is a long day. The cap
# also keeps a drop of a whole disk from walking it on the GUI thread.
MAX_QUEUED = 500
MAX_LOOKED_AT = 20_000  # files examined in dropped folders before giving up


class EntryState(enum.Enum):
    """Where a file stands; the values are what the list and its CSV show."""

    WAITING = "waiting"
    READ = "read"  # the models read it in the background; not opened yet
    OPENED = "opened"
    SAVED = "saved"
    FAILED = "unreadable"


@dataclass(frozen=True)
class Findings:
    """What the models said about one file, for a list row."""

    line: str = ""  # "image left: grade 2 61%, normal 87%; image right: ..."
    detail: str = ""  # one line per answer, with the model's name
    flagged: bool = False  # some model gave its positive answer


@dataclass
class WorklistEntry:
    path: Path
    state: EntryState = EntryState.WAITING
    findings: Findings = Findings()
    problem: str = ""  # why it could not be read
    study_key: int | None = None  # the study it was saved as

    @property
    def name(self) -> str:
        return self.path.name


def _is_image_file(path: Path) -> bool:
    if path.name.startswith("."):
        return False  # .DS_Store, sync tools' hidden copies
    # PACS exports name DICOM files without a suffix; the DICOMDIR index is not an image.
    if path.suffix.lower() in SUPPORTED_SUFFIXES:
        return True
    return path.name.upper() != "DICOMDIR" and is_dicom_file(path)


def _images_under(folder: Path, budget: list[int]) -> Iterator[Path]:
    """Image files under ``folder`` in path order, looking at no more than ``budget[0]`` files."""
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            if budget[0] <= 0:
                return
            budget[0] -= 1
            path = Path(root) / name
            if _is_image_file(path):
                yield path


def files_to_queue(paths: Iterable[str | os.PathLike[str]], *, limit: int = MAX_QUEUED,
                   look_at: int = MAX_LOOKED_AT) -> tuple[list[Path], bool]:
    """The image files named by ``paths`` (folders opened, with their sub-folders), in order,
    and whether some were left out: more than ``limit`` images, or more than ``look_at``
    files in the folders (a whole disk dropped by mistake must not hold the window).

    Files given by name are kept whatever their type, so that one that cannot be read is
    listed as unreadable rather than silently dropped; inside folders only image files
    (a supported suffix, or DICOM by content) are taken, sorted by path.
    """
    found: list[Path] = []
    budget = [look_at]
    for raw in paths:
        path = Path(raw)
        for candidate in _images_under(path, budget) if path.is_dir() else [path]:
            if len(found) == limit:
                return found, True
            found.append(candidate)
        if budget[0] <= 0:
            return found, True
    return found, False


def _is_positive(prediction: Prediction) -> bool:
    if prediction.positive_label is not None and prediction.label == prediction.positive_label:
        return True
    # A derived yes/no output (radiographic OA from a KL grade) lists its positive label second.
    return any(d.label == d.labels[1] for d in prediction.derived)


def _answer(prediction: Prediction, card: ModelCard | None) -> str:
    label = readable_label(prediction.label, card)
    return f"{label} {prediction.probability_of(prediction.label) * 100:.0f}%"


def findings_of(pairs: Sequence[tuple[Prediction, ModelCard | None]], *, skipped: bool = False,
                joints: tuple[JointRegion, ...] | None = None) -> Findings:
    """The models' answers (each with its card) for a list row, grouped by knee joint and
    named as ``joints`` name them (the patient's side, once known). ``skipped``: no model
    ran, the image is not an X-ray; ``joints == ()``: the knee models found no joint to read."""
    if skipped:
        return Findings("not an X-ray: no model was run")
    if joints is not None and not joints and not pairs:
        return Findings("no knee joint found")
    sides = patient_sides(joints)

    def where(side: str) -> str:
        return side_label(side, sides.get(side))

    by_joint: dict[str | None, list[str]] = {}
    for p, card in pairs:
        by_joint.setdefault(p.region_side, []).append(_answer(p, card))
    line = "; ".join(f"{where(side)}: {', '.join(answers)}" if side else ", ".join(answers)
                     for side, answers in by_joint.items())
    detail = "\n".join(f"{p.model_name}{f' ({where(p.region_side)})' if p.region_side else ''}: {_answer(p, card)}"
                       for p, card in pairs)
    return Findings(line, detail, any(_is_positive(p) for p, _card in pairs))


def _key(path: Path) -> str:
    # The same file dropped twice (or once by a relative path) is one entry.
    return os.path.normcase(os.path.abspath(path))


class Worklist:
    """Queued files in the order given, and the one open now (if it is one of them)."""

    def __init__(self) -> None:
        self._entries: list[WorklistEntry] = []
        self._current: int | None = None

    # ---------------------------------------------------------------- reading
    def __len__(self) -> int:
        return len(self._entries)

    @property
    def entries(self) -> tuple[WorklistEntry, ...]:
        return tuple(self._entries)

    @property
    def current(self) -> int | None:
        """Index of the open file, or None when the open image is not on the list."""
        return self._current

    def index_of(self, path: str | os.PathLike[str]) -> int | None:
        key = _key(Path(path))
        return next((i for i, e in enumerate(self._entries) if _key(e.path) == key), None)

    def count(self, state: EntryState) -> int:
        return sum(e.state is state for e in self._entries)

    def flagged_count(self) -> int:
        """Files where some model gave its positive answer."""
        return sum(e.findings.flagged for e in self._entries)

    def next_index(self, step: int = 1) -> int | None:
        """The next (+1) or previous (-1) entry from the open one, passing over files that
        could not be read (stepping onto one again would only fail again); from none open,
        the first neither saved nor unreadable."""
        if self._current is None:
            return next((i for i, e in enumerate(self._entries) if e.state not in (EntryState.SAVED, EntryState.FAILED)),
                        None)
        target = self._current + step
        while 0 <= target < len(self._entries) and self._entries[target].state is EntryState.FAILED:
            target += step
        return target if 0 <= target < len(self._entries) else None

    def next_to_read(self) -> int | None:
        """The first entry nobody has read yet (for reading ahead in the background)."""
        return next((i for i, e in enumerate(self._entries) if e.state is EntryState.WAITING), None)

    # --------------------------------------------------------------- changing
    def add(self, paths: Iterable[Path]) -> int:
        """Append files not listed yet; returns how many were added."""
        return self.add_entries(WorklistEntry(Path(path)) for path in paths)

    def add_entries(self, entries: Iterable[WorklistEntry]) -> int:
        """Append entries as they are (a list kept from the last session), one per file."""
        listed = {_key(e.path) for e in self._entries}
        added = 0
        for entry in entries:
            key = _key(entry.path)
            if key not in listed:
                listed.add(key)
                self._entries.append(entry)
                added += 1
        return added

    def opened(self, path: str | os.PathLike[str]) -> int | None:
        """The image at ``path`` is now the open one; returns its index (None: not listed)."""
        self._current = self.index_of(path)
        if self._current is not None:
            entry = self._entries[self._current]
            if entry.state is not EntryState.SAVED:
                entry.state = EntryState.OPENED
            entry.problem = ""
        return self._current

    def set_findings(self, index: int, findings: Findings, *, opened: bool) -> None:
        """What the models said; ``opened`` False for a read ahead in the background, which
        leaves an opened or saved entry's state as it is."""
        entry = self._entries[index]
        entry.findings = findings
        if not opened and entry.state is EntryState.WAITING:
            entry.state = EntryState.READ

    def failed(self, index: int, problem: str) -> None:
        entry = self._entries[index]
        entry.state, entry.problem = EntryState.FAILED, problem

    def saved_current(self, study_key: int | None = None) -> int | None:
        """The open study was saved (as ``study_key`` in the records); returns the index marked
        (None: the open image is not on the list)."""
        if self._current is not None:
            entry = self._entries[self._current]
            entry.state = EntryState.SAVED
            entry.study_key = study_key if study_key is not None else entry.study_key
        return self._current

    def saved_studies(self) -> list[int]:
        """The records keys of the files saved from this list, in list order."""
        return [e.study_key for e in self._entries if e.state is EntryState.SAVED and e.study_key is not None]

    def remove(self, index: int) -> None:
        del self._entries[index]
        if self._current == index:
            self._current = None
        elif self._current is not None and self._current > index:
            self._current -= 1

    def clear(self) -> None:
        self._entries.clear()
        self._current = None

    def put_flagged_first(self) -> None:
        """Triage: files with a positive finding move to the top, each group keeping its order;
        the open file stays the open one."""
        open_entry = self._entries[self._current] if self._current is not None else None
        self._entries.sort(key=lambda e: not e.findings.flagged)  # stable: the order within each group stays
        self._current = next(i for i, e in enumerate(self._entries) if e is open_entry) if open_entry else None


WORKLIST_CSV_COLUMNS = ["file", "folder", "status", "positive finding", "findings", "problem"]


def export_worklist_csv(worklist: Worklist, path: str | os.PathLike[str]) -> int:
    """The list as a CSV (a triage log for the clinic's records); returns the row count.
    Raises :class:`~desktop.core.records.RecordError` when the file cannot be written."""
    rows = [[e.name, str(e.path.parent), e.state.value, "yes" if e.findings.flagged else "",
             e.findings.detail.replace("\n", "; ") or e.findings.line, e.problem] for e in worklist.entries]
    write_csv(path, WORKLIST_CSV_COLUMNS, rows)
    return len(rows)
