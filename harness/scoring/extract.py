"""Answer extraction from free-form model responses: one extractor per answer kind
(:func:`extract_math`, :func:`extract_letter`, :func:`extract_code`), shared by every task of
that kind.

Own code for math and letters: math-verify / lighteval extract answers too, but they pick among
candidates by their own priorities and do not tell us *how* one was found or *why* none was.
The harness needs the field's rules plus an explicit, recorded fallback and, when nothing is
read, the cause (:data:`CAUSES`), so a reader sees when a number is limited by extraction.
Code goes through evalplus's own sanitizer.
"""

from __future__ import annotations

import ast
import re
import unicodedata
from dataclasses import dataclass

from harness.text import PYTHON_TAGS, code_blocks, visible_text

_BOX_CMDS = ("\\boxed", "\\fbox")

#: why no answer was read (``Extraction.cause``, ``no_answer_cause`` in results.jsonl)
NO_ANCHOR = "no_anchor"  # nothing that states an answer: no box, no "answer:" line, no code
SEVERAL = "several_answers"  # the final statement names more than one answer (a hedge)
UNPARSEABLE = "unparseable"  # a statement was found, but what it states cannot be read
EMPTY = "empty_response"  # the response is empty (after its thinking)
CAUSES = (NO_ANCHOR, SEVERAL, UNPARSEABLE, EMPTY)


@dataclass(frozen=True)
class Extraction:
    answer: str | None
    method: str  # "boxed" | fallback name | "none"
    note: str | None = None  # a short reason when a fallback was used or nothing was found
    cause: str | None = None  # one of CAUSES when answer is None


def _none(body: str, cause: str, note: str) -> Extraction:
    if not body.strip():
        return Extraction(None, "none", "empty response", EMPTY)
    return Extraction(None, "none", note, cause)


# Only the text outside <think>…</think> is graded. Episodes already strip it; this covers
# responses that come from elsewhere (replay).
strip_thinking = visible_text


def _read_group(text: str, start: int) -> tuple[str, int] | None:
    """Content of the balanced ``{...}`` beginning at ``text[start] == '{'``."""
    depth = 0
    i = start
    while i < len(text):
        c = text[i]
        if c == "\\":  # skip escaped characters such as \{ and \}
            i += 2
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return text[start + 1 : i], i + 1
        i += 1
    return None


def boxes(text: str) -> list[tuple[str, int, int]]:
    """Every ``\\boxed{...}`` / ``\\fbox{...}`` (balanced braces) as (content, start, end), in
    order. Also accepts the brace-less form ``\\boxed 5`` that some models write."""
    out: list[tuple[str, int, int]] = []
    pattern = re.compile(r"\\(?:boxed|fbox)(?![A-Za-z])")
    for m in pattern.finditer(text):
        j = m.end()
        while j < len(text) and text[j] == " ":
            j += 1
        if j < len(text) and text[j] == "{":
            got = _read_group(text, j)
            if got is not None:
                out.append((got[0].strip(), m.start(), got[1]))
        elif j > m.end() and j < len(text):
            token = re.match(r"[^\s$]+", text[j:])
            if token:
                out.append((token.group(0).rstrip(".,"), m.start(), j + token.end()))
    return out


def all_boxed(text: str) -> list[str]:
    """Contents of every box, in order."""
    return [content for content, _, _ in boxes(text)]


def last_boxed(text: str) -> str | None:
    found = boxes(text)
    return found[-1][0] if found else None


# What may stand between boxes that together form one answer: spacing on one line, punctuation,
# "and", "or", math delimiters, and short assignments ("$x=\\boxed{2}$ and $y=\\boxed{3}$").
# A line break ends a group: boxes on separate lines are separate statements (a model that boxes
# every intermediate value writes them line by line).
_BOX_GLUE = re.compile(
    r"^(?:[ \t]|[$,;&]|\\[,;:! ]|\\q?quad\b|\\\\|\\[()\[\]]|\band\b|\bor\b"
    r"|\\text(?:rm|bf)?\{\s*(?:and|or|,)?\s*\}|[A-Za-z](?:_\{?\w+\}?)?\s*=)*$"
)
#: more adjacent boxes than this are a flood of intermediate values, not one answer
MAX_BOX_GROUP = 6


