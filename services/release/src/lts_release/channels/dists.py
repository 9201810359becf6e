"""Python distribution files as the legacy upload API describes them: name, version, file type,
Python tag and metadata version, read from the file name and the file's own metadata (a wheel's
`*.dist-info/METADATA`, an sdist's `PKG-INFO`), the way twine fills its form. Pure apart from
reading the file object it is given."""

from __future__ import annotations

import tarfile
import zipfile
from dataclasses import dataclass
from email.parser import HeaderParser
from typing import BinaryIO

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

SDIST_SUFFIXES = (".tar.gz", ".zip")


@dataclass(frozen=True)
class Distribution:
    """The upload form's description of one file (`filetype` bdist_wheel or sdist)."""

    filename: str
    name: str
    """The project name, normalised (PEP 503): the index's `/simple/<name>/` page."""
    version: str
    filetype: str
    pyversion: str


class NotADistribution(ValueError):
    """The file name is not a wheel's or an sdist's."""


class UnreadableMetadata(ValueError):
    """The distribution holds no readable `Metadata-Version`."""


def describe(filename: str) -> Distribution:
    """The distribution a file name names; `NotADistribution` for any other file."""
    if filename.endswith(".whl"):
        try:
            name, version, _build, tags = parse_wheel_filename(filename)
        except InvalidWheelFilename as error:
            raise NotADistribution(str(error)) from None
        # twine sends the file name's Python tag as it is (`py3`, `py2.py3`, `cp312`)
        pyversion = filename[: -len(".whl")].split("-")[-3]
        del tags
        return Distribution(
            filename, canonicalize_name(name), str(version), "bdist_wheel", pyversion
        )
    if filename.endswith(SDIST_SUFFIXES):
        try:
            name, version = parse_sdist_filename(filename)
        except InvalidSdistFilename as error:
            raise NotADistribution(str(error)) from None
        return Distribution(filename, canonicalize_name(name), str(version), "sdist", "source")
    raise NotADistribution(f"{filename} is neither a wheel nor an sdist")


def is_distribution(filename: str) -> bool:
    try:
        describe(filename)
    except NotADistribution:
        return False
    return True


@dataclass(frozen=True)
class CoreMetadata:
    """The fields of a distribution's core metadata the upload form repeats."""

    name: str
    version: str
    metadata_version: str


def core_metadata(dist: Distribution, content: BinaryIO) -> CoreMetadata:
    """The distribution's own core metadata; reads `content` (seekable) and leaves it at the
    start. `UnreadableMetadata` when it is missing, or names another project or version than
    the file name (an index would refuse it, or worse, file it under the wrong release)."""
    try:
        if dist.filetype == "bdist_wheel":
            text = _wheel_metadata(content)
        else:
            text = _sdist_pkg_info(dist.filename, content)
    except (zipfile.BadZipFile, tarfile.TarError, OSError, EOFError, UnicodeDecodeError) as error:
        raise UnreadableMetadata(f"{dist.filename}: {error}") from None
    finally:
        content.seek(0)
    headers = HeaderParser().parsestr(text)
    fields = {key: headers.get(key) for key in ("Metadata-Version", "Name", "Version")}
    missing = [key for key, value in fields.items() if not value]
    if missing:
        raise UnreadableMetadata(f"{dist.filename}: no {', '.join(missing)} in its metadata")
    found = CoreMetadata(
        name=str(fields["Name"]).strip(),
        version=str(fields["Version"]).strip(),
        metadata_version=str(fields["Metadata-Version"]).strip(),
    )
    if canonicalize_name(found.name) != dist.name or not _same_version(found.version, dist.version):
        raise UnreadableMetadata(
            f"{dist.filename}: its metadata names {found.name} {found.version}, "
            f"its file name {dist.name} {dist.version}"
        )
    return found


def _wheel_metadata(content: BinaryIO) -> str:
    with zipfile.ZipFile(content) as wheel:
        candidates = [
            entry
            for entry in wheel.namelist()
            if entry.count("/") == 1 and entry.endswith(".dist-info/METADATA")
        ]
        if len(candidates) != 1:
            raise UnreadableMetadata(f"{len(candidates)} .dist-info/METADATA files in the wheel")
        return wheel.read(candidates[0]).decode("utf-8")


def _sdist_pkg_info(filename: str, content: BinaryIO) -> str:
    if filename.endswith(".zip"):
        with zipfile.ZipFile(content) as archive:
            names = [entry for entry in archive.namelist() if _top_level_pkg_info(entry)]
            if not names:
                raise UnreadableMetadata(f"{filename}: no top-level PKG-INFO")
            return archive.read(names[0]).decode("utf-8")
    with tarfile.open(fileobj=content, mode="r:gz") as archive:
        for member in archive:
            if member.isfile() and _top_level_pkg_info(member.name):
                extracted = archive.extractfile(member)
                if extracted is not None:
                    return extracted.read().decode("utf-8")
    raise UnreadableMetadata(f"{filename}: no top-level PKG-INFO")


def _top_level_pkg_info(path: str) -> bool:
    parts = path.strip("/").split("/")
    return len(parts) == 2 and parts[1] == "PKG-INFO"


def _same_version(left: str, right: str) -> bool:
    try:
        return Version(left) == Version(right)
    except InvalidVersion:
        return left == right
