"""The ``autostore`` command line: ``ls``, ``cat``, ``info``, ``cp``, ``mv``, ``rm``, ``versions``,
``restore``, ``migrate``, ``cache`` and ``memo``.

Thin on purpose: it parses arguments, calls the library (``AutoStore`` and the functions of
``autostore.transfer``, ``versions``, ``migrate``, ``memoize``) and renders with rich. The rooms:

- ``app``: the typer app, global options/settings, ``main`` and the error → exit-code mapping;
- ``session``: a URI → the store holding it and the key in it;
- ``render``: JSON, previews, tables, progress bars;
- commands by job: ``browse`` (ls/cat/info), ``transfer`` (cp/mv/rm), ``versions``
  (versions/restore/cat --version), ``migrate``, ``cache``, ``memo``.

Importing this package registers every command on ``app``; ``autostore.cli:main`` is the console
script and ``python -m autostore`` runs it too. The library never imports this package.
"""

from __future__ import annotations

from .app import EXIT_CODES, app, exit_code_for, main

# The command modules register themselves on ``app`` when imported, in this order (the order
# of ``autostore --help``).
from . import browse, transfer, migrate, versions, cache, memo  # isort: skip

__all__ = ["EXIT_CODES", "app", "exit_code_for", "main"]

_COMMANDS = (browse, transfer, migrate, versions, cache, memo)
