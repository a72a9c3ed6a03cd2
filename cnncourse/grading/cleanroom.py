"""The code the grader runs inside kernels: the student's kernel, the reference run, the clean room.

Three kernels take part in grading one submission (see docs/instructors.md, "Trust model"):

- the **student's kernel** runs the submission top to bottom. After each exercise cell the grader
  runs :func:`capture`, which writes the values the tests read as plain data
  (:mod:`cnncourse.grading.plain`) and keeps the functions among them callable through
  :func:`serve_call`. :func:`start` runs first, before any student code, and records what
  :func:`tampering` later compares: builtins, NumPy's functions, IPython's hooks, and (with an
  audit hook) files written outside the kernel's folders. All of this runs in a kernel the
  student controls: it can be made to lie, which only changes the student's own values;
- the **context**: in the student's kernel, just before the first cell the student wrote or
  changed, only the instructor's code has run; there :func:`capture_reference` pickles the
  instructor's context the test cells read (data, trained models, helpers), its SHA-256 computed
  before the file is written and read by the grader from the cell's output. Exercises whose context
  is (re)computed after that point get it from the **reference run** instead: the instructor
  notebook, run once per grading run before any submission;
- the **clean room** is a fresh kernel that imports its modules (:func:`warm_up`) before any
  student code runs, then, per exercise, :func:`judge` loads the reference context (checking the
  SHA-256), reads the student's plain values and turns their functions into proxies that call
  the student's kernel through the grader, with a time limit. The instructor's test cell then runs
  there, with the clean room's own builtins, NumPy and IPython.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path

from cnncourse.grading import plain

REFERENCE_LINE = "CNNCOURSE-REFERENCE "
_IGNORED_BUILTINS = {"_", "__", "___", "input"}  # the kernel itself rebinds these
_SHELL_HOOKS = ("showtraceback", "_showtraceback", "showsyntaxerror", "run_cell", "run_cell_async",
                "run_ast_nodes", "run_code", "transform_cell", "should_run_async")
_WRITE_EVENTS = {"open", "os.remove", "os.rename", "os.rmdir", "os.mkdir", "shutil.rmtree",
                 "os.chmod", "os.symlink", "os.link", "os.truncate"}
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
_MAX_WRITES = 20


@dataclass
class _KernelState:
    """What :func:`start` records in the student's kernel and :func:`capture` reads later."""

    exchange: Path | None = None  #: where values go
    baseline: dict = field(default_factory=dict)  #: the fingerprint before any student code
    allowed: tuple = ()  #: folders the kernel may write to without a note
    writes: list = field(default_factory=list)  #: writes elsewhere (the audit hook's findings)
    functions: dict = field(default_factory=dict)  #: key -> a captured function of the student
    busy: bool = False  #: the audit hook is running (it must not see its own file checks)


_state = _KernelState()


# ----------------------------------------------------------------------------- the student's kernel

def _shell():
    from IPython import get_ipython

    return get_ipython()


def _fingerprint() -> dict[str, object]:
    """What tampering changes: identities of builtins and NumPy functions, IPython's hooks."""
    import builtins

    import numpy
    import numpy.testing
    from IPython.core.interactiveshell import InteractiveShell

    marks: dict[str, object] = {f"builtins.{k}": id(v) for k, v in vars(builtins).items()
                                if k not in _IGNORED_BUILTINS}
    for module in (numpy, numpy.testing, numpy.linalg, numpy.random):
        marks.update({f"{module.__name__}.{k}": id(v) for k, v in vars(module).items()
                      if not k.startswith("_") and callable(v)})
    shell = _shell()
    for hook in _SHELL_HOOKS:
        marks[f"IPython InteractiveShell.{hook}"] = id(getattr(InteractiveShell, hook, None))
        marks[f"IPython shell.{hook} (on the instance)"] = id(vars(shell).get(hook))
    for hooks in ("input_transformers_cleanup", "input_transformers_post", "ast_transformers"):
        marks[f"IPython shell.{hooks}"] = len(getattr(shell, hooks, []))
    return marks


