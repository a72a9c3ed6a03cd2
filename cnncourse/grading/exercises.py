"""The exercise format: find exercises in a notebook, check the markers, make the student version.

One source per notebook. An exercise is a pair of code cells (see CONTRIBUTING.md):

    # Exercise ex00-1                      <- solution cell, first line
    <BEGIN_SOLUTION marker>
    share = ...
    <END_SOLUTION marker>

    # Tests: exercise ex00-1 (1 point)     <- test cell, first line
    assert 0 < share < 1                   <- visible tests
    <BEGIN_HIDDEN marker>
    assert abs(share - 0.1) < 1e-9         <- instructor-only tests
    <END_HIDDEN marker>

The markers are nbgrader's (the constants below; CONTRIBUTING.md spells them out). This file does
not: the student edition ships the package, grading tools included (for ``python -m cnncourse
check``), and must hold no marker text.

The student version replaces each solution block with ``# YOUR CODE HERE`` and
``raise NotImplementedError("Exercise ex00-1: write your solution here")`` (indented like the
marker), drops the hidden-test blocks and clears every output. Nothing here imports TensorFlow
or executes code.

The markers are nbgrader's, and every solution and test cell also carries the
``metadata.nbgrader`` that nbgrader expects (:func:`nbgrader_metadata`), so instructors who
run nbgrader can use the notebooks as they are: ``python -m cnncourse assign --sync-nbgrader``
writes it (:func:`sync_nbgrader`), :func:`check_format` reports a cell where it is out of step.
"""

from __future__ import annotations

import ast
import copy
import re
from dataclasses import dataclass, field

_BEGIN, _END = "### BEGIN", "### END"  # joined below, so that no marker text is in this file
BEGIN_SOLUTION, END_SOLUTION = f"{_BEGIN} SOLUTION", f"{_END} SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = f"{_BEGIN} HIDDEN TESTS", f"{_END} HIDDEN TESTS"
MARKDOWN_STUB = "YOUR ANSWER HERE"

#: An exercise id: also nbgrader's ``grade_id`` (which must match ``^[a-zA-Z0-9_-]*$``).
_ID = r"[A-Za-z0-9][A-Za-z0-9_-]*"
SOLUTION_HEADER = re.compile(rf"^#\s*Exercise\s+({_ID})\s*$")
TESTS_HEADER = re.compile(
    rf"^#\s*Tests:\s*exercise\s+({_ID})\s*\((\d+(?:\.\d+)?)\s*points?\)\s*$", re.IGNORECASE)
#: Any first line that looks like a test cell, even a mangled one: never trusted in a submission.
LOOSE_TESTS_HEADER = re.compile(r"^\s*#\s*tests?\b", re.IGNORECASE)
MARKDOWN_HEADER = re.compile(
    rf"^#+\s*Exercise\s+({_ID})\b[^\n]*?\((\d+(?:\.\d+)?)\s*points?\)",
    re.IGNORECASE | re.MULTILINE)
#: The version of nbgrader's cell metadata written (nbgrader 0.9 reads version 3).
NBGRADER_SCHEMA = 3
_MARKERS = (BEGIN_SOLUTION, END_SOLUTION, BEGIN_HIDDEN, END_HIDDEN)


class ExerciseFormatError(ValueError):
    """A notebook breaks the exercise format; the message names the notebook, cell and problem."""


