"""Kaisen's stored files through Django's storage API (issue 11 §4; docs/deployment.md, "Shared files").

Two kinds of files outlive the request that made them, each in a storage of its own (``STORAGES``):

- ``statements``: the generated CSV statements, one key per file ``<tenant id>/<statement id>-<random>.csv``
  (``kaisen.statements``). Downloads check the tenant and the user first (``statement_open``) and name the
  key from the statement row, never from the request.
- ``usage_archive``: the archived months of raw usage, ``<table>-<YYYY-MM>-<stamp>.csv.gz`` with a
  ``.sha256`` beside it (``kaisen.usage.retention``); the operator's, of no tenant.

``KAISEN_STORAGE`` chooses where they are:

- ``local`` (the default): folders of ``KAISEN_DATA_DIR`` — ``statements/`` and ``KAISEN_USAGE_ARCHIVE_DIR``
  (default ``archive/usage/``), where earlier versions wrote them, so files written before are still found.
- ``s3``: one bucket of an S3-compatible object store (django-storages' ``S3Storage``), shared by every
  machine of a cluster: ``KAISEN_S3_BUCKET`` (required), ``KAISEN_S3_ENDPOINT_URL`` (MinIO, Ceph…; empty for
  AWS), ``KAISEN_S3_REGION``, ``KAISEN_S3_ACCESS_KEY_ID`` / ``KAISEN_S3_SECRET_ACCESS_KEY`` (empty: boto3's own
  chain — ``AWS_*`` variables, an instance role), ``KAISEN_S3_PREFIX`` (keys under ``<prefix>/``),
  ``KAISEN_S3_ADDRESSING_STYLE`` (``path`` or ``virtual``; empty: boto3 decides).

PDFs (invoices, quotes, delivery notes, payment statements) are drawn on each request and never stored;
uploaded usage files and bulk uploads are read from the request (bulk uploads keep their rows in the
database); none of them uses a storage.

Only the standard library and Django are imported at module level: ``kaisen.settings`` calls
``storages_setting``.
"""

from __future__ import annotations

import importlib.util
import logging
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, BinaryIO

from django.core.exceptions import ImproperlyConfigured
from django.core.files import File

logger = logging.getLogger(__name__)

STATEMENTS = "statements"
USAGE_ARCHIVE = "usage_archive"
#: A download is read from the storage in blocks of this size (never the whole file at once).
BLOCK = 1 << 16

_FS = "django.core.files.storage.FileSystemStorage"
_S3 = "storages.backends.s3.S3Storage"


def _join(*parts: str) -> str:
    return "/".join(p.strip("/") for p in parts if p.strip("/"))


