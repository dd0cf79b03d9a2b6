"""Stored files through Django's storage API (issue 11 §4; kaisen/core/files.py, docs/deployment.md "Shared
files"): statements and usage archives in an S3-compatible bucket, and in the data directory by default.

The S3 side runs against a real HTTP server that these tests start: moto's S3 server (``python -m
moto.server``) in a process of its own, on a free port of 127.0.0.1 — no mock inside this process; boto3
talks HTTP to it exactly as to AWS S3 or MinIO. moto is a stand-in for S3: real AWS S3 and MinIO were not
reachable from the development machine.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.test import Client, override_settings

from kaisen.core import files
from kaisen.statements import services
from kaisen.statements.models import Statement, StatementStatus
from tests.statements.world import NOW, OCTOBER, build_world

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden" / "statements"
#: The statements' folder of the default, local storage (the settings made from the environment).
LOCAL_STATEMENTS = Path(django_settings.STORAGES["statements"]["OPTIONS"]["location"])
KEY_ID, SECRET, REGION = "kaisen-test-key", "kaisen-test-secret", "ap-northeast-1"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def s3_server() -> Iterator[str]:
    """moto's S3-compatible server in its own process; its endpoint URL."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError as exc:
                if proc.poll() is not None or time.monotonic() > deadline:
                    err = proc.stderr.read() if proc.stderr else b""
                    raise RuntimeError(f"moto server did not start: {err!r}") from exc
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _client(url: str) -> Any:
    import boto3

    return boto3.client("s3", endpoint_url=url, region_name=REGION, aws_access_key_id=KEY_ID,
                        aws_secret_access_key=SECRET)


def _env(url: str, bucket: str, **more: str) -> dict[str, str]:
    return {"KAISEN_STORAGE": "s3", "KAISEN_S3_BUCKET": bucket, "KAISEN_S3_ENDPOINT_URL": url,
            "KAISEN_S3_REGION": REGION, "KAISEN_S3_ACCESS_KEY_ID": KEY_ID, "KAISEN_S3_SECRET_ACCESS_KEY": SECRET,
            "KAISEN_S3_PREFIX": "portal", **more}


@pytest.fixture
def spool(settings: Any, tmp_path: Path) -> Path:
    """A spool folder of the test's own (``KAISEN_DATA_DIR/tmp``), to see that nothing is left in it."""
    settings.DATA_DIR = tmp_path / "data"
    return files.spool_dir()


@pytest.fixture
def bucket(s3_server: str, spool: Path) -> Iterator[tuple[Any, str]]:
    """A new bucket on the server, and Kaisen's storages pointed at it (keys under ``portal/``)."""
    name = f"kaisen-{uuid.uuid4().hex[:12]}"
    client = _client(s3_server)
    client.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
    storages = files.storages_setting(_env(s3_server, name), data_dir=django_settings.DATA_DIR,
                                      usage_archive_dir=django_settings.KAISEN_USAGE_ARCHIVE_DIR)
    with override_settings(STORAGES=storages):
        yield client, name


def _keys(client: Any, bucket: str) -> dict[str, int]:
    listing = client.list_objects_v2(Bucket=bucket)
    return {o["Key"]: o["Size"] for o in listing.get("Contents", [])}


def _token_client(world: Any) -> Any:
    from kaisen.accounts.services import api_key_create, token_issue_for_api_key

    new_key = api_key_create(user=world.user, name="files")
    issued = token_issue_for_api_key(key_id=new_key.api_key.key_id, secret=new_key.secret)
    client = Client(headers={"Authorization": f"Bearer {issued.token}"})
    client.token = issued.token  # type: ignore[attr-defined]
    return client