@dataclass
class Exercise:
    """One exercise of an instructor notebook."""

    id: str
    points: float
    notebook: str  #: file stem, e.g. "00_setup_and_tools"
    solution_index: int  #: cell index of the solution cell in the instructor notebook
    tests_index: int  #: cell index of the test cell
    tests_source: str  #: the whole instructor test cell: visible and hidden tests
    solution_cell_id: str | None = None
    title: str = ""
    #: names the tests read that the exercise cell binds: they leave the student's kernel as
    #: plain data
    values: list[str] = field(default_factory=list)
    #: other names the tests read that the instructor's cells bind: the clean room gets the
    #: instructor's
    context: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"id": self.id, "points": self.points, "notebook": self.notebook,
                "title": self.title, "solution_index": self.solution_index,
                "tests_index": self.tests_index,
                "solution_cell_id": self.solution_cell_id, "tests_source": self.tests_source,
                "values": self.values, "context": self.context}

    @classmethod
    def from_json(cls, data: dict) -> Exercise:
        fields = ("id", "points", "notebook", "solution_index", "tests_index", "tests_source",
                  "values", "context")
        return cls(**{k: data[k] for k in fields}, solution_cell_id=data.get("solution_cell_id"),
                   title=data.get("title", ""))


@dataclass
class Report:
    """Problems found by :func:`check_format`: errors make a notebook unsafe to assign."""

    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def source_of(cell) -> str:
    """A cell's source as one string (notebook files may store it as a list of lines)."""
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def first_line(cell) -> str:
    return source_of(cell).lstrip("\n").split("\n", 1)[0].strip()


def solution_id(cell) -> str | None:
    """The exercise id if this is a code cell starting with ``# Exercise <id>``."""
    if cell.get("cell_type") != "code":
        return None
    match = SOLUTION_HEADER.match(first_line(cell))
    return match.group(1) if match else None


def tests_header(cell) -> tuple[str, float] | None:
    """(id, points) if this is a code cell starting with ``# Tests: exercise <id> (<n> points)``."""
    if cell.get("cell_type") != "code":
        return None
    match = TESTS_HEADER.match(first_line(cell))
    return (match.group(1), float(match.group(2))) if match else None


def format_points(points: float) -> str:
    return str(int(points)) if float(points).is_integer() else f"{points:g}"


def _blocks(lines: list[str], begin: str, end: str) -> list[tuple[int, int]] | str:
    """(begin, end) line indices of marker blocks, or a message when they are unbalanced."""
    blocks, start = [], None
    for i, line in enumerate(lines):
        text = line.strip()
        if text == begin:
            if start is not None:
                return f"'{begin}' on line {i + 1} before the '{end}' of line {start + 1}'s block"
            start = i
        elif text == end:
            if start is None:
                return f"'{end}' on line {i + 1} without a '{begin}' before it"
            blocks.append((start, i))
            start = None
    if start is not None:
        return f"'{begin}' on line {start + 1} is never closed by '{end}'"
    return blocks


def _marker_lines(source: str) -> set[str]:
    return {line.strip() for line in source.split("\n") if line.strip() in _MARKERS}


def _loose_marker(source: str) -> str | None:
    """A line that looks like a marker but is not spelled exactly (it would not be stripped)."""
    for line in source.split("\n"):
        text = line.strip()
        looks_like = re.match(r"^#+\s*(BEGIN|END)\s+(SOLUTION|HIDDEN\s+TESTS)\b", text,
                              re.IGNORECASE)
        if looks_like and text not in _MARKERS:
            return text
    return None


def stub(exercise_id: str) -> tuple[str, str]:
    """The lines that replace a solution block in the student version of ``exercise_id``."""
    return ("# YOUR CODE HERE",
            f'raise NotImplementedError("Exercise {exercise_id}: write your solution here")')


# ----------------------------------------------------------------------------- nbgrader's metadata

def _markdown_answer(cell) -> bool:
    return cell.get("cell_type") == "markdown" and BEGIN_SOLUTION in _marker_lines(source_of(cell))