def storages_setting(env: Mapping[str, str], *, data_dir: Path, usage_archive_dir: Path) -> dict[str, Any]:
    """The ``STORAGES`` setting for the environment ``env``; ``ImproperlyConfigured`` with what to set when
    ``KAISEN_STORAGE`` asks for something that cannot work."""
    kind = (env.get("KAISEN_STORAGE") or "local").strip().lower()
    static = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
    if kind in ("local", "file", "filesystem"):
        return {
            "default": {"BACKEND": _FS, "OPTIONS": {"location": data_dir / "media"}},
            STATEMENTS: {"BACKEND": _FS, "OPTIONS": {"location": data_dir / "statements"}},
            USAGE_ARCHIVE: {"BACKEND": _FS, "OPTIONS": {"location": usage_archive_dir}},
            "staticfiles": static,
        }
    if kind != "s3":
        raise ImproperlyConfigured(f"KAISEN_STORAGE must be 'local' (the default) or 's3', not {kind!r}.")
    bucket = (env.get("KAISEN_S3_BUCKET") or "").strip()
    if not bucket:
        raise ImproperlyConfigured("KAISEN_STORAGE=s3 needs KAISEN_S3_BUCKET, the name of an existing bucket "
                                   "(and KAISEN_S3_ENDPOINT_URL for a store other than AWS S3).")
    if importlib.util.find_spec("storages") is None or importlib.util.find_spec("boto3") is None:
        raise ImproperlyConfigured("KAISEN_STORAGE=s3 needs django-storages and boto3: "
                                   "pip install 'django-storages[s3]'.")
    key_id = (env.get("KAISEN_S3_ACCESS_KEY_ID") or "").strip()
    secret = (env.get("KAISEN_S3_SECRET_ACCESS_KEY") or "").strip()
    if bool(key_id) != bool(secret):
        raise ImproperlyConfigured("KAISEN_S3_ACCESS_KEY_ID and KAISEN_S3_SECRET_ACCESS_KEY go together: set both, "
                                   "or neither to use boto3's own credentials (AWS_* variables, an instance role).")
    endpoint = (env.get("KAISEN_S3_ENDPOINT_URL") or "").strip()
    if endpoint and not endpoint.startswith(("http://", "https://")):
        raise ImproperlyConfigured(f"KAISEN_S3_ENDPOINT_URL must be an http:// or https:// URL, not {endpoint!r}.")
    style = (env.get("KAISEN_S3_ADDRESSING_STYLE") or "").strip().lower()
    if style not in ("", "path", "virtual"):
        raise ImproperlyConfigured(f"KAISEN_S3_ADDRESSING_STYLE must be 'path' or 'virtual', not {style!r}.")
    options: dict[str, Any] = {
        "bucket_name": bucket,
        "endpoint_url": endpoint or None,
        "region_name": (env.get("KAISEN_S3_REGION") or "").strip() or None,
        "access_key": key_id or None,
        "secret_key": secret or None,
        "addressing_style": style or None,
        "file_overwrite": False,  # a name already taken gets a suffix, as on the file system
        "default_acl": None,  # the bucket's policy decides; objects are never public
        "querystring_auth": True,
    }
    prefix = (env.get("KAISEN_S3_PREFIX") or "").strip()

    def s3(location: str) -> dict[str, Any]:
        return {"BACKEND": _S3, "OPTIONS": {**options, "location": _join(prefix, location)}}

    return {"default": s3("media"), STATEMENTS: s3("statements"), USAGE_ARCHIVE: s3("archive/usage"),
            "staticfiles": static}


def storage(alias: str) -> Any:
    from django.core.files.storage import storages

    return storages[alias]


def _s3_object(store: Any, name: str) -> tuple[str, Any]:
    """The bucket key of ``name`` in an S3Storage, and its boto3 client."""
    from storages.utils import clean_name

    return store._normalize_name(clean_name(name)), store.connection.meta.client


def is_s3(store: Any) -> bool:
    return hasattr(store, "bucket_name") and hasattr(store, "connection")


class _Body:
    """A file-like view of an S3 object's body: read in blocks as the response is sent."""

    def __init__(self, body: Any) -> None:
        self._body = body

    def read(self, size: int = -1) -> bytes:
        return bytes(self._body.read(None if size is None or size < 0 else size))

    def close(self) -> None:
        self._body.close()


@dataclass
class Opened:
    """A stored file opened for reading: ``file`` has ``read(n)`` and ``close()``; ``size`` in bytes."""

    file: IO[bytes] | _Body
    size: int

    def chunks(self, block: int = BLOCK) -> Iterator[bytes]:
        try:
            while data := self.file.read(block):
                yield data
        finally:
            self.file.close()


