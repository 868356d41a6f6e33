class CodegenError(Exception):
    """A problem that stops the run before anything is written; the message says what to fix."""