def nbgrader_metadata(cell) -> dict | None:
    """The ``metadata.nbgrader`` nbgrader expects on this cell; None for a cell that is neither
    an exercise cell, a test cell nor a markdown answer (such a cell carries none).

    An exercise cell is an autograded answer (``grade_id`` ``<id>-answer``), its test cell the
    autograder tests (``grade_id`` the exercise id, its points), a markdown cell with a solution
    block a manually graded answer (``grade_id`` from the cell id, 0 points: the course's grader
    does not score prose, the instructor sets the points in nbgrader).
    """
    ex_id, header = solution_id(cell), tests_header(cell)
    if ex_id is not None:
        flags, grade_id, points = (True, False, False), f"{ex_id}-answer", None
    elif header is not None:
        flags, grade_id, points = (False, True, True), header[0], header[1]
    elif _markdown_answer(cell):
        flags, grade_id, points = (True, True, False), f"answer-{cell.get('id', '')}", 0.0
    else:
        return None
    solution, grade, locked = flags
    meta = {"grade": grade, "grade_id": re.sub(r"[^A-Za-z0-9_-]", "-", grade_id),
            "locked": locked, "schema_version": NBGRADER_SCHEMA, "solution": solution,
            "task": False}
    if points is not None:
        meta["points"] = int(points) if float(points).is_integer() else points
    return meta


def sync_nbgrader(nb) -> list[int]:
    """Write :func:`nbgrader_metadata` into every cell (and remove stale nbgrader metadata);
    returns the indices of the cells changed. Running it again changes nothing."""
    changed = []
    for index, cell in enumerate(nb.cells):
        wanted = nbgrader_metadata(cell)
        if cell.get("metadata", {}).get("nbgrader") == wanted:
            continue
        metadata = cell.setdefault("metadata", {})
        if wanted is None:
            metadata.pop("nbgrader")
        else:
            metadata["nbgrader"] = wanted
        changed.append(index)
    return changed


def _nbgrader_warnings(nb, name: str) -> list[str]:
    stale = [i for i, c in enumerate(nb.cells)
             if c.get("metadata", {}).get("nbgrader") != nbgrader_metadata(c)]
    if not stale:
        return []
    return [f"{name}, cell {i}: its metadata.nbgrader is out of step with the cell (nbgrader needs "
            "it); run `python -m cnncourse assign --sync-nbgrader`" for i in stale]


# ----------------------------------------------------------------------------- the format check

@dataclass
class _Seen:
    """What :func:`check_format` has seen so far, cell by cell."""

    intro_points: dict[str, float]
    solutions: dict[str, int] = field(default_factory=dict)
    tested: set[str] = field(default_factory=set)


def _check_markdown(source: str, markers: set[str], where: str, report: Report) -> None:
    if markers - {BEGIN_SOLUTION, END_SOLUTION}:
        report.errors.append(f"{where}: hidden-test markers belong in a test cell, not in markdown")
    found = _blocks(source.split("\n"), BEGIN_SOLUTION, END_SOLUTION)
    if isinstance(found, str):
        report.errors.append(f"{where}: {found}")


def _check_solution(ex_id: str, source: str, markers: set[str], where: str, index: int,
                    seen: _Seen, report: Report) -> None:
    if ex_id in seen.solutions:
        report.errors.append(f"{where}: exercise id {ex_id!r} already used by cell "
                             f"{seen.solutions[ex_id]}")
    seen.solutions[ex_id] = index
    if markers & {BEGIN_HIDDEN, END_HIDDEN}:
        report.errors.append(f"{where}: hidden tests belong in the test cell, not the exercise "
                             "cell")
    found = _blocks(source.split("\n"), BEGIN_SOLUTION, END_SOLUTION)
    if isinstance(found, str):
        report.errors.append(f"{where}: {found}")
    elif not found:
        report.errors.append(f"{where}: exercise {ex_id} has no '{BEGIN_SOLUTION}' ... "
                             f"'{END_SOLUTION}' block")
    if ex_id not in seen.intro_points:
        report.warnings.append(f"{where}: no markdown cell introduces exercise {ex_id} "
                               "('### Exercise <id> — title (<n> points)')")


