"""Execute one grading job in processes of its own and record, cell by cell, what happened.

Run by the grader as ``python -m cnncourse.grading.worker JOB.json`` (so a submission that hangs or
crashes cannot take the grader down). Two kinds of job:

- ``reference``: the instructor notebook runs once in a fresh kernel; before each exercise cell,
  :func:`cnncourse.grading.cleanroom.capture_reference` pickles the context its tests read. The
  result lists each pickle with its SHA-256;
- ``submission``: two kernels. The **clean room** starts first and imports its modules; then the
  **student's kernel** runs the submission. After each exercise cell the student's values are
  captured as plain data and the clean room judges them at once: it loads the reference context
  and the values, and runs the instructor's test cell. Functions among the values are called in
  the student's kernel through a Unix socket that this worker serves, each call with a time limit.

The result file is rewritten after every cell, so whatever was graded before a hard kill survives
it.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from cnncourse.grading.gradebook import Timings

TIMEOUT_ENAME = "CellTimeoutError"
PROBE_TIMEOUT_S = 15
MODULE = "__import__('cnncourse.grading.cleanroom', fromlist=['_'])"
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


@dataclass
class CellRecord:
    """How one executed cell ended."""

    status: str  #: ok, error, timeout, kernel died, not run
    ename: str = ""
    evalue: str = ""
    traceback: str = ""
    execution_count: int | None = None
    seconds: float | None = None
    stdout: str = ""


@dataclass
class TestRecord:
    """How the clean room judged one exercise."""

    exercise: str
    status: str
    ename: str = ""
    evalue: str = ""
    traceback: str = ""
    execution_count: int | None = None
    marker_seen: bool = False
    not_judged: str = ""  #: why the values could not be judged (then the tests did not run)


@dataclass
class WorkerResult:
    cells: dict[str, dict] = field(default_factory=dict)  #: cell index -> CellRecord as a dict
    tests: dict[str, dict] = field(default_factory=dict)  #: exercise id -> TestRecord as a dict
    references: dict[str, dict] = field(default_factory=dict)  #: id -> file, sha256, failed
    notes: list[str] = field(default_factory=list)
    tampering: list[str] = field(default_factory=list)
    kernel_pgids: list[int] = field(default_factory=list)
    finished: bool = False
    seconds: float = 0.0
    timings: Timings = field(default_factory=Timings)


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
    os.replace(tmp, path)


def _error_of(cell) -> dict:
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            traceback = strip_ansi("\n".join(output.get("traceback", [])))[-4000:]
            return {"ename": output.get("ename", ""), "traceback": traceback,
                    "evalue": strip_ansi(str(output.get("evalue", "")))}
    return {}


def _stdout_of(cell) -> str:
    return "".join(str(o.get("text", "")) for o in cell.get("outputs", [])
                   if o.get("output_type") == "stream" and o.get("name") == "stdout")


def _native_kernel_manager():
    """A kernel manager whose 'python3' is always this Python (sys.executable), whatever kernelspecs
    are installed: a user-level python3 kernelspec pointing at another environment would
    otherwise run the submission without cnncourse (or with another version of it)."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager
    from traitlets import default

    class NativeKernelManager(AsyncKernelManager):
        @default("kernel_spec_manager")
        def _native_only(self):
            return KernelSpecManager(kernel_dirs=[])

    return NativeKernelManager


