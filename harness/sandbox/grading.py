"""The grading runtime: hidden tests whose verdict the solution cannot reach.

Standard library only, like ``worker.py``, which loads this file before it forks any program.

A graded program runs as two processes (see worker.py): the solution process runs the program
and then answers requests (:func:`serve`); the tests process runs the hidden tests in a fresh
namespace (:func:`test_namespace`: genuine builtins, modules imported by itself, stand-ins
(:class:`Remote`) for the names taken from the solution) and gets the solution's outputs as data
(JSON, decoded into fresh plain values). Expected values and comparisons never enter the
solution's process.

The tests' ``assert`` statements are still rewritten (:func:`compile_tests`), to count the checks
that ran and to compare plain copies (:func:`plain`, by the base types' own slots and the
identity of type objects):

    assert f(x) == y          ->  assert __harness_check__.compare(("==",), f(x), y)
    assert abs(f(x) - y) < e  ->  assert __harness_check__.compare(("<",), abs(f(x) - y), e)
    assert f(x)               ->  assert __harness_check__.truth(f(x))

A stand-in for an object of a class the solution defined compares by its class and the plain
copy of its attributes, and its truth is not taken; ``is`` / ``is not`` compare the values as
they are in the tests process.
"""

from __future__ import annotations

import ast
import builtins
import collections
import datetime
import decimal
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
# A type's real flags, read through type's own descriptor: a metaclass can define a class
# attribute ``__flags__`` that answers like int's.
_type_flags = type.__dict__["__flags__"].__get__
_ATOMS = (
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
)
# Plainness is decided by the identity of the type object (its id), never by comparing or
# hashing the type itself: a metaclass can answer ``==`` and ``hash`` like ``int``'s.
_ATOM_IDS = frozenset(_id(t) for t in _ATOMS)
# Library value types whose comparison is their own Python code (not a C slot), trusted as they
# were loaded before the solution ran.
_TRUSTED_IDS = frozenset({_id(fractions.Fraction)})
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
    if _id(t) in _ATOM_IDS or t is Remote:
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
    if _type_flags(t) & _IMMUTABLE_TYPE or _id(t) in _TRUSTED_IDS:
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
        self.link: Link | None = None

    def solution(self, name: str) -> object:
        """What the solution's global ``name`` is (a stand-in for a function), for test code
        that looks a name up itself (evalplus's differential runner)."""
        if self.link is None:
            raise GradingError("no solution process")
        found = self.link.ask("names", [name])
        value = found.get(name, ("<missing>",)) if _type(found) is dict else ("<missing>",)
        if value == ("<missing>",):
            raise NameError(f"the solution defines no {name!r}")
        return value

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
        if _type(p) is Remote:
            return p._truth is True  # a C value's truth; a solution-defined object's: no
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


# --------------------------------------------------------------------------- two processes
#
# Graded code runs as two processes (see worker.py). The *solution process* runs the program,
# then answers requests: "what is the name X", "call F with these arguments", "attribute A of
# O". The *tests process* never runs a line of the solution: it runs the hidden tests in a fresh
# namespace (the genuine builtins; modules the tests use imported by itself) where the names the
# tests take from the solution are stand-ins (:class:`Remote`) that ask the solution process.
# What comes back is data: JSON, decoded here into fresh plain values. The expected values, the
# comparisons and the tests' source never enter the solution's process (evalplus computes the
# outputs for the inputs and compares them outside in the same spirit).
#
# Wire format, one JSON value a line: None, booleans, ints, floats and strings as themselves;
# every other value a list whose first item is a tag.

MAX_DEPTH = 200
_DATES = (datetime.date, datetime.datetime, datetime.time)
MAX_LINE = 256 << 20  # one answer; a solution that sends more fails


class GradingError(Exception):
    """The solution process broke the protocol, died, or left before the tests ended."""


class SolutionError(Exception):
    """An exception the solution raised whose class is not a builtin one (named in the text)."""


