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
