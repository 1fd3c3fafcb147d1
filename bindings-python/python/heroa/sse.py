"""Server-sent events: the core's WHATWG-conformant ``text/event-stream`` decoder,
and the agent-loop assembler that turns an agent stream (``chat.completion`` /
``tool.completion`` objects, ``event: done`` / ``[DONE]``) into messages.

Feed bytes exactly as they arrive — chunks may split lines, CRLFs and UTF-8
sequences anywhere::

    decoder = heroa.sse.Decoder()
    for chunk in response.iter_content():
        for event in decoder.feed(chunk):
            print(event.event, event.id, event.data)
    decoder.finish()
"""

from __future__ import annotations

import json
from typing import Any, Dict, List, NamedTuple, Optional, Union

from . import _native
from .errors import AgentStreamError

__all__ = ["Decoder", "Event", "AgentLoop", "AgentStreamError"]

Chunk = Union[bytes, bytearray, memoryview, str]


def _bytes(chunk: Chunk) -> bytes:
    return chunk.encode("utf-8") if isinstance(chunk, str) else bytes(chunk)


class Event(NamedTuple):
    """One dispatched event: its type (``message`` by default), the data lines
    joined with LF, the last event id at dispatch, and a ``retry`` (ms) seen while
    it was being built."""

    event: str
    data: str
    id: str
    retry: Optional[int]

    def json(self) -> Any:
        """``data`` parsed as JSON."""
        return json.loads(self.data)


class Decoder:
    """Incremental event-stream decoder (resume with ``last_event_id``)."""

    __slots__ = ("_native",)

    def __init__(self, last_event_id: Optional[str] = None) -> None:
        self._native = _native.SseDecoder(last_event_id)

    def feed(self, chunk: Chunk) -> List[Event]:
        """The events ``chunk`` completed."""
        return [Event(*t) for t in self._native.feed(_bytes(chunk))]

    def finish(self) -> None:
        """End of stream: an unfinished event is discarded."""
        self._native.finish()

    @property
    def last_event_id(self) -> str:
        """What to send as ``Last-Event-ID`` when reconnecting."""
        return self._native.last_event_id

    @property
    def retry(self) -> Optional[int]:
        """The server's reconnection time in ms, if it sent one."""
        return self._native.retry

    @property
    def comments(self) -> int:
        """Comment lines seen (keep-alives)."""
        return self._native.comments


class AgentLoop:
    """Assembles an agent stream into messages (dicts with ``type``:
    ``assistant`` (``content``, ``tool_calls``, ``finish_reason``, ``usage``),
    ``tool`` (``tool_call_id``, ``content``), ``done``, or ``other`` (``event``,
    ``data``, ``json``)). Raises :class:`AgentStreamError` for an event that does
    not fit; ``finish()`` raises it if the stream ended before ``done``."""

    __slots__ = ("_native",)

    def __init__(self) -> None:
        self._native = _native.AgentLoop()

    def feed(self, chunk: Chunk) -> List[Dict[str, Any]]:
        """Messages completed by ``chunk``."""
        out: List[Dict[str, Any]] = json.loads(self._native.feed(_bytes(chunk)))
        return out

    def finish(self) -> List[Dict[str, Any]]:
        """Ends the stream; the remaining messages."""
        out: List[Dict[str, Any]] = json.loads(self._native.finish())
        return out

    @property
    def is_done(self) -> bool:
        """Whether the done signal was seen."""
        return self._native.is_done