_BUILTIN_EXC = {
    name: obj
    for name, obj in vars(builtins).items()
    if isinstance(obj, type)
    and issubclass(obj, BaseException)
    and obj not in (SystemExit, KeyboardInterrupt, GeneratorExit)
}


class Remote:
    """An object that lives in the solution's process (a function, a class, an instance of a
    class the solution defined, an iterator): calls and attribute reads go there; equality is
    decided here, on its class and the plain copy of its attributes (identity without any)."""

    __slots__ = ("_link", "_ref", "_cls", "_state", "_name", "_truth")

    def __init__(
        self,
        link: Link | None,
        ref: int,
        cls: int,
        state: object,
        name: str,
        truth: bool | None = None,
    ) -> None:
        self._link, self._ref, self._cls, self._state, self._name = link, ref, cls, state, name
        self._truth = truth  # known only for C value types (a regex match); None: not plain

    def __eq__(self, other: object) -> bool:
        if _type(other) is not Remote or other._cls != self._cls:
            return False
        if self._state is None or other._state is None:
            return self._ref == other._ref
        return _bool(self._state == other._state)

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    def __hash__(self) -> int:
        return hash(self._cls)

    def __repr__(self) -> str:
        return f"<{self._name} from the solution>"

    def _ask(self, op: str, *args: object) -> object:
        if self._link is None:
            raise GradingError("a value from the solution used after the tests ended")
        return self._link.ask(op, self._ref, *args)

    def __call__(self, *args: object, **kwargs: object) -> object:
        return self._ask("call", [wire(a) for a in args], {k: wire(v) for k, v in kwargs.items()})

    def __getattr__(self, name: str) -> object:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return self._ask("getattr", name)

    def __iter__(self) -> object:
        it = self._ask("iter")
        while True:
            done, value = it._ask("next")
            if done:
                return
            yield value

    def __len__(self) -> int:
        n = self._ask("len")
        if _type(n) is not int:
            raise TypeError("len() of a solution object is not an int")
        return n

    def __getitem__(self, key: object) -> object:
        return self._ask("getitem", wire(key))


def wire(x: object, depth: int = 0) -> object:
    """A value of the tests' process as JSON for the solution process (the tests' own values
    are genuine; a stand-in goes back as its reference)."""
    t = _type(x)
    if x is None or t is bool or t is str or t is int or t is float:
        return x
    if depth > MAX_DEPTH:
        raise ValueError("value nested too deeply to pass to the solution")
    if t is Remote:
        return ["R", x._ref]
    return _containers(x, t, lambda v: wire(v, depth + 1), None)


def _containers(x: object, t: type, each, other) -> object:
    """The tagged form of a container or value type; ``other(x)`` for anything else."""
    if _issubclass(t, bool):
        return bool(x)
    if _issubclass(t, int):
        return _int(x)
    if _issubclass(t, float):
        return _float(x)
    if _issubclass(t, str):
        return _str(x)
    if _issubclass(t, list):
        return ["l", [each(v) for v in _list_iter(x)]]
    if _issubclass(t, tuple):
        return ["t", [each(v) for v in _tuple_iter(x)]]
    if _issubclass(t, dict):
        return ["d", [[each(k), each(v)] for k, v in _dict_items(x)]]
    if _issubclass(t, frozenset):
        return ["f", [each(v) for v in _frozenset_iter(x)]]
    if _issubclass(t, set):
        return ["s", [each(v) for v in _set_iter(x)]]
    if _issubclass(t, bytes):
        return ["b", _bytes_slice(x, _ALL).hex()]
    if _issubclass(t, bytearray):
        return ["ba", bytes(x).hex()]
    if _issubclass(t, complex):
        return ["c", _complex_real(x), _complex_imag(x)]
    if _issubclass(t, collections.deque):
        return ["q", [each(v) for v in _deque_iter(x)]]
    if t is range:
        return ["r", x.start, x.stop, x.step]
    if x is Ellipsis:
        return ["E"]
    if t is fractions.Fraction:
        return ["Q", str(x.numerator), str(x.denominator)]
    if t is decimal.Decimal:
        return ["D", str(x)]
    if t is _DATES[0] or t is _DATES[1] or t is _DATES[2]:
        return ["T", t.__name__, x.isoformat()]
    if t is datetime.timedelta:
        return ["TD", x.days, x.seconds, x.microseconds]
    if other is None:
        raise TypeError(f"a {t.__name__} cannot be passed to the solution")
    return other(x)


