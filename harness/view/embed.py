"""Data into a page without letting any of it become markup or code.

JSON inside ``<script type="application/json">`` ends at the first ``</script`` and is read by
HTML rules before JSON ones, so every ``<``, ``>`` and ``&`` is written as a JSON ``\\u``
escape (as do Django's ``json_script`` and Rails' ``json_escape``); U+2028/U+2029 too, for
readers that treat the text as JavaScript. Lone surrogates (a ``"\\ud800"`` escape in a
transcript) cannot be written as UTF-8: they become U+FFFD. Non-finite floats, which
``JSON.parse`` rejects, become strings.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import math
from typing import Any

_SCRIPT_ESCAPES = {
    ord("<"): "\\u003c",
    ord(">"): "\\u003e",
    ord("&"): "\\u0026",
    0x2028: "\\u2028",
    0x2029: "\\u2029",
}


def _finite(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else str(obj)
    if isinstance(obj, dict):
        return {str(k): _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def _valid_unicode(text: str) -> str:
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        # Pairs written as two escapes are joined, lone halves replaced.
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def to_json(obj: Any) -> str:
    """Compact JSON of ``obj`` that is valid UTF-8 and that ``JSON.parse`` accepts."""
    text = json.dumps(_finite(obj), ensure_ascii=False, separators=(",", ":"), default=str)
    return _valid_unicode(text)


def script_json(obj: Any) -> str:
    """JSON that is safe as the text of a ``<script type="application/json">`` element."""
    return to_json(obj).translate(_SCRIPT_ESCAPES)


def packed(obj: Any) -> str:
    """gzip+base64 of ``obj``'s JSON: the page inflates it with DecompressionStream on demand,
    so a run of thousands of calls costs a few bytes per character of text and no parse until
    an episode is opened. Deterministic (mtime 0): the same run gives the same file."""
    raw = to_json(obj).encode("utf-8")
    return base64.b64encode(gzip.compress(raw, compresslevel=6, mtime=0)).decode("ascii")


def unpacked(text: str) -> Any:
    """The inverse of :func:`packed` (tests and tools that read a report back)."""
    return json.loads(gzip.decompress(base64.b64decode(text)).decode("utf-8"))


def csp_hash(source: str) -> str:
    """A CSP source expression that allows exactly this inline script or style text."""
    digest = hashlib.sha256(source.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"