# --- S3 --------------------------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_a_statement_is_written_to_s3_and_downloaded_from_it(bucket: tuple[Any, str]) -> None:
    client, name = bucket
    world = build_world()
    with time_machine.travel(NOW, tick=False):
        statement = services.statement_request(tenant=world.tenant, user=world.user, kind="invoice",
                                               month=OCTOBER, encoding="cp932")
        assert statement.status == StatementStatus.DONE, statement.error
        golden = (GOLDEN / "invoice.cp932.csv").read_bytes()
        # In the bucket, under the tenant's own prefix; nothing new in the data directory.
        key = f"portal/statements/{world.tenant.pk}/{statement.file_path.rsplit('/', 1)[-1]}"
        assert statement.file_path.startswith(f"{world.tenant.pk}/")
        assert _keys(client, name) == {key: len(golden)}
        assert client.get_object(Bucket=name, Key=key)["Body"].read() == golden
        assert not (LOCAL_STATEMENTS / statement.file_path).exists()
        assert not list(files.spool_dir().iterdir())
        with pytest.raises(NotImplementedError):
            services.statement_file(statement)  # no path on this machine

        page = Client()
        page.force_login(world.user)
        download = page.get(f"/statements/{statement.pk}/download/")
        assert download.status_code == 200 and download.streaming
        assert download["Content-Length"] == str(len(golden))
        assert b"".join(download.streaming_content) == golden
        api = _token_client(world).get(f"/api/v1/statements/{statement.pk}/download")
        assert api.status_code == 200 and b"".join(api.streaming_content) == golden


@pytest.mark.django_db
def test_another_tenant_cannot_fetch_a_statement_stored_in_s3(bucket: tuple[Any, str], tenant_a: Any) -> None:
    client, name = bucket
    world = build_world()
    with time_machine.travel(NOW, tick=False):
        theirs = services.statement_request(tenant=world.tenant, user=world.user, kind="invoice", month=OCTOBER)
        assert theirs.status == StatementStatus.DONE and len(_keys(client, name)) == 1
        other = Client()
        other.force_login(tenant_a.user)
        assert other.get(f"/statements/{theirs.pk}/download/").status_code == 404
        api = _token_client(tenant_a)
        answer = api.get(f"/api/v1/statements/{theirs.pk}/download")
        assert answer.status_code == 404 and answer.json()["code"] == "NOT_FOUND"
        assert answer.content == api.get("/api/v1/statements/987654321/download").content
        # Their own download still works: the refusal above was the tenant check, not a broken store.
        mine = Client()
        mine.force_login(world.user)
        assert mine.get(f"/statements/{theirs.pk}/download/").status_code == 200


@pytest.mark.django_db
def test_a_big_statement_streams_from_s3_in_blocks(bucket: tuple[Any, str]) -> None:
    """A download reads the object in 64 KiB blocks as it sends them, never the whole object first."""
    client, name = bucket
    world = build_world()
    with time_machine.travel(NOW, tick=False):
        statement = services.statement_request(tenant=world.tenant, user=world.user, kind="invoice", month=OCTOBER)
        big = b"".join(b"%08d,0123456789abcdef\r\n" % i for i in range(150_000))  # 4.2 MB
        client.put_object(Bucket=name, Key=f"portal/statements/{statement.file_path}", Body=big)
        _, opened = services.statement_open(tenant=world.tenant, user=world.user, statement_id=statement.pk)
        assert isinstance(opened.file, files._Body) and opened.size == len(big)
        first = opened.file.read(files.BLOCK)
        assert len(first) == files.BLOCK  # one block read; the rest is still in the HTTP response
        opened.file.close()
        page = Client()
        page.force_login(world.user)
        download = page.get(f"/statements/{statement.pk}/download/")
        chunks = list(download.streaming_content)
        assert b"".join(chunks) == big and len(chunks) >= len(big) // files.BLOCK
        assert max(len(c) for c in chunks) <= files.BLOCK
        # Under waitress (kaisen serve): the response goes out through waitress's file wrapper, block by block.
        from django.core.signals import request_finished, request_started
        from django.db import close_old_connections
        from django.test import RequestFactory
        from waitress.buffers import ReadOnlyFileBasedBuffer

        from kaisen.wsgi import application

        token = f"Bearer {_token_client(world).token}"
        environ = RequestFactory().get(f"/api/v1/statements/{statement.pk}/download",
                                       HTTP_AUTHORIZATION=token).environ
        environ["wsgi.file_wrapper"] = ReadOnlyFileBasedBuffer
        started: list[Any] = []
        # As Django's test client does: the test's database connection stays open across the request.
        request_started.disconnect(close_old_connections)
        request_finished.disconnect(close_old_connections)
        try:
            body = application(environ, lambda status, headers, exc_info=None: started.append((status, headers)))
            assert started[0][0] == "200 OK" and ("Content-Length", str(len(big))) in started[0][1]
            assert isinstance(body, ReadOnlyFileBasedBuffer) and body.prepare() == 0  # no seek: read as it goes
            try:
                assert b"".join(body) == big
            finally:
                body.close()  # type: ignore[no-untyped-call]
        finally:
            request_started.connect(close_old_connections)
            request_finished.connect(close_old_connections)


