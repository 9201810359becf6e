"""What the package index channel reads: distribution file names, their core metadata, and
PEP 503 simple index pages (pypiserver's relative links, PyPI's absolute ones)."""

from __future__ import annotations

import io
import zipfile

import pytest
from lts_release.channels.dists import (
    Distribution,
    NotADistribution,
    UnreadableMetadata,
    core_metadata,
    describe,
)
from lts_release.channels.package_index import simple_url_for
from lts_release.channels.simple_index import project_files


def test_a_wheel_name_gives_the_form_fields_twine_sends() -> None:
    assert describe("LTS_Demo-1.4.3-py2.py3-none-any.whl") == Distribution(
        "LTS_Demo-1.4.3-py2.py3-none-any.whl", "lts-demo", "1.4.3", "bdist_wheel", "py2.py3"
    )


def test_an_sdist_is_source() -> None:
    assert describe("lts_demo-1.4.3.tar.gz") == Distribution(
        "lts_demo-1.4.3.tar.gz", "lts-demo", "1.4.3", "sdist", "source"
    )


@pytest.mark.parametrize("name", ["SHA256SUMS", "bundle.tar", "lts-demo.whl", "notes-1.txt"])
def test_other_files_are_not_distributions(name: str) -> None:
    with pytest.raises(NotADistribution):
        describe(name)


def _wheel(metadata: str) -> io.BytesIO:
    content = io.BytesIO()
    with zipfile.ZipFile(content, "w") as wheel:
        wheel.writestr("lts_demo-1.4.3.dist-info/METADATA", metadata)
    content.seek(0)
    return content


def test_the_metadata_version_comes_from_the_wheel_itself() -> None:
    dist = describe("lts_demo-1.4.3-py3-none-any.whl")
    content = _wheel("Metadata-Version: 2.4\nName: LTS-Demo\nVersion: 1.4.3\n")

    found = core_metadata(dist, content)

    assert (found.name, found.version, found.metadata_version) == ("LTS-Demo", "1.4.3", "2.4")
    assert content.tell() == 0


def test_metadata_naming_another_version_than_the_file_is_refused() -> None:
    dist = describe("lts_demo-1.4.3-py3-none-any.whl")

    with pytest.raises(UnreadableMetadata, match=r"1\.4\.4"):
        core_metadata(dist, _wheel("Metadata-Version: 2.1\nName: lts-demo\nVersion: 1.4.4\n"))


def test_pypiserver_links_are_resolved_against_the_page_with_their_digest() -> None:
    page = (
        '<a href="/packages/lts_demo-1.4.3-py3-none-any.whl#sha256=ABCDEF">'
        "lts_demo-1.4.3-py3-none-any.whl</a><br>"
        '<a href="../../packages/lts_demo-1.4.3.tar.gz">lts_demo-1.4.3.tar.gz</a>'
    )

    files = project_files(page, page_url="http://127.0.0.1:8080/simple/lts-demo/")

    wheel = files["lts_demo-1.4.3-py3-none-any.whl"]
    assert wheel.url == "http://127.0.0.1:8080/packages/lts_demo-1.4.3-py3-none-any.whl"
    assert wheel.sha256 == "abcdef"
    assert (
        files["lts_demo-1.4.3.tar.gz"].url == "http://127.0.0.1:8080/packages/lts_demo-1.4.3.tar.gz"
    )
    assert files["lts_demo-1.4.3.tar.gz"].sha256 is None


def test_pypi_style_absolute_links_keep_their_host() -> None:
    page = (
        '<a href="https://files.pythonhosted.org/packages/ab/cd/lts_demo-1.4.3.tar.gz'
        '#sha256=0123" data-requires-python="&gt;=3.11">lts_demo-1.4.3.tar.gz</a>'
    )

    [found] = project_files(page, page_url="https://pypi.org/simple/lts-demo/").values()

    assert found.url == "https://files.pythonhosted.org/packages/ab/cd/lts_demo-1.4.3.tar.gz"


def test_the_simple_index_defaults_under_the_upload_url_unless_named() -> None:
    assert simple_url_for("http://127.0.0.1:8080") == "http://127.0.0.1:8080/simple/"
    assert (
        simple_url_for("https://upload.pypi.org/legacy/", "https://pypi.org/simple")
        == "https://pypi.org/simple/"
    )