def _check_tests(header: tuple[str, float], source: str, markers: set[str], where: str,
                 seen: _Seen, report: Report) -> None:
    tid, points = header
    if tid not in seen.solutions:
        report.errors.append(f"{where}: test cell for exercise {tid!r} has no "
                             f"'# Exercise {tid}' cell before it")
    if tid in seen.tested:
        report.errors.append(f"{where}: a second test cell for exercise {tid!r}")
    seen.tested.add(tid)
    if points <= 0:
        report.errors.append(f"{where}: exercise {tid} must be worth more than 0 points")
    if tid in seen.intro_points and seen.intro_points[tid] != points:
        report.errors.append(f"{where}: exercise {tid} is worth {format_points(points)} points in "
                             f"its test cell but {format_points(seen.intro_points[tid])} in the "
                             "markdown")
    if markers & {BEGIN_SOLUTION, END_SOLUTION}:
        report.errors.append(f"{where}: solution markers belong in the exercise cell, not the "
                             "test cell")
    found = _blocks(source.split("\n"), BEGIN_HIDDEN, END_HIDDEN)
    if isinstance(found, str):
        report.errors.append(f"{where}: {found}")


def _check_other_code(cell, markers: set[str], where: str, report: Report) -> None:
    line = first_line(cell)
    bad_id = re.match(r"^#\s*(?:Tests:\s*)?Exercise\s+(\S+)", line, re.IGNORECASE)
    if bad_id and not re.fullmatch(_ID, bad_id.group(1).rstrip(" (")):
        report.errors.append(f"{where}: exercise id {bad_id.group(1)!r} must be letters, digits, "
                             "'-' and '_' (nbgrader's grade_id), e.g. ex03-2")
    elif markers:
        report.errors.append(f"{where}: markers {sorted(markers)} in a cell that is neither "
                             "'# Exercise <id>' nor '# Tests: exercise <id> (<n> points)'")
    if LOOSE_TESTS_HEADER.match(line) and "exercise" in line.lower() and not bad_id:
        report.errors.append(f"{where}: first line {line!r} looks like a test header but does "
                             "not match '# Tests: exercise <id> (<n> points)'")


def check_format(nb, name: str = "notebook") -> Report:
    """Check a notebook against the exercise format; returns errors and warnings (never raises).

    Errors make a notebook unsafe to assign or grade; nbgrader metadata out of step with the
    cells is a warning (the course's own tools do not read it; nbgrader refuses the notebook).
    """
    report = Report()
    markdown = "\n".join(source_of(c) for c in nb.cells if c.get("cell_type") == "markdown")
    seen = _Seen({m.group(1): float(m.group(2)) for m in MARKDOWN_HEADER.finditer(markdown)})
    for index, cell in enumerate(nb.cells):
        where = f"{name}, cell {index}"
        source = source_of(cell)
        loose = _loose_marker(source)
        if loose:
            report.errors.append(f"{where}: '{loose}' is not an exact marker; write one of "
                                 f"{', '.join(_MARKERS)}")
        markers = _marker_lines(source)
        if cell.get("cell_type") == "markdown":
            _check_markdown(source, markers, where, report)
        elif cell.get("cell_type") != "code":
            continue
        elif solution_id(cell) is not None:
            _check_solution(solution_id(cell), source, markers, where, index, seen, report)
        elif tests_header(cell) is not None:
            _check_tests(tests_header(cell), source, markers, where, seen, report)
        else:
            _check_other_code(cell, markers, where, report)
    for ex_id, index in seen.solutions.items():
        if ex_id not in seen.tested:
            report.errors.append(f"{name}, cell {index}: exercise {ex_id} has no "
                                 f"'# Tests: exercise {ex_id} (<n> points)' cell after it")
    report.warnings += _nbgrader_warnings(nb, name)
    return report


