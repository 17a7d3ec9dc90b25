"""The daemon's event loop also answers predictions: an async route writes a file's bytes
on a thread (`run_in_threadpool`), never on the loop, where a slow disk would stall every
request. Read from the routes' source: a `.write(...)`, `.flush()` or `os.fsync(...)`
called in an `async def` (not handed to a thread) is named here."""

from __future__ import annotations

import ast
from pathlib import Path

API = Path(__file__).resolve().parents[1] / "mlopsd" / "api"
BLOCKING = {"write", "flush", "fsync"}


def _calls_on_the_loop(function: ast.AsyncFunctionDef) -> list[ast.Call]:
    """Blocking calls made in the function's own body (a lambda or a nested def is what
    is handed to a thread, so its body is not looked into)."""
    found, todo = [], list(ast.iter_child_nodes(function))
    while todo:
        node = todo.pop()
        if isinstance(node, ast.Lambda | ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in BLOCKING):
            found.append(node)
        todo.extend(ast.iter_child_nodes(node))
    return found


def test_async_routes_write_files_on_a_thread() -> None:
    wrong = []
    for path in sorted(API.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.AsyncFunctionDef):
                wrong += [f"{path.relative_to(API.parent.parent)}:{call.lineno} "
                          f"{ast.unparse(call)} in {node.name}"
                          for call in _calls_on_the_loop(node)]
    assert not wrong, "file writes on the event loop:\n" + "\n".join(sorted(wrong))


def test_the_rule_sees_a_write_on_the_loop() -> None:
    source = ast.parse("async def upload(out, chunk):\n    out.write(chunk)\n"
                       "    await run_in_threadpool(out.flush)\n"
                       "    await run_in_threadpool(lambda: out.write(chunk))\n")
    function = source.body[0]
    assert isinstance(function, ast.AsyncFunctionDef)
    assert [ast.unparse(c) for c in _calls_on_the_loop(function)] == ["out.write(chunk)"]