class Kernel:
    """One kernel driven by nbclient: cells with a time limit, an interrupt probe, death
    detected."""

    def __init__(self, nb, cwd: str, iopub_timeout: int, probe_timeout: float, sockets: str):
        """``sockets``: absolute path prefix of the kernel's Unix sockets (IPC transport: no TCP
        ports to race for when many kernels start at once, no port any local process can reach,
        and no "running over TCP without encryption" warning in the kernel's log)."""
        from nbclient import NotebookClient
        from traitlets.config import Config

        self.limit, self.replies, self.dead, self.probe_timeout = 60.0, {}, False, probe_timeout
        Path(sockets).parent.mkdir(parents=True, exist_ok=True)
        # a Unix socket path has at most 107 bytes (port suffix included): a very long TMPDIR
        # gets TCP instead
        transport = {"transport": "ipc", "ip": sockets} if len(sockets) < 96 else {}
        self.client = NotebookClient(
            nb, kernel_name="python3", kernel_manager_class=_native_kernel_manager(),
            config=Config({"KernelManager": transport}),
            allow_errors=True, interrupt_on_timeout=True,
            timeout_func=lambda cell: max(1, int(self.limit)), shutdown_kernel="immediate",
            error_on_timeout={"ename": TIMEOUT_ENAME, "evalue": "time limit reached",
                              "traceback": []},
            on_cell_executed=self._executed, iopub_timeout=iopub_timeout, startup_timeout=120,
            resources={"metadata": {"path": cwd}})

    def _executed(self, cell, cell_index, execute_reply, **_):
        self.replies[cell_index] = (execute_reply or {}).get("content", {})

    @property
    def pgid(self) -> int | None:
        return getattr(getattr(self.client.km, "provisioner", None), "pgid", None)

    def cpu_seconds(self) -> float:
        """CPU time (user + system) the kernel's process has used so far; 0 where unknown."""
        pid = getattr(getattr(self.client.km, "provisioner", None), "pid", None)
        return _cpu_seconds(pid) if pid else 0.0

    def hide_connection_file(self) -> None:
        """Other processes of this user (a submission) cannot find this kernel's key any more."""
        try:
            os.remove(self.client.km.connection_file)
        except OSError:
            pass

    async def run(self, cell, index: int, seconds: float, store_history: bool = True) -> CellRecord:
        """Execute a cell; afterwards ``dead`` says whether the kernel can run another one."""
        from nbclient.exceptions import DeadKernelError

        self.limit, began = seconds, time.monotonic()
        self.replies.pop(index, None)
        try:
            await self.client.async_execute_cell(cell, index, store_history=store_history)
        except DeadKernelError:
            self.dead = True
            return CellRecord(status="kernel died", **_error_of(cell))
        except Exception as exc:  # nbclient internals: never lose the row
            self.dead = True
            return CellRecord(status="not run", ename=type(exc).__name__, evalue=str(exc))
        reply = self.replies.get(index, {})
        timed_out = reply.get("ename") == TIMEOUT_ENAME
        record = CellRecord(status="timeout" if timed_out else reply.get("status", "not run"),
                            execution_count=cell.get("execution_count"), stdout=_stdout_of(cell),
                            seconds=round(time.monotonic() - began, 1), **_error_of(cell))
        if timed_out:
            self.dead = await self._stuck(index)
        return record

    async def _stuck(self, index: int) -> bool:
        """After an interrupt: does the kernel answer again? (a loop that swallows it won't)"""
        import nbformat

        self.limit = self.probe_timeout
        iopub, self.client.iopub_timeout = self.client.iopub_timeout, 1
        try:
            await self.client.async_execute_cell(nbformat.v4.new_code_cell("None"), index,
                                                 store_history=False)
            stuck = self.replies.get(index, {}).get("ename") == TIMEOUT_ENAME
        except Exception:
            stuck = True
        self.client.iopub_timeout = iopub
        self.replies.pop(index, None)
        return stuck