def _audit(event: str, args: tuple) -> None:
    """Audit hook: remember writes outside the allowed folders (never raises, never blocks)."""
    if event not in _WRITE_EVENTS or _state.busy or len(_state.writes) >= _MAX_WRITES:
        return
    _state.busy = True
    try:
        if event == "open":
            path, mode, flags = (list(args) + [None, None, 0])[:3]
            writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
                isinstance(flags, int) and flags & _WRITE_FLAGS)
            if not writing or not isinstance(path, (str, bytes, os.PathLike)):
                return
        else:
            path = args[0] if args else None
            if not isinstance(path, (str, bytes, os.PathLike)):
                return
        full = os.path.realpath(os.fsdecode(path))
        if not any(full == root or full.startswith(root + os.sep) for root in _state.allowed):
            entry = f"{event} {full}"
            if entry not in _state.writes:
                _state.writes.append(entry)
    except Exception:
        pass
    finally:
        _state.busy = False


def start(exchange: str, allowed: list[str]) -> None:
    """Run in the student's kernel before any student code: where values go, what is watched."""
    _state.exchange = Path(exchange)
    _state.allowed = tuple(os.path.realpath(p) for p in allowed)
    _state.baseline = _fingerprint()
    sys.addaudithook(_audit)


def tampering() -> list[str]:
    """What the student's kernel changed since :func:`start` (best effort: it runs in that
    kernel)."""
    now = _fingerprint()
    changed = sorted(k for k, v in _state.baseline.items() if now.get(k) != v)
    added = sorted(k for k in now if k.startswith("builtins.") and not k.startswith("builtins._")
                   and k not in _state.baseline)
    more = " …" if len(changed) > 12 else ""
    found = [f"replaced {', '.join(changed[:12])}{more}"] if changed else []
    if added:
        found.append(f"added {', '.join(added[:6])}")
    if _state.writes:
        found.append(f"wrote outside its folder: {'; '.join(_state.writes[:5])}")
    return found


def _register(exercise: str, function) -> str:
    key = f"{exercise}/{len(_state.functions) + 1}"
    _state.functions[key] = function
    return key


def capture(exercise: str, names: list[str]) -> None:
    """Write the values the tests of ``exercise`` read (run after the student's exercise cell)."""
    namespace = _shell().user_ns
    folder = _state.exchange / "values" / exercise
    present = {n: namespace[n] for n in names if n in namespace}
    manifest = plain.write(folder, present, on_function=lambda f: _register(exercise, f))
    for name in names:
        manifest["values"].setdefault(name, {"t": "missing"})
    manifest["tampering"] = tampering()
    plain.save_manifest(folder, manifest)


def serve_call(call_dir: str) -> None:
    """Call one of the captured functions with the clean room's arguments; write the result."""
    folder = Path(call_dir)
    request = plain.read_manifest(folder / "args")
    reader = plain.Reader(folder / "args")
    function = _state.functions[request["function"]]
    args = reader.decode(request["values"]["args"])
    kwargs = reader.decode(request["values"]["kwargs"])
    try:
        result = function(*args, **kwargs)
    except Exception as exc:
        raised = {"type": type(exc).__name__, "message": str(exc)[:2000]}
        manifest = {"values": {}, "raised": raised}
    else:
        manifest = plain.write(folder / "result", {"result": result})
    (folder / "result").mkdir(exist_ok=True)
    plain.save_manifest(folder / "result", manifest)


# ----------------------------------------------------------------------------- the reference run

def capture_reference(exercise: str, names: list[str], folder: str | None = None) -> None:
    """Pickle the instructor's context for one test cell; print its file and SHA-256.

    Run where only instructor code has run so far: in the reference run, or in the student's
    kernel before the first cell the student wrote or changed (then ``folder`` is the exchange).
    """
    import cloudpickle

    namespace = _shell().user_ns
    context = {n: namespace[n] for n in names if n in namespace}
    failed = {}
    try:
        data = cloudpickle.dumps(context)
    except Exception:
        for name in list(context):
            try:
                cloudpickle.dumps(context[name])
            except Exception as exc:
                try:  # a model sharing its layers with sub-models: its clone pickles
                    context[name] = plain.model_clone(context[name])
                    cloudpickle.dumps(context[name])
                except Exception:
                    failed[name] = f"{type(exc).__name__}: {exc}"[:300]
                    del context[name]
        data = cloudpickle.dumps(context)
    digest = hashlib.sha256(data).hexdigest()
    path = Path(folder if folder is not None else _state.exchange) / f"{exercise}.pickle"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    print(REFERENCE_LINE + json.dumps({"exercise": exercise, "file": str(path), "sha256": digest,
                                       "failed": failed}))


# ----------------------------------------------------------------------------- the clean room

class NotJudged(Exception):
    """An exercise whose values cannot be judged (the message says why)."""