def _box_chain(text: str) -> list[tuple[str, int, int]]:
    """The last box and the boxes just before it that only glue separates from it."""
    found = boxes(text)
    if not found:
        return []
    group = [found[-1]]
    for prev in reversed(found[:-1]):
        if not _BOX_GLUE.match(text[prev[2] : group[0][1]]):
            break
        group.insert(0, prev)
    return group


def last_box_group(text: str) -> tuple[str, int, int, int] | None:
    """The last box, joined with the boxes just before it when only glue on the same line
    separates them (a model that boxes each root: ``\\boxed{-2} \\quad\\text{and}\\quad
    \\boxed{1}`` → ``-2, 1``). A chain longer than :data:`MAX_BOX_GROUP`, or one that repeats a
    single value, is not joined: only its last box is the answer."""
    group = _box_chain(text)
    if not group:
        return None
    if len(group) > MAX_BOX_GROUP or len({c for c, _, _ in group}) == 1:
        group = group[-1:]
    return ", ".join(c for c, _, _ in group), group[0][1], group[-1][2], len(group)


# Closing statements. Strong: "final answer" (Minerva's "Final Answer: The final answer is X. I
# hope it is correct." and its kin); weak: "the answer is X", used only when nothing is boxed.
_FINAL = re.compile(r"final\s+answer\s*(?:is|:|was)\s*:?\s*(?:the\s+final\s+answer\s+is\s*:?)?",
                    re.IGNORECASE)  # fmt: skip
_WEAK = re.compile(r"\banswer\s*(?:is|:)\s*:?", re.IGNORECASE)
_MATH_SPAN = re.compile(r"\s*(\$\$(.+?)\$\$|\$(.+?)\$|\\\((.+?)\\\)|\\\[(.+?)\\\])", re.DOTALL)
_SENTENCE = re.compile(r"(.+?)(?:\.(?=\s|$)|\n|$)")


def _statement_answer(text: str, start: int) -> str | None:
    """The answer stated from ``start``: a math span right there, else the rest of the sentence
    (after its last " is " when it reads "the volume of X is 120")."""
    m = _MATH_SPAN.match(text, start)
    if m:
        inner = next(g for g in m.groups()[1:] if g is not None)
        return inner.strip() or None
    m = _SENTENCE.match(text, start)
    if not m:
        return None
    sentence = m.group(1).strip().strip("*").strip()
    if " is " in sentence:
        sentence = sentence.rsplit(" is ", 1)[1].strip()
    found = _MATH_SPAN.fullmatch(sentence)
    if found:
        sentence = next(g for g in found.groups()[1:] if g is not None).strip()
    sentence = sentence.strip().strip('"').rstrip(".").strip()
    return sentence or None


def _last_statement(pattern: re.Pattern, text: str) -> tuple[str, int] | None:
    for m in reversed(list(pattern.finditer(text))):
        answer = _statement_answer(text, m.end())
        if answer:
            return answer, m.start()
    return None


_BARE_HINT = re.compile(r"[0-9$\\=({]")


