"""``python -m autostore``: the command line (same as the ``autostore`` console script)."""

from __future__ import annotations

from .cli import main

if __name__ == "__main__":
    main()
