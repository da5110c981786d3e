"""Known vulnerabilities in the installed (pinned) dependencies: ``pip-audit`` over this virtual environment.

Fails on any known vulnerability that has a fixed release (upgrade the pin); lists the ones without a fix.

pip-audit needs a vulnerability database: the PyPI JSON API per release (``/pypi/<name>/<version>/json``, which
carries the ``vulnerabilities`` of that release) or ``api.osv.dev``. Where neither answers (an offline machine, or a
registry mirror that serves only the per-project JSON), the audit cannot be done and this test is SKIPPED with that
reason; it never passes without having audited.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from importlib import metadata
from pathlib import Path

import pytest

pytestmark = [pytest.mark.unit, pytest.mark.slow]

PYPI = "https://pypi.org/pypi"
OSV = "https://api.osv.dev/v1/query"


def _answers(url: str, data: bytes | None = None) -> bool:
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"} if data else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            body = json.loads(response.read())
    except (urllib.error.URLError, OSError, ValueError):
        return False
    return isinstance(body, dict)


def vulnerability_service() -> str | None:
    """'pypi' or 'osv' when that service answers for a pinned release, else None."""
    probe = metadata.version("fastapi")
    if _answers(f"{PYPI}/fastapi/{probe}/json"):
        return "pypi"
    query = json.dumps({"package": {"name": "fastapi", "ecosystem": "PyPI"}, "version": probe}).encode()
    if _answers(OSV, query):
        return "osv"
    return None


def test_no_known_vulnerability_with_a_fix(tmp_path: Path) -> None:
    pip_audit = shutil.which("pip-audit", path=str(Path(sys.executable).parent))
    if pip_audit is None:
        pytest.skip("pip-audit is not installed (it is in the dev extra)")
    service = vulnerability_service()
    if service is None:
        pytest.skip(
            "no vulnerability database reachable (PyPI's per-release JSON API and api.osv.dev both fail here): "
            "the dependencies were NOT audited"
        )
    report = tmp_path / "audit.json"
    result = subprocess.run(
        [
            pip_audit,
            "--strict",  # a dependency that cannot be audited fails the run instead of being skipped silently
            "--local",
            "--skip-editable",  # this project itself
            "--vulnerability-service",
            service,
            "--format",
            "json",
            "--output",
            str(report),
            "--progress-spinner",
            "off",
            "--timeout",
            "30",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if not report.exists():
        pytest.fail(f"pip-audit did not run: {result.stderr[-3000:]}")
    audit = json.loads(report.read_text())
    dependencies = audit.get("dependencies", [])
    unaudited = [d["name"] for d in dependencies if d.get("skip_reason")]
    assert not unaudited, f"could not audit: {unaudited}"
    fixable, unfixed = [], []
    for dependency in dependencies:
        for vuln in dependency.get("vulns", []):
            line = f"{dependency['name']} {dependency['version']}: {vuln['id']} (fixed in {vuln.get('fix_versions')})"
            (fixable if vuln.get("fix_versions") else unfixed).append(line)
    print(f"\naudited {len(dependencies)} packages with {service}; without a fix: {unfixed or 'none'}")
    assert not fixable, "known vulnerabilities with a fixed release:\n" + "\n".join(fixable)