class Job:
    """The job file's settings and the result being written."""

    def __init__(self, job: dict):
        import nbformat

        self.spec = job
        self.nb = nbformat.read(job["notebook"], as_version=4)
        Path(job["notebook"]).unlink()  # it may hold instructor code: gone before student code runs
        self.result = WorkerResult()
        self.start = time.monotonic()
        self.deadline = self.start + float(job["total_timeout"])
        self.cell_timeout = float(job["cell_timeout"])

    def save(self) -> None:
        self.result.seconds = round(time.monotonic() - self.start, 1)
        _write_json(Path(self.spec["result"]), asdict(self.result))

    def kernel(self, name: str, cwd: str, nb=None) -> Kernel:
        import nbformat

        if nb is None:
            nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("")])
        return Kernel(nb, cwd, int(self.spec.get("iopub_timeout", 10)),
                      float(self.spec.get("probe_timeout", PROBE_TIMEOUT_S)),
                      sockets=str(Path(self.spec["scratch"]) / "sockets" / name))

    def code_cells(self):
        for index, cell in enumerate(self.nb.cells):
            if cell.get("cell_type") == "code" and cell.source.strip():
                yield index, cell

    def time_left(self, index) -> float | None:
        remaining = self.deadline - time.monotonic()
        if remaining < 1:
            self.result.notes.append(f"total time limit of {self.spec['total_timeout']:g} s "
                                     f"reached before cell {index}; the rest was not run")
            return None
        return min(self.cell_timeout, remaining)

    def stopped(self, kernel: Kernel, index: int, record: CellRecord) -> bool:
        """Record a student/reference cell; True when the run cannot go on."""
        self.result.cells[str(index)] = asdict(record)
        if record.status == "kernel died":
            self.result.notes.append(f"the kernel died in cell {index} (the code ended its own "
                                     "Python process, crashed it or ran out of memory); the rest "
                                     "was not run")
        elif kernel.dead and record.status == "timeout":
            self.result.notes.append(f"cell {index} did not stop when interrupted at the time "
                                     "limit; the rest was not run")
        elif kernel.dead:
            self.result.notes.append(f"cell {index} could not be executed ({record.ename}: "
                                     f"{record.evalue}); the rest was not run")
        return kernel.dead


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a running process, from /proc (0 where there is none)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


def _kernel_env(folder: Path, accelerators: bool = True) -> dict:
    """The kernel's environment: temporary files and IPython's profile (no startup files a previous
    submission could have left in ~/.ipython) in its own folder. The clean room judges on the CPU,
    so that it never competes with the student's kernel for a GPU's memory."""
    tmp = folder / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    return {**os.environ, "TMPDIR": str(tmp), "IPYTHONDIR": str(folder / "ipython"),
            **({} if accelerators else {"CUDA_VISIBLE_DEVICES": "-1"})}


# ----------------------------------------------------------------------------- reference run

def _read_references(job: Job, record: CellRecord) -> None:
    """Context pickles and their SHA-256, as printed by a cell that ran only instructor code."""
    from cnncourse.grading.cleanroom import REFERENCE_LINE

    for line in record.stdout.splitlines():
        if line.startswith(REFERENCE_LINE):
            entry = json.loads(line[len(REFERENCE_LINE):])
            job.result.references[entry["exercise"]] = entry
            for name, why in entry.get("failed", {}).items():
                job.result.notes.append(f"the instructor's context lacks {name!r}: it cannot be "
                                        f"pickled ({why})")
    if record.ename:
        job.result.notes.append("the instructor's context could not be saved "
                                f"({record.ename}: {record.evalue})")


async def run_reference(job: Job) -> None:
    """Run the instructor notebook; its reference-capture cells report the context pickles."""
    kernel = job.kernel("reference", job.spec["cwd"], job.nb)
    async with kernel.client.async_setup_kernel(env=_kernel_env(Path(job.spec["scratch"]))):
        kernel.hide_connection_file()
        job.result.kernel_pgids = [kernel.pgid] if kernel.pgid else []
        job.save()
        for index, cell in job.code_cells():
            seconds = job.time_left(index)
            if seconds is None:
                break
            record = await kernel.run(cell, index, seconds)
            _read_references(job, record)
            if job.stopped(kernel, index, record):
                break
            job.save()


# ----------------------------------------------------------------------------- submission

