"""Process-wide settings of a server process, all made here and only for server processes
(``takedown serve``, each process uvicorn starts, the intake benchmark's server), once the app
is built: never on import, and never in a process that builds many apps, such as the test run.

What ``tune_server_process`` changes, for the whole process:

1. **The garbage collector**: the heap loaded so far is frozen out of the generations
   (``gc.freeze``), so a full collection under load walks only what requests made, and the
   young generation is collected after ``SERVER_GC_THRESHOLD`` new objects instead of 700.
   Safe because a report leaves no cyclic garbage (a test holds the units of work to that);
   not for processes that build many apps, whose frozen objects would never be collected.
2. **The interpreter's switch interval**: ``SERVER_SWITCH_INTERVAL`` instead of 5 ms, so
   PostgreSQL's writer thread gets the interpreter lock back soon after each round trip.
3. **Starlette's multipart parser**: uploads up to ``TAKEDOWN_UPLOAD_MEMORY_BYTES`` are
   parsed in memory instead of spooled to a temporary file (Starlette's default is 1 MB); the
   body limit still caps what one request holds.
4. **Python's sqlite3**: an adapter for ``None``, so a NULL parameter binds without the
   ``AttributeError`` that ``sqlite3`` raises and clears looking for ``__adapt__`` (a report
   binds about fourteen). ``None`` still binds as NULL.

The measurements behind each are in ``bench/RECORD.md``.
"""

from __future__ import annotations

import gc
import sqlite3
import sys

from starlette.formparsers import MultiPartParser

from takedown.config import Settings

SERVER_GC_THRESHOLD = 10_000
"""New container objects (net of those freed) between two young collections in a server
process; Python's default is 700."""
SERVER_SWITCH_INTERVAL = 0.0005
"""Seconds a thread that wants the interpreter lock waits before the holder is asked to give
it up, in a server process; Python's default is 0.005."""
_NOTHING: dict[None, None] = {}


def tune_server_process(settings: Settings) -> None:
    """Make the process-wide changes listed in the module, for a server process whose app is
    built. Calling it again changes nothing more."""
    MultiPartParser.spool_max_size = settings.upload_memory_bytes
    # An empty dict's ``get`` gives ``None`` back, in C.
    sqlite3.register_adapter(type(None), _NOTHING.get)
    gc.collect()
    gc.freeze()
    gc.set_threshold(SERVER_GC_THRESHOLD, *gc.get_threshold()[1:])
    sys.setswitchinterval(SERVER_SWITCH_INTERVAL)
