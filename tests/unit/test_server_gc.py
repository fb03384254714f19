"""A server process collects garbage less often than Python's default (``freeze_heap``)."""

import json
import subprocess
import sys

from takedown.server.app import SERVER_GC_THRESHOLD


def test_a_server_process_raises_the_young_collection_threshold() -> None:
    # In a process of its own: freezing the heap is for server processes, not the test run.
    code = (
        "import gc, json; before = gc.get_threshold()\n"
        "from takedown.server.app import freeze_heap; freeze_heap()\n"
        "print(json.dumps([before, gc.get_threshold(), gc.get_freeze_count()]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    before, after, frozen = json.loads(out.stdout)
    assert before[0] == 700 < SERVER_GC_THRESHOLD
    assert after == [SERVER_GC_THRESHOLD, *before[1:]]
    assert frozen > 0
