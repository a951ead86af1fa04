"""One ``send`` wrapper per request, shared by the front door's middleware.

The metrics (the answer's status), the guard (its headers on every answer; whether the answer was
complete) and the error middleware (whether an answer began) each used to wrap ``send`` in a closure
of their own, so every message of every answer went down one wrapper per layer. Each of them now
asks :meth:`Answer.around` for the request's :class:`Answer`: the outermost makes it, the inner ones
find it (the ``send`` they were given is it) and set or read its fields. A middleware that wraps
``send`` itself in between simply gets an :class:`Answer` of its own below it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from starlette.types import Message, Send

Header = tuple[bytes, bytes]


class Headers(NamedTuple):
    """Headers added to answers, with their names (lower case) worked out once."""

    pairs: tuple[Header, ...]
    names: frozenset[bytes]

    @classmethod
    def of(cls, pairs: Sequence[Header]) -> Headers:
        return cls(tuple(pairs), frozenset(name.lower() for name, _ in pairs))


class Answer:
    """The ``send`` of one request: records what passes (``status``, ``complete``) and adds ``extra``
    (those of the names the answer does not set itself) to the answer's start."""

    __slots__ = ("complete", "extra", "send", "status")

    def __init__(self, send: Send) -> None:
        self.send = send
        self.status = 0  # the answer's status once it began, else 0
        self.complete = False  # its last body message went out
        self.extra: Headers | None = None

    @classmethod
    def around(cls, send: Send) -> Answer:
        """``send`` itself if it is an :class:`Answer`, else a new one around it."""
        return send if type(send) is cls else cls(send)

    async def __call__(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            self.status = message["status"]
            extra = self.extra
            if extra is not None:
                given = message.get("headers", ())
                names = extra.names
                for name, _ in given:
                    if name.lower() in names:  # the answer sets one itself: add only the others
                        taken = {n.lower() for n, _ in given}
                        message["headers"] = [*given, *(h for h in extra.pairs if h[0] not in taken)]
                        break
                else:
                    message["headers"] = [*given, *extra.pairs]
        elif kind == "http.response.body" and not message.get("more_body", False):
            self.complete = True
        await self.send(message)
