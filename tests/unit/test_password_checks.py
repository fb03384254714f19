"""The password-check thread: lowest priority, one check at a time, a bounded queue."""

import os
import threading
import time

import pytest

from takedown.identity import hash_password
from takedown.server.password_checks import PasswordChecks
from takedown.services.errors import Busy

STORED = hash_password("correct horse battery")


def test_checks_answer_like_argon2():
    checks = PasswordChecks()
    try:
        assert checks.verify(STORED, "correct horse battery")
        assert not checks.verify(STORED, "wrong horse battery")
        assert not checks.verify("not a hash", "anything at all")
    finally:
        checks.shutdown()


@pytest.mark.skipif(not hasattr(os, "SCHED_IDLE"), reason="SCHED_IDLE is Linux's")
def test_the_check_thread_runs_only_on_idle_cpu():
    checks = PasswordChecks()
    try:
        policies = {}

        def record(_stored, _password):
            policies["check"] = os.sched_getscheduler(0)
            return True

        checks._pool.submit(record, "", "").result()
        assert policies["check"] == os.SCHED_IDLE
        assert os.sched_getscheduler(0) != os.SCHED_IDLE  # the caller keeps its priority
    finally:
        checks.shutdown()


def test_past_the_queue_a_login_is_refused_busy_at_once_without_a_check():
    checks = PasswordChecks(queue=2)
    release = threading.Event()
    checks._pool.submit(release.wait)  # the thread is busy
    answers: list[object] = []

    def login() -> None:
        try:
            answers.append(checks.verify(STORED, "correct horse battery"))
        except Busy as exc:
            answers.append(exc)

    waiting = [threading.Thread(target=login) for _ in range(2)]
    for thread in waiting:
        thread.start()
    deadline = time.monotonic() + 5
    while checks._waiting < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    started = time.monotonic()
    with pytest.raises(Busy) as busy:
        checks.verify(STORED, "correct horse battery")
    assert time.monotonic() - started < 0.1 and busy.value.retry_after > 0
    release.set()
    for thread in waiting:
        thread.join(10)
    assert answers == [True, True]
    checks.shutdown()
