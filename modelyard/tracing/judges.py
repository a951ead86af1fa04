"""LLM judges: scorers that ask a model behind any OpenAI-compatible endpoint (``/v1/chat/completions``).

The judge sends the instructions and the row (inputs, outputs, expectations) as a chat and
reads back ``{"score": ..., "rationale": "..."}`` as JSON, or a bare ``yes``/``no``. Its answers
are cached by :func:`~modelyard.tracing.evaluate` like any scorer's: the cache identity is the
judge's name, instructions, model and endpoint, so a rerun asks the model nothing::

    judge = my.tracing.make_judge(
        "relevance", "Is the answer relevant to the question? Answer yes or no.",
        model="gpt-4o-mini", base_url="http://127.0.0.1:8000/v1", api_key=os.environ.get("OPENAI_API_KEY"))
    my.tracing.evaluate(data, scorers=[judge], predict_fn=answer)

Each question to the model is a trace of its own (a ``CHAT_MODEL`` span named ``judge/<name>``)
carrying the tokens the endpoint reports (``usage``: prompt, completion and cached prompt tokens)
and the model, so the price table prices it; inside :func:`~modelyard.tracing.evaluate` the trace
belongs to the evaluation's run, so ``Client.run_usage(run_id)`` counts the judges' cost. The
verdict's :attr:`Score.usage` and :attr:`Score.trace_id` say the same per row.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from ..errors import InvalidParameterValue
from .evaluate import Score
from .tracer import start_span

SYSTEM = ("You are an evaluation judge. Read the instructions and the example, then answer with a JSON object"
          ' {"score": <yes|no or a number>, "rationale": "<one sentence>"} and nothing else.')


class Judge:
    """A scorer that asks an OpenAI-compatible chat model (see the module's doc)."""

    def __init__(self, name: str, instructions: str, *, model: str, base_url: str, api_key: str | None = None,
                 temperature: float = 0.0, timeout: float = 60.0) -> None:
        if not name or not instructions:
            raise InvalidParameterValue("A judge needs a name and instructions.")
        self.name = name
        self.instructions = instructions
        self.model = model
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.temperature = temperature
        self.timeout = timeout
        self.cache_identity = json.dumps(["judge", name, instructions, model, self.base_url, temperature])

    def messages(self, inputs: Any, outputs: Any, expectations: Any) -> list[dict[str, str]]:
        example = json.dumps({"inputs": inputs, "outputs": outputs, "expectations": expectations}, default=str)
        return [{"role": "system", "content": SYSTEM},
                {"role": "user", "content": f"Instructions: {self.instructions}\n\nExample: {example}"}]

    def __call__(self, inputs: Any, outputs: Any, expectations: Any) -> Score:
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        body = {"model": self.model, "temperature": self.temperature,
                "messages": self.messages(inputs, outputs, expectations)}
        with start_span(f"judge/{self.name}", "CHAT_MODEL") as span:
            span.set_inputs(body)
            response = httpx.post(f"{self.base_url}/chat/completions", json=body, headers=headers,
                                  timeout=self.timeout)
            if response.status_code != 200:
                raise RuntimeError(f"Judge '{self.name}': {self.base_url} answered {response.status_code}: "
                                   f"{response.text[:300]}")
            answer = response.json()
            text = str(answer["choices"][0]["message"]["content"]).strip()
            span.set_outputs(text)
            usage = token_usage(answer, self.model)
            if usage is not None:
                span.set_attribute("mlflow.llm.model", usage["model"])
                span.set_attribute("mlflow.chat.tokenUsage", {
                    "input_tokens": usage["input_tokens"], "output_tokens": usage["output_tokens"],
                    "cache_read_input_tokens": usage["cached_input_tokens"]})
            score = parse_verdict(text)
            score.usage = usage
            score.trace_id = span.trace_id
        return score


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def token_usage(answer: Any, model: str) -> dict[str, Any] | None:
    """The tokens an OpenAI-compatible answer reports (``usage``), with the model that answered; None without."""
    usage = answer.get("usage") if isinstance(answer, dict) else None
    if not isinstance(usage, dict):
        return None
    details = usage.get("prompt_tokens_details")
    cached = details.get("cached_tokens") if isinstance(details, dict) else None
    return {"model": str(answer.get("model") or model), "input_tokens": _count(usage.get("prompt_tokens")),
            "output_tokens": _count(usage.get("completion_tokens")), "cached_input_tokens": _count(cached)}


def parse_verdict(text: str) -> Score:
    """A judge's answer: ``{"score", "rationale"}`` JSON (possibly in a code fence) or a bare word or number."""
    body = text.strip().removeprefix("```json").removeprefix("```").removesuffix("```").strip()
    try:
        found = json.loads(body)
    except ValueError:
        found = None
    if isinstance(found, dict) and "score" in found:
        return Score(found["score"], found.get("rationale"))
    word = body.split()[0].strip(".,:;!").lower() if body else ""
    try:
        return Score(float(word), body)
    except ValueError:
        return Score(word, body)


def make_judge(name: str, instructions: str, *, model: str, base_url: str, api_key: str | None = None,
               temperature: float = 0.0) -> Judge:
    """A judge scorer; see :class:`Judge`."""
    return Judge(name, instructions, model=model, base_url=base_url, api_key=api_key, temperature=temperature)