def find_exercises(nb, name: str = "notebook") -> list[Exercise]:
    """The exercises of an instructor notebook in order; ExerciseFormatError if the format is
    broken."""
    report = check_format(nb, name)
    if report.errors:
        raise ExerciseFormatError(f"{name} breaks the exercise format:\n  "
                                  + "\n  ".join(report.errors))
    markdown = "\n".join(source_of(c) for c in nb.cells if c.get("cell_type") == "markdown")
    titles = {}
    for line in markdown.split("\n"):
        match = MARKDOWN_HEADER.match(line)
        if match:
            title = re.sub(r"^#+\s*Exercise\s+", "", line)
            title = re.sub(r"\s*\(\d+(?:\.\d+)?\s*points?\)\s*$", "", title, flags=re.I)
            titles[match.group(1)] = title.strip()
    solutions = {solution_id(c): (i, c) for i, c in enumerate(nb.cells) if solution_id(c)}
    exercises = []
    for index, cell in enumerate(nb.cells):
        header = tests_header(cell)
        if header:
            ex_id, points = header
            sol_index, sol_cell = solutions[ex_id]
            values, context = judged_names(nb, sol_index, source_of(cell))
            exercises.append(Exercise(ex_id, points, name, sol_index, index, source_of(cell),
                                      sol_cell.get("id"), titles.get(ex_id, ex_id), values,
                                      context))
    return exercises


def judged_names(nb, solution_index: int, tests_source: str) -> tuple[list[str], list[str]]:
    """(values, context) of a test cell: the names it reads that the exercise cell binds (the
    student's values), and those that other instructor code cells bind (the instructor's
    context)."""
    import builtins

    read = names_read(_python_only(tests_source)) - set(dir(builtins))
    values = read & names_bound(_python_only(source_of(nb.cells[solution_index])))
    elsewhere = set()
    for index, cell in enumerate(nb.cells):
        if cell.get("cell_type") == "code" and index != solution_index and not tests_header(cell):
            elsewhere |= names_bound(_python_only(source_of(cell)))
    return sorted(values), sorted((read - values) & elsewhere)


