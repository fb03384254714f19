"""The password-check process: lowest priority, one check at a time, a bounded queue that a
browser the account trusts goes past and ahead in, and a child that dies costs one login a
retry."""

import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from argon2 import PasswordHasher

from takedown.identity import hash_password
from takedown.server.password_checks import PasswordChecks
from takedown.services.errors import Busy

STORED = hash_password("correct horse battery")


def test_checks_answer_like_argon2():
    odd = 'line\nbreak \u00e9t\u00e9 \U0001f600 "quoted" \\ [1, 2]'
    checks = PasswordChecks()
    try:
        assert checks.verify(STORED, "correct horse battery")
        assert not checks.verify(STORED, "wrong horse battery")
        assert not checks.verify("not a hash", "anything at all")
        assert checks.verify(hash_password(odd), odd)
        assert not checks.verify(hash_password(odd), odd.replace("\n", " "))
        assert not checks.verify(STORED, "lone \ud800 surrogate")  # no UTF-8 for it
        assert not checks.verify(STORED, "x" * 5000)
    finally:
        checks.shutdown(wait=True)


@pytest.mark.skipif(not hasattr(os, "SCHED_IDLE"), reason="SCHED_IDLE is Linux's")
def test_checks_run_in_a_process_of_their_own_only_on_idle_cpu(monkeypatch):
    monkeypatch.setenv("TAKEDOWN_SECRET_KEY", "server-secret-never-in-the-child")
    checks = PasswordChecks()
    try:
        assert checks._child is None  # nothing starts before the first login
        assert not checks.verify(STORED, "wrong horse battery")
        child = checks._child
        assert child is not None and child.pid != os.getpid()
        assert os.sched_getscheduler(child.pid) == os.SCHED_IDLE
        assert os.sched_getscheduler(0) != os.SCHED_IDLE  # the server keeps its priority
        with open(f"/proc/{child.pid}/environ", "rb") as environ:
            assert b"TAKEDOWN_" not in environ.read()  # none of the server's settings
    finally:
        checks.shutdown(wait=True)
    assert child.returncode == 0  # it ended at the end of its input


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="reads processes from /proc")
def test_a_check_whose_process_dies_is_busy_and_the_next_one_starts_it_again():
    slow = PasswordHasher(time_cost=200).hash("correct horse battery")  # seconds to check
    checks = PasswordChecks()
    try:
        assert checks.verify(STORED, "correct horse battery")
        first = checks._child
        assert first is not None
        idle = _cpu_ticks(first.pid)
        answers: list[object] = []
        waiting = threading.Thread(target=_login, args=(checks, slow, answers))
        waiting.start()
        # Until it is well into the slow check: killed before the check reached it, the next
        # child would do the whole check instead. At the lowest priority, on a machine the
        # rest of the suite keeps busy, that may take a while.
        deadline = time.monotonic() + 60
        while _cpu_ticks(first.pid) < idle + 10 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert _cpu_ticks(first.pid) >= idle + 10, "the check process got no CPU for a minute"
        os.kill(first.pid, signal.SIGKILL)  # killed for memory, say
        waiting.join(30)
        assert len(answers) == 1 and isinstance(answers[0], Busy)
        assert answers[0].retry_after > 0
        assert checks.verify(STORED, "correct horse battery")
        assert checks._child is not None and checks._child.pid != first.pid
        os.kill(checks._child.pid, signal.SIGKILL)  # dead between checks: started again
        checks._child.wait(10)
        assert checks.verify(STORED, "correct horse battery")
    finally:
        checks.shutdown(wait=True)


def _login(
    checks: PasswordChecks, stored: str, answers: list[object], *, first: bool = False
) -> None:
    """A login's check, its answer or its ``Busy`` appended to ``answers``."""
    try:
        answers.append(checks.verify(stored, "correct horse battery", first=first))
    except Busy as exc:
        answers.append(exc)


def _stat(pid: int) -> list[str]:
    """``/proc/PID/stat`` after the command's name: 0 the state, 11 and 12 the CPU ticks."""
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()


