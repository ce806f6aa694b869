"""A small, safe expression language over a record's JSON: ``--where`` of the query language
(``cassette.query``), used by ``streamreplay filter`` and the web dashboard.

An expression is parsed with ``ast`` and only comparisons, ``and``/``or``/``not``, names,
``.field`` and ``[key]`` access, literals and lists of literals are accepted; nothing is
evaluated by Python, so no expression can call a function or reach an object's attributes.

Names resolve in the record first (``kind``, ``dir``, ``t``, ``conn``, ``name``, ``request``...),
then in a message's JSON body (so ``channel == "v4_trades"`` reads ``json.channel``), then in an
event's ``data``. A missing field is ``null``: ``missing == null`` is true, any order
comparison with it is false.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable
from typing import Any

__all__ = ["QueryError", "Where", "WhereError"]

_MAX_LENGTH = 2000

_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
}
_JSON_NAMES = {"true": True, "false": False, "null": None}
_REFUSED = {
    ast.Call: "function calls",
    ast.Lambda: "lambdas",
    ast.NamedExpr: "assignments",
    ast.ListComp: "comprehensions",
    ast.SetComp: "comprehensions",
    ast.DictComp: "comprehensions",
    ast.GeneratorExp: "comprehensions",
    ast.Await: "await",
    ast.Yield: "yield",
    ast.YieldFrom: "yield",
    ast.JoinedStr: "f-strings",
    ast.Starred: "starred expressions",
    ast.Slice: "slices",
    ast.IfExp: "conditional expressions",
    ast.BinOp: "arithmetic",
}


class QueryError(ValueError):
    """A query the user can fix; the message says what. The CLI prints it as one line (exit
    status ``code``), the web dashboard answers 400 with it."""

    code = 2


class WhereError(QueryError):
    """An expression outside the language; the message says what and where."""

    def __init__(self, message: str) -> None:
        super().__init__(f"--where: {message}")


class _Missing:
    """A field the record lacks; compares equal to None only."""

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "missing"


MISSING = _Missing()


def _check(node: ast.AST, source: str) -> None:
    where = f" (column {getattr(node, 'col_offset', 0) + 1})"
    refused = _REFUSED.get(type(node))
    if refused:
        raise WhereError(
            f"not allowed: {refused}{where}; use comparisons, and/or/not, names, "
            ".field, [key] and literals"
        )
    if isinstance(node, ast.Expression):
        _check(node.body, source)
    elif isinstance(node, ast.BoolOp):
        for value in node.values:
            _check(value, source)
    elif isinstance(node, ast.UnaryOp):
        if not isinstance(node.op, ast.Not | ast.USub):
            raise WhereError(f"not allowed: operator {type(node.op).__name__}{where}")
        _check(node.operand, source)
    elif isinstance(node, ast.Compare):
        for op in node.ops:
            if type(op) not in _COMPARE:
                raise WhereError(
                    f"not allowed: operator {type(op).__name__}{where}; "
                    "use == != < <= > >= in, not in"
                )
        _check(node.left, source)
        for comparator in node.comparators:
            _check(comparator, source)
    elif isinstance(node, ast.Name):
        if node.id.startswith("__"):
            raise WhereError(f"not allowed: name {node.id!r}{where}")
    elif isinstance(node, ast.Attribute):
        if node.attr.startswith("__"):
            raise WhereError(f"not allowed: field {node.attr!r}{where}")
        _check(node.value, source)
    elif isinstance(node, ast.Subscript):
        key = node.slice
        if isinstance(key, ast.UnaryOp) and isinstance(key.op, ast.USub):
            key = key.operand
        if not (isinstance(key, ast.Constant) and isinstance(key.value, str | int)):
            raise WhereError(f"[...] takes a string or integer literal{where}")
        _check(node.value, source)
    elif isinstance(node, ast.Constant):
        if not isinstance(node.value, str | int | float | bool | type(None)):
            raise WhereError(f"not allowed: literal {node.value!r}{where}")
    elif isinstance(node, ast.List | ast.Tuple | ast.Set):
        for element in node.elts:
            _check(element, source)
    else:
        raise WhereError(f"not allowed: {type(node).__name__} expressions{where}")


def _lookup(record: dict[str, Any], name: str) -> Any:
    if name in record:
        return record[name]
    for container in ("json", "data"):
        inner = record.get(container)
        if isinstance(inner, dict) and name in inner:
            return inner[name]
    if name in _JSON_NAMES:
        return _JSON_NAMES[name]
    return MISSING


def _index(value: Any, key: Any) -> Any:
    if isinstance(value, dict):
        return value.get(key, MISSING)
    if isinstance(value, list) and isinstance(key, int) and -len(value) <= key < len(value):
        return value[key]
    return MISSING


def _compare(op: ast.cmpop, left: Any, right: Any) -> bool:
    if isinstance(left, _Missing) or isinstance(right, _Missing):
        a = None if isinstance(left, _Missing) else left
        b = None if isinstance(right, _Missing) else right
        if isinstance(op, ast.Eq):
            return a is None and b is None
        if isinstance(op, ast.NotEq):
            return not (a is None and b is None)
        return isinstance(op, ast.NotIn)
    try:
        return bool(_COMPARE[type(op)](left, right))
    except TypeError:
        return False


def _eval(node: ast.AST, record: dict[str, Any]) -> Any:
    if isinstance(node, ast.BoolOp):
        if isinstance(node.op, ast.And):
            return all(_eval(v, record) for v in node.values)
        return any(_eval(v, record) for v in node.values)
    if isinstance(node, ast.UnaryOp):
        value = _eval(node.operand, record)
        if isinstance(node.op, ast.Not):
            return not value
        return -value if isinstance(value, int | float) and not isinstance(value, bool) else MISSING
    if isinstance(node, ast.Compare):
        left = _eval(node.left, record)
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            right = _eval(comparator, record)
            if not _compare(op, left, right):
                return False
            left = right
        return True
    if isinstance(node, ast.Name):
        return _lookup(record, node.id)
    if isinstance(node, ast.Attribute):
        return _index(_eval(node.value, record), node.attr)
    if isinstance(node, ast.Subscript):
        return _index(_eval(node.value, record), _eval(node.slice, record))
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.List | ast.Tuple | ast.Set):
        return [_eval(e, record) for e in node.elts]
    raise AssertionError(f"unchecked node {type(node).__name__}")  # _check refused it


class Where:
    """A compiled ``--where`` expression; call it with a record's JSON object."""

    def __init__(self, source: str) -> None:
        self.source = source
        if len(source) > _MAX_LENGTH:
            raise WhereError(f"expression longer than {_MAX_LENGTH} characters")
        try:
            tree = ast.parse(source.strip(), mode="eval")
        except SyntaxError as exc:
            raise WhereError(f"invalid syntax at column {exc.offset or 1}: {source!r}") from None
        except (RecursionError, MemoryError, ValueError):
            raise WhereError("expression too deeply nested or malformed") from None
        _check(tree, source)
        self._body = tree.body

    def __call__(self, record: dict[str, Any]) -> bool:
        return bool(_eval(self._body, record))

    def __repr__(self) -> str:
        return f"Where({self.source!r})"
