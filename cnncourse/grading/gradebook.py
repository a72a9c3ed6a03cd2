"""The gradebook: grades.csv, feedback for students, and the record that lets shards be merged.

Every ``grade`` run writes, next to ``grades.csv``, ``grades.json``: every field of every grade
(notes, per-exercise reasons, timings), the position of each submission in the whole list and,
for a shard, which one it is. ``grade --shard I/N`` grades every N-th submission of the list
sorted by path (the I-th, I-th + N, ...), so N jobs that see the same submissions split them
without talking to each other; ``grade --merge`` reads the N records, checks that they cover
every submission exactly once, and writes the gradebook and the feedback that one run over all
the submissions writes.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from cnncourse.grading.exercises import format_points

RECORD_FORMAT = "cnncourse-gradebook 1"


@dataclass
class Timings:
    """Where one submission's grading time went: wall-clock seconds by phase, CPU seconds by
    process (see the worker; CPU is read from /proc, 0 where there is none)."""

    start: float = 0.0  #: worker up, both kernels started, the clean room's imports done
    cells: float = 0.0  #: the submission's own cells in the student's kernel
    handover: float = 0.0  #: the grader's cells that hand values over (student's kernel)
    judging: float = 0.0  #: the clean room: context and values loaded, test cells run
    cpu_student: float = 0.0  #: CPU seconds of the student's kernel (its cells and the handover)
    cpu_clean_room: float = 0.0  #: CPU seconds of the clean room (start, imports, judging)
    cpu_worker: float = 0.0  #: CPU seconds of the worker process (nbclient, the channel)


@dataclass
class ExerciseResult:
    id: str
    title: str
    points: float
    max_points: float
    reason: str
    exercise_cell_error: str = ""


@dataclass
class Grade:
    submission: str
    notebook: str = ""
    exercises: list[ExerciseResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    cell_errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    mode: str = ""  #: "fast" or "full": how the submission was executed ("" when it was not)
    timings: Timings | None = None

    @property
    def total(self) -> float:
        return sum(e.points for e in self.exercises)

    @property
    def max_total(self) -> float:
        return sum(e.max_points for e in self.exercises)

    @classmethod
    def from_json(cls, data: dict) -> Grade:
        timings = data.get("timings")
        return cls(**{**data, "exercises": [ExerciseResult(**e) for e in data["exercises"]],
                      "timings": Timings(**timings) if timings is not None else None})


# ----------------------------------------------------------------------------- shards

@dataclass(frozen=True)
class Shard:
    """The I-th of N parts of a list of submissions (I counts from 1)."""

    index: int
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", str(text))
        index, count = (int(match.group(1)), int(match.group(2))) if match else (0, 0)
        if not 1 <= index <= count:
            raise ValueError(f"a shard is I/N with 1 <= I <= N (for example 2/4 for the second of "
                             f"four), got {text!r}")
        return cls(index=index, count=count)

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def positions(self, paths: list[Path]) -> list[int]:
        """Positions in ``paths`` of this shard's submissions: sorted by path, every N-th."""
        keys = sorted(range(len(paths)), key=lambda i: (Path(paths[i]).as_posix(), i))
        return sorted(keys[self.index - 1::self.count])


# ----------------------------------------------------------------------------- grades.csv

def _columns(grades: list[Grade], notebooks: dict[str, list[str]]) -> list[str]:
    """Exercise ids of the notebooks some grade is for, in the course's order."""
    used = {g.notebook for g in grades if g.notebook}
    return [i for name, ids in notebooks.items() if name in used for i in ids]


def _write_table(grades: list[Grade], notebooks: dict[str, list[str]], path: Path) -> Path:
    ids = _columns(grades, notebooks)
    path = Path(path)
    if path.parent != Path(""):
        path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["submission", *ids, "total", "mode", "notes"])
        for g in grades:
            scores = {e.id: format_points(e.points) for e in g.exercises}
            writer.writerow([g.submission, *(scores.get(i, "") for i in ids),
                             format_points(g.total), g.mode, "; ".join(g.notes)])
    return path


def exercise_ids(course: dict) -> dict[str, list[str]]:
    """Course notebook name -> its exercise ids, in the course's order."""
    return {name: [e.id for e in item.exercises] for name, item in course.items()}


def write_csv(grades: list[Grade], course: dict, path: Path) -> Path:
    """grades.csv: submission, one column per exercise (points scored), total, mode, notes."""
    return _write_table(grades, exercise_ids(course), path)


# ----------------------------------------------------------------------------- feedback

_HOW = ("Your notebook ran from the top in a fresh kernel. Right after each exercise cell, the "
        "values its tests read (numbers, strings, lists, dicts, NumPy arrays, Keras models, "
        "datasets; your functions are called in your kernel) were handed to a separate clean "
        "kernel, where the test cell (the tests you saw plus hidden tests) ran; the exercise "
        "scores its points when that test cell runs without error.")


def _exercise_rows(grade: Grade) -> list[str]:
    rows = ["| exercise | points | result |", "|---|---|---|"]
    for e in grade.exercises:
        result = e.reason.replace("|", "\\|")
        if e.exercise_cell_error and e.points == 0:
            result += f" (your exercise cell raised {e.exercise_cell_error.replace('|', '/')})"
        points = f"{format_points(e.points)} / {format_points(e.max_points)}"
        rows.append(f"| {e.title or e.id} | {points} | {result} |")
    return rows


