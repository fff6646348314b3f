"""A worker thread with a one-slot mailbox: when inference is slower than the input, the newest item
replaces the pending one (counted as dropped), so the queue never grows and latency stays bounded by
one inference plus one waiting item."""
from __future__ import annotations

import logging
import threading
import traceback
from typing import Callable, Generic, Optional, TypeVar

T = TypeVar('T')


class LatestOnlyWorker(Generic[T]):
    def __init__(self, handle: Callable[[T], None], name: str = 'perception-worker',
                 logger: Optional[logging.Logger] = None):
        self._handle = handle
        self._name = name
        self._log = logger or logging.getLogger('perception.ros')
        self._cond = threading.Condition()
        self._pending: Optional[T] = None
        self._has_pending = False
        self._stop = False
        self._busy = False
        self._thread: Optional[threading.Thread] = None
        self.dropped = 0      # items replaced before they were handled
        self.handled = 0

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self.running:
            return
        self._stop = False
        self._thread = threading.Thread(target=self._loop, name=self._name, daemon=True)
        self._thread.start()

    def submit(self, item: T) -> bool:
        """Hand over ``item``; True if it replaced one that was still waiting (that one is dropped)."""
        with self._cond:
            replaced = self._has_pending
            if replaced:
                self.dropped += 1
            self._pending, self._has_pending = item, True
            self._cond.notify()
            return replaced

    def idle(self) -> bool:
        with self._cond:
            return not self._has_pending and not self._busy

    def stop(self, timeout: float = 5.0) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._has_pending and not self._stop:
                    self._cond.wait()
                if self._stop:
                    return
                item, self._pending, self._has_pending = self._pending, None, False
                self._busy = True
            try:
                self._handle(item)
            except Exception:  # keep the node alive; the handler is expected to log its own errors
                # error() + traceback text, not exception(): rclpy's logger has no exception()
                self._log.error(f'{self._name}: unhandled error while processing an item:\n'
                                f'{traceback.format_exc()}')
            finally:
                with self._cond:
                    self._busy = False
                    self.handled += 1