def warm_up(modules: list[str]) -> None:
    """Import what the tests and the context need, before any student code runs anywhere."""
    import importlib

    for entry in ("", os.getcwd()):
        while entry in sys.path:
            sys.path.remove(entry)
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:
            pass


class Channel:
    """Calls a function of the student's kernel: plain arguments out, plain result back."""

    def __init__(self, socket_path: str, calls: Path, limit: float):
        self.socket_path, self.calls, self.limit, self.count = socket_path, Path(calls), limit, 0

    def call(self, key: str, name: str, args: tuple, kwargs: dict):
        self.count += 1
        folder = self.calls / str(self.count)
        request = plain.write(folder / "args", {"args": list(args), "kwargs": dict(kwargs)})
        refused = [v["why"] for v in request["values"].values() if v.get("t") == "refused"]
        if refused:
            raise TypeError(f"{name}() was called with an argument that is not plain data: "
                            f"{refused[0]}")
        request["function"] = key
        plain.save_manifest(folder / "args", request)
        status = self._ask(str(folder))
        if status == "timeout":
            raise TimeoutError(f"{name}() did not finish within the time limit ({self.limit:g} s)")
        if status != "ok":
            raise RuntimeError(f"{name}() could not be called in your notebook's kernel ({status})")
        return self._result(folder / "result", name)

    def _ask(self, folder: str) -> str:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(self.limit + 120)
            conn.connect(self.socket_path)
            conn.sendall(json.dumps({"call": folder}).encode() + b"\n")
            reply = b""
            while not reply.endswith(b"\n"):
                chunk = conn.recv(4096)
                if not chunk:
                    break
                reply += chunk
        try:
            return str(json.loads(reply.decode()).get("status"))
        except (ValueError, AttributeError):
            return "no answer from the grader"

    @staticmethod
    def _result(folder: Path, name: str):
        import builtins

        try:
            manifest = plain.read_manifest(folder)
        except FileNotFoundError:
            raise RuntimeError(f"{name}() returned no result") from None
        raised = manifest.get("raised")
        if isinstance(raised, dict):
            kind, message = str(raised.get("type")), str(raised.get("message", ""))
            cls = getattr(builtins, kind, None)
            if isinstance(cls, type) and issubclass(cls, Exception):
                raise cls(message)
            raise RuntimeError(f"{name}() raised {kind}: {message}")
        if "result" not in manifest["values"]:
            raise RuntimeError(f"{name}() returned no result")
        return plain.Reader(folder).decode(manifest["values"]["result"])


def _proxy(channel: Channel, key: str, name: str):
    def proxy(*args, **kwargs):
        return channel.call(key, name, args, kwargs)

    proxy.__name__ = proxy.__qualname__ = name
    proxy.__doc__ = f"{name} from your notebook, called in your notebook's kernel"
    return proxy


def _load_context(namespace: dict, path: str, digest: str) -> None:
    import pickle

    data = Path(path).read_bytes()
    if hashlib.sha256(data).hexdigest() != digest:
        raise NotJudged("the instructor's reference context was changed on disk during grading "
                        "(something tampered with the grader's files); this exercise cannot be "
                        "judged")
    namespace.update(pickle.loads(data))


def judge(namespace: dict, spec: dict) -> None:
    """Prepare the clean room for one test cell: reference context, then the student's values."""
    if spec.get("context"):
        _load_context(namespace, spec["context"], spec["sha256"])
    folder = Path(spec["values"])
    try:
        manifest = plain.read_manifest(folder)
    except FileNotFoundError:
        raise NotJudged("no values arrived from your notebook for this exercise (the cell that "
                        "hands them over did not run: see the notes)") from None
    except plain.NotPlainData as exc:
        raise NotJudged(f"your notebook's values could not be read: {exc}") from None
    channel = Channel(spec["channel"], Path(spec["calls"]), float(spec["call_limit"]))
    problems = []
    for name in spec["names"]:
        node = manifest["values"].get(name)
        if not isinstance(node, dict) or node.get("t") == "missing":
            namespace.pop(name, None)  # the test then fails with NameError, as in the notebook
            continue
        reader = plain.Reader(folder,
                              make_function=lambda key, name=name: _proxy(channel, key, name))
        try:
            namespace[name] = reader.decode(node)
        except plain.NotPlainData as exc:
            problems.append(f"`{name}` is {exc}")
        except Exception as exc:
            problems.append(f"`{name}` could not be loaded ({type(exc).__name__}: "
                            f"{str(exc)[:200]})")
    if problems:
        raise NotJudged("; ".join(problems))
