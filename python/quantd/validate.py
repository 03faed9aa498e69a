"""Static validation of user code, without running it.

    python -m quantd.validate FILE [--entry NAME]   ->  one JSON object on stdout

``{"ok": bool, "errors": [{"line", "column", "message"}], "entry_points": [{"name", "kind",
"params", "line"}]}``. Checks: syntax (line and column), decorated entry points and that their
``params`` are a literal dict matching the function's signature, imports outside the allow-list.
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
from typing import Any, Sequence

ALLOWED_IMPORTS = frozenset(
    """__future__ abc bisect collections copy dataclasses datetime decimal enum fractions functools
    heapq itertools json math numpy operator pandas pyarrow quantd random re statistics string
    time typing warnings zoneinfo talib""".split()
)


def _err(node: Any, message: str) -> dict[str, Any]:
    return {"line": getattr(node, "lineno", None), "column": (getattr(node, "col_offset", -1) + 1) or None, "message": message}


def _decorator_kind(dec: ast.expr) -> tuple[str | None, ast.Call | None]:
    call = dec if isinstance(dec, ast.Call) else None
    target = call.func if call else dec
    if isinstance(target, ast.Attribute) and target.attr in ("scanner", "strategy"):
        return target.attr, call
    if isinstance(target, ast.Name) and target.id in ("scanner", "strategy"):
        return target.id, call
    return None, None


def _is_strategy_class(node: ast.ClassDef) -> bool:
    """A class deriving from ``qd.Strategy`` / ``quantd.Strategy`` / ``Strategy``."""
    for base in node.bases:
        if isinstance(base, ast.Attribute) and base.attr == "Strategy":
            return True
        if isinstance(base, ast.Name) and base.id == "Strategy":
            return True
    return False


def _class_entry(node: ast.ClassDef, errors: list[dict[str, Any]]) -> dict[str, Any]:
    """A class strategy's entry point: its literal ``params`` dict; it must define ``next``."""
    params: dict[str, Any] = {}
    methods = set()
    for item in node.body:
        if isinstance(item, ast.FunctionDef):
            methods.add(item.name)
        targets = item.targets if isinstance(item, ast.Assign) else []
        for target in targets:
            if isinstance(target, ast.Name) and target.id == "params":
                try:
                    value = ast.literal_eval(item.value)
                except ValueError:
                    value = None
                if not isinstance(value, dict):
                    errors.append(_err(item.value, "params = must be a literal dict"))
                else:
                    params = value
    if "next" not in methods:
        errors.append(_err(node, f"strategy {node.name!r} must define next(self), called once per bar"))
    return {"name": node.name, "kind": "strategy", "params": params, "line": node.lineno, "style": "class"}


def validate(source: str, filename: str = "main.py", entry: str | None = None) -> dict[str, Any]:
    try:
        tree = ast.parse(source, filename)
    except SyntaxError as e:
        return {"ok": False, "errors": [{"line": e.lineno, "column": e.offset, "message": f"syntax error: {e.msg}"}], "entry_points": []}
    errors: list[dict[str, Any]] = []
    eps: list[dict[str, Any]] = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        for n in names:
            if n.split(".")[0] not in ALLOWED_IMPORTS:
                errors.append(_err(node, f"import of {n!r} is not allowed (allowed: {', '.join(sorted(ALLOWED_IMPORTS))})"))
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and _is_strategy_class(node):
            eps.append(_class_entry(node, errors))
            continue
        if not isinstance(node, ast.FunctionDef):
            continue
        for dec in node.decorator_list:
            kind, call = _decorator_kind(dec)
            if kind is None:
                continue
            params: dict[str, Any] = {}
            for kw in call.keywords if call else []:
                if kw.arg == "params":
                    try:
                        params = ast.literal_eval(kw.value)
                    except ValueError:
                        errors.append(_err(kw.value, "params= must be a literal dict"))
                    if not isinstance(params, dict):
                        errors.append(_err(kw.value, "params= must be a literal dict"))
                        params = {}
            args = [a.arg for a in node.args.posonlyargs + node.args.args + node.args.kwonlyargs]
            if not args:
                errors.append(_err(node, f"{kind} {node.name!r} must take the bars as its first argument"))
            else:
                for p in params:
                    if p not in args[1:] and node.args.kwarg is None:
                        errors.append(_err(node, f"{kind} {node.name!r} declares param {p!r} that its signature does not accept"))
                pos = node.args.posonlyargs + node.args.args
                defaults = len(node.args.defaults)
                no_default = [a.arg for a in pos[1 : len(pos) - defaults]]
                no_default += [a.arg for a, d in zip(node.args.kwonlyargs, node.args.kw_defaults) if d is None]
                for a in no_default:
                    if a not in params:
                        errors.append(_err(node, f"{kind} {node.name!r}: argument {a!r} has no value; add it to params= or give it a default"))
            eps.append({"name": node.name, "kind": kind, "params": params, "line": node.lineno})
    if entry is not None and entry not in {e["name"] for e in eps}:
        errors.append({"line": None, "column": None, "message": f"no @qd.scanner or @qd.strategy named {entry!r}"})
    return {"ok": not errors, "errors": errors, "entry_points": eps}


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m quantd.validate")
    p.add_argument("file")
    p.add_argument("--entry")
    a = p.parse_args(argv)
    with open(a.file, encoding="utf-8") as f:
        report = validate(f.read(), a.file, a.entry)
    print(json.dumps(report, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