@pytest.mark.django_db
def test_the_purge_deletes_the_object_in_s3(bucket: tuple[Any, str]) -> None:
    import datetime as dt

    client, name = bucket
    world = build_world()
    with time_machine.travel(NOW, tick=False):
        statement = services.statement_request(tenant=world.tenant, user=world.user, kind="cdr", month=OCTOBER)
        assert len(_keys(client, name)) == 1
    with time_machine.travel(NOW + dt.timedelta(hours=48, minutes=1), tick=False):
        assert services.statements_purge() == 1
    assert _keys(client, name) == {}
    statement.refresh_from_db()
    assert statement.status == StatementStatus.EXPIRED and statement.file_path == ""


@pytest.mark.django_db
def test_a_statement_whose_object_is_gone_is_410(bucket: tuple[Any, str]) -> None:
    client, name = bucket
    world = build_world()
    with time_machine.travel(NOW, tick=False):
        statement = services.statement_request(tenant=world.tenant, user=world.user, kind="invoice", month=OCTOBER)
        client.delete_object(Bucket=name, Key=f"portal/statements/{statement.file_path}")
        answer = _token_client(world).get(f"/api/v1/statements/{statement.pk}/download")
        assert answer.status_code == 410 and answer.json()["code"] == "STATEMENT_EXPIRED"


@pytest.mark.django_db
def test_an_object_store_that_fails_is_a_503_not_a_500(bucket: tuple[Any, str], s3_server: str) -> None:
    """The store answers, but not with the object (here: the bucket is gone): 503 STORAGE_UNAVAILABLE with a
    message for people, never a 500, and the store's own error text is not shown to the customer."""
    world = build_world()
    with time_machine.travel(NOW, tick=False):
        statement = services.statement_request(tenant=world.tenant, user=world.user, kind="invoice", month=OCTOBER)
        gone = files.storages_setting(_env(s3_server, f"gone-{uuid.uuid4().hex[:8]}"),
                                      data_dir=django_settings.DATA_DIR,
                                      usage_archive_dir=django_settings.KAISEN_USAGE_ARCHIVE_DIR)
        api = _token_client(world)
        with override_settings(STORAGES=gone):
            answer = api.get(f"/api/v1/statements/{statement.pk}/download")
    assert answer.status_code == 503
    body = answer.json()
    assert body["code"] == "STORAGE_UNAVAILABLE" and "NoSuchBucket" not in body["message"]


@pytest.mark.django_db
def test_a_usage_archive_is_written_to_s3(bucket: tuple[Any, str], tmp_path: Path) -> None:
    """`kaisen admin usage archive`'s work: the gzip CSV and its .sha256 go to the bucket, read back and
    checked there; the month leaves the database."""
    import csv

    from kaisen.usage.models import CallRecord, UsageArchive
    from kaisen.usage.retention import usage_archive_month
    from tests.usage.test_partitions import _archive_setup

    client, name = bucket
    s = _archive_setup(tmp_path)
    old = s["old"]
    old_ids = sorted(CallRecord.objects.filter(billing_month=old).values_list("record_id", flat=True))
    done = usage_archive_month(month=old, actor="test operator")
    calls = next(d for d in done if d.table == "usage_callrecord")
    keys = _keys(client, name)
    archive = f"portal/archive/usage/usage_callrecord-{old:%Y-%m}-"
    gz_key = next(k for k in keys if k.startswith(archive) and k.endswith(".csv.gz"))
    body = client.get_object(Bucket=name, Key=gz_key)["Body"].read()
    assert hashlib.sha256(body).hexdigest() == calls.sha256
    rows = list(csv.DictReader(gzip.decompress(body).decode("utf-8").splitlines()))
    assert sorted(r["record_id"] for r in rows) == old_ids and calls.rows == len(old_ids) == 4
    side = client.get_object(Bucket=name, Key=gz_key + ".sha256")["Body"].read().decode("ascii")
    assert side.split() == [calls.sha256, gz_key.rsplit("/", 1)[-1]]
    assert calls.path == f"s3://{name}/{gz_key}"
    assert UsageArchive.objects.get(table="usage_callrecord").path == calls.path
    assert len([k for k in keys if k.endswith(".csv.gz")]) == 2 and len(keys) == 4
    assert not CallRecord.objects.filter(billing_month=old).exists()
    assert not list(tmp_path.glob("*.gz")) and not list(files.spool_dir().iterdir())


