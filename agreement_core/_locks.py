"""Exclusive locks on files, so that two jobs never compute the same thing at once.

One lock per network of a record store (``<store>/.net<k>.lock``, taken by
:func:`agreement_core.study.runs.train_study`) and one per statistics table
(``.<table>.lock`` beside it, taken by
:func:`agreement_core.statistics.compute_statistics`).

Design
------
A lock is ``fcntl.flock(LOCK_EX)`` on a lock file that stays open while the lock is held;
the file holds the holder's pid, host and start time (JSON), for messages only. We chose
flock over a file created with ``O_CREAT | O_EXCL`` plus a "does that pid still exist"
check because the kernel releases a flock when its holder dies, however it dies (kill -9,
the OOM killer, a Slurm time limit): no one ever has to decide whether a lock is stale. A
pid check only works on the holder's own host, is fooled by a recycled pid, and needs a
racy "delete the stale file, then create it" step. flock also works across the hosts of a
cluster on NFS (the Linux client maps it onto NFS byte-range locks) and on GPFS; Lustre
needs its ``flock`` mount option.

So a lock file left behind by a killed holder blocks nothing: the next writer locks it,
reads the dead holder from it and says that it takes the lock over. A clean release
unlinks the file while still holding the lock; an acquirer checks, once it holds a lock,
that the file it locked is still the one at the path (same inode), and otherwise tries
again, so that unlinking never lets two processes hold the same lock.

Forked children (the statistics process pool) inherit the open lock file; they close their
copy at fork, so that an orphaned child of a killed holder does not keep the lock.

Where flock is not supported (some network file systems), or no lock file can be created
(a read-only folder), locking is skipped with a one-line warning: every write of the
package is atomic, so running without a lock costs duplicated work, never corrupt results.
"""

from __future__ import annotations

import datetime
import errno
import fcntl
import json
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from ._io import NO_SPACE
from .errors import AgreementError, DiskFull

__all__ = ["FileLock", "Holder", "LockHeld", "lock_path"]

#: errno values of a file system that does not implement flock.
_UNSUPPORTED = {errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL}
#: errno values of a folder where no lock file can be created (nor anything else written).
_READ_ONLY = {errno.EROFS, errno.EACCES, errno.EPERM}
#: Locks this process holds; a forked child forgets them (see the module docstring).
_HELD: set[FileLock] = set()


class LockHeld(AgreementError):
    """Another live process holds the lock (and we were not to wait, or waited too long)."""

    def __init__(self, message: str, holder: Holder | None = None):
        super().__init__(message)
        self.holder = holder


@dataclass(frozen=True)
class Holder:
    """Who holds (or last held) a lock: as written into the lock file."""

    pid: int
    host: str
    started: str

    def __str__(self) -> str:
        return f"pid {self.pid} on host {self.host} (since {self.started})"

    @classmethod
    def me(cls) -> Holder:
        now = datetime.datetime.now().astimezone().isoformat(sep=" ", timespec="seconds")
        return cls(os.getpid(), socket.gethostname(), now)

    @classmethod
    def parse(cls, text: str) -> Holder | None:
        try:
            fields = json.loads(text)
            return cls(int(fields["pid"]), str(fields["host"]), str(fields["started"]))
        except (ValueError, KeyError, TypeError):
            return None  # empty (the holder is between locking and writing) or foreign


def lock_path(path: str | os.PathLike) -> Path:
    """The lock file guarding ``path``: ``.<name>.lock`` beside it."""
    path = Path(path)
    return path.with_name(f".{path.name}.lock")


