"""Run a peer's own test suite, unmodified, against a bundled server: ``python run.py PEER
ORIGIN WORKDIR [pytest args]`` with the peers' interpreter (``.venv-bench``).

PEER is ``tcia_utils`` (3.3.5's sdist tests) or ``nbiatoolkit`` (1.3.1's git tests, which
import ``src.nbiatoolkit``: the installed 1.3.1, the same code, is linked in as ``src/``). The
suite is copied into WORKDIR with its conftest.py, the only change, which points the peer's
base URLs at ORIGIN. Prints pytest's summary; exits with pytest's status.

``python run.py java ORIGIN WORKDIR SDK_DIR`` compiles TCIA-API-SDK's Java client and its
JUnit test (SDK_DIR is a checkout's ``tcia-rest-client-java``; the SDK has no license, so it
is not copied into this repository) with javac against the jars in ``~/.m2`` (Maven cannot
resolve its parent POMs offline), its ``baseUrl`` constant pointed at ORIGIN, and runs it.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    peer, origin, work, *pytest_args = sys.argv[1:]
    root = Path(work) / peer
    shutil.rmtree(root, ignore_errors=True)
    if peer == "tcia_utils":
        shutil.copytree(HERE / "tcia_utils_tests", root / "tests")
        shutil.copy(HERE / "conftest_tcia_utils.py", root / "tests" / "conftest.py")
    elif peer == "nbiatoolkit":
        shutil.copytree(HERE / "nbiatoolkit_tests", root / "tests")
        spec = importlib.util.find_spec("nbiatoolkit")
        assert spec is not None and spec.origin is not None, "nbiatoolkit is not installed"
        (root / "src").mkdir(parents=True)
        (root / "src" / "nbiatoolkit").symlink_to(Path(spec.origin).parent)
        shutil.copy(HERE / "conftest_nbiatoolkit.py", root / "conftest.py")
    elif peer == "java":
        return run_java(origin, root, Path(pytest_args[0]))
    else:
        raise SystemExit(f"unknown peer {peer!r}: tcia_utils, nbiatoolkit or java")
    env = {**os.environ, "TCIA_PEER_ORIGIN": origin}
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rfE"]
    return subprocess.run([*command, *pytest_args], cwd=root, env=env, check=False).returncode


JARS = (
    "com/google/code/gson/gson/2.10.1/gson-2.10.1.jar",
    "org/apache/httpcomponents/httpclient/4.5.13/httpclient-4.5.13.jar",
    "org/apache/httpcomponents/httpcore/4.4.13/httpcore-4.4.13.jar",
    "commons-logging/commons-logging/1.2/commons-logging-1.2.jar",
    "commons-codec/commons-codec/1.11/commons-codec-1.11.jar",
    "junit/junit/4.13.2/junit-4.13.2.jar",
    "org/hamcrest/hamcrest-core/1.3/hamcrest-core-1.3.jar",
)
SDK_BASE_URL = "https://services.cancerimagingarchive.net/services/v2"


def java_missing(sdk: Path) -> str | None:
    """Why the Java suite cannot run here, or None."""
    if shutil.which("javac") is None or shutil.which("java") is None:
        return "no JDK (javac, java) on PATH"
    if not (sdk / "src" / "test").is_dir():
        return f"no TCIA-API-SDK tcia-rest-client-java checkout at {sdk}"
    missing = [jar for jar in JARS if not (Path.home() / ".m2" / "repository" / jar).exists()]
    return f"jars missing from ~/.m2: {', '.join(missing)}" if missing else None


def run_java(origin: str, root: Path, sdk: Path) -> int:
    why = java_missing(sdk)
    if why is not None:
        raise SystemExit(why)
    shutil.copytree(sdk / "src", root / "src")
    test = next((root / "src" / "test").rglob("TestTCIAClient.java"))
    test.write_text(test.read_text().replace(SDK_BASE_URL, origin + "/services/v2"))
    classpath = ":".join(str(Path.home() / ".m2" / "repository" / jar) for jar in JARS)
    sources = [str(path) for path in (root / "src").rglob("*.java")]
    out = root / "classes"
    subprocess.run(["javac", "-nowarn", "-d", str(out), "-cp", classpath, *sources], check=True)
    runner = ["java", "-cp", f"{out}:{classpath}", "org.junit.runner.JUnitCore"]
    test_class = "edu.emory.cci.tcia.client.test.TestTCIAClient"
    return subprocess.run([*runner, test_class], cwd=root, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
