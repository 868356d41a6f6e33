"""A TCIA-compatible HTTP server for tests: ``TCIATestServer``."""
