"""latte: core. The bottom layer: typed records and the user-error type; imports nothing of latte's other packages.

Every other package may import ``core``; ``core`` imports only the standard library (see tests/test_layering.py).
"""