class FileLock:
    """An exclusive lock on ``path`` (see the module docstring).

    Parameters
    ----------
    path : path-like
        The lock file; created (with its folder) when missing.
    what : str
        What the lock guards, for messages (e.g. ``"net 1 of /runs/study"``).
    say : callable
        Where messages go (a waiting caller, a stale lock taken over).

    Examples
    --------
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> with FileLock(f"{folder}/.x.lock", "x", timeout=0):
    ...     FileLock(f"{folder}/.x.lock", "x").acquire(timeout=0)
    False
    """

    def __init__(self, path: str | os.PathLike, what: str = "", *,
                 timeout: float | None = None, say=print):
        self.path = Path(path)
        self.what = what or str(self.path)
        self.timeout = timeout
        self.say = say
        self._fd: int | None = None
        self.held = False

    def __repr__(self) -> str:
        return f"FileLock({str(self.path)!r}, held={self.held})"

    # ---------------------------------------------------------------- holder
    def holder(self) -> Holder | None:
        """Who the lock file names (None if it is missing or being written)."""
        for _ in range(20):  # a new holder writes its name just after it locks
            try:
                found = Holder.parse(self.path.read_text())
            except OSError:
                return None
            if found is not None:
                return found
            time.sleep(0.01)
        return None

    def describe_holder(self) -> str:
        holder = self.holder()
        return str(holder) if holder else "another process"

    # ---------------------------------------------------------------- locking
    def _try_lock(self) -> bool:
        """One attempt; True when this process now holds the lock."""
        while True:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
            except OSError as error:
                if error.errno not in _READ_ONLY:
                    raise
                return self._unlocked(f"cannot create {self.path.name} there")
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                return False
            except OSError as error:
                os.close(fd)
                if error.errno not in _UNSUPPORTED:
                    raise
                return self._unlocked(f"no file locks there: {error.strerror}")
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)  # we locked a file its holder has just unlinked: try the new one
        previous = Holder.parse(os.pread(fd, 4096, 0).decode(errors="replace"))
        if previous is not None:
            # A clean release removes the file: whoever is named in it died holding it.
            self.say(f"taking over the lock on {self.what} from {previous}, which ended "
                     f"without releasing it ({self.path})")
        me = json.dumps(vars(Holder.me())).encode()
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, me, 0)
        except OSError as error:
            os.close(fd)
            if error.errno in NO_SPACE:  # name the file: the OS error names none
                raise DiskFull(self.path) from error
            raise
        self._fd, self.held = fd, True
        _HELD.add(self)
        return True

    def _unlocked(self, why: str) -> bool:
        # Nothing of ours is corrupted without a lock (every write is atomic); at worst
        # two jobs do the same work. A read-only folder has no second writer anyway.
        self.say(f"warning: going on without a lock on {self.what} ({self.path.parent}: "
                 f"{why})")
        self.held = True
        return True

    def acquire(self, timeout: float | None = None, poll: float = 0.5,
                report_every: float = 60.0) -> bool:
        """Take the lock; False if it is still held by another process after ``timeout`` s.

        ``timeout=0`` tries once; ``None`` waits as long as it takes. While waiting, a
        message naming the holder is shown at once and then every ``report_every`` s.
        """
        if self.held:
            raise RuntimeError(f"{self!r} is already held")
        start = time.monotonic()
        deadline = None if timeout is None else start + timeout
        next_report, reported = start, False
        while not self._try_lock():
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                if timeout > 0:
                    self.say(f"gave up waiting for {self.what} after {now - start:.0f} s")
                return False
            if now >= next_report:
                limit = "" if timeout is None else f" (at most {timeout:g} s)"
                waited = f", waited {now - start:.0f} s so far" if reported else ""
                self.say(f"{self.what} is locked by {self.describe_holder()}: waiting for "
                         f"it{limit}{waited}")
                next_report, reported = now + report_every, True
            time.sleep(poll if deadline is None else min(poll, deadline - now))
        return True

    def release(self) -> None:
        """Give the lock up and remove its file (a no-op when not held)."""
        if not self.held:
            return
        fd, self._fd, self.held = self._fd, None, False
        _HELD.discard(self)
        if fd is None:
            return  # held without a lock (no flock support)
        try:
            # Unlink first, still holding the lock: a waiter that locks the unlinked file
            # sees that it is no longer at the path and tries again.
            self.path.unlink(missing_ok=True)
        finally:
            os.close(fd)

    def __enter__(self) -> FileLock:
        if not self.acquire(self.timeout):
            raise LockHeld(f"{self.what} is locked by {self.describe_holder()} "
                           f"(lock file {self.path}); wait for it to finish, then run again",
                           self.holder())
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def _forget_in_child() -> None:
    # The parent still holds these locks; the child must neither keep nor unlink them.
    for lock in list(_HELD):
        if lock._fd is not None:
            os.close(lock._fd)
        lock._fd, lock.held = None, False
    _HELD.clear()


os.register_at_fork(after_in_child=_forget_in_child)