def extract_math(text: str) -> Extraction:
    """The final answer of a math response, and how it was found.

    1. The last box, with the boxes right before it when only "and"/commas/spacing separate
       them (``boxed``, or ``boxed_group`` for several);
    2. but a "final answer" statement written after that box wins (``final_answer``): models
       box intermediate results and then close with "Final Answer: The final answer is X";
    3. without a box: the last "final answer" statement, else the last "the answer is X"
       (``answer_is``);
    4. else a short one-line response that looks like an answer is the answer (``bare``).
    """
    body = strip_thinking(text)
    group = last_box_group(body)
    final = _last_statement(_FINAL, body)
    if group is not None:
        answer, _, end, n_boxes = group
        if final is not None and final[1] >= end:
            return Extraction(final[0], "final_answer", "a final-answer statement after the box")
        if n_boxes > 1:
            return Extraction(answer, "boxed_group", f"{n_boxes} adjacent boxes joined")
        if not answer.strip():
            return Extraction(None, "none", "the last box is empty", UNPARSEABLE)
        chain = len(_box_chain(body))
        if chain > 1:  # a flood of boxes, or one value boxed again and again
            return Extraction(answer, "boxed", f"last of {chain} adjacent boxes (not joined)")
        return Extraction(answer, "boxed")
    if final is not None:
        return Extraction(final[0], "final_answer", "no boxed answer; used the final-answer line")
    weak = _last_statement(_WEAK, body)
    if weak is not None:
        return Extraction(weak[0], "answer_is", "no boxed answer; used the last 'answer is' line")
    line = body.strip()
    if line and "\n" not in line and len(line) <= 100 and _BARE_HINT.search(line):
        return Extraction(line, "bare", "no boxed answer; the whole response is the answer")
    return _none(body, NO_ANCHOR, "no boxed answer")


# -- multiple choice ---------------------------------------------------------------------------
#
# Own code: lighteval's IndicesExtractionConfig, simple-evals' answer patterns, Inspect's
# ``ANSWER: X`` parser and lm-eval's GPQA filters each read one style of reply; none of them both
# reads every style GPQA replies take (a box, "Answer: $D$", "Réponse : D", a bare "B) …", the
# text of a choice) and refuses a hedge ("B or D"), and none says why it read nothing. The
# cases of all four are measured in tests/unit/test_extract_letters_external.py.

# Letters other scripts write for A-D: simple-evals' normalize_extracted_answer (Arabic, Bengali);
# full-width letters (Ａ-Ｄ) become ASCII through NFKC.
_SCRIPT_LETTERS = {"أ": "A", "ب": "B", "ج": "C", "د": "D", "অ": "A", "ব": "B", "ড": "C", "ঢ": "D"}
_WORD_CHARS = r"A-Za-z0-9\u00C0-\u024F\u0600-\u06FF\u0980-\u09FF"
# Anchors that state the answer. English, then the answer words of simple-evals'
# MULTILINGUAL_ANSWER_REGEXES (full-width colons are ASCII after NFKC), then "the answer is" in
# the languages multilingual evals use.
_ANCHOR_WORDS = (
    r"(?:(?:final|correct|right|best|my)\s+)?answers?\**\s*(?:is|would\s+be|should\s+be|must\s+be"
    r"|will\s+be|=|:|-|–|—)"
    r"|(?:final|correct|right|best)\s+(?:option|choice|letter)\s*(?:is|:|-|–|—)"
    r"|(?:final|correct|right|best)\s+answer\b"
    r"|উত্তর\s*:|उत्तर\s*:|উত্তরঃ|Antwort\s*(?::|ist)|답변\s*:|정답\s*:|답\s*:|答案\s*(?::|是|为)"
    r"|答复\s*:|答曰\s*:|答\s*:|الإجابة النهائية\s*:|الإجابة الصحيحة هي\s*:|الإجابة الصحيحة\s*:"
    r"|الإجابة هي\s*:?|الجواب النهائي\s*:|الإجابة\s*:|الجواب\s*:|إجابة\s*:|Respuesta\s*(?::|es)"
    r"|Risposta\s*(?::|è)|答え\s*(?::|は)|回答\s*:|解答\s*:|Jawaban\s*(?::|adalah)"
    r"|Réponse\s*(?::|est)|Resposta\s*(?::|é)|Jibu\s*:|Idahun\s*:|Ìdáhùn\s*:|Idáhùn\s*:"
    r"|Àmọ̀nà\s*:|Àdáhùn\s*:|Ànúgọ\s*:|Àṣàyàn\s*:"
)
_ANCHOR = re.compile(rf"(?<![{_WORD_CHARS}])(?:{_ANCHOR_WORDS})", re.IGNORECASE)
# Weaker statements, read only when no anchor or box states anything: "I think it's B",
# "Therefore, (B)", "my choice is (B)", "I'd go with C".
_WEAK_ANCHOR = re.compile(
    r"(?<![A-Za-z])(?:it'?s|it\s+is|it\s+must\s+be|must\s+be|I\s+(?:choose|pick|select|chose)"
    r"|I'?d\s+(?:go\s+with|choose|pick)|go\s+with|(?:my\s+)?(?:choice|option|selection)\s+is"
    r"|therefore,?|thus,?|hence,?|so,?|conclusion\s*:)",
    re.IGNORECASE,
)
# "B is correct", "Option (C) is the right answer"
_LETTER_FIRST = re.compile(
    r"(?<![A-Za-z])(?:option\s+|choice\s+)?\(?((?-i:[A-Z]))\)?\s+is\s+(?:the\s+)?"
    r"(?:correct|right|best)(?:\s+(?:answer|option|choice))?(?![A-Za-z])",
    re.IGNORECASE,
)
_NEGATION = re.compile(r"\b(?:not|no|never|isn'?t|cannot|can'?t|neither|nor)\b|n't\b", re.I)
_HEDGE = re.compile(r"\b(?:either|between|both)\b", re.IGNORECASE)
# At most this many words between an anchor and its letter ("The answer is most likely A").
_MAX_FILLER_WORDS = 6
_MARKUP_CMD = re.compile(
    r"\\(?:text(?:bf|rm|it|tt|sf|normal)?|math(?:bf|rm|it|sf|tt|bb|cal)|boldsymbol|bm|emph"
    r"|textsc|underline|boxed|fbox|operatorname)\s*\{([^{}]*)\}"
)


