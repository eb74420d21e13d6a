"""The grading runtime: hidden tests whose verdict the solution's own objects cannot decide.

Standard library only, like ``worker.py``, which loads this file before it forks any program:
everything here (the captured builtins included) exists before a solution's first line runs.

A graded program has two parts. The solution part runs first; then the hidden tests, whose
``assert`` statements are rewritten (:func:`compile_tests`) so that every comparison is made on
*plain copies* of its operands (:func:`plain`) instead of calling the operands' own methods:

    assert f(x) == y          ->  assert __harness_check__.compare(("==",), f(x), y)
    assert abs(f(x) - y) < e  ->  assert __harness_check__.compare(("<",), abs(f(x) - y), e)
    assert f(x)               ->  assert __harness_check__.truth(f(x))

A plain copy is built from the data a value really holds, read through the base types' own
slots (``list.__iter__``, ``dict.items``, ``int.__int__`` …), never through methods a solution
could override; it keeps the types (a tuple stays a tuple, a Counter becomes the dict it holds),
so Python's own ``==`` on two plain copies means what the benchmark's authors meant. An object
of a class the solution defined becomes an opaque record (its class and the plain copy of its
attributes): an object whose ``__eq__`` always answers True equals nothing but a record of the
same class with the same attributes. ``is`` / ``is not`` compare the original objects, since
identity cannot be faked.

What this does not stop: a program written against this harness's internals (one that walks
the interpreter's frames or reads the harness's file descriptors) can still forge a verdict, as
it can read the hidden tests themselves; the protections here are against solutions that exit
early or return lying objects, not against code that targets the grader.
"""

from __future__ import annotations

import ast
import builtins
import collections
import fractions
import operator

CHECKER = "__harness_check__"
TESTS_FILE = "hidden_tests.py"

# Captured now, before any solution can rebind a builtin.
_type = builtins.type
_id = builtins.id
_bool = builtins.bool
_len = builtins.len
_issubclass = builtins.issubclass
_object_getattribute = object.__getattribute__
_list_iter = list.__iter__
_tuple_iter = tuple.__iter__
_dict_items = dict.items
_set_iter = set.__iter__
_frozenset_iter = frozenset.__iter__
_deque_iter = collections.deque.__iter__
_int = int.__int__
_float = float.__float__
_str = str.__str__
_bytes_slice = bytes.__getitem__
_complex_real = complex.real.__get__
_complex_imag = complex.imag.__get__
_ALL = slice(None)
_IMMUTABLE_TYPE = 1 << 8  # Py_TPFLAGS_IMMUTABLETYPE: C types whose methods cannot be replaced
_ATOMS = frozenset(
    {
        _type(None),
        bool,
        int,
        float,
        complex,
        str,
        bytes,
        range,
        slice,
        _type(Ellipsis),
        _type(NotImplemented),
        type,
    }
)
# Library value types whose comparison is their own Python code (not a C slot), trusted as they
# were loaded before the solution ran.
_TRUSTED = frozenset({fractions.Fraction})
_COMPARE = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "in": lambda a, b: operator.contains(b, a),
    "not in": lambda a, b: not operator.contains(b, a),
}
_AST_OPS = {
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.In: "in",
    ast.NotIn: "not in",
    ast.Is: "is",
    ast.IsNot: "is not",
}


class Opaque:
    """A plain stand-in for an object of a class the solution may control: its class and the
    plain copy of its attributes (identity when it has none)."""

    __slots__ = ("cls", "state", "ident")

    def __init__(self, cls: type, state: object, ident: int) -> None:
        self.cls, self.state, self.ident = cls, state, ident

    def __eq__(self, other: object) -> bool:
        if _type(other) is not Opaque or other.cls is not self.cls:
            return False
        if self.state is None or other.state is None:
            return self.ident == other.ident
        return _bool(self.state == other.state)

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    def __hash__(self) -> int:
        return _id(self.cls)

    def __repr__(self) -> str:
        return f"<{getattr(self.cls, '__qualname__', '?')} object>"


def _state(x: object, t: type, memo: dict) -> object:
    try:
        attrs = dict(_dict_items(_object_getattribute(x, "__dict__")))
    except (AttributeError, TypeError):
        attrs = {}
    for klass in t.__mro__:
        slots = klass.__dict__.get("__slots__", ())
        for name in (slots,) if isinstance(slots, str) else slots:
            descriptor = klass.__dict__.get(name)
            if descriptor is not None and hasattr(descriptor, "__get__"):
                try:
                    attrs[name] = descriptor.__get__(x, t)
                except AttributeError:
                    pass
    if not attrs:
        return None
    return {k: plain(v, memo) for k, v in attrs.items()}


