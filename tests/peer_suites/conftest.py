"""The peers' own suites are run by ``run.py`` in the peers' venv, never collected here."""

collect_ignore_glob = [
    "tcia_utils_tests/*",
    "nbiatoolkit_tests/*",
    "java/*",
    "conftest_*.py",
    "run.py",
]
