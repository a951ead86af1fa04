"""Artifacts in an S3 bucket, or any S3-compatible store (MinIO, rclone, Ceph...).

Configured the way MLflow users already do it: credentials, region and session
come from boto3's usual chain (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``,
``AWS_PROFILE``, instance roles...); the endpoint from ``MLFLOW_S3_ENDPOINT_URL``,
``AWS_ENDPOINT_URL_S3`` or ``AWS_ENDPOINT_URL``. See :func:`s3_options`.
"""

from __future__ import annotations

import builtins
import json
import mimetypes
import os
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, NoReturn
from urllib.parse import urlparse

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from ..entities import FileInfo
from ..errors import (
    InvalidParameterValue,
    ModelyardError,
    PermissionDenied,
    ResourceDoesNotExist,
    TemporarilyUnavailable,
)
from .base import ArtifactRepository, Readable, safe_relpath

_CHUNK = 1 << 20
_DELETE_BATCH = 1000  # the most keys one DeleteObjects request takes
_LIST_PAGE = 1000  # keys per ListObjectsV2 page (S3's maximum)
_MISSING = frozenset({"NoSuchKey", "404", "NotFound"})
_DENIED = frozenset({"AccessDenied", "403", "Forbidden", "InvalidAccessKeyId", "SignatureDoesNotMatch"})


@dataclass(frozen=True)
class S3Options:
    """How to reach S3; the key of the shared client cache."""

    endpoint_url: str | None = None
    verify_tls: bool = True
    upload_extra_args: str = "{}"  # canonical JSON, so that the options stay hashable
    # Credentials are part of the key so that changed credentials get a new client.
    credentials: tuple[str | None, ...] = ()


def s3_options(environ: Mapping[str, str] | None = None) -> S3Options:
    """Read the MLflow-style S3 settings from the environment (the one place that does).

    - ``MLFLOW_S3_ENDPOINT_URL``, else ``AWS_ENDPOINT_URL_S3``, else ``AWS_ENDPOINT_URL``:
      an S3-compatible endpoint, addressed path-style (``http://host:port/bucket/key``).
    - ``MLFLOW_S3_IGNORE_TLS=true``: do not verify the endpoint's certificate.
    - ``MLFLOW_S3_UPLOAD_EXTRA_ARGS``: JSON object of extra upload arguments,
      e.g. ``{"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "..."}``.
    """
    env = os.environ if environ is None else environ
    endpoint = (
        env.get("MLFLOW_S3_ENDPOINT_URL") or env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL") or None
    )
    raw_extra = env.get("MLFLOW_S3_UPLOAD_EXTRA_ARGS") or "{}"
    try:
        extra = json.loads(raw_extra)
    except ValueError:
        extra = None
    if not isinstance(extra, dict):
        raise InvalidParameterValue(f"MLFLOW_S3_UPLOAD_EXTRA_ARGS={raw_extra!r} is not a JSON object.")
    credentials = tuple(
        env.get(name)
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                     "AWS_REGION", "AWS_DEFAULT_REGION")
    )
    return S3Options(
        endpoint_url=endpoint,
        verify_tls=env.get("MLFLOW_S3_IGNORE_TLS", "").lower() not in ("1", "true", "yes"),
        upload_extra_args=json.dumps(extra, sort_keys=True),
        credentials=credentials,
    )


_clients: dict[S3Options, Any] = {}
_clients_lock = threading.Lock()


def _client_for(options: S3Options) -> Any:
    """One boto3 client per configuration, shared by all repositories (clients are thread-safe)."""
    with _clients_lock:  # sessions are not thread-safe, and a client takes ~0.1 s to build
        client = _clients.get(options)
        if client is None:
            session = boto3.session.Session()
            config = Config(
                signature_version="s3v4",
                retries={"mode": "standard", "max_attempts": 5},
                s3={"addressing_style": "path"} if options.endpoint_url else None,
            )
            client = session.client(
                "s3",
                endpoint_url=options.endpoint_url,
                region_name=session.region_name or "us-east-1",
                verify=options.verify_tls,
                config=config,
            )
            _clients[options] = client
        return client


