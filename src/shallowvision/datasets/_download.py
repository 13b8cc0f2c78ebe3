"""Checksummed downloads with a progress bar and an atomic rename."""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from collections.abc import Sequence
from http.client import HTTPException
from pathlib import Path

from shallowvision.datasets._registry import RemoteFile
from shallowvision.exceptions import DataError

__all__ = ["download"]

_CHUNK = 1 << 16
_TIMEOUT_S = 60


def mirrors_for(spec_mirrors: Sequence[str]) -> list[str]:
    """Base URLs to try, the user's ``SHALLOWVISION_MIRROR`` (if set) first."""
    user = os.environ.get("SHALLOWVISION_MIRROR", "").strip()
    return ([user.rstrip("/") + "/"] if user else []) + list(spec_mirrors)


def download(remote: RemoteFile, mirrors: Sequence[str], dest_dir: Path) -> Path:
    """Download ``remote`` into ``dest_dir``, trying each mirror in turn.

    The bytes go to a hidden ``.part`` file and are hashed on the way; only a
    file whose SHA-256 matches the registry is renamed into place. A partial or
    corrupt download is removed.

    Raises
    ------
    DataError
        If every mirror fails or the checksum does not match.
    """
    dest_dir.mkdir(parents=True, exist_ok=True)
    target = dest_dir / remote.name
    failures = []
    for base in mirrors:
        url = base + remote.name
        try:
            _fetch(url, target, remote)
        except _TransferError as exc:
            failures.append(f"{url}: {exc}")
            continue
        return target
    raise DataError(
        f"could not download {remote.name} ({'; '.join(failures)}); copy the file into a folder "
        "and pass data_dir= (or set SHALLOWVISION_DATA)"
    )


class _TransferError(Exception):
    """A mirror failed; the next one may work."""


def _fetch(url: str, target: Path, remote: RemoteFile) -> None:
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    from shallowvision._console import stderr_console

    part = target.with_name(f".{target.name}.{os.getpid()}.part")
    digest = hashlib.sha256()
    try:
        request = urllib.request.Request(url, headers={"User-Agent": "shallowvision"})
        with urllib.request.urlopen(request, timeout=_TIMEOUT_S) as response:
            total = int(response.headers.get("Content-Length") or remote.size or 0) or None
            with (
                open(part, "wb") as out,
                Progress(
                    TextColumn("[bold]{task.description}"),
                    BarColumn(),
                    DownloadColumn(),
                    TransferSpeedColumn(),
                    TimeRemainingColumn(),
                    console=stderr_console(),
                    transient=True,
                ) as progress,
            ):
                task = progress.add_task(f"downloading {remote.name}", total=total)
                while chunk := response.read(_CHUNK):
                    out.write(chunk)
                    digest.update(chunk)
                    progress.advance(task, len(chunk))
        got = digest.hexdigest()
        if got != remote.sha256:
            raise _TransferError(
                f"checksum mismatch (SHA-256 {got}, expected {remote.sha256}); "
                "the corrupt download was removed"
            )
        os.replace(part, target)
    except (urllib.error.URLError, HTTPException, TimeoutError, ConnectionError) as exc:
        raise _TransferError(getattr(exc, "reason", None) or exc) from exc
    finally:
        part.unlink(missing_ok=True)
