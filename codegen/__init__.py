"""Generate tcia_models._generated from the TCIA metadata documents under schema/.

Run ``python -m codegen --help``. Data flows one way: fetch (or read the snapshot) -> validate ->
transform -> datamodel-code-generator -> write (or compare with ``--check``).
"""
