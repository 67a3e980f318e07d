"""Fork safety: know when obstore must not be touched in this process.

obstore (Rust object_store on a tokio runtime) is not fork-safe. In a child forked after the
parent imported and used obstore, every obstore request hangs (the runtime's worker threads did
not survive the fork), and a *new* client in the child registers its sockets in the epoll
instance it shares with the parent, which can hang or crash the parent too. So in such a child
autostore never calls obstore for network stores: S3 goes through a boto3 transport built in the
child (:mod:`autostore.backends.boto3_transport`). ``spawn`` and ``forkserver`` children start a
fresh interpreter and use obstore as usual.

The hook is registered when autostore is imported, so a parent that used obstore directly (not
through autostore) is detected as well.
"""

from __future__ import annotations

import os
import sys

__all__ = ["FORK_SAFE_KINDS", "obstore_unsafe", "pid"]

_tainted = False

pid = os.getpid()
"""This process's id, renewed in a forked child by the at-fork hook: a saved value that differs
means the process forked since (cheaper than ``os.getpid()``, a system call each time)."""


def obstore_unsafe() -> bool:
    """True in a process forked from one that had imported obstore: obstore must not run here."""
    return _tainted


def _after_fork_in_child() -> None:
    global _tainted, pid
    pid = os.getpid()
    # Importing is enough to count: whoever imported obstore may have started its runtime.
    if "obstore" in sys.modules:
        _tainted = True


if hasattr(os, "register_at_fork"):  # not on Windows, which has no fork
    os.register_at_fork(after_in_child=_after_fork_in_child)

FORK_SAFE_KINDS = frozenset({"memory"})
"""Backend kinds that keep obstore in a forked child: they do no network I/O (checked:
MemoryStore works there)."""
