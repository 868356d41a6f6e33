"""What each metadata ``type`` becomes in Python, in one map: the models' fields, the typed
keyword arguments, the reference pages, and the check that two queries sending one attribute
give it types one field can hold (``uid`` and ``string`` are both ``str``)."""

from __future__ import annotations

PYTHON_TYPES = {
    "string": "str",
    "uid": "str",
    "age": "str",
    "integer": "int",
    "number": "float",
    "boolean": "bool",
    "date": "datetime.date",
    "datetime": "datetime.datetime",
    "object": "dict[str, Any]",
}