# --- misconfiguration ----------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_a_missing_bucket_is_named_in_the_check_and_stops_the_worker(s3_server: str) -> None:
    """The bucket does not exist on the server: `kaisen worker` refuses to start and says which and where."""
    from typer.testing import CliRunner

    from kaisen.cli import app

    storages = files.storages_setting(_env(s3_server, "no-such-bucket"), data_dir=django_settings.DATA_DIR,
                                      usage_archive_dir=django_settings.KAISEN_USAGE_ARCHIVE_DIR)
    with override_settings(STORAGES=storages):
        problem = files.check(files.STATEMENTS)
        assert problem is not None
        assert "'no-such-bucket'" in problem and s3_server in problem and "404" in problem
        result = CliRunner().invoke(app, ["worker"])
    assert result.exit_code == 2
    assert "The file storage (statements) cannot be used" in result.output and "no-such-bucket" in result.output


def test_an_unreachable_endpoint_is_named_in_the_check(s3_server: str, bucket: tuple[Any, str]) -> None:
    name = bucket[1]
    assert files.check(files.STATEMENTS) is None and files.check(files.USAGE_ARCHIVE) is None
    dead = f"http://127.0.0.1:{_free_port()}"
    storages = files.storages_setting(_env(dead, name), data_dir=django_settings.DATA_DIR,
                                      usage_archive_dir=django_settings.KAISEN_USAGE_ARCHIVE_DIR)
    with override_settings(STORAGES=storages):
        problem = files.check(files.STATEMENTS)
    assert problem is not None and dead in problem and name in problem


@pytest.mark.parametrize(("env", "message"), [
    ({"KAISEN_STORAGE": "s3"}, "KAISEN_STORAGE=s3 needs KAISEN_S3_BUCKET"),
    ({"KAISEN_STORAGE": "nfs"}, "KAISEN_STORAGE must be 'local' (the default) or 's3', not 'nfs'"),
    ({"KAISEN_STORAGE": "s3", "KAISEN_S3_BUCKET": "b", "KAISEN_S3_ACCESS_KEY_ID": "k"},
     "KAISEN_S3_ACCESS_KEY_ID and KAISEN_S3_SECRET_ACCESS_KEY go together"),
    ({"KAISEN_STORAGE": "s3", "KAISEN_S3_BUCKET": "b", "KAISEN_S3_ENDPOINT_URL": "minio:9000"},
     "KAISEN_S3_ENDPOINT_URL must be an http:// or https:// URL"),
    ({"KAISEN_STORAGE": "s3", "KAISEN_S3_BUCKET": "b", "KAISEN_S3_ADDRESSING_STYLE": "dns"},
     "KAISEN_S3_ADDRESSING_STYLE must be 'path' or 'virtual'"),
])
def test_a_bad_storage_setting_is_refused_with_what_to_set(env: dict[str, str], message: str) -> None:
    with pytest.raises(ImproperlyConfigured) as err:
        files.storages_setting(env, data_dir=Path("/tmp/x"), usage_archive_dir=Path("/tmp/x/a"))  # noqa: S108
    assert message in str(err.value)