def feedback_text(grade: Grade) -> str:
    lines = [f"# Feedback: {grade.submission}", ""]
    if grade.notebook:
        mode = f" · run in {grade.mode} mode" if grade.mode else ""
        lines += [f"Notebook: `{grade.notebook}` · score **{format_points(grade.total)} / "
                  f"{format_points(grade.max_total)}** points{mode}", "",
                  *_exercise_rows(grade), "", _HOW]
    else:
        lines += ["This submission could not be graded; score 0.", ""]
    if grade.notes:
        lines += ["", "## Notes", "", *[f"- {n}" for n in grade.notes]]
    if grade.cell_errors:
        lines += ["", "## Other cells that raised an error", "",
                  *[f"- {c}" for c in grade.cell_errors[:20]]]
    return "\n".join(lines) + "\n"


def safe_name(submission: str) -> str:
    """A file name for a submission's path (folders joined by ``__``)."""
    name = re.sub(r"\.ipynb$", "", submission.replace("\\", "/").lstrip("./"))
    return re.sub(r"[^\w.-]+", "_", name.replace("/", "__")).strip("_") or "submission"


def write_feedback(grades: list[Grade], folder: Path) -> list[Path]:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written, used = [], set()
    for g in grades:
        stem = safe_name(g.submission)
        candidate, n = stem, 1
        while candidate in used:
            n += 1
            candidate = f"{stem}_{n}"
        used.add(candidate)
        path = folder / f"{candidate}.feedback.md"
        path.write_text(feedback_text(g), encoding="utf-8")
        written.append(path)
    return written


# ----------------------------------------------------------------------------- record and merging

def record_path(csv_path: Path) -> Path:
    """Where the record of a gradebook goes: grades.csv -> grades.json."""
    return Path(csv_path).with_suffix(".json")


def write_record(grades: list[Grade], positions: list[int], total: int,
                 notebooks: dict[str, list[str]], csv_path: Path,
                 shard: Shard | None = None) -> Path:
    """grades.json: every field of the grades, each with its position in the whole list of
    submissions, for ``grade --merge`` (and for scripts). ``notebooks``: see
    :func:`exercise_ids`."""
    data = {"format": RECORD_FORMAT, "shard": [shard.index, shard.count] if shard else None,
            "submissions": total, "notebooks": notebooks,
            "grades": [{"position": p, **asdict(g)}
                       for p, g in zip(positions, grades, strict=True)]}
    path = record_path(csv_path)
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def find_records(paths: list[Path]) -> list[Path]:
    """The records of shard gradebooks: a grades.csv stands for the grades.json next to it; a
    folder for every record inside it."""
    found = []
    for path in map(Path, paths):
        if path.is_dir():
            found += [p for p in sorted(path.rglob("*.json")) if _is_record(p)]
        else:
            found.append(record_path(path) if path.suffix == ".csv" else path)
    return found


def _is_record(path: Path) -> bool:
    try:
        _read_record(path)
    except ValueError:
        return False
    return True


def _read_record(path: Path) -> dict:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read the shard record {path} ({exc})") from exc
    found = repr(data.get("format")) if isinstance(data, dict) else f"a JSON {type(data).__name__}"
    if found != repr(RECORD_FORMAT):
        raise ValueError(f"{path} is not a record written by `grade` (expected format "
                         f"{RECORD_FORMAT!r}, got {found})")
    return data


def _check_shards(records: dict[Path, dict]) -> None:
    """The records are the N shards of one grading run, each once."""
    kinds = {(r["submissions"], json.dumps(r["notebooks"])) for r in records.values()}
    if len(kinds) > 1:
        raise ValueError("the records come from different runs: they disagree on the number of "
                         "submissions or on the course's exercises")
    shards = [tuple(r["shard"]) if r["shard"] else (1, 1) for r in records.values()]
    counts = sorted({n for _, n in shards})
    if len(counts) > 1:
        raise ValueError(f"the shards split the submissions in different numbers of parts: "
                         f"{', '.join(f'{i}/{n}' for i, n in sorted(shards))}")
    count = counts[0]
    missing = [f"{i}/{count}" for i in range(1, count + 1) if (i, count) not in shards]
    twice = sorted({f"{i}/{n}" for i, n in shards if shards.count((i, n)) > 1})
    problems = [f"missing {', '.join(missing)}"] if missing else []
    problems += [f"given twice {', '.join(twice)}"] if twice else []
    if problems:
        raise ValueError(f"expected each of the shards 1/{count} to {count}/{count} once; "
                         f"{'; '.join(problems)}")


def merge(paths: list[Path]) -> tuple[list[Grade], dict[str, list[str]]]:
    """The grades of all shards in the order of one run over all submissions, and the course's
    exercise ids; ValueError when a shard is missing, given twice or from another run."""
    found = find_records(paths)
    if not found:
        raise ValueError(f"no shard record (grades.json written by `grade --shard`) in "
                         f"{', '.join(map(str, paths))}")
    records = {path.resolve(): _read_record(path) for path in found}  # a file given twice: once
    _check_shards(records)
    rows = sorted(((g["position"], g) for r in records.values() for g in r["grades"]),
                  key=lambda row: row[0])
    total = next(iter(records.values()))["submissions"]
    if [p for p, _ in rows] != list(range(total)):
        raise ValueError(f"the shards hold {len(rows)} rows for {total} submissions: they did not "
                         "see the same submissions (give every shard job the same paths)")
    grades = [Grade.from_json({k: v for k, v in g.items() if k != "position"}) for _, g in rows]
    return grades, next(iter(records.values()))["notebooks"]


def write_merged(paths: list[Path], csv_path: Path, feedback_dir: Path) -> list[Grade]:
    """``grade --merge``: grades.csv, its record and the feedback, as one run would write them."""
    grades, notebooks = merge(paths)
    _write_table(grades, notebooks, csv_path)
    write_record(grades, list(range(len(grades))), len(grades), notebooks, csv_path)
    write_feedback(grades, feedback_dir)
    return grades
