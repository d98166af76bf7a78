"""An event loop that lives in a daemon thread, for engines that talk HTTP from sync code.

Opening an HTTP client (and an event loop) for every `generate()` call throws away the
connections it made: each call pays the TCP (and TLS) set-up again for every request in
flight. A `LoopThread` keeps one loop running for an engine's whole life, so the client
created on it keeps its connections from one call to the next. Synchronous callers block on
`run()`; async callers `await arun()`, which does not block their own loop.

After a fork the child has the parent's objects but not its threads: `alive()` is False there
and the owner starts a new `LoopThread`; it keeps the inherited one referenced and never closes
it, since closing the parent's sockets from the child would disturb the parent's loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import threading
from collections.abc import Awaitable, Callable
from typing import Any


class LoopThread:
    """One asyncio loop in one daemon thread. `on_close` (a coroutine function) runs on the
    loop before it stops, e.g. to close the HTTP client that lives on it."""

    def __init__(self, name: str, on_close: Callable[[], Awaitable[Any]] | None = None):
        self.pid = os.getpid()
        self.on_close = on_close
        self.loop = asyncio.new_event_loop()
        self._closed = False
        self.thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_forever()
        finally:
            self.loop.close()

    def alive(self) -> bool:
        """Usable from this process: not closed, and not a copy inherited through fork."""
        return not self._closed and self.pid == os.getpid() and self.thread.is_alive()

    def _submit(self, coro) -> concurrent.futures.Future:
        if threading.current_thread() is self.thread:
            coro.close()
            raise RuntimeError(
                "a blocking engine call was made from the engine's own event loop; "
                "await engine.agenerate(...) there instead"
            )
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def run(self, coro):
        """Run `coro` on the loop and wait for its result. Works inside a running loop too
        (a Jupyter cell), which then waits, as any blocking call makes it."""
        future = self._submit(coro)
        try:
            return future.result()
        except BaseException:
            # Ctrl-C (or any error here) stops the work on the loop instead of leaving it running.
            future.cancel()
            raise

    async def arun(self, coro):
        """Run `coro` on the loop from another loop; cancelling the awaiting task cancels it."""
        return await asyncio.wrap_future(self._submit(coro))

    def close(self, timeout: float = 10.0) -> None:
        """Run `on_close`, stop the loop and join the thread. A copy inherited through fork is
        only marked closed: its connections belong to the parent."""
        if self._closed:
            return
        self._closed = True
        if self.pid != os.getpid() or not self.thread.is_alive():
            return
        if threading.current_thread() is self.thread:
            # The finalizer ran on the loop itself (the engine freed by a callback there): it
            # cannot wait for its own loop, so it only asks the loop to stop.
            self.loop.call_soon(self.loop.stop)
            return
        if self.on_close is not None:
            try:
                asyncio.run_coroutine_threadsafe(self.on_close(), self.loop).result(timeout)
            except Exception:  # closing is best effort: the process may be exiting
                pass
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout)