def plain_letters_text(text: str) -> str:
    """``text`` with the markup models put around a letter removed: ``$D$``, ``\\text{A}``,
    ``\\(\\mathbf{B}\\)``, ``**C**``, backticks; full-width characters as ASCII (NFKC). Own code
    after simple-evals' normalize_response, which removes the same wrappers."""
    t = unicodedata.normalize("NFKC", text)
    for _ in range(4):  # nested wrappers: \boxed{\text{\textbf{B}}}
        t2 = _MARKUP_CMD.sub(r"\1", t)
        if t2 == t:
            break
        t = t2
    t = re.sub(r"\\[()\[\]]", " ", t)
    return (
        t.replace("\\$", "$").replace("$", " ").replace("**", "").replace("__", "").replace("`", "")
    )


def _letter_token(letters: str) -> re.Pattern:
    """A standalone choice letter: ``B``, ``(B)``, ``[B]``, ``"B"``, or an Arabic/Bengali one."""
    script = "".join(k for k, v in _SCRIPT_LETTERS.items() if v in letters)
    return re.compile(
        rf"(?<![{_WORD_CHARS}'’])[(\[]?([{letters}{script}])[)\]]?(?![{_WORD_CHARS}'’])"
    )


def _to_ascii(letter: str) -> str:
    return _SCRIPT_LETTERS.get(letter, letter).upper()


def _segment(text: str, start: int) -> str:
    """What a statement starting at ``start`` says: up to the end of its sentence or line (the
    first line with content, so "the answer is\\n(C)" reads the next line)."""
    rest = text[start : start + 200]
    lead = len(rest) - len(rest.lstrip())
    cut = re.search(r"\n|[.!?。](?=\s|$)", rest[lead:])
    return plain_letters_text(rest[: lead + (cut.start() if cut else len(rest) - lead)])


