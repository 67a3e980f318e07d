"""``python -m autostore.cli``: the command line, as ``python -m autostore`` and the console script."""

from __future__ import annotations

from .app import main

if __name__ == "__main__":
    main()