class Channel:
    """Serves the clean room's calls of the student's functions (one at a time, only while
    judging)."""

    def __init__(self, student: Kernel, scratch_index: int, call_limit: float):
        self.student, self.index, self.call_limit = student, scratch_index, call_limit
        self.open, self.lock = False, asyncio.Lock()

    async def handle(self, reader, writer) -> None:
        """One request: the folder of a call's arguments in, a status line out."""
        try:
            request = json.loads((await reader.readline()).decode())
            folder = str(request["call"])
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):
            status = "bad request"
        else:
            async with self.lock:
                status = await self._call(folder)
        writer.write(json.dumps({"status": status}).encode() + b"\n")
        await writer.drain()
        writer.close()

    async def _call(self, folder: str) -> str:
        import nbformat

        if not self.open:
            return "refused"
        if self.student.dead:
            return "your notebook's kernel is not running any more"
        cell = nbformat.v4.new_code_cell(f"{MODULE}.serve_call({folder!r})")
        record = await self.student.run(cell, self.index, self.call_limit, store_history=False)
        if record.status in ("ok", "timeout"):
            return record.status
        return f"{record.ename}: {record.evalue}"[:300]


async def judge(job: Job, room: Kernel, channel: Channel, exercise: str) -> TestRecord:
    """Run one exercise's tests in the clean room on the values just captured."""
    import nbformat

    exchange = Path(job.spec["exchange"])
    spec = {**job.spec["judging"][exercise], "values": str(exchange / "values" / exercise),
            "calls": str(exchange / "calls" / exercise), "channel": job.spec["socket"],
            "call_limit": channel.call_limit}
    if spec["context"] == "snapshot":
        snapshot = job.result.references.get("context", {})
        spec["context"], spec["sha256"] = snapshot.get("file"), snapshot.get("sha256")
    source = spec.pop("tests")
    setup = await room.run(nbformat.v4.new_code_cell(f"{MODULE}.judge(globals(), {spec!r})"), 0,
                           job.cell_timeout * 2)
    if setup.status != "ok":
        reason = (setup.evalue if setup.ename == "NotJudged"
                  else f"{setup.ename}: {setup.evalue}".strip(": "))
        return TestRecord(exercise=exercise, status="not judged", not_judged=reason or setup.status)
    channel.open = True
    try:
        test = await room.run(nbformat.v4.new_code_cell(source), 0,
                              job.cell_timeout * 2 + PROBE_TIMEOUT_S)
    finally:
        channel.open = False
    return TestRecord(exercise=exercise, status=test.status, ename=test.ename, evalue=test.evalue,
                      traceback=test.traceback, execution_count=test.execution_count,
                      marker_seen=f"{job.spec['marker']}:{exercise}" in test.stdout)


def _read_tampering(job: Job, exercise: str) -> None:
    """The student's kernel's own account of tampering, read as data (it may be missing or
    false)."""
    path = Path(job.spec["exchange"]) / "values" / exercise / "manifest.json"
    try:
        found = json.loads(path.read_text(encoding="utf-8")).get("tampering", [])
    except (OSError, ValueError, AttributeError):
        return
    for item in found if isinstance(found, list) else []:
        if isinstance(item, str) and item[:500] not in job.result.tampering:
            job.result.tampering.append(item[:500])


async def _warm_up(job: Job, room: Kernel) -> None:
    """The clean room imports its modules (it must be done before the student's code runs)."""
    import nbformat

    cell = nbformat.v4.new_code_cell(f"{MODULE}.warm_up({job.spec['imports']!r})")
    record = await room.run(cell, 0, 300)
    if record.status != "ok":
        raise RuntimeError(f"the clean room did not start ({record.ename}: {record.evalue})")


async def _start_student(job: Job, student: Kernel, index: int) -> None:
    import nbformat

    start = nbformat.v4.new_code_cell(
        f"{MODULE}.start({job.spec['exchange']!r}, {job.spec['allowed']!r})")
    if (await student.run(start, index, 120, store_history=False)).status != "ok":
        raise RuntimeError("the student's kernel did not start")