class S3ArtifactRepository(ArtifactRepository):
    """Files under ``s3://bucket/prefix``; directories are key prefixes ending in ``/``.

    >>> repo = S3ArtifactRepository("s3://my-bucket/experiments/1")
    >>> repo.put("model/weights.bin", open("weights.bin", "rb"))
    >>> [f.path for f in repo.list("model")]
    ['model/weights.bin']
    """

    def __init__(self, root_uri: str, options: S3Options | None = None) -> None:
        super().__init__(root_uri)
        parsed = urlparse(self.root_uri)
        if parsed.scheme != "s3" or not parsed.netloc:
            raise InvalidParameterValue(f"Invalid S3 artifact URI {root_uri!r}: expected s3://BUCKET/PREFIX.")
        self.bucket = parsed.netloc
        self.prefix = safe_relpath(parsed.path.lstrip("/"), "artifact_uri")
        self._options = options
        self._client: Any = None

    @property
    def options(self) -> S3Options:
        """Endpoint and upload settings, read from the environment on first use."""
        if self._options is None:
            self._options = s3_options()
        return self._options

    @property
    def client(self) -> Any:
        """The boto3 S3 client, made on first use."""
        if self._client is None:
            self._client = _client_for(self.options)
        return self._client

    def _key(self, path: str) -> str:
        rel = safe_relpath(path)
        return "/".join(p for p in (self.prefix, rel) if p)

    def _dir_prefix(self, path: str) -> str:
        key = self._key(path)
        return f"{key}/" if key else ""

    def _relative(self, key: str) -> str:
        return key[len(self.prefix) + 1 :] if self.prefix else key

    def put(self, path: str, data: Readable) -> None:
        if not safe_relpath(path):
            raise InvalidParameterValue("An artifact path is required to write a file.")
        key = self._key(path)
        extra: dict[str, Any] = json.loads(self.options.upload_extra_args)
        content_type = mimetypes.guess_type(key)[0]
        if content_type and "ContentType" not in extra:
            extra["ContentType"] = content_type
        try:
            # boto3's transfer manager switches to multipart uploads past 8 MB.
            self.client.upload_fileobj(data, self.bucket, key, ExtraArgs=extra or None, Config=TransferConfig())
        except (ClientError, BotoCoreError) as exc:
            _raise(exc, f"Cannot write artifact {path!r} to s3://{self.bucket}/{key}")

    def list(self, path: str = "") -> list[FileInfo]:
        prefix = self._dir_prefix(path)
        try:
            found = self._list_delimited(prefix)
            if found is None:
                found = self._list_flat(prefix)
        except (ClientError, BotoCoreError) as exc:
            _raise(exc, f"Cannot list s3://{self.bucket}/{prefix}")
        return sorted(found.values(), key=lambda f: (f.path, f.is_dir))

    def _pages(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        paginator = self.client.get_paginator("list_objects_v2")
        yield from paginator.paginate(Bucket=self.bucket, PaginationConfig={"PageSize": _LIST_PAGE}, **kwargs)

    def _list_delimited(self, prefix: str) -> dict[tuple[str, bool], FileInfo] | None:
        """Direct children, the server grouping sub-folders; None if its pages repeat entries."""
        found: dict[tuple[str, bool], FileInfo] = {}
        for page in self._pages(Prefix=prefix, Delimiter="/"):
            entries = [FileInfo(self._relative(c["Prefix"]).rstrip("/"), True, None)
                       for c in page.get("CommonPrefixes", [])]
            entries += [FileInfo(self._relative(o["Key"]), False, int(o["Size"]))
                        for o in page.get("Contents", []) if o["Key"] != prefix]  # skip "folder/" markers
            if any((e.path, e.is_dir) in found for e in entries):
                # Some S3-compatible servers (rclone serve s3 1.75) order folders before files, so the
                # marker jumps back and the pages cycle: list every key below instead.
                return None
            found.update(((e.path, e.is_dir), e) for e in entries)
        return found

    def _list_flat(self, prefix: str) -> dict[tuple[str, bool], FileInfo]:
        """Direct children, grouped here from every key below ``prefix``."""
        found: dict[tuple[str, bool], FileInfo] = {}
        base = self._relative(prefix) if prefix else ""
        for page in self._pages(Prefix=prefix):
            for obj in page.get("Contents", []):
                head, sub, _ = obj["Key"][len(prefix) :].partition("/")
                if not head:
                    continue
                child = base + head
                if sub:
                    found[(child, True)] = FileInfo(child, True, None)
                else:
                    found[(child, False)] = FileInfo(child, False, int(obj["Size"]))
        return found

    def open(self, path: str) -> Iterator[bytes]:
        if not safe_relpath(path):
            raise ResourceDoesNotExist("The artifact root is a directory, not a file.")
        key = self._key(path)
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"]
        except ClientError as exc:
            if _code(exc) in _MISSING:
                raise ResourceDoesNotExist(f"Artifact {path!r} does not exist.") from exc
            _raise(exc, f"Cannot read artifact {path!r} at s3://{self.bucket}/{key}")
        except BotoCoreError as exc:
            _raise(exc, f"Cannot read artifact {path!r} at s3://{self.bucket}/{key}")
        return _stream(body)

    def is_file(self, path: str) -> bool:
        if not safe_relpath(path):
            return False
        key = self._key(path)
        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _code(exc) in _MISSING:
                return False
            _raise(exc, f"Cannot read s3://{self.bucket}/{key}")
        except BotoCoreError as exc:
            _raise(exc, f"Cannot read s3://{self.bucket}/{key}")
        return True

    def delete(self, path: str = "") -> None:
        rel = safe_relpath(path)
        deleted = 0
        if rel and self.is_file(rel):
            self._delete_keys([self._key(rel)])
            deleted += 1
        prefix, after = self._dir_prefix(rel), ""
        while True:  # list a page, delete it, list past it: no continuation token over a changing listing
            try:
                page = self.client.list_objects_v2(
                    Bucket=self.bucket, Prefix=prefix, StartAfter=after, MaxKeys=_DELETE_BATCH
                )
            except (ClientError, BotoCoreError) as exc:
                _raise(exc, f"Cannot delete artifact {path!r}")
            keys = [obj["Key"] for obj in page.get("Contents", [])]
            if not keys:
                break
            self._delete_keys(keys)
            deleted += len(keys)
            after = keys[-1]
        if not deleted:
            raise ResourceDoesNotExist(f"Artifact {path!r} does not exist.")

    def _delete_keys(self, keys: builtins.list[str]) -> None:
        try:
            out = self.client.delete_objects(
                Bucket=self.bucket, Delete={"Objects": [{"Key": k} for k in keys], "Quiet": True}
            )
        except (ClientError, BotoCoreError) as exc:
            _raise(exc, f"Cannot delete from s3://{self.bucket}")
        errors = [e for e in out.get("Errors", []) if e.get("Code") not in _MISSING]
        if errors:
            first = errors[0]
            raise ModelyardError(
                f"Cannot delete {len(errors)} object(s) from s3://{self.bucket}, "
                f"e.g. {first.get('Key')!r}: {first.get('Code')} {first.get('Message', '')}".rstrip()
            )


def _stream(body: Any) -> Iterator[bytes]:
    try:
        yield from body.iter_chunks(_CHUNK)
    finally:
        body.close()


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _raise(exc: ClientError | BotoCoreError, context: str) -> NoReturn:
    """Translate a boto error into the modelyard error tree."""
    if isinstance(exc, (BotoConnectionError, HTTPClientError)):  # no answer: endpoint down, timeout
        raise TemporarilyUnavailable(f"{context}: {exc}") from exc
    if isinstance(exc, BotoCoreError):  # no credentials, bad parameters...
        raise ModelyardError(f"{context}: {exc}") from exc
    code = _code(exc)
    if code in _MISSING:
        raise ResourceDoesNotExist(f"{context}.") from exc
    if code == "NoSuchBucket":
        raise ResourceDoesNotExist(f"{context}: the bucket does not exist.") from exc
    if code in _DENIED:
        raise PermissionDenied(f"{context}: {code} from S3 (check the credentials).") from exc
    raise ModelyardError(f"{context}: {code} {exc}") from exc