def imported_modules(sources: list[str]) -> list[str]:
    """Modules that code imports (``from a import b`` gives ``a`` and ``a.b``), in first-seen
    order."""
    found: dict[str, None] = {}
    for source in sources:
        for node in _nodes(_python_only(source)):
            if isinstance(node, ast.Import):
                found.update((a.name, None) for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found[node.module] = None
                found.update((f"{node.module}.{a.name}", None)
                             for a in node.names if a.name != "*")
    return list(found)


def _strip_blocks(source: str, begin: str, end: str, replacement: tuple[str, ...]) -> str:
    lines = source.split("\n")
    blocks = _blocks(lines, begin, end)
    if isinstance(blocks, str):
        raise ExerciseFormatError(blocks)
    out, previous = [], 0
    for start, stop in blocks:
        out.extend(lines[previous:start])
        indent = lines[start][: len(lines[start]) - len(lines[start].lstrip())]
        out.extend(indent + r for r in replacement)
        previous = stop + 1
    out.extend(lines[previous:])
    return "\n".join(out)


def student_source(cell) -> str:
    """The student version of one cell's source (unchanged unless it holds markers)."""
    source = source_of(cell)
    if cell.get("cell_type") == "markdown":
        return _strip_blocks(source, BEGIN_SOLUTION, END_SOLUTION, (MARKDOWN_STUB,))
    if cell.get("cell_type") != "code":
        return source
    if tests_header(cell):
        return _strip_blocks(source, BEGIN_HIDDEN, END_HIDDEN, ()).rstrip("\n")
    return _strip_blocks(source, BEGIN_SOLUTION, END_SOLUTION, stub(solution_id(cell)))


def make_student_version(nb, name: str = "notebook"):
    """A copy of an instructor notebook: solutions stubbed, hidden tests removed, no outputs.

    Everything else (cell order, ids, markdown, metadata) stays identical. The notebook's
    metadata records which course notebook it is, so the grader can match a renamed file.
    """
    find_exercises(nb, name)  # refuses a notebook whose markers would leak a solution
    student = copy.deepcopy(nb)
    for cell in student.cells:
        cell["source"] = student_source(cell)
        if cell.get("cell_type") == "code":
            cell["outputs"], cell["execution_count"] = [], None
            cell.get("metadata", {}).pop("execution", None)
    student.metadata["cnncourse"] = {"notebook": name, "version": "student"}
    return student


def _protected_lines(cells) -> tuple[list[list[str]], set[str]]:
    """Lines inside solution/hidden blocks (per block) and the stripped lines found outside them."""
    secret_blocks, public = [], set()
    for cell in cells:
        lines = source_of(cell).split("\n")
        inside = [False] * len(lines)
        for begin, end in ((BEGIN_SOLUTION, END_SOLUTION), (BEGIN_HIDDEN, END_HIDDEN)):
            blocks = _blocks(lines, begin, end)
            if isinstance(blocks, str):
                continue
            for start, stop in blocks:
                secret_blocks.append(lines[start + 1:stop])
                for i in range(start, stop + 1):
                    inside[i] = True
        public.update(_code_part(line)
                      for line, hidden in zip(lines, inside, strict=True) if not hidden)
    return secret_blocks, public


def _code_part(line: str) -> str:
    """A line without surrounding blanks and without a trailing comment (roughly: '  # ...')."""
    return re.sub(r"\s+#.*$", "", line.strip())


def find_leaks(instructor_nb, text: str) -> list[str]:
    """Solution or hidden-test lines of ``instructor_nb`` found in ``text`` (e.g. a student file).

    A line counts when it is not blank, not a bare comment or marker, at least 8 characters long,
    and does not also appear outside the protected blocks of the instructor notebook (a solution
    may legitimately repeat a line the student already sees). Lines are compared without
    surrounding blanks and trailing comments, and also as they appear JSON-escaped in an .ipynb.
    """
    import json

    blocks, public = _protected_lines(instructor_nb.cells)
    leaks = []
    for block in blocks:
        for line in block:
            text_line = _code_part(line)
            if (len(text_line) < 8 or text_line in public or text_line.startswith("#")
                    or text_line in _MARKERS):
                continue
            escaped = json.dumps(text_line)[1:-1]
            if text_line in text or escaped in text:
                leaks.append(text_line)
    return leaks


def _nodes(source: str) -> list:
    try:
        return list(ast.walk(ast.parse(source)))
    except SyntaxError:
        return []


def names_bound(source: str) -> set[str]:
    """Names a piece of code assigns, defines or imports (empty if it does not parse)."""
    bound = set()
    for node in _nodes(source):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            bound.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound.update((a.asname or a.name).split(".")[0] for a in node.names)
    return bound


def names_read(source: str) -> set[str]:
    """Names a piece of code reads (empty if it does not parse)."""
    return {n.id for n in _nodes(source) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _python_only(source: str) -> str:
    """Drop IPython magics and shell lines so the code parses."""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line
                     for line in source.split("\n"))


def untested_exercises(nb, name: str = "notebook") -> list[str]:
    """Exercises whose tests read no name that only their solution block defines (a static lint).

    When the solution is replaced by ``raise NotImplementedError()`` the test cell must fail;
    the simplest way to guarantee it is that the tests read a name the solution creates and no
    earlier cell does. An exercise that checks an object modified in place can fail this lint
    and still be sound; it is a prompt to look, not a proof.
    """
    problems = []
    for exercise in find_exercises(nb, name):
        solution_cell = nb.cells[exercise.solution_index]
        inside = _protected_lines([solution_cell])[0]
        created = names_bound("\n".join("\n".join(b) for b in inside))
        earlier = set()
        for cell in nb.cells[: exercise.solution_index]:
            if cell.get("cell_type") == "code":
                earlier |= names_bound(_python_only(source_of(cell)))
        rest_of_solution = _strip_blocks(source_of(solution_cell), BEGIN_SOLUTION, END_SOLUTION, ())
        earlier |= names_bound(_python_only(rest_of_solution))
        if not (names_read(_python_only(exercise.tests_source)) & (created - earlier)):
            problems.append(f"{name}: the tests of {exercise.id} read no name that only its "
                            f"solution defines (solution defines {sorted(created) or 'nothing'})")
    return problems