def _read_statement(seg: str, letters: str, lower_ok: bool) -> tuple[str | None, str | None]:
    """(letter, cause) read from what follows an anchor: the first standalone letter within a
    few words, unless a negation precedes it ("it's not A"); a letter followed by another one
    ("B, D", "B or C") or preceded by "either"/"between" is a hedge (SEVERAL)."""
    token = _letter_token(letters + (letters.lower() if lower_ok else ""))
    m = token.search(seg)
    if not m:
        return None, None
    before = seg[: m.start()]
    if _NEGATION.search(before):
        return None, None
    words = re.findall(rf"[{_WORD_CHARS}]+", before)
    if len(words) > _MAX_FILLER_WORDS:
        return None, None
    if m.group(1).islower() and words:  # a lowercase "a" is a letter only right at the anchor
        return None, None
    after = seg[m.end() :]
    if _HEDGE.search(before) or re.match(
        rf"\s*(?:,|/|&|\+|\band\b|\bor\b|\band/or\b)\s*(?:option\s+|choice\s+)?"
        rf"{token.pattern}",
        after,
        re.IGNORECASE,
    ):
        return None, SEVERAL
    return _to_ascii(m.group(1)), None


def _leading_letter(line: str, letters: str) -> str | None:
    """A reply that is its letter, or begins with it: ``B``, ``(B)``, ``B) Because …``,
    ``D. it can't be …``, ``B。不是 A``. A letter followed by a space and a word is not one
    ("A possible approach …")."""
    m = re.match(rf"\s*[(\[]?([{letters}])(?:[)\]:.。、,：]|\s*$|(?=[^\x00-\x7F\s]))", line)
    return m.group(1) if m else None


def _choice_text(text: str, choices: list[str] | None, letters: str) -> tuple[str | None, str]:
    """The letter of the one choice whose text ``text`` states (lm-eval's GPQA fallback);
    ("", SEVERAL) when it states more than one."""
    if not choices:
        return None, ""

    def norm(s: str) -> str:
        s = unicodedata.normalize("NFKC", s).lower()
        return " ".join(re.sub(r"[^\w\s]", " ", s).split())

    hay = f" {norm(text)} "
    found = []
    for letter, choice in zip(letters, choices, strict=False):
        c = norm(str(choice))
        if c and f" {c} " in hay:
            found.append((letter, c))
    # a choice inside a longer one that is also stated ("2" inside "2 moles") does not count
    found = [(k, c) for k, c in found if not any(c != o and f" {c} " in f" {o} " for _, o in found)]
    if len(found) == 1:
        return found[0][0], ""
    return None, SEVERAL if found else ""


def extract_letter(
    text: str, letters: str = "ABCD", choices: list[str] | None = None
) -> Extraction:
    """A multiple-choice letter, and how it was read.

    1. The last answer statement: a box (``\\boxed{B}``), an anchor ("Answer: $D$", "The answer
       is most likely A", "Final answer - (C)", "Réponse : D", "答案：C", Arabic/Bengali and
       full-width letters) or "B is correct". Its first standalone letter within a few words is
       the answer; two letters ("B, D", "B or D") are a hedge and are never credited.
    2. Without a statement: the reply is its letter or begins with it ("B) Because …"), or its
       last line does.
    3. Weaker statements: "I think it's B", "Therefore, (B)", "my choice is (B)".
    4. The text of exactly one choice (``choices``), as lm-eval's GPQA filter falls back to.
    """
    body = strip_thinking(text)
    if not body.strip():
        return _none(body, EMPTY, "empty response")
    norm = unicodedata.normalize("NFKC", body)
    plain = plain_letters_text(norm)
    found, unreadable = _from_statements(_letter_statements(norm, letters), letters, choices)
    if found is not None:
        return found
    lines = [ln for ln in plain.strip().splitlines() if ln.strip()]
    found = _from_lines(lines, letters)
    if found is None:
        found = _from_weak_statements(plain, lines, letters, choices)
    if found is not None:
        return found
    if unreadable is not None:
        return Extraction(None, "none", f"no choice letter in the answer: {unreadable[:60]!r}",
                          UNPARSEABLE)  # fmt: skip
    return _none(body, NO_ANCHOR, "no answer statement and no letter")