def _cpu_ticks(pid: int) -> int:
    fields = _stat(pid)
    return int(fields[11]) + int(fields[12])  # utime + stime, in clock ticks


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="reads processes from /proc")
def test_the_process_ends_when_the_server_does(tmp_path):
    """However the server ends (killed included), its check process sees the end of its input
    and exits: no process is left behind holding memory."""
    script = tmp_path / "server.py"
    script.write_text(
        "import sys\n"
        "from takedown.server.password_checks import PasswordChecks\n"
        "checks = PasswordChecks()\n"
        f"checks.verify({STORED!r}, 'wrong')\n"
        "print(checks._child.pid, flush=True)\n"
        "sys.stdin.read()\n"
    )
    with subprocess.Popen(
        [sys.executable, str(script)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as server:
        assert server.stdout is not None
        child = int(server.stdout.readline())
        assert _alive(child)
        server.kill()
    deadline = time.monotonic() + 10
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child)


def _alive(pid: int) -> bool:
    try:
        return _stat(pid)[0] != "Z"  # a zombie has ended
    except FileNotFoundError:
        return False


def test_past_the_queue_a_login_is_refused_busy_at_once_without_a_check():
    checks = PasswordChecks(queue=2)
    release = threading.Event()
    checks._pool.submit(release.wait)  # the thread is busy
    answers: list[object] = []
    waiting = [threading.Thread(target=_login, args=(checks, STORED, answers)) for _ in range(2)]
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
    checks.shutdown(wait=True)


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="reads processes from /proc")
def test_a_trusted_browsers_check_goes_past_a_full_queue_and_before_strangers():
    """Strangers' guesses fill the queue; a login from a browser the account trusts is still
    taken, up to the reserve, and checked before the guesses that waited longer."""
    checks = PasswordChecks(queue=2, reserve=1)
    checked: list[str] = []
    check = checks._check

    def recorded(stored_hash: str, password: str) -> bool:
        checked.append(password)
        return check(stored_hash, password)

    checks._check = recorded  # type: ignore[method-assign]
    release = threading.Event()
    checks._pool.submit(release.wait)  # the thread is busy
    answers: list[object] = []
    strangers = [
        threading.Thread(target=_guess, args=(checks, f"guess-{n}", answers)) for n in range(2)
    ]
    for thread in strangers:
        thread.start()
    _wait_for_waiting(checks, 2)
    assert checks.busy()
    with pytest.raises(Busy):
        checks.verify(STORED, "guess-2")  # a third stranger
    trusted = threading.Thread(
        target=_login, args=(checks, STORED, answers), kwargs={"first": True}
    )
    trusted.start()
    _wait_for_waiting(checks, 3)
    with pytest.raises(Busy):  # past the reserve too
        checks.verify(STORED, "correct horse battery", first=True)
    release.set()
    for thread in (*strangers, trusted):
        thread.join(10)
    assert checked[0] == "correct horse battery", checked
    assert sorted(checked[1:]) == ["guess-0", "guess-1"]
    assert sorted(map(str, answers)) == ["False", "False", "True"]
    checks.shutdown(wait=True)


def test_checks_still_waiting_at_shutdown_are_answered_busy():
    checks = PasswordChecks(queue=4)
    release = threading.Event()
    checks._pool.submit(release.wait)  # the thread is busy
    answers: list[object] = []
    waiting = threading.Thread(target=_login, args=(checks, STORED, answers))
    waiting.start()
    _wait_for_waiting(checks, 1)
    checks.shutdown()
    release.set()
    waiting.join(10)
    assert len(answers) == 1 and isinstance(answers[0], Busy)
    with pytest.raises(Busy):
        checks.verify(STORED, "correct horse battery")


def _guess(checks: PasswordChecks, password: str, answers: list[object]) -> None:
    answers.append(checks.verify(STORED, password))


def _wait_for_waiting(checks: PasswordChecks, n: int) -> None:
    deadline = time.monotonic() + 5
    while checks._waiting < n and time.monotonic() < deadline:
        time.sleep(0.01)
    assert checks._waiting == n