def _snapshot_cells(spec: dict) -> set:
    """Cells whose output reports context pickles: the grader's one snapshot, or one before each
    exercise cell (``python -m cnncourse check``, which has no instructor run)."""
    snapshot = spec.get("snapshot")
    return set(snapshot) if isinstance(snapshot, list) else {snapshot}


async def _judge_capture(job: Job, room: Kernel, channel: Channel, exercise: str) -> None:
    """After an exercise cell: note the tampering the student's kernel saw, judge the values."""
    began = time.monotonic()
    _read_tampering(job, exercise)
    job.result.tests[exercise] = asdict(await judge(job, room, channel, exercise))
    job.result.timings.judging += time.monotonic() - began
    if room.dead:
        job.result.notes.append("the clean room stopped answering; the rest was not judged")


async def _run_student(job: Job, student: Kernel, room: Kernel, channel: Channel) -> None:
    """The submission's cells one by one, each capture followed by its judgement."""
    captures = {int(k): v for k, v in job.spec["captures"].items()}
    snapshots = _snapshot_cells(job.spec)
    grader_cells = {*captures, *snapshots}
    for index, cell in job.code_cells():
        if index == channel.index:
            continue
        seconds = job.time_left(index)
        if seconds is None:
            break
        began = time.monotonic()
        record = await student.run(cell, index, seconds)
        if index in grader_cells:
            job.result.timings.handover += time.monotonic() - began
        else:
            job.result.timings.cells += time.monotonic() - began
        if index in snapshots:  # ran before student code: grader output
            _read_references(job, record)
        if job.stopped(student, index, record):
            break
        if index in captures:
            await _judge_capture(job, room, channel, captures[index])
            if room.dead:
                break
        job.save()


async def run_submission(job: Job) -> None:
    """Clean room first, then the student's kernel cell by cell, judging after each exercise."""
    import nbformat

    scratch = Path(job.spec["scratch"])
    room = job.kernel("room", str(scratch / "room"))
    job.nb.cells.append(nbformat.v4.new_code_cell("None"))  # where the channel's calls execute
    student = job.kernel("student", job.spec["cwd"], job.nb)
    channel = Channel(student, len(job.nb.cells) - 1,
                      min(job.cell_timeout, float(job.spec["call_limit"])))
    (scratch / "room").mkdir(parents=True, exist_ok=True)
    room_env = _kernel_env(scratch / "room", accelerators=False)
    async with room.client.async_setup_kernel(env=room_env):
        room.hide_connection_file()
        warm_up = asyncio.ensure_future(_warm_up(job, room))  # while the student's kernel starts
        async with student.client.async_setup_kernel(env=_kernel_env(Path(job.spec["cwd"]).parent)):
            job.result.kernel_pgids = [k.pgid for k in (room, student) if k.pgid]
            job.save()
            await _start_student(job, student, channel.index)
            await warm_up
            job.result.timings.start = time.monotonic() - job.start
            server = await asyncio.start_unix_server(channel.handle, path=job.spec["socket"])
            try:
                await _run_student(job, student, room, channel)
            finally:
                server.close()
                job.result.timings.cpu_student = student.cpu_seconds()
                job.result.timings.cpu_clean_room = room.cpu_seconds()


def run_job(spec: dict) -> dict:
    """Execute the job; returns (and keeps writing to spec['result']) the result as a dict."""
    job = Job(spec)
    runner = run_reference if spec.get("mode") == "reference" else run_submission
    try:
        asyncio.run(runner(job))
    except Exception as exc:  # the grader's own trouble (a kernel that won't start): a result
        job.result.notes.append(f"grading stopped: {type(exc).__name__}: {exc}")
    job.result.finished = True
    job.result.timings.cpu_worker = sum(os.times()[:2])
    job.save()
    return asdict(job.result)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m cnncourse.grading.worker JOB.json", file=sys.stderr)
        return 2
    job = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    Path(argv[0]).unlink()
    run_job(job)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