def _letter_statements(norm: str, letters: str) -> list[tuple[int, str, str]]:
    """(position in ``norm``, kind, what it states) of every answer statement, in order."""
    statements: list[tuple[int, str, str]] = []
    for content, start, _ in boxes(norm):
        statements.append((start, "boxed", plain_letters_text(content)))
    for m in _ANCHOR.finditer(norm):
        statements.append((m.start(), "answer_is", _segment(norm, m.end())))
    for m in _LETTER_FIRST.finditer(norm):
        if m.group(1).upper() in letters and not _NEGATION.search(m.group(0)):
            statements.append((m.start(), "is_correct", m.group(1)))
    statements.sort(key=lambda s: s[0])
    return statements


def _from_statements(
    statements: list[tuple[int, str, str]], letters: str, choices: list[str] | None
) -> tuple[Extraction | None, str | None]:
    """The answer of the last statement that names one (a hedge ends the search unanswered),
    and the last statement that named nothing readable (None when there was none)."""
    unreadable = None
    for _, kind, seg in reversed(statements):
        letter, cause = _read_statement(seg, letters, lower_ok=kind == "boxed")
        if cause == SEVERAL:
            return Extraction(None, "none", f"the final answer names several choices: {seg!r}",
                              SEVERAL), None  # fmt: skip
        if letter is None and kind == "boxed":
            letter = _leading_letter(seg, letters + letters.lower())  # "\boxed{B) 42}"
            letter = letter.upper() if letter else None
        if letter is None:
            got, cause = _choice_text(seg, choices, letters)
            if cause == SEVERAL:
                return Extraction(None, "none", f"the final answer states several choices: "
                                  f"{seg[:60]!r}", SEVERAL), None  # fmt: skip
            if got:
                return Extraction(got, "choice_text", "the answer states a choice's text"), None
        if letter is not None:
            note = None if kind == "boxed" else f"read from {kind!r} statement"
            return Extraction(letter, kind if kind != "is_correct" else "answer_is", note), None
        unreadable = unreadable or seg
    return None, unreadable


def _from_lines(lines: list[str], letters: str) -> Extraction | None:
    """Without a statement: the reply's first or last line is its letter or begins with it,
    or the last line ends in ": X" (lm-eval's bare-letter fallback, here only on that line)."""
    # a reply that lists the choices ("A) …", "B) …") does not answer by its first or last line
    listed = {_leading_letter(ln, letters) for ln in lines} - {None}
    for where, line in (("leading", lines[0]), ("last_line", lines[-1])) * (len(listed) < 2):
        letter = _leading_letter(line, letters)
        if letter:
            return Extraction(letter, where, f"no answer statement; the reply's {where} letter")
    m = re.search(rf":\s*[(\[]?([{letters}])[)\]]?[\s.]*$", lines[-1])
    if m:
        return Extraction(m.group(1), "last_line", "no answer statement; the last line's letter")
    return None


def _from_weak_statements(
    plain: str, lines: list[str], letters: str, choices: list[str] | None
) -> Extraction | None:
    """Weaker statements ("I think it's B"), then the text of one choice in the reply's end;
    a reply that ends between several choices is never credited."""
    for m in reversed(list(_WEAK_ANCHOR.finditer(plain))):
        letter, cause = _read_statement(_segment(plain, m.end())[:40], letters, lower_ok=False)
        if cause == SEVERAL:
            return Extraction(None, "none", "the reply ends between several choices", SEVERAL)
        if letter:
            return Extraction(letter, "weak_statement", f"read from {m.group(0)!r}")
    tail = lines[-1] if len(plain) > 300 else plain
    got, cause = _choice_text(tail, choices, letters)
    if cause == SEVERAL:
        return Extraction(None, "none", "the reply's last line states several choices", SEVERAL)
    if got:
        return Extraction(got, "choice_text", "no letter; the reply states a choice's text")
    if len(set(_letter_token(letters).findall(lines[-1]))) > 1 and _HEDGE.search(lines[-1]):
        return Extraction(None, "none", "the reply ends between several choices", SEVERAL)
    return None


# -- code --------------------------------------------------------------------------------------


def _syntax_ok(code: str) -> bool:
    try:
        ast.parse(code)
    except (SyntaxError, MemoryError, ValueError):
        return False
    return True


