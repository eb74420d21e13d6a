"""``prompts=original prompts.source_dir=PATH``: the prompt texts of the original code, read at
run time from a user's own checkout of MAS-TTS, so a reproduction can use the exact wording
without this project shipping it.

The original keeps one prompt set per benchmark in
``agentverse/tasks/tasksolving/<task>/m1-32b/config.yaml`` (``prompts: <role>_prepend_prompt``,
the system message, and ``<role>_append_prompt``, the user message, as ``string.Template`` text
with ``${task_description}`` and friends). They are mapped onto this project's prompt schema
(conf/prompts/default.yaml, ``str.format`` fields): the original's prepend and append prompts
become the roles' ``system`` and ``user`` / ``memory`` templates; everything the original has
no counterpart for (the stateless ablation's templates, texts, the retry message) stays from
the prompt set the node extends.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import yaml

from harness.errors import ConfigError

#: this project's benchmark → the original's task folder
TASK_DIRS = {
    "math500": "math500",
    "aime2024": "aime2024",
    "aime2025": "aime2024",
    "gpqa_diamond": "gpqa_diamond",
    "commongen_hard": "commongen",
    "humaneval": "humaneval",
    "humaneval_plus": "humaneval",
    "mbpp_sanitized": "mbpp_sanitized",
    "mbpp_plus": "mbpp_sanitized",
}
CONFIG = "agentverse/tasks/tasksolving/{task}/m1-32b/config.yaml"
#: the original's template variables → this project's fields
FIELDS = {
    "task_description": "task",
    "advice": "advice",
    "solution": "solution",
    "current_resources": "resources",
    "cnt_critic_agents": "n",
    "role_description": "role",
    "all_role_description": "experts",
    "result": "test_result",
    "former_solution": "solution",
}
#: variables this harness fills with a fixed text (the executor's file path names a model)
LITERALS = {"model": "solution"}
#: the CEO reads the evaluator's advice as its feedback
CEO_FIELDS = {**FIELDS, "advice": "feedback"}
#: (role, part) ← the original's prompt key; ``memory`` parts get the chat history first
PARTS = {
    ("ceo", "system"): "ceo_prepend_prompt",
    ("ceo", "user"): "ceo_append_prompt",
    ("recruiter", "system"): "role_assigner_prepend_prompt",
    ("recruiter", "user"): "role_assigner_append_prompt",
    ("solver", "system"): "solver_prepend_prompt",
    ("solver", "memory"): "solver_append_prompt",
    ("critic", "system"): "critic_prepend_prompt",
    ("critic", "memory"): "critic_append_prompt",
    ("executor", "system"): "executor_prepend_prompt",
    ("executor", "user"): "executor_append_prompt",
    ("evaluator", "system"): "evaluator_prepend_prompt",
    ("evaluator", "user"): "evaluator_append_prompt",
}


def resolve_prompt_set(prompts: dict[str, Any], benchmark: str) -> dict[str, Any]:
    """``prompts`` itself, or, when it says ``source: original``, the set with the original's
    texts for ``benchmark`` read from ``source_dir``. Errors are one-line ConfigErrors."""
    if prompts.get("source") != "original":
        return prompts
    source = prompts.get("source_dir")
    if not source:
        raise ConfigError("prompts=original needs prompts.source_dir=PATH (a MAS-TTS checkout)")
    task = TASK_DIRS.get(benchmark)
    if task is None:
        raise ConfigError(f"prompts=original: the original has no prompt set for {benchmark}")
    path = Path(str(source)).expanduser() / CONFIG.format(task=task)
    if not path.is_file():
        raise ConfigError(
            f"prompts.source_dir={source} is not a MAS-TTS checkout (no {CONFIG.format(task=task)})"
        )
    try:
        original = (yaml.safe_load(path.read_text()) or {}).get("prompts") or {}
    except (yaml.YAMLError, AttributeError) as exc:
        raise ConfigError(f"{path} is not the original's task config: {exc}") from exc
    out = copy.deepcopy(prompts)
    for (role, part), key in PARTS.items():
        if key not in original:
            continue
        fields = CEO_FIELDS if role == "ceo" else FIELDS
        text = convert(str(original[key]), f"{path}: prompts.{key}", fields)
        if part == "memory":
            out.setdefault(role, {})["memory"] = "{history}" + text
        else:
            out.setdefault(role, {})[part] = text
        if role in out and isinstance(out[role].get("code"), dict):
            out[role].pop("code")  # the original's own per-benchmark text wins
    # the original's resources line and its texts for a missing input
    out.setdefault("ceo", {})["resources_first"] = "No resources yet."
    out["ceo"]["resources"] = "recruit_number: {agents}, maximum_tokens: {budget}"
    return out


def convert(template: str, where: str, fields: dict[str, str] = FIELDS) -> str:
    """A ``string.Template`` text as a ``str.format`` template: braces escaped, ``${name}``
    mapped to this project's field."""
    escaped = template.replace("{", "{{").replace("}", "}}")

    def field(m: re.Match[str]) -> str:
        name = m.group(1)
        if name in LITERALS:
            return LITERALS[name]
        if name not in fields:
            raise ConfigError(f"{where} uses ${{{name}}}, which this harness does not fill")
        return "{" + fields[name] + "}"

    return re.sub(r"\$\{\{(\w+)\}\}", field, escaped)