def test_the_settings_refuse_to_load_without_a_bucket(tmp_path: Path) -> None:
    """The real settings module, in a process of its own: `KAISEN_STORAGE=s3` alone stops at start-up."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAISEN_S3_")}
    env.update(KAISEN_DATA_DIR=str(tmp_path), KAISEN_STORAGE="s3")
    result = subprocess.run([sys.executable, "-c", "import kaisen.settings"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "ImproperlyConfigured: KAISEN_STORAGE=s3 needs KAISEN_S3_BUCKET" in result.stderr


# --- the local default ---------------------------------------------------------------------------------------

def test_the_default_is_the_data_directory() -> None:
    storages = files.storages_setting({}, data_dir=Path("/srv/kaisen"), usage_archive_dir=Path("/srv/arch"))
    assert storages["statements"] == {"BACKEND": "django.core.files.storage.FileSystemStorage",
                                      "OPTIONS": {"location": Path("/srv/kaisen/statements")}}
    assert storages["usage_archive"]["OPTIONS"] == {"location": Path("/srv/arch")}
    assert django_settings.STORAGES["statements"]["OPTIONS"]["location"] == \
        Path(django_settings.DATA_DIR) / "statements"


@pytest.mark.django_db
def test_locally_a_statement_file_written_by_an_earlier_version_is_still_found(spool: Path) -> None:
    """The default storage is the folder earlier versions wrote to (``KAISEN_DATA_DIR/statements/<tenant>/``):
    a file put there the old way, with its row, downloads unchanged."""
    world = build_world()
    with time_machine.travel(NOW, tick=False):
        statement = services.statement_request(tenant=world.tenant, user=world.user, kind="invoice", month=OCTOBER)
        path = LOCAL_STATEMENTS / statement.file_path
        assert path.is_file() and services.statement_file(statement) == path
        old = path.parent / "legacy-written-before.csv"
        old.write_bytes(b"a,b\r\n1,2\r\n")
        Statement.objects.filter(pk=statement.pk).update(file_path=f"{world.tenant.pk}/{old.name}")
        page = Client()
        page.force_login(world.user)
        download = page.get(f"/statements/{statement.pk}/download/")
        assert download.status_code == 200 and download["Content-Length"] == "10"
        assert b"".join(download.streaming_content) == b"a,b\r\n1,2\r\n"
        assert not list(files.spool_dir().iterdir())


# --- two machines, one bucket ------------------------------------------------------------------------------------

WORKER_MACHINE = """
import os, sys
import django
os.environ["DJANGO_SETTINGS_MODULE"] = "kaisen.settings"
django.setup()
from kaisen.statements.generate import statement_generate
print(statement_generate(int(sys.argv[1])))
"""


@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="a cluster's machines share PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_a_statement_written_on_a_worker_machine_is_downloaded_on_a_web_machine(
        s3_server: str, bucket: tuple[Any, str], tmp_path: Path, settings: Any) -> None:
    """A `kaisen worker` on another machine (a process with a data directory of its own, the same
    PostgreSQL and bucket) writes the statement; this process, the web machine, streams it from the bucket."""
    client, name = bucket
    settings.KAISEN_STATEMENT_INLINE_ROWS = 0  # queued for a worker, not written in the request
    world = build_world()
    with time_machine.travel(NOW, tick=False):
        statement = services.statement_request(tenant=world.tenant, user=world.user, kind="invoice",
                                               month=OCTOBER, encoding="cp932")
    assert statement.status == StatementStatus.QUEUED and _keys(client, name) == {}
    db = connection.settings_dict
    url = (f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
           f"/{db['NAME']}")
    other_machine = tmp_path / "worker-machine"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KAISEN_", "AWS_"))}
    env.update(_env(s3_server, name), DATABASE_URL=url, KAISEN_DATA_DIR=str(other_machine))
    result = subprocess.run([sys.executable, "-c", WORKER_MACHINE, str(statement.pk)], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "done"
    assert not list((other_machine / "statements").rglob("*.csv")) and not list((other_machine / "tmp").iterdir())
    statement.refresh_from_db()
    assert statement.status == StatementStatus.DONE
    golden = (GOLDEN / "invoice.cp932.csv").read_bytes()
    assert _keys(client, name) == {f"portal/statements/{statement.file_path}": len(golden)}
    with time_machine.travel(NOW, tick=False):
        page = Client()
        page.force_login(world.user)
        download = page.get(f"/statements/{statement.pk}/download/")
        assert download.status_code == 200 and b"".join(download.streaming_content) == golden
