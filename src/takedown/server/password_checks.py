"""Where a server checks passwords: a child process of its own, at the lowest CPU priority,
one check at a time, with a short queue.

An argon2 check is slow on purpose (about a quarter of a second of CPU, spread over the
hasher's lanes, and 64 MiB of memory), and anyone who can reach the login page can ask for
one. Run on the request threads, a few failed logins a second would take the cores that
report intake and decisions need. So every check runs in one child process
(``server.password_worker``) scheduled ``SCHED_IDLE`` on Linux (the hasher's lane threads
inherit it): it gets only the CPU that nothing else wants.

A process, not a thread of the server's, because a check shares nothing with the server but
the core: its 64 MiB and its lane threads are mapped and unmapped in an address space of its
own, so the server never waits on a kernel lock that a descheduled check holds, nor on the
interpreter lock a check takes back between its calls. A report never waits for a password.

Under full load a login waits longer; past ``queue`` logins waiting, the next one is answered
``Busy`` at once, without a check and without counting as a failure. A login from a browser
the account trusts (``first``: it logged in to that account before, ``services.accounts``) is
not: it may wait beyond the queue, up to ``reserve`` more, and is checked before any
stranger's. So a flood of guesses from many addresses, which fills the queue, does not keep a
platform's own staff out of the console. The child starts with
the first check; one that dies (killed for memory, say) answers the check it had ``Busy`` and
is started again by the next. Where ``SCHED_IDLE`` is not to be had, the child runs at the
lowest ``nice`` it may set, or as it is, and says so on standard error.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import subprocess
import sys
import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from takedown.services.accounts import LOGIN_BUSY
from takedown.services.errors import Busy

log = logging.getLogger(__name__)


class PasswordChecks:
    """``verify(stored_hash, password)`` for ``services.accounts.LoginPolicy``: blocks its
    caller (a request thread) until the check process has answered."""

    def __init__(self, *, queue: int = 16, reserve: int = 8) -> None:
        self.queue = queue
        self.reserve = reserve
        self._waiting = 0
        self._lock = threading.Lock()
        # Checks waiting, trusted browsers' first; the pool's one thread takes the first of
        # them for each job handed to it (one job a check), so checks never interleave on
        # the child's pipe.
        self._trusted: deque[_Wanted] = deque()
        self._strangers: deque[_Wanted] = deque()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="takedown-password")
        self._child: subprocess.Popen[str] | None = None
        self._closed = False

    def busy(self) -> bool:
        """Whether the next login would be refused ``Busy``: a login asks this before it reads
        anything, so a flood of them costs least where it is refused anyway (a trusted
        browser's login goes on: see the module)."""
        return self._waiting >= self.queue

    def verify(self, stored_hash: str, password: str, *, first: bool = False) -> bool:
        """Whether ``password`` matches; ``first`` for a browser the account trusts."""
        wanted = _Wanted(stored_hash, password, Future())
        with self._lock:
            if self._waiting >= self.queue + (self.reserve if first else 0):
                raise Busy(LOGIN_BUSY, retry_after=2)
            self._waiting += 1
            (self._trusted if first else self._strangers).append(wanted)
        try:
            try:
                self._pool.submit(self._next)
            except RuntimeError:  # shut down: the server is stopping
                self._refuse_waiting()
            return wanted.answer.result()
        finally:
            with self._lock:
                self._waiting -= 1

    def _next(self) -> None:
        with self._lock:
            waiting = self._trusted or self._strangers
            if not waiting:  # answered Busy by a shutdown
                return
            wanted = waiting.popleft()
        try:
            wanted.answer.set_result(self._check(wanted.stored_hash, wanted.password))
        except BaseException as exc:  # handed to the login that waits, whatever it is
            wanted.answer.set_exception(exc)

    def _refuse_waiting(self) -> None:
        """Answer every check still waiting ``Busy`` (the server is stopping)."""
        with self._lock:
            waiting = [*self._trusted, *self._strangers]
            self._trusted.clear()
            self._strangers.clear()
        for wanted in waiting:
            wanted.answer.set_exception(Busy(LOGIN_BUSY, retry_after=2))

    def _check(self, stored_hash: str, password: str) -> bool:
        child = self._running_child()
        assert child.stdin is not None and child.stdout is not None
        try:
            child.stdin.write(json.dumps([stored_hash, password]) + "\n")
            child.stdin.flush()
            answer = child.stdout.readline()
        except (OSError, ValueError):  # its pipe broke, or was closed by shutdown
            answer = ""
        if answer not in ("1\n", "0\n"):
            log.warning("the password check process ended (exit status %s)", child.poll())
            self._stop_child()
            raise Busy(LOGIN_BUSY, retry_after=2)
        return answer == "1\n"

    def _running_child(self) -> subprocess.Popen[str]:
        if self._child is not None and self._child.poll() is not None:
            log.warning("the password check process ended (exit status %s)", self._child.poll())
            self._stop_child()
        if self._closed:
            raise Busy(LOGIN_BUSY, retry_after=2)  # the server is stopping
        if self._child is None:
            self._child = subprocess.Popen(
                [sys.executable, "-m", "takedown.server.password_worker"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                encoding="ascii",  # JSON escapes everything else
                bufsize=1,
                # It needs none of the server's settings, its secrets least of all.
                env={k: v for k, v in os.environ.items() if not k.startswith("TAKEDOWN_")},
            )
        return self._child

    def _stop_child(self) -> None:
        """End the child: at the end of its input, after the check it may be doing."""
        with self._lock:
            child, self._child = self._child, None
        if child is None:
            return
        if child.stdin is not None:
            with contextlib.suppress(OSError):
                child.stdin.close()  # it exits at end of input
        try:
            child.wait(timeout=2)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        if child.stdout is not None:
            child.stdout.close()

    def shutdown(self, wait: bool = False, cancel_futures: bool = True) -> None:
        """Stop taking checks and end the child (within about one check's time); the checks
        still waiting are answered ``Busy``."""
        self._closed = True
        self._pool.shutdown(wait=wait, cancel_futures=cancel_futures)
        if cancel_futures:
            self._refuse_waiting()
        self._stop_child()


@dataclass(frozen=True)
class _Wanted:
    stored_hash: str
    password: str
    answer: Future[bool]
