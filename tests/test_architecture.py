"""The import-linter contracts of pyproject.toml hold: services are independent of each other and
the shared library depends on no service."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _lint_imports(
    *args: str, cwd: Path, pythonpath: str | None = None
) -> subprocess.CompletedProcess[str]:
    executable = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert executable is not None, "import-linter is not installed"
    env = {**os.environ, **({"PYTHONPATH": pythonpath} if pythonpath else {})}
    return subprocess.run(
        [executable, "--no-cache", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_the_import_contracts_of_the_repository_are_kept() -> None:
    result = _lint_imports(cwd=ROOT)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_a_service_importing_another_service_breaks_the_contract(tmp_path: Path) -> None:
    for name, body in {"svc_a": "import svc_b.domain\n", "svc_b": ""}.items():
        package = tmp_path / "src" / name
        package.mkdir(parents=True)
        (package / "__init__.py").write_text("")
        (package / "domain.py").write_text(body)
    (tmp_path / ".importlinter").write_text(
        textwrap.dedent(
            """
            [importlinter]
            root_packages =
                svc_a
                svc_b

            [importlinter:contract:independent]
            name = Services are independent of each other
            type = independence
            modules =
                svc_a
                svc_b
            """
        )
    )

    result = _lint_imports(cwd=tmp_path, pythonpath=str(tmp_path / "src"))

    assert result.returncode == 1
    assert "svc_a.domain -> svc_b.domain" in result.stdout