def longest_parsing_run(text: str) -> str:
    """evalplus's ``code_extract`` (the longest run of lines that parses, counted in non-empty
    lines, the first on ties) with the same result in far fewer parses: evalplus parses every
    (start, end) pair, O(n³) in lines (7 s for a 150-line reply); here each start tries its
    longest end first and stops at the first that parses, and starts that cannot beat the best
    are skipped. Checked against evalplus's own function in the tests."""
    lines = text.split("\n")
    n = len(lines)
    nonempty = [1 if ln.strip() else 0 for ln in lines]
    suffix = [0] * (n + 1)
    for i in range(n - 1, -1, -1):
        suffix[i] = suffix[i + 1] + nonempty[i]
    best, best_pair = 0, (0, 0)
    for i in range(n):
        if suffix[i] <= best:
            break
        for j in range(n - 1, i, -1):  # evalplus never takes a one-line run (j > i)
            count = suffix[i] - suffix[j + 1]
            if count <= best:
                break
            if _syntax_ok("\n".join(lines[i : j + 1])):
                # the first end reaching this count: trailing blank lines do not count
                while j - 1 > i and not nonempty[j]:
                    j -= 1
                best, best_pair = count, (i, j)
                break
    return "\n".join(lines[best_pair[0] : best_pair[1] + 1])


def _defines(code: str, name: str | None) -> bool:
    return (
        bool(name) and re.search(rf"^\s*def\s+{re.escape(str(name))}\s*\(", code, re.M) is not None
    )


def sanitize_code(code: str, entry_point: str | None) -> str:
    """evalplus's sanitizer (``evalplus.sanitize.sanitize``): the imports, and the functions,
    classes and assignments the entry point needs (all of them without an entry point); the
    first of two definitions of one name; no top-level prints, asserts or ``__main__`` block."""
    import evalplus.sanitize as ev

    # Same result as evalplus's code_extract, without its O(n³) parse count (see above).
    ev.code_extract = longest_parsing_run
    return ev.sanitize(code, entry_point)


def _top_level_names(code: str) -> set[str]:
    try:
        tree = ast.parse(code)
    except (SyntaxError, MemoryError, ValueError):
        return set()
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return names


def _definitions_only(code: str) -> str:
    """The imports, functions, classes and assignments of ``code``, in order; what runs at the
    top level (prints, asserts, loops, a ``__main__`` block) is dropped."""
    tree = ast.parse(code)
    keep = (
        ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef,
        ast.Assign, ast.AnnAssign,
    )  # fmt: skip
    parts = [ast.get_source_segment(code, node) for node in tree.body if isinstance(node, keep)]
    return "\n".join(p for p in parts if p).strip()


def extract_code(
    text: str,
    entry_point: str | None = None,
    prompt: str | None = None,
    keep: set[str] | frozenset[str] = frozenset(),
) -> Extraction:
    """The Python program to grade, and how it was found.

    1. The candidate: the last fenced Python block that defines ``entry_point``, else the last
       Python block, else the last fenced block; without a fence, the reply itself (prose and
       code mixed: the sanitizer keeps the code).
    2. A candidate that is only the function's body (HumanEval's completion format) is put
       after ``prompt`` when the prompt defines the entry point, as HumanEval's harness does.
    3. evalplus's sanitizer keeps what the entry point needs (:func:`sanitize_code`). When it
       would drop the entry point itself (evalplus skips functions with no ``return``, such as
       generators), the candidate is graded as written. Names in ``keep`` (what the hidden
       tests use besides the entry point: MBPP's tests build the model's own ``Pair`` objects)
       that the candidate defines are kept: then every definition is kept (evalplus's
       sanitizer without an entry point).
    """
    body = strip_thinking(text)
    if not body.strip():
        return _none(body, EMPTY, "empty response")
    blocks = code_blocks(body)
    candidate, method, note = _code_candidate(body, blocks, entry_point)
    completed = _as_completion(candidate, prompt, entry_point)
    if completed is not None:
        candidate, method = completed, "completion"
        note = "the reply is the function's body; the prompt was put in front"
    try:
        code = _sanitized(candidate, entry_point, keep)
    except Exception as exc:  # noqa: BLE001 - tree-sitter on arbitrary text
        return Extraction(None, "none", f"sanitizer failed: {type(exc).__name__}", UNPARSEABLE)
    code, dropped = _definitions_kept(candidate, code, entry_point)
    if dropped is not None:
        note = dropped
    has_code = _syntax_ok(code) and re.search(r"^\s*(?:async\s+)?(?:def|class)\s", code, re.M)
    if code and has_code and (not entry_point or _defines(code, entry_point) or method != "raw"):
        return Extraction(code, method, note)
    if blocks or _defines(body, entry_point) or re.search(r"^\s*def\s", body, re.M):
        return Extraction(None, "none", "no code that parses defines the solution", UNPARSEABLE)
    return _none(body, NO_ANCHOR, "no code block")


