"""Pages of the API's lists.

Every list (agents, runs, vault entries, policies, approvals, deliveries, the inbox,
deployments) answers one page — at most ``limit`` items (default 100, at most 1000),
oldest first — and a ``next_cursor`` where the next page starts. These classes walk
them lazily, as openai-python's pages do::

    for run in client.runs.list(agent_id=agent.id):   # every run, page by page
        ...
    page = client.runs.list(limit=50)                  # the first page only
    page.items, page.next_cursor, page.has_next_page()
    for page in page.iter_pages(): ...

    async for run in aclient.runs.list():              # the same, lazily, in asyncio
        ...
    page = await aclient.runs.list(limit=50)
"""

from __future__ import annotations

from typing import (
    Any,
    AsyncIterator,
    Awaitable,
    Callable,
    Generator,
    Generic,
    Iterator,
    List,
    Optional,
    TypeVar,
)

__all__ = ["SyncPage", "AsyncPage", "AsyncPaginator"]

T = TypeVar("T")

#: Fetches the page that starts at a cursor (``None``: the first).
Fetch = Callable[[Optional[str]], "SyncPage[T]"]
AsyncFetch = Callable[[Optional[str]], Awaitable["AsyncPage[T]"]]


class SyncPage(Generic[T]):
    """One page of a list. Iterating it yields every item of this page and of every
    page after it, fetching each one when it is reached."""

    __slots__ = ("items", "next_cursor", "_fetch")

    def __init__(self, items: List[T], next_cursor: Optional[str], fetch: Fetch[T]) -> None:
        #: This page's items, oldest first.
        self.items: List[T] = items
        #: Where the next page starts; ``None`` on the last page.
        self.next_cursor: Optional[str] = next_cursor
        self._fetch = fetch

    def has_next_page(self) -> bool:
        """Whether another page follows."""
        return self.next_cursor is not None

    def next_page(self) -> "SyncPage[T]":
        """The page after this one (``StopIteration`` on the last page)."""
        if self.next_cursor is None:
            raise StopIteration("this is the last page")
        return self._fetch(self.next_cursor)

    def iter_pages(self) -> Iterator["SyncPage[T]"]:
        """This page and every page after it."""
        page: SyncPage[T] = self
        while True:
            yield page
            if page.next_cursor is None:
                return
            page = page._fetch(page.next_cursor)

    def __iter__(self) -> Iterator[T]:
        for page in self.iter_pages():
            yield from page.items

    def __repr__(self) -> str:
        return f"SyncPage(items={len(self.items)}, next_cursor={self.next_cursor!r})"


class AsyncPage(Generic[T]):
    """One page of a list in asyncio. ``async for`` over it yields every item of this
    page and of every page after it, fetching each one when it is reached."""

    __slots__ = ("items", "next_cursor", "_fetch")

    def __init__(self, items: List[T], next_cursor: Optional[str], fetch: AsyncFetch[T]) -> None:
        self.items: List[T] = items
        self.next_cursor: Optional[str] = next_cursor
        self._fetch = fetch

    def has_next_page(self) -> bool:
        """Whether another page follows."""
        return self.next_cursor is not None

    async def next_page(self) -> "AsyncPage[T]":
        """The page after this one (``StopAsyncIteration`` on the last page)."""
        if self.next_cursor is None:
            raise StopAsyncIteration("this is the last page")
        return await self._fetch(self.next_cursor)

    async def iter_pages(self) -> AsyncIterator["AsyncPage[T]"]:
        """This page and every page after it."""
        page: AsyncPage[T] = self
        while True:
            yield page
            if page.next_cursor is None:
                return
            page = await page._fetch(page.next_cursor)

    async def __aiter__(self) -> AsyncIterator[T]:
        async for page in self.iter_pages():
            for item in page.items:
                yield item

    def __repr__(self) -> str:
        return f"AsyncPage(items={len(self.items)}, next_cursor={self.next_cursor!r})"


class AsyncPaginator(Generic[T]):
    """What an async ``list`` returns before anything is fetched: ``await`` it for
    the first page, or ``async for`` over it for every item."""

    __slots__ = ("_fetch", "_cursor")

    def __init__(self, fetch: AsyncFetch[T], cursor: Optional[str] = None) -> None:
        self._fetch = fetch
        self._cursor = cursor

    def __await__(self) -> Generator[Any, None, AsyncPage[T]]:
        return self._fetch(self._cursor).__await__()

    async def __aiter__(self) -> AsyncIterator[T]:
        page = await self._fetch(self._cursor)
        async for item in page:
            yield item
