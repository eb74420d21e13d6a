"""Keep secrets out of what leaves the machine (W&B config, summary, tables, artifacts).

A value is masked when its key names a secret (``api_key``, ``hf_token``, ``password``, …) or
when the value itself looks like a credential (``sk-…``, ``hf_…``, a long random-looking
string). Key names are matched as whole words, not substrings: ``tokens``, ``max_tokens`` and
``prompt_tokens`` are the harness's token counts and must stay visible, and ``api_key_env``
names an environment variable rather than holding a key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

MASK = "***"

_SECRET_KEY = re.compile(
    r"(?:^|[_\-.])(?:api[_-]?key|apikey|key|secret|secrets|password|passwd|passphrase|token|"
    r"access[_-]?token|refresh[_-]?token|credentials?|auth|authorization|private[_-]?key|"
    r"access[_-]?key|cookie|session[_-]?id)$",
    re.IGNORECASE,
)
#: keys whose values are hashes by design (a commit, a digest), not credentials
_HASH_KEY = re.compile(r"(commit|revision|sha|hash|digest|_id$|^id$|attempt)", re.IGNORECASE)

# Credentials with a known shape, found anywhere inside a string (an error message may quote
# one): OpenAI/Anthropic, Hugging Face, GitHub, AWS, Slack, Google, bearer tokens.
_KNOWN = re.compile(
    r"(sk-[A-Za-z0-9_\-]{16,}|hf_[A-Za-z0-9]{20,}|gh[pousr]_[A-Za-z0-9]{20,}|"
    r"github_pat_[A-Za-z0-9_]{20,}|AKIA[0-9A-Z]{16}|xox[abprs]-[A-Za-z0-9\-]{10,}|"
    r"AIza[0-9A-Za-z_\-]{35}|(?<=Bearer )[A-Za-z0-9._\-]{16,})"
)
_URL_CREDENTIALS = re.compile(r"(?<=://)[^/\s:@]+:[^/\s@]+(?=@)")
# A whole value that is one long random-looking word (a W&B key is 40 hex characters).
_RANDOM_WORD = re.compile(r"^[A-Za-z0-9_\-+/=.]{32,}$")


def secret_key(key: str) -> bool:
    last = str(key).rsplit("/", 1)[-1]
    return bool(_SECRET_KEY.search(last)) and not last.lower().endswith("_env")


def looks_like_credential(value: str) -> bool:
    """Whether a whole value is one credential-like word (inside longer text, use
    :func:`scrub_text`, which masks only the credential)."""
    if _KNOWN.fullmatch(value):
        return True
    if not _RANDOM_WORD.match(value) or "/" in value.strip("/"):
        return False  # paths and run ids have slashes
    letters = sum(c.isalpha() for c in value)
    digits = sum(c.isdigit() for c in value)
    return letters >= 8 and digits >= 4


def scrub_text(text: str) -> str:
    """``text`` with credential-shaped substrings masked (for messages and answers)."""
    return _URL_CREDENTIALS.sub(MASK, _KNOWN.sub(MASK, text))


def scrub(data: Any, key: str = "") -> Any:
    """A copy of ``data`` (JSON-like) with secrets masked."""
    if isinstance(data, Mapping):
        return {k: scrub(v, str(k)) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [scrub(v, key) for v in data]
    if key and secret_key(key) and data not in (None, "", False):
        return MASK
    if isinstance(data, str):
        if not _HASH_KEY.search(key) and looks_like_credential(data):
            return MASK
        return scrub_text(data)
    return data


def argv_has_secret(argv: list[str]) -> bool:
    """Whether a command line carries a secret (``model.api_key=…`` or a key-shaped value):
    W&B records the command line with its system metadata."""
    for arg in argv:
        name, _, value = arg.partition("=")
        if value and secret_key(name.lstrip("+~-")):
            return True
        if scrub(value or arg, name if value else "") != (value or arg):
            return True
    return False