def open_stream(alias: str, name: str) -> Opened | None:
    """``name`` of the storage ``alias`` opened for streaming, or None when there is no such file. On the file
    system the file itself; on S3 the body of one GET, read as it is sent (django-storages' ``S3File`` would
    download the whole object first)."""
    store = storage(alias)
    if is_s3(store):
        key, client = _s3_object(store, name)
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            answer = client.get_object(Bucket=store.bucket_name, Key=key)
        except client.exceptions.NoSuchKey:
            return None
        except (BotoCoreError, ClientError) as exc:
            # Denied, unreachable, throttled: the object store's trouble, not the customer's — a 503 that says so,
            # never a 500 (the cause goes to the log, not to the customer).
            logger.warning("object store unavailable for %s: %s", key, exc)
            from kaisen.core.errors import DomainError, ErrorCode

            raise DomainError(ErrorCode.STORAGE_UNAVAILABLE) from exc
        return Opened(file=_Body(answer["Body"]), size=int(answer["ContentLength"]))
    try:
        fh = store.open(name, "rb")
    except FileNotFoundError:
        return None
    return Opened(file=fh, size=int(store.size(name)))


def delete(alias: str, name: str) -> None:
    """Delete ``name`` (nothing happens when it is already gone)."""
    storage(alias).delete(name)


def exists(alias: str, name: str) -> bool:
    return bool(storage(alias).exists(name))


def describe(alias: str, name: str) -> str:
    """Where a stored file is, for people: the path on this machine, or ``s3://bucket/key``."""
    store = storage(alias)
    if is_s3(store):
        from storages.utils import clean_name

        return f"s3://{store.bucket_name}/{store._normalize_name(clean_name(name))}"
    return str(store.path(name))


def local_path(alias: str, name: str) -> Path | None:
    """The file's path on this machine when the storage is the local file system, else None."""
    store = storage(alias)
    try:
        return Path(store.path(name))
    except NotImplementedError:
        return None


class _Spooled(File):  # type: ignore[type-arg]
    """A finished local file handed to ``Storage.save``: the file system storage moves it into place (no
    copy when on the same file system), S3 uploads it (in parts when large)."""

    def __init__(self, path: Path, name: str) -> None:
        super().__init__(path.open("rb"), name=name)
        self._path = path

    def temporary_file_path(self) -> str:
        return str(self._path)


def spool_dir() -> Path:
    """Where files are written before they are stored: ``KAISEN_DATA_DIR/tmp`` (local to each machine)."""
    from django.conf import settings

    folder = Path(settings.DATA_DIR) / "tmp"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@contextmanager
def writing(alias: str, name: str) -> Iterator[tuple[BinaryIO, Callable[[], str]]]:
    """Write a file into the storage ``alias`` under ``name`` (a key, ``/``-separated). Yields the open local
    file to write and ``store()``, which stores what was written and returns the name it got (the storage may
    add a suffix when ``name`` is taken). Nothing reaches the storage unless ``store()`` is called; the local
    spool file is always removed."""
    store = storage(alias)
    fd, tmp = tempfile.mkstemp(prefix="kaisen-", suffix=".part", dir=spool_dir())
    path = Path(tmp)
    try:
        with open(fd, "wb") as out:
            stored: list[str] = []

            def save() -> str:
                out.flush()
                spooled = _Spooled(path, name)
                try:
                    stored.append(store.save(name, spooled))
                finally:
                    spooled.close()
                return stored[-1]

            yield out, save
    finally:
        path.unlink(missing_ok=True)


def check(alias: str = STATEMENTS) -> str | None:
    """None when the storage ``alias`` answers, else what is wrong, in a sentence for the operator (the file
    system: the folder can be created and written; S3: the bucket exists and these credentials may use it)."""
    store = storage(alias)
    if not is_s3(store):
        try:
            Path(store.location).mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=store.location, prefix=".kaisen-check-"):
                pass
        except OSError as exc:
            return f"the folder {store.location} cannot be written: {exc}"
        return None
    where = store.endpoint_url or "AWS S3"
    try:
        store.connection.meta.client.head_bucket(Bucket=store.bucket_name)
    except Exception as exc:  # botocore's errors: no such bucket, refused credentials, no connection...
        detail = getattr(exc, "response", {}).get("Error", {}).get("Code") or str(exc)
        return f"the bucket {store.bucket_name!r} at {where} cannot be used: {detail}"
    return None
