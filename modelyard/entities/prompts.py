"""Prompts as MLflow 3.17 keeps them in the model registry, and the template they hold.

A prompt is a registered model tagged ``mlflow.prompt.is_prompt=true``; each prompt version is a
model version whose tags carry the template (``mlflow.prompt.text``: the text, or a chat's
messages as JSON), its type (``_mlflow_prompt_type``: ``text`` or ``chat``), an optional response
format and model configuration (JSON), and whose description is the commit message. The official
client and ours read and write exactly these tags, so either sees the other's prompts.

>>> pv = PromptVersion("qa", 1, "Answer {{ question }}")
>>> pv.variables
['question']
>>> pv.format(question="why?")
'Answer why?'
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Union

IS_PROMPT_TAG = "mlflow.prompt.is_prompt"
TEXT_TAG = "mlflow.prompt.text"
TYPE_TAG = "_mlflow_prompt_type"
RESPONSE_FORMAT_TAG = "_mlflow_prompt_response_format"
MODEL_CONFIG_TAG = "_mlflow_prompt_model_config"
EXPERIMENT_IDS_TAG = "_mlflow_experiment_ids"
LINKED_PROMPTS_TAG = "mlflow.linkedPrompts"  # on a trace or run: JSON list of {"name", "version"}
TEXT, CHAT = "text", "chat"
# The source a prompt version is created with: MLflow's placeholders (a prompt has no artifacts).
PROMPT_SOURCES = frozenset({"dummy-source", "prompt-template"})
PROMPT_SOURCE = "prompt-template"
INTERNAL_TAGS = frozenset({IS_PROMPT_TAG, TEXT_TAG, TYPE_TAG, RESPONSE_FORMAT_TAG, MODEL_CONFIG_TAG})

_VARIABLE = re.compile(r"\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*(?:\.[a-zA-Z_][a-zA-Z0-9_]*)*)\s*\}\}")

Template = Union[str, list[dict[str, Any]]]


def is_prompt(tags: dict[str, str]) -> bool:
    return str(tags.get(IS_PROMPT_TAG, "false")).lower() == "true"


def template_tags(template: Template) -> dict[str, str]:
    """The version tags that hold ``template`` (text, or chat messages as JSON)."""
    if isinstance(template, str):
        return {IS_PROMPT_TAG: "true", TYPE_TAG: TEXT, TEXT_TAG: template}
    return {IS_PROMPT_TAG: "true", TYPE_TAG: CHAT, TEXT_TAG: json.dumps(template)}


def _fill(text: str, values: dict[str, Any]) -> str:
    return _VARIABLE.sub(lambda m: str(values[m.group(1)]) if m.group(1) in values else m.group(0), text)


@dataclass
class PromptVersion:
    """One version of a prompt: its template, commit message, tags and the aliases that point at it."""

    name: str
    version: int
    template: Template
    commit_message: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    aliases: list[str] = field(default_factory=list)
    creation_timestamp: int | None = None
    response_format: dict[str, Any] | None = None
    model_config: dict[str, Any] | None = None

    @property
    def uri(self) -> str:
        return f"prompts:/{self.name}/{self.version}"

    @property
    def is_text(self) -> bool:
        return isinstance(self.template, str)

    @property
    def variables(self) -> list[str]:
        """The template's ``{{ variables }}``, in order of first use."""
        texts = [self.template] if isinstance(self.template, str) else [
            str(m.get("content", "")) for m in self.template]
        seen: dict[str, None] = {}
        for text in texts:
            for m in _VARIABLE.finditer(text):
                seen.setdefault(m.group(1), None)
        return list(seen)

    def format(self, **values: Any) -> Template:
        """The template with ``values`` filled in (variables without a value are left as written)."""
        if isinstance(self.template, str):
            return _fill(self.template, values)
        return [{**m, "content": _fill(str(m.get("content", "")), values)} for m in self.template]

    @classmethod
    def from_model_version(cls, mv: Any) -> PromptVersion:
        """The prompt version a registry :class:`~modelyard.entities.registry.ModelVersion` holds."""
        tags = dict(mv.tags)
        text = tags.get(TEXT_TAG, "")
        template: Template = json.loads(text) if tags.get(TYPE_TAG) == CHAT else text
        return cls(
            name=mv.name, version=int(mv.version), template=template, commit_message=mv.description or None,
            tags={k: v for k, v in tags.items() if k not in INTERNAL_TAGS}, aliases=list(mv.aliases),
            creation_timestamp=mv.creation_timestamp,
            response_format=json.loads(tags[RESPONSE_FORMAT_TAG]) if RESPONSE_FORMAT_TAG in tags else None,
            model_config=json.loads(tags[MODEL_CONFIG_TAG]) if MODEL_CONFIG_TAG in tags else None,
        )

    def diff(self, other: PromptVersion) -> list[str]:
        """A unified diff from this version's template to ``other``'s (chat messages one per line)."""
        import difflib

        def lines(pv: PromptVersion) -> list[str]:
            if isinstance(pv.template, str):
                return pv.template.splitlines()
            return [f"[{m.get('role', '')}] {m.get('content', '')}" for m in pv.template]

        return list(difflib.unified_diff(lines(self), lines(other), f"{self.name}/{self.version}",
                                         f"{other.name}/{other.version}", lineterm=""))