class Table:
    """The solution process's side: objects handed out as references, kept alive."""

    def __init__(self) -> None:
        self.objects: list = []
        self.refs: dict = {}
        self.active: set = set()

    def ref(self, x: object) -> int:
        key = _id(x)
        if key not in self.refs:
            self.refs[key] = len(self.objects)
            self.objects.append(x)
        return self.refs[key]

    def encode(self, x: object, depth: int = 0) -> object:
        """A value of the solution as JSON, read through the base types' own slots; anything
        that is not plain data goes as a reference with its class and attributes."""
        t = _type(x)
        if x is None or t is bool or t is str or t is int or t is float:
            return x
        if depth > MAX_DEPTH:
            raise ValueError("output nested too deeply")
        return _containers(x, t, lambda v: self.encode(v, depth + 1), lambda v: self._ref(v, t))

    def _ref(self, x: object, t: type) -> object:
        truth = None
        if _type_flags(t) & _IMMUTABLE_TYPE:
            # A C value type (no method of it can be replaced): numpy arrays and scalars as
            # the Python values they hold; anything else (a regex match) keeps its truth.
            tolist = getattr(x, "tolist", None) if t.__module__ == "numpy" else None
            if callable(tolist):
                return self.encode(tolist(), 1)
            try:
                truth = bool(x)
            except Exception:  # noqa: BLE001
                truth = None
        state = None
        key = _id(x)
        if not isinstance(x, type) and not callable(x) and key not in self.active:
            self.active.add(key)  # an object among its own attributes: a reference there
            try:
                attrs = _attrs_raw(x, t)
                state = self.encode(attrs, 1) if attrs else None
            except Exception:  # noqa: BLE001 - an object whose attributes cannot be read
                state = None
            finally:
                self.active.discard(key)
        name = getattr(t, "__qualname__", "object")
        if isinstance(x, type) or callable(x):
            name = getattr(x, "__qualname__", name)
        return ["R", self.ref(x), self.ref(t), state, str(name)[:200], truth]

    def decode(self, v: object) -> object:
        return _decode(v, lambda ref: self.objects[ref])


def _attrs_raw(x: object, t: type) -> dict:
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
    return attrs


def _decode(v: object, remote) -> object:
    """Fresh plain values from the wire; ``remote`` makes the object a reference stands for."""
    t = _type(v)
    if v is None or t is bool or t is str or t is int or t is float:
        return v
    if t is not list or not v or _type(v[0]) is not str:
        raise GradingError("malformed value from the solution process")
    tag, rest = v[0], v[1:]
    d = lambda w: _decode(w, remote)  # noqa: E731
    if tag == "l":
        return [d(w) for w in rest[0]]
    if tag == "t":
        return tuple(d(w) for w in rest[0])
    if tag == "d":
        return {d(k): d(w) for k, w in rest[0]}
    if tag == "s":
        return {d(w) for w in rest[0]}
    if tag == "f":
        return frozenset(d(w) for w in rest[0])
    if tag == "q":
        return collections.deque(d(w) for w in rest[0])
    if tag == "b":
        return bytes.fromhex(rest[0])
    if tag == "ba":
        return bytearray.fromhex(rest[0])
    if tag == "c":
        return complex(float(rest[0]), float(rest[1]))
    if tag == "r":
        return range(int(rest[0]), int(rest[1]), int(rest[2]))
    if tag == "E":
        return Ellipsis
    if tag == "Q":
        return fractions.Fraction(int(rest[0]), int(rest[1]))
    if tag == "D":
        return decimal.Decimal(str(rest[0]))
    if tag == "T":
        kind = {"date": datetime.date, "datetime": datetime.datetime, "time": datetime.time}
        return kind[str(rest[0])].fromisoformat(str(rest[1]))
    if tag == "TD":
        return datetime.timedelta(int(rest[0]), int(rest[1]), int(rest[2]))
    if tag == "R":
        return remote(rest)
    raise GradingError(f"unknown value tag {tag!r} from the solution process")


