"""The CLI is scriptable: secrets alone on stdout, errors on stderr with exit status 1."""

from takedown.identity import Scope
from takedown.services import accounts
from tests.integration.test_audit_log import run_cli


def test_users_add_token_and_keys_create_print_only_the_secret(container, database_url, tmp_path):
    added = run_cli(
        database_url,
        tmp_path,
        "users",
        "add",
        "ana",
        "--role",
        "compliance",
        env_extra={"TAKEDOWN_PASSWORD": "a-long-enough-password"},
    )
    assert added.returncode == 0 and added.stdout == "", added.stderr
    token = run_cli(database_url, tmp_path, "users", "token", "ana")
    assert token.returncode == 0 and token.stdout.startswith("tdp_")
    assert token.stdout.count("\n") == 1
    key = run_cli(
        database_url,
        tmp_path,
        "keys",
        "create",
        "--name",
        "platform",
        "--scope",
        "scan,report",
        "--scope",
        "metrics",
    )
    assert key.returncode == 0 and key.stdout.startswith("tdk_") and key.stdout.count("\n") == 1
    principal = accounts.authenticate(
        uow=container.uow(readonly=True), secret=key.stdout.strip()
    ).principal
    assert principal.scopes == {Scope.scan, Scope.report, Scope.metrics}
    staff = accounts.authenticate(
        uow=container.uow(readonly=True), secret=token.stdout.strip()
    ).principal
    assert staff.name == "ana"


def test_cli_errors_are_clear_and_exit_1(database_url, tmp_path):
    bad_scope = run_cli(database_url, tmp_path, "keys", "create", "--name", "x", "--scope", "root")
    assert bad_scope.returncode == 1 and "unknown scope 'root'" in bad_scope.stderr
    weak = run_cli(
        database_url,
        tmp_path,
        "users",
        "add",
        "bob",
        "--role",
        "reviewer",
        env_extra={"TAKEDOWN_PASSWORD": "short"},
    )
    assert weak.returncode == 1 and "at least 12 characters" in weak.stderr
    missing = run_cli(database_url, tmp_path, "users", "token", "nobody")
    assert missing.returncode == 1 and "no user named 'nobody'" in missing.stderr
    no_password = run_cli(database_url, tmp_path, "users", "add", "bob", "--role", "reviewer")
    assert no_password.returncode == 1 and "TAKEDOWN_PASSWORD" in no_password.stderr


def test_a_command_on_a_database_never_set_up_says_to_upgrade(tmp_path):
    empty = f"sqlite:///{tmp_path / 'new' / 'takedown.db'}"
    result = run_cli(empty, tmp_path, "keys", "create", "--name", "p", "--scope", "report")
    assert result.returncode == 1
    assert "takedown db upgrade" in result.stderr and "Traceback" not in result.stderr
    assert run_cli(empty, tmp_path, "db", "upgrade").returncode == 0
    assert run_cli(empty, tmp_path, "keys", "create", "--name", "p", "--scope", "report").stdout


