"""A server process collects garbage less often than Python's default, hands the interpreter
lock to a waiting thread sooner, parses uploads in memory up to its setting and binds NULLs
through an adapter (``server.process.tune_server_process``); nothing of it happens on import."""

import json
import subprocess
import sys

from takedown.server.process import SERVER_GC_THRESHOLD, SERVER_SWITCH_INTERVAL


def test_a_server_process_raises_the_young_collection_threshold_and_shortens_the_switch() -> None:
    # In a process of its own: these settings are for server processes, not the test run.
    code = (
        "import gc, json, sqlite3, sys\n"
        "import takedown.server.app, takedown.store\n"
        "from starlette.formparsers import MultiPartParser\n"
        "from takedown.config import Settings\n"
        "from takedown.server.process import tune_server_process\n"
        "before = gc.get_threshold(); switch = sys.getswitchinterval()\n"
        "spool, adapted = MultiPartParser.spool_max_size, (type(None), sqlite3.PrepareProtocol)\n"
        "adapter_before = adapted in sqlite3.adapters\n"
        "tune_server_process(Settings(upload_memory_bytes=2_000_000))\n"
        "print(json.dumps([before, gc.get_threshold(), gc.get_freeze_count(), switch,\n"
        "    sys.getswitchinterval(), spool, MultiPartParser.spool_max_size,\n"
        "    adapter_before, adapted in sqlite3.adapters]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    (
        before,
        after,
        frozen,
        switch_before,
        switch_after,
        spool_before,
        spool_after,
        adapter_before,
        adapter_after,
    ) = json.loads(out.stdout)
    assert spool_before == 1024 * 1024 and spool_after == 2_000_000
    assert not adapter_before and adapter_after
    assert before[0] == 700 < SERVER_GC_THRESHOLD
    assert after == [SERVER_GC_THRESHOLD, *before[1:]]
    assert frozen > 0
    assert switch_before == 0.005 > SERVER_SWITCH_INTERVAL
    assert abs(switch_after - SERVER_SWITCH_INTERVAL) < 1e-9
