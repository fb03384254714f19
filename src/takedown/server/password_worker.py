"""The child process that checks passwords for ``server.password_checks``.

Run as ``python -m takedown.server.password_worker``. It makes itself the least important
process on the machine before it imports the hasher, then answers one check per line: it
reads ``["<stored hash>", "<password>"]`` as JSON on standard input and writes ``1`` (the
password matches) or ``0`` on standard output. It exits at end of input, so it ends with the
server that started it, however that server ends. It never writes a password anywhere.
"""

from __future__ import annotations

import json
import os
import sys


def lowest_priority() -> str | None:
    """Give this process (and the threads it starts) only the CPU no one else wants.
    Answers why it could not, or None."""
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))  # Linux
        return None
    except (AttributeError, OSError) as error:
        reason = f"without SCHED_IDLE ({error})"
    try:
        os.setpriority(os.PRIO_PROCESS, 0, 19)
    except (AttributeError, OSError) as error:
        reason = f"at normal priority ({error})"
    return reason


def main() -> None:
    reason = lowest_priority()
    if reason:
        print(f"takedown password checks run {reason}", file=sys.stderr)
    # Answers go to the parent's pipe alone: whatever a library might print goes to stderr.
    answers = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)

    from takedown.identity.credentials import verify_password

    for line in sys.stdin:
        try:
            stored_hash, password = json.loads(line)
            ok = verify_password(str(stored_hash), str(password))
        except (ValueError, TypeError):
            ok = False  # a malformed request is no match; its text is never echoed
        answers.write("1\n" if ok else "0\n")


if __name__ == "__main__":
    main()
