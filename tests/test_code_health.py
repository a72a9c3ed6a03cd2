"""Code-health bars that no linter checks: short functions, Keras' private API in one place."""

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "cnncourse"
MAX_BODY_LINES = 60


def body_lines(function: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """Lines from the first statement after the docstring to the end of the last one."""
    body = function.body
    if isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        body = body[1:]
    return body[-1].end_lineno - body[0].lineno + 1 if body else 0


def functions(tree: ast.AST, prefix: str):
    """``(dotted name, node)`` of every function, methods and nested functions included."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield f"{prefix}{node.name}", node
            yield from functions(node, f"{prefix}{node.name}.")
        elif isinstance(node, ast.ClassDef):
            yield from functions(node, f"{prefix}{node.name}.")
        else:
            yield from functions(node, prefix)


def package_functions():
    for path in sorted(PACKAGE.rglob("*.py")):
        module = ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
        module = module.removesuffix(".__init__").removesuffix("__init__")
        prefix = f"{module}." if module else ""
        yield from functions(ast.parse(path.read_text(), str(path)), prefix)


def test_body_lines_skips_the_docstring_and_counts_to_the_last_statement():
    source = 'def f():\n    """Doc\n    string."""\n    a = 1\n\n    return (a,\n            2)\n'
    assert body_lines(ast.parse(source).body[0]) == 4
    assert body_lines(ast.parse("def g():\n    pass\n").body[0]) == 1


def test_no_function_body_longer_than_60_lines():
    found = {name: body_lines(node) for name, node in package_functions()}
    assert len(found) > 100, f"the walk found only {sorted(found)}"
    too_long = {name: n for name, n in found.items() if n > MAX_BODY_LINES}
    assert not too_long, (
        f"function bodies longer than {MAX_BODY_LINES} lines (docstring excluded): {too_long}; "
        "split them into functions of one job each"
    )


def test_private_keras_graph_attributes_are_used_in_one_place_at_most():
    private = re.compile(r"\b_nodes_by_depth\b|\b_keras_history\b")
    places = sorted(
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if private.search(path.read_text())
    )
    assert len(places) <= 1, (
        f"Keras' private graph attributes (_nodes_by_depth, _keras_history) are used in {places}: "
        "keep them behind one function, with a test that fails loudly when Keras changes them"
    )


def tautologies(tree: ast.AST) -> list[int]:
    """Lines of asserts that cannot fail: a constant, ``x or <constant>``, ``x == x`` (``x != x``
    is the NaN test and stays)."""
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Assert):
            continue
        for part in ast.walk(node.test):
            constant = isinstance(part, ast.Constant) and part is node.test
            or_constant = isinstance(part, ast.BoolOp) and isinstance(part.op, ast.Or) \
                and any(isinstance(value, ast.Constant) for value in part.values)
            self_compare = isinstance(part, ast.Compare) and len(part.ops) == 1 \
                and not isinstance(part.ops[0], ast.NotEq) \
                and ast.dump(part.left) == ast.dump(part.comparators[0])
            if constant or or_constant or self_compare:
                found.append(node.lineno)
                break
    return found


def test_the_tautology_finder_finds_each_kind():
    source = "assert True\nassert x or True\nassert f(a) == f(a)\nassert y != y\nassert z == 1\n"
    assert tautologies(ast.parse(source)) == [1, 2, 3]


def test_no_test_asserts_something_that_cannot_fail():
    tests = Path(__file__).resolve().parent
    found = {
        f"{path.relative_to(tests)}:{line}"
        for path in sorted(tests.rglob("*.py"))
        for line in tautologies(ast.parse(path.read_text(), str(path)))
    }
    assert len(list(tests.rglob("test_*.py"))) > 10
    assert not found, f"asserts that cannot fail: {sorted(found)}"
