"""Render the configured prompt templates (conf/prompts/*.yaml) for one problem.

Every string of a prompt set is a ``str.format`` template (literal braces are written ``{{ }}``).
A role's template may be specialised per domain: ``<role>.<domain>.<part>`` wins over
``<role>.<part>``. The ``domain.<domain>`` section holds per-domain words (``noun``, …) that
every template may use as fields, next to ``{task}`` and ``{format}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness.errors import ConfigError
from harness.problem import Problem


class Prompts:
    def __init__(self, prompts: Mapping[str, Any]) -> None:
        # a plain mapping (RunSettings.prompts): rendering runs for every agent call
        if not isinstance(prompts, Mapping):
            raise TypeError(f"a prompt set is a mapping, got {type(prompts).__name__}")
        self.templates = prompts
        self._fields: dict[str, dict[str, str]] = {}

    def get(self, *path: str) -> str:
        node = self.templates
        for key in path:
            try:
                node = node[key]
            except (KeyError, TypeError) as exc:
                raise ConfigError(f"prompt set has no 'prompts.{'.'.join(path)}'") from exc
        return str(node)

    def has(self, *path: str) -> bool:
        try:
            self.get(*path)
        except ConfigError:
            return False
        return True

    def format_for(self, problem: Problem) -> str:
        return self.fields_for(problem.domain)["format"]

    def fields_for(self, domain: str) -> dict[str, str]:
        """``{format}`` and the ``domain.<domain>`` words, with their braces unescaped."""
        if domain not in self._fields:
            fields = {"format": self._unescape(self.get("format", domain), "format", domain)}
            section = self.templates.get("domain", {}).get(domain, {})
            for key, value in (section or {}).items():
                fields[key] = self._unescape(str(value), "domain", domain, key)
            self._fields[domain] = fields
        return self._fields[domain]

    def pick(self, role: str, part: str, domain: str) -> str:
        """The template ``<role>.<domain>.<part>`` if the set has one, else ``<role>.<part>``."""
        if self.has(role, domain, part):
            return self.get(role, domain, part)
        return self.get(role, part)

    def render(self, *path: str, problem: Problem, **fields: Any) -> str:
        return self._format(self.get(*path), path, problem, fields)

    def render_role(self, agent: str, part: str, problem: Problem, /, **fields: Any) -> str:
        """``<agent>.<part>`` for the problem's domain; positional-only, so ``role`` (the expert
        an agent plays) stays free as a template field."""
        return self._format(self.pick(agent, part, problem.domain), (agent, part), problem, fields)

    def _format(
        self, template: str, path: tuple[str, ...], problem: Problem, fields: dict[str, Any]
    ) -> str:
        try:
            values = {**self.fields_for(problem.domain), "task": problem.prompt, **fields}
            return template.format(**values)
        except (KeyError, IndexError, ValueError) as exc:
            raise ConfigError(
                f"prompts.{'.'.join(path)} uses an unknown field or a stray brace ({exc}); "
                f"write literal braces as {{{{ }}}}"
            ) from exc

    @staticmethod
    def _unescape(template: str, *path: str) -> str:
        try:
            return template.format()
        except (KeyError, IndexError, ValueError) as exc:
            raise ConfigError(
                f"prompts.{'.'.join(path)} may not use fields ({exc}); "
                f"write literal braces as {{{{ }}}}"
            ) from exc