class Link:
    """The tests process's end of the pipes to the solution process."""

    def __init__(self, to_solution: int, from_solution: int) -> None:
        import os

        self._os = os
        self.out = to_solution
        self.inp = from_solution
        self.buf = b""
        self.closed = False

    def _line(self) -> bytes | None:
        while b"\n" not in self.buf:
            if len(self.buf) > MAX_LINE:
                raise GradingError("the solution process sent an answer too large")
            chunk = self._os.read(self.inp, 1 << 20)
            if not chunk:
                return None
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return line

    def _receive(self) -> dict:
        import json

        line = self._line()
        if line is None:
            self.closed = True
            raise GradingError(
                "the solution's process ended before every hidden test ran (it exited or "
                "was killed)"
            )
        try:
            msg = json.loads(line)
        except ValueError as exc:
            raise GradingError("malformed answer from the solution process") from exc
        if _type(msg) is not dict:
            raise GradingError("malformed answer from the solution process")
        return msg

    def hello(self) -> None:
        msg = self._receive()
        if msg.get("ready") is not True:
            raise GradingError("the solution process did not start its answers")

    def ask(self, op: str, *args: object) -> object:
        import json

        data = (json.dumps([op, *args]) + "\n").encode()
        try:
            while data:
                n = self._os.write(self.out, data)
                data = data[n:]
        except OSError as exc:
            raise GradingError("the solution's process ended before every hidden test ran") from exc
        msg = self._receive()
        if "v" in msg:
            return self.decode(msg["v"])
        if "e" in msg:
            name, text = (list(msg["e"]) + ["", ""])[:2]
            cls = _BUILTIN_EXC.get(str(name))
            if cls is None:
                raise SolutionError(f"{name}: {text}")
            raise cls(str(text))
        if "exit" in msg:
            raise GradingError(
                f"the program exited (SystemExit({msg['exit']})) during the hidden tests"
            )
        raise GradingError("malformed answer from the solution process")

    def decode(self, v: object) -> object:
        def remote(rest: list) -> Remote:
            ref, cls, state, name, truth = (list(rest) + [None] * 5)[:5]
            if _type(ref) is not int or _type(cls) is not int:
                raise GradingError("malformed reference from the solution process")
            plain_state = None if state is None else self.decode(state)
            truth = truth if _type(truth) is bool else None
            return Remote(self, ref, cls, plain_state, str(name), truth)

        if _type(v) is list and v and v[0] == "N":  # the next() of an iterator
            return bool(v[1]), self.decode(v[2])
        return _decode(v, remote)


def free_names(source: str, entry_point: str | None = None) -> list[str]:
    """Names the tests read but never bind, builtins excepted (but the entry point, which may
    bear a builtin's name): what they take from the solution (its functions, classes,
    constants and the modules it imported)."""
    tree = ast.parse(source, TESTS_FILE)
    loads, binds = set(), {CHECKER}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (loads if isinstance(node.ctx, ast.Load) else binds).add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            binds.add(node.name)
        elif isinstance(node, ast.arg):
            binds.add(node.arg)
        elif isinstance(node, ast.alias):
            binds.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, ast.ExceptHandler) and node.name:
            binds.add(node.name)
    taken = loads - binds - set(vars(builtins))
    if entry_point and entry_point in loads and entry_point not in binds:
        taken.add(entry_point)
    return sorted(taken)


