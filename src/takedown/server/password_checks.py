"""Where a server checks passwords: one thread of its own, at the lowest CPU priority, with a
short queue.

An argon2 check is slow on purpose (about a quarter of a second of CPU, spread over the
hasher's lanes), and anyone who can reach the login page can ask for one. Run on the
request threads, a few failed logins a second would take the cores that report intake and
decisions need. So every check runs on one thread scheduled ``SCHED_IDLE`` on Linux (the
hasher's lane threads inherit it): it gets only the CPU that nothing else wants, and a report
never waits for a password. Under full load a login waits longer; past ``queue`` logins
waiting, the next one is answered ``Busy`` at once, without a check and without counting as
a failure. Where ``SCHED_IDLE`` is not to be had, the thread runs at the lowest ``nice``
it may set, or as it is.
"""

from __future__ import annotations

import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor

from takedown.identity import verify_password
from takedown.services.accounts import LOGIN_BUSY
from takedown.services.errors import Busy

log = logging.getLogger(__name__)


class PasswordChecks:
    """``verify(stored_hash, password)`` for ``services.accounts.LoginPolicy``: blocks its
    caller (a request thread) until the check thread has answered."""

    def __init__(self, *, queue: int = 16) -> None:
        self.queue = queue
        self._waiting = 0
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="takedown-password", initializer=_lowest_priority
        )

    def busy(self) -> bool:
        """Whether the next login would be refused ``Busy``: a login asks this before it reads
        anything, so a flood of them costs least where it is refused anyway."""
        return self._waiting >= self.queue

    def verify(self, stored_hash: str, password: str) -> bool:
        with self._lock:
            if self._waiting >= self.queue:
                raise Busy(LOGIN_BUSY, retry_after=2)
            self._waiting += 1
        try:
            return self._pool.submit(verify_password, stored_hash, password).result()
        finally:
            with self._lock:
                self._waiting -= 1

    def shutdown(self, wait: bool = False, cancel_futures: bool = True) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=cancel_futures)


def _lowest_priority() -> None:
    """Give the calling thread (and the threads it starts) only the CPU no one else wants."""
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))  # this thread, on Linux
        return
    except (AttributeError, OSError) as error:
        log.info("password checks run without SCHED_IDLE (%s)", error)
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
    except (AttributeError, OSError) as error:
        log.info("password checks run at normal priority (%s)", error)
