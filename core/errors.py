"""The user-error type: bad input from whoever drives latte (a flag, a request field, a file, a profile name).

A ``UserError``'s message says what was wrong and what to do next. The entry points show it as it is: the CLI
prints it and exits 2, the API answers 4xx with it. Any other exception is a bug: the CLI shows its traceback and
the API answers 500 without its message (the server log has it under the request id). ``UserError`` is not a
``ValueError`` on purpose: a ``ValueError`` from a library's own argument check is a bug in latte's call, not the
user's mistake. A few older subclasses also derive from ``ValueError`` so that callers which caught that keep
working (``rag.filters.FilterError``, ``rag.loaders.options.UnsupportedFormat``, ``rag.encoders.registry`` errors).

>>> issubclass(UserError, ValueError)
False
>>> str(UserError("k must be at least 1"))
'k must be at least 1'
"""

from __future__ import annotations


class UserError(Exception):
    """Bad input from the user; the message tells them what to do next (printed as is, never a traceback)."""