def test_namespace(
    link: Link, source: str, checker: Checker, entry_point: str | None = None
) -> dict:
    """A fresh namespace for the tests: genuine builtins, the checker, and each name they take
    from the solution (a module by its name, imported here; anything else as the solution
    process describes it)."""
    import importlib

    ns: dict = {"__name__": "__main__", "__builtins__": builtins, CHECKER: checker}
    names = free_names(source, entry_point)
    if names:
        described = link.ask("names", names)
        if _type(described) is not dict:
            raise GradingError("malformed answer from the solution process")
        for name, value in described.items():
            if _type(name) is not str or name not in names:
                continue
            if _type(value) is tuple and len(value) == 2 and value[0] == "<module>":
                try:
                    ns[name] = importlib.import_module(str(value[1]))
                except Exception:  # noqa: BLE001 - a module only the solution has
                    pass
            elif _type(value) is tuple and value == ("<missing>",):
                continue
            else:
                ns[name] = value
    checker.link = link
    return ns


def serve(namespace: dict, inp: int, out: int) -> None:
    """The solution process's loop: answer the tests process until it closes the pipe."""
    import json
    import os

    table = Table()

    def send(obj: dict) -> None:
        data = (json.dumps(obj) + "\n").encode()
        while data:
            data = data[os.write(out, data) :]

    send({"ready": True})
    for line in _request_lines(inp):
        op, *args = json.loads(line)
        try:
            reply = _answer(table, namespace, op, args)
        except SystemExit as exc:
            send({"exit": repr(exc.code)})
            raise
        except BaseException as exc:  # noqa: BLE001 - the solution's exception is its answer
            try:
                text = str(exc)[:2000]
            except BaseException:  # noqa: BLE001
                text = ""
            send({"e": [type(exc).__name__, text]})
            continue
        send(reply)


def _request_lines(inp: int):
    """The tests process's requests, one JSON line each, until it closes the pipe."""
    import os

    buf = b""
    while True:
        while b"\n" not in buf:
            chunk = os.read(inp, 1 << 20)
            if not chunk:
                return
            buf += chunk
        line, _, buf = buf.partition(b"\n")
        yield line


def _answer(table: Table, namespace: dict, op: str, args: list) -> dict:
    """The reply to one request, run in the solution process: what raises here (the
    solution's own code) is answered by the caller as the exception it was."""
    if op == "names":
        return {"v": ["d", [[n, _describe(table, namespace, n)] for n in args[0]]]}
    obj = table.objects[args[0]]
    if op == "call":
        call_args = [table.decode(a) for a in args[1]]
        kwargs = {k: table.decode(v) for k, v in args[2].items()}
        return {"v": table.encode(obj(*call_args, **kwargs))}
    if op == "getattr":
        return {"v": table.encode(getattr(obj, args[1]))}
    if op == "iter":
        return {"v": table.encode(iter(obj))}
    if op == "next":
        try:
            return {"v": ["N", False, table.encode(next(obj))]}
        except StopIteration:
            return {"v": ["N", True, None]}
    if op == "len":
        return {"v": len(obj)}
    if op == "getitem":
        return {"v": table.encode(obj[table.decode(args[1])])}
    return {"e": ["ValueError", f"unknown request {op!r}"]}


def _describe(table: Table, namespace: dict, name: str) -> object:
    """A name the tests take from the solution: a module by its name (the tests process
    imports its own), anything else encoded."""
    import types

    if name not in namespace:
        return ["t", ["<missing>"]]
    value = namespace[name]
    if isinstance(value, types.ModuleType):
        return ["t", ["<module>", str(getattr(value, "__name__", name))]]
    return table.encode(value)
