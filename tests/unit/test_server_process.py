"""A server process collects garbage less often than Python's default, and hands the
interpreter lock to a waiting thread sooner (``tune_server_process``)."""

import json
import subprocess
import sys

from takedown.server.app import SERVER_GC_THRESHOLD, SERVER_SWITCH_INTERVAL


def test_a_server_process_raises_the_young_collection_threshold_and_shortens_the_switch() -> None:
    # In a process of its own: these settings are for server processes, not the test run.
    code = (
        "import gc, json, sys; before = gc.get_threshold(); switch = sys.getswitchinterval()\n"
        "from takedown.server.app import tune_server_process; tune_server_process()\n"
        "print(json.dumps([before, gc.get_threshold(), gc.get_freeze_count(),\n"
        "                  switch, sys.getswitchinterval()]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    before, after, frozen, switch_before, switch_after = json.loads(out.stdout)
    assert before[0] == 700 < SERVER_GC_THRESHOLD
    assert after == [SERVER_GC_THRESHOLD, *before[1:]]
    assert frozen > 0
    assert switch_before == 0.005 > SERVER_SWITCH_INTERVAL
    assert abs(switch_after - SERVER_SWITCH_INTERVAL) < 1e-9