def plain(x: object, memo: dict | None = None) -> object:
    """A copy of ``x`` made only of plain values, built without calling ``x``'s own methods."""
    t = _type(x)
    if t in _ATOMS:
        return x
    if memo is None:
        memo = {}
    key = _id(x)
    if key in memo:
        return memo[key]
    if _issubclass(t, list):
        out: list = []
        memo[key] = out
        out.extend(plain(v, memo) for v in _list_iter(x))
        return out
    if _issubclass(t, tuple):
        memo[key] = out = tuple(plain(v, memo) for v in _tuple_iter(x))
        return out
    if _issubclass(t, dict):
        table: dict = {}
        memo[key] = table
        for k, v in _dict_items(x):
            table[plain(k, memo)] = plain(v, memo)
        return table
    if _issubclass(t, frozenset):
        memo[key] = out = frozenset(plain(v, memo) for v in _frozenset_iter(x))
        return out
    if _issubclass(t, set):
        memo[key] = out = {plain(v, memo) for v in _set_iter(x)}
        return out
    if _issubclass(t, int):
        return _int(x)
    if _issubclass(t, float):
        return _float(x)
    if _issubclass(t, str):
        return _str(x)
    if _issubclass(t, bytes):
        return _bytes_slice(x, _ALL)
    if _issubclass(t, complex):
        return complex(_complex_real(x), _complex_imag(x))
    if _issubclass(t, collections.deque):
        memo[key] = out = Opaque(collections.deque, [plain(v, memo) for v in _deque_iter(x)], key)
        return out
    if t.__flags__ & _IMMUTABLE_TYPE or t in _TRUSTED:
        return x  # a C value type (datetime, Decimal, numpy scalars) or a trusted library type
    memo[key] = out = Opaque(t, None, key)
    out.state = _state(x, t, memo)
    return out


class Checker:
    """What the rewritten assertions call; counts the checks that ran. ``plain`` is there for
    test code that compares outputs itself (evalplus's differential runner)."""

    plain = staticmethod(plain)

    def __init__(self) -> None:
        self.count = 0

    def compare(self, ops: tuple[str, ...], *operands: object) -> bool:
        self.count += 1
        for i, op in enumerate(ops):
            a, b = operands[i], operands[i + 1]
            if op == "is":
                ok = a is b
            elif op == "is not":
                ok = a is not b
            else:
                ok = _bool(_COMPARE[op](plain(a), plain(b)))
            if not ok:
                return False
        return True

    def truth(self, value: object) -> bool:
        self.count += 1
        p = plain(value)
        if _type(p) is Opaque:
            return False  # the truth of a solution-defined object is its own say-so
        return _bool(p)


class _Rewriter(ast.NodeTransformer):
    def visit_Assert(self, node: ast.Assert) -> ast.Assert:
        self.generic_visit(node)
        return ast.copy_location(ast.Assert(test=self._truth(node.test), msg=node.msg), node)

    def _truth(self, e: ast.expr) -> ast.expr:
        if isinstance(e, ast.BoolOp):
            return ast.copy_location(ast.BoolOp(e.op, [self._truth(v) for v in e.values]), e)
        if isinstance(e, ast.UnaryOp) and isinstance(e.op, ast.Not):
            return ast.copy_location(ast.UnaryOp(ast.Not(), self._truth(e.operand)), e)
        if isinstance(e, ast.Compare) and all(type(op) in _AST_OPS for op in e.ops):
            ops = ast.Tuple([ast.Constant(_AST_OPS[type(op)]) for op in e.ops], ast.Load())
            return self._call("compare", [ops, e.left, *e.comparators], e)
        return self._call("truth", [e], e)

    @staticmethod
    def _call(method: str, args: list[ast.expr], at: ast.expr) -> ast.expr:
        func = ast.Attribute(ast.Name(CHECKER, ast.Load()), method, ast.Load())
        return ast.copy_location(ast.Call(func, args, []), at)


def compile_tests(source: str, filename: str = TESTS_FILE) -> tuple[object, int]:
    """The hidden tests with every ``assert`` rewritten, compiled (line numbers kept), and the
    number of assertions at module level (each must run once)."""
    tree = ast.parse(source, filename)
    top_level = sum(isinstance(node, ast.Assert) for node in tree.body)
    tree = ast.fix_missing_locations(_Rewriter().visit(tree))
    return compile(tree, filename, "exec"), top_level