def test_commands_in_a_folder_with_no_database_create_none_and_name_the_path(tmp_path):
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("TAKEDOWN_")}
    for args in (["users", "list"], ["audit", "verify"], ["db", "current"]):
        run = subprocess.run(
            [sys.executable, "-m", "takedown", *args],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert run.returncode == 1, (args, run.stderr)
        if args[0] != "db":
            assert str(tmp_path / "data" / "takedown.db") in run.stderr.replace("\n", "")
            assert "TAKEDOWN_DATA_DIR" in run.stderr and "db upgrade" in run.stderr
    assert not (tmp_path / "data" / "takedown.db").exists()


def test_bad_settings_are_a_message_not_a_traceback(tmp_path):
    import os
    import subprocess
    import sys

    env = {**os.environ, "TAKEDOWN_MODE": "production", "TAKEDOWN_DATA_DIR": str(tmp_path)}
    env.pop("TAKEDOWN_PUBLIC_URL", None)
    run = subprocess.run(
        [sys.executable, "-m", "takedown", "users", "list"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert "TAKEDOWN_PUBLIC_URL" in run.stderr


def test_match_checks_videos_and_unreadable_media_without_a_traceback(
    container, database_url, tmp_path
):
    from tests.media_support import video
    from tests.unit.test_media_decoding import BROKEN

    clip = tmp_path / "clip.mp4"
    clip.write_bytes(video(seconds=2))
    svg = tmp_path / "drawing.svg"
    svg.write_bytes(BROKEN["svg"][0])
    run = run_cli(database_url, tmp_path, "match", str(clip), str(svg))
    assert "Traceback" not in run.stderr and run.returncode == 1, run.stderr
    first, second = (__import__("json").loads(line) for line in run.stdout.splitlines())
    assert first["kind"] == "video" and first["verdict"] == "allow" and first["matches"] == []
    assert second["code"] == "unsupported_format"


def test_users_enable_brings_a_disabled_account_back_and_the_last_admin_stays(
    container, database_url, tmp_path
):
    from takedown.identity import Role
    from tests.conftest import add_staff

    add_staff(container, "boss", Role.admin, token=False)
    add_staff(container, "rev", Role.reviewer, token=False)
    last = run_cli(database_url, tmp_path, "users", "disable", "boss")
    assert last.returncode == 1 and "last active admin" in last.stderr
    assert run_cli(database_url, tmp_path, "users", "disable", "rev").returncode == 0
    enabled = run_cli(database_url, tmp_path, "users", "enable", "rev")
    assert enabled.returncode == 0 and "enabled rev" in enabled.stderr
    with container.uow(readonly=True) as uow:
        assert uow.users.get_by_name("rev").active


def test_a_settings_error_never_prints_the_secrets_given(tmp_path):
    import os
    import subprocess
    import sys

    env = {
        **os.environ,
        "TAKEDOWN_DATA_DIR": str(tmp_path),
        "TAKEDOWN_EVIDENCE_KEY": "not-a-key-but-secret-1",
        "TAKEDOWN_PLATFORM_WEBHOOK_SECRET": "webhook-secret-2",
        "TAKEDOWN_SMTP_PASSWORD": "smtp-secret-3",
        "TAKEDOWN_DSA_TDB_TOKEN": "tdb-secret-4",
    }
    run = subprocess.run(
        [sys.executable, "-m", "takedown", "users", "list"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 1 and "64 hex digits" in run.stderr
    for secret in ("not-a-key-but-secret-1", "webhook-secret-2", "smtp-secret-3", "tdb-secret-4"):
        assert secret not in run.stderr + run.stdout


def test_ncmec_check_says_whether_the_credentials_and_the_schema_hold(tmp_path):
    from tests.ncmec_support import PASSWORD, USERNAME, ncmec_server

    with ncmec_server() as server:
        env = {
            "TAKEDOWN_NCMEC_URL": server.url,
            "TAKEDOWN_NCMEC_USERNAME": USERNAME,
            "TAKEDOWN_NCMEC_PASSWORD": PASSWORD,
            "TAKEDOWN_NCMEC_REPORTER_EMAIL": "safety@platform.example",
        }
        good = run_cli("sqlite://", tmp_path, "ncmec", "check", env_extra=env)
        assert good.returncode == 0, good.stderr
        assert "accepts these credentials" in good.stderr and "copy shipped" in good.stderr
        server.state.xsd = server.state.xsd.replace(b"text3000", b"longText")
        changed = run_cli("sqlite://", tmp_path, "ncmec", "check", env_extra=env)
        assert changed.returncode == 0 and "differs" in changed.stderr
        wrong = {**env, "TAKEDOWN_NCMEC_PASSWORD": "not-the-password-77"}
        refused = run_cli("sqlite://", tmp_path, "ncmec", "check", env_extra=wrong)
        assert refused.returncode == 1 and "refused the credentials" in refused.stderr
        assert "not-the-password-77" not in refused.stderr + refused.stdout
        assert server.state.refused_credentials == 1
