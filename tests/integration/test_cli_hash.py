"""``takedown hash``: JSON lines in order, error lines for bad files, exit status 1."""

import json
import subprocess
import sys

from takedown.media import hash_image
from tests.media_support import PHOTOS, at_megapixels, encode, photo


def run(*args):
    return subprocess.run(
        [sys.executable, "-m", "takedown", "hash", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_hash_prints_one_line_per_file_in_order_with_errors(tmp_path):
    paths = []
    for name in PHOTOS[:4]:
        path = tmp_path / f"{name}.jpg"
        path.write_bytes(encode(at_megapixels(photo(name), 0.5), quality=90))
        paths.append(path)
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "notes.png").write_text("not an image")
    paths.insert(2, tmp_path / "empty.jpg")
    paths.append(tmp_path / "notes.png")
    paths.append(tmp_path / "missing.jpg")
    for jobs in ("1", "2"):
        result = run("--jobs", jobs, *map(str, paths))
        assert result.returncode == 1
        lines = [json.loads(line) for line in result.stdout.splitlines()]
        assert [line["path"] for line in lines] == list(map(str, paths))
        good = [line for line in lines if "pdq" in line]
        assert len(good) == 4
        expected = hash_image(paths[0].read_bytes())
        assert lines[0] == {
            "path": str(paths[0]),
            "pdq": expected.pdq.hex,
            "quality": expected.pdq.quality,
            "md5": expected.md5,
            "sha256": expected.sha256,
        }
        codes = {line["path"].rsplit("/", 1)[1]: line["code"] for line in lines if "error" in line}
        assert codes == {
            "empty.jpg": "not_media",
            "notes.png": "not_media",
            "missing.jpg": "unreadable",
        }
        assert "3 of 7 file(s) could not be hashed" in result.stderr


def test_hash_exits_0_when_every_file_hashes(tmp_path):
    path = tmp_path / "a.png"
    path.write_bytes(encode(at_megapixels(photo("coffee.png"), 0.3), "PNG"))
    result = run(str(path))
    assert result.returncode == 0 and json.loads(result.stdout)["quality"] > 50


def test_hash_gives_videos_their_frame_hashes(tmp_path):
    from tests.media_support import video

    clip = tmp_path / "clip.mp4"
    clip.write_bytes(video(seconds=3))
    result = run(str(clip))
    assert result.returncode == 0, result.stderr
    line = json.loads(result.stdout)
    assert line["kind"] == "video" and [f["t"] for f in line["frames"]] == [0.0, 1.0, 2.0]
    assert len(line["frames"][0]["pdq"]) == 64 and len(line["sha256"]) == 64


def test_every_broken_file_gets_a_clear_error_line(tmp_path):
    from tests.unit.test_media_decoding import BROKEN

    paths = []
    for i, (name, (data, _)) in enumerate(BROKEN.items()):
        path = tmp_path / f"{i}.jpg"  # the extension says nothing: content decides
        path.write_bytes(data)
        paths.append((path, name))
    result = run("--jobs", "2", *(str(p) for p, _ in paths))
    assert result.returncode == 1
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    for line, (path, name) in zip(lines, paths, strict=True):
        assert line["path"] == str(path)
        assert line["code"] == BROKEN[name][1].code, name
        assert line["error"]


def test_hash_starts_without_the_web_stack_or_the_database(tmp_path):
    """``takedown hash`` from a script: its start-up imports the media package only."""
    import subprocess
    import sys

    from PIL import Image

    path = tmp_path / "small.png"
    Image.new("RGB", (64, 64), (10, 20, 30)).save(path)
    probe = (
        "import sys\n"
        f"sys.argv = ['takedown', 'hash', {str(path)!r}]\n"
        "from takedown.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in ('fastapi', 'sqlalchemy', 'numba') if m in sys.modules))\n"
    )
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    first, last = run.stdout.splitlines()[0], run.stdout.splitlines()[-1]
    assert '"pdq"' in first and last == "[]"


def test_vpdq_files_written_and_read_as_meta_s_tools_do(tmp_path, container):
    """``takedown hash --vpdq`` writes Meta's vPDQ file format, with the frame numbers and
    times Meta's ``vpdq`` gives the same file; a vPDQ file made from ``vpdq``'s own hashes is
    read as one video, and banked so, blocks a re-encoded copy and a clip cut from it at
    upload by vPDQ's rule, and not an unrelated video; a video registered before the bank knew
    it is found by retroactive matching."""
    import pytest

    vpdq = pytest.importorskip(
        "vpdq", reason="Meta's vpdq is not installed here (make video-reference installs it)"
    )
    from takedown.matching import BankPolicy
    from takedown.matching.hash_files import parse_hash_list
    from takedown.media.video import format_vpdq
    from takedown.services import banks, scanning
    from tests.conftest import OPERATOR
    from tests.media_support import reencode, video

    clip = tmp_path / "clip.mp4"
    clip.write_bytes(video(seconds=6, fps=10))
    theirs = vpdq.computeHash(clip, seconds_per_hash=1)
    written = run("--vpdq", str(clip))
    assert written.returncode == 0, written.stderr
    rows = [line.split(",") for line in written.stdout.splitlines()]
    assert [(int(n), float(t)) for n, _, _, t in rows] == [
        (f.frame_number, round(f.timestamp, 3)) for f in theirs
    ]
    for (_, quality, value, _), frame in zip(rows, theirs, strict=True):
        assert (int(value, 16) ^ int(vpdq.hash_to_hex(frame.hash), 16)).bit_count() <= 16
        assert abs(int(quality) - frame.quality) <= 2
    refused = run("--vpdq", str(tmp_path / "missing.mp4"))
    assert refused.returncode == 1 and "missing.mp4" in refused.stderr

    meta_file = format_vpdq(
        (f.frame_number, f.quality, vpdq.hash_to_hex(f.hash), f.timestamp) for f in theirs
    )
    listed = parse_hash_list(meta_file + "not,a,frame\n")
    assert [s.signal_type for s in listed] == ["vpdq", "pdq"]
    banks.create_bank(
        uow=container.uow(),
        matcher=container.matcher,
        actor=OPERATOR,
        name="known-videos",
        policy=BankPolicy.block,
    )
    added = banks.add_entries(
        uow=container.uow(),
        matcher=container.matcher,
        actor=OPERATOR,
        bank_name="known-videos",
        items=[banks.EntryIn(s.signal_type, s.value, "vpdq", s.note) for s in listed],
    )
    assert added.added == 1 and len(added.invalid) == 1
    [entry] = added.entries
    assert entry.signal_type.value == "vpdq"

    def scan(data, content_id):
        return scanning.scan_media(
            uow=container.uow(),
            matcher=container.matcher,
            actor=OPERATOR,
            data=data,
            content_id=content_id,
            account_id="acct",
            intake=container.intake(),
        )

    original = clip.read_bytes()
    container.matcher.reload()  # as another process builds its indexes: frames from the store
    for content_id, data in (
        ("reupload", reencode(original)),
        ("cut", reencode(original, (640, 360), "libx264", "mp4", skip_seconds=2)),
    ):
        result = scan(data, content_id)
        assert result.verdict.value == "block", content_id
        assert [
            (m.signal_type.value, m.entry_id)
            for m in result.matches
            if m.signal_type.value == "vpdq"
        ] == [("vpdq", entry.id)]
    assert scan(video(seconds=4, fps=10, name="coffee.png"), "other").verdict.value == "allow"

    # A bank that learns the video later finds the copy registered before (retro matching).
    banks.create_bank(
        uow=container.uow(),
        matcher=container.matcher,
        actor=OPERATOR,
        name="later",
        policy=BankPolicy.review,
    )
    banks.add_entries(
        uow=container.uow(),
        matcher=container.matcher,
        actor=OPERATOR,
        bank_name="later",
        items=[banks.EntryIn(listed[0].signal_type, listed[0].value, "vpdq")],
    )
    for _ in range(3):
        container.runtime.run_once()
    with container.uow(readonly=True) as uow:
        assert uow.cases.case_ids_for_content("reupload")
        assert uow.cases.case_ids_for_content("cut")
        assert not uow.cases.case_ids_for_content("other")
