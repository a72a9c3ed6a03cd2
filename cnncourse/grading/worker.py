"""Execute one prepared submission in a fresh kernel and record, cell by cell, how its tests did.

Run by the grader as ``python -m cnncourse.grading.worker JOB.json`` in a process of its own (so a
submission that hangs or crashes cannot take the grader down). The job names the prepared notebook
(the student's cells with the instructor's test cells inserted), the kernel's working directory,
the time limits and where to write the result. The result file is rewritten after every cell, so
whatever was graded before a hard kill survives it.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from pathlib import Path

TIMEOUT_ENAME = "CellTimeoutError"
PROBE_TIMEOUT_S = 15
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
    os.replace(tmp, path)


def _error_of(cell) -> dict | None:
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            return {"ename": output.get("ename", ""), "evalue": strip_ansi(str(output.get("evalue", ""))),
                    "traceback": strip_ansi("\n".join(output.get("traceback", [])))[-4000:]}
    return None


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


def run_job(job: dict) -> dict:
    """Execute the job's notebook; returns (and keeps writing to job['result']) the result dict."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import DeadKernelError

    result_path = Path(job["result"])
    nb = nbformat.read(job["notebook"], as_version=4)
    Path(job["notebook"]).unlink()  # the prepared notebook holds the hidden tests: gone before any student code runs
    tests = {int(k): v for k, v in job["tests"].items()}  # cell index -> exercise id
    solutions = {int(k): v for k, v in job["solutions"].items()}
    marker = job["marker"]
    cell_timeout, total_timeout = float(job["cell_timeout"]), float(job["total_timeout"])
    result: dict = {"cells": {}, "notes": [], "finished": False, "kernel_pid": None, "kernel_pgid": None, "seconds": 0.0}
    start = time.monotonic()
    deadline = start + total_timeout
    replies: dict[int, dict] = {}
    limit = {"seconds": cell_timeout}

    def on_cell_executed(cell, cell_index, execute_reply, **_):
        replies[cell_index] = (execute_reply or {}).get("content", {})

    client = NotebookClient(
        nb, kernel_name="python3", kernel_manager_class=_native_kernel_manager(),
        allow_errors=True, interrupt_on_timeout=True,
        timeout_func=lambda cell: max(1, int(limit["seconds"])), shutdown_kernel="immediate",
        error_on_timeout={"ename": TIMEOUT_ENAME, "evalue": "time limit reached", "traceback": []},
        on_cell_executed=on_cell_executed, iopub_timeout=int(job.get("iopub_timeout", 10)), startup_timeout=120,
        resources={"metadata": {"path": job["cwd"]}},
    )

    def save():
        result["seconds"] = round(time.monotonic() - start, 1)
        _write_json(result_path, result)

    def record(index, cell, timed_out=False):
        entry = {"status": "timeout" if timed_out else replies.get(index, {}).get("status", "not run")}
        error = _error_of(cell)
        if error:
            entry.update(error)
        entry["execution_count"] = cell.get("execution_count")
        if index in tests:
            entry["exercise"] = tests[index]
            entry["marker_seen"] = f"{marker}:{tests[index]}" in _stdout_of(cell)
        if index in solutions:
            entry["solution_of"] = solutions[index]
        result["cells"][str(index)] = entry

    with client.setup_kernel():
        provisioner = getattr(client.km, "provisioner", None)
        result["kernel_pid"] = getattr(provisioner, "pid", None)
        result["kernel_pgid"] = getattr(provisioner, "pgid", None)
        save()
        for index, cell in enumerate(nb.cells):
            if cell.get("cell_type") != "code" or not cell.source.strip():
                continue
            remaining = deadline - time.monotonic()
            if remaining < 1:
                result["notes"].append(f"total time limit of {total_timeout:g} s reached before cell {index}; "
                                       "the rest was not run")
                break
            limit["seconds"] = min(cell_timeout, remaining)
            began = time.monotonic()
            try:
                client.execute_cell(cell, index)
            except DeadKernelError:
                record(index, cell)
                result["cells"][str(index)]["status"] = "kernel died"
                result["notes"].append(f"the kernel died in cell {index} (the code ended its own Python process, "
                                       "crashed it or ran out of memory); the rest was not run")
                break
            except Exception as exc:  # nbclient internals: never lose the row
                record(index, cell)
                result["notes"].append(f"cell {index} could not be executed ({type(exc).__name__}: {exc}); "
                                       "the rest was not run")
                break
            timed_out = replies.get(index, {}).get("ename") == TIMEOUT_ENAME
            record(index, cell, timed_out)
            if timed_out:
                seconds = time.monotonic() - began
                result["cells"][str(index)]["seconds"] = round(seconds, 1)
                # Interrupted: does the kernel answer again? (a loop that swallows KeyboardInterrupt won't)
                limit["seconds"] = float(job.get("probe_timeout", PROBE_TIMEOUT_S))
                probe = nbformat.v4.new_code_cell("None")
                iopub, client.iopub_timeout = client.iopub_timeout, 1
                try:
                    client.execute_cell(probe, index)
                    stuck = replies.get(index, {}).get("ename") == TIMEOUT_ENAME
                except Exception:
                    stuck = True
                client.iopub_timeout = iopub
                replies.pop(index, None)
                if stuck:
                    result["notes"].append(f"cell {index} did not stop when interrupted at the time limit; "
                                           "the rest was not run")
                    break
            save()
    result["finished"] = True
    save()
    return result


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
