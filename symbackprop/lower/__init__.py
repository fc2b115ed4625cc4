"""Derivation -> program of typed statements -> schedules (see program.py and readable.py).

The program holds SymPy expressions and the equation each statement implements; a schedule
decides how the statements become code (fresh arrays and line splits for the readable
functions; buffers and in-place updates for the training step).
"""
