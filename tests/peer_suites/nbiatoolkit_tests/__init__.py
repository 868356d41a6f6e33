## __init__.py

# Path: projects/nbia-toolkit/src/nbiatoolkit/tests/__init__.py