def _code_candidate(
    body: str, blocks: list[tuple[str, str]], entry_point: str | None
) -> tuple[str, str, str | None]:
    """(candidate, method, note): the fenced block to grade, or the reply itself."""
    py = [c for lang, c in blocks if lang in PYTHON_TAGS]
    if entry_point and any(_defines(c, entry_point) for c in py):
        return [c for c in py if _defines(c, entry_point)][-1], "fenced", None
    if py:
        note = f"no block defines {entry_point}; used the last one" if entry_point else None
        return py[-1], "fenced", note
    if blocks:
        return blocks[-1][1], "fenced_other", "no python block; used the last fence"
    return body, "raw", "no fenced block; graded the code in the raw text"


def _as_completion(candidate: str, prompt: str | None, entry_point: str | None) -> str | None:
    """The prompt followed by the candidate, when the candidate is only the body of the
    function the prompt defines (and the two parse together); else None."""
    if not (
        prompt
        and entry_point
        and _defines(prompt, entry_point)
        and not _defines(candidate, entry_point)
    ):
        return None
    lines = candidate.strip("\n").splitlines()
    if not lines or re.search(r"^(?:async\s+)?(?:def|class)\s", candidate, re.M):
        return None
    # the first line lost its indentation when the reply was stripped
    indent = next(
        (ln[: len(ln) - len(ln.lstrip())] for ln in lines[1:] if ln[:1].isspace()), "    "
    )
    if not lines[0][:1].isspace():
        lines[0] = indent + lines[0]
    joined = prompt.rstrip("\n") + "\n" + "\n".join(lines) + "\n"
    return joined if _syntax_ok(joined) else None


def _sanitized(candidate: str, entry_point: str | None, keep: set[str] | frozenset[str]) -> str:
    """evalplus's sanitizer on the candidate; without the entry point when that would drop a
    name in ``keep`` the candidate defines."""
    code = sanitize_code(candidate, entry_point).strip()
    wanted = keep & _top_level_names(candidate)
    if entry_point and wanted - _top_level_names(code):
        code = sanitize_code(candidate, None).strip()
    return code


def _definitions_kept(candidate: str, code: str, entry_point: str | None) -> tuple[str, str | None]:
    """The sanitized code, or every definition of the candidate when the sanitizer dropped
    one the code needs; with the note saying so (None when nothing was dropped)."""
    # evalplus skips functions without a `return` (generators): when that drops the entry point
    # or a helper the kept code calls, keep every definition instead (own rule, said so)
    lost = _top_level_names(candidate) - _top_level_names(code)
    used = set(re.findall(r"[A-Za-z_]\w*", code)) | ({entry_point} if entry_point else set())
    if lost & used and _syntax_ok(candidate):
        note = f"the sanitizer dropped {', '.join(sorted(lost & used))}; kept every definition"
        return _definitions_only(candidate), note
    if _syntax_ok(code) and _definitions_only(code) != code:
        # evalplus's fallback (nothing kept: a generator entry point) returns the whole run of
        # code, prints and asserts included: those go, as on its main path
        return _definitions_only(code), None
    return code, None
