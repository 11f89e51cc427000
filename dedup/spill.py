"""Arrays parked on disk until a later step needs them: peak memory is what one step uses.

Stage 1 must see the whole corpus before it can shingle (boilerplate is learned corpus-wide), so
without this every article's tokens would be held until the end, and every batch's shingle sets
twice while they are joined. The file is unlinked from the start, so nothing is left behind if the
process dies; pages the kernel still caches for it are not part of this process's memory.
"""

from __future__ import annotations

import tempfile
from typing import NamedTuple

import numpy as np

__all__ = ["Spill", "Spilled"]


class Spilled(NamedTuple):
    """Where one array lies in the spill file."""

    offset: int
    dtype: np.dtype
    size: int


class Spill:
    """An append-only scratch file of numpy arrays."""

    def __init__(self, directory: str | None = None) -> None:
        self._file = tempfile.TemporaryFile(prefix="dedup-spill-", dir=directory)  # noqa: SIM115 (closed by close)
        self._end = 0

    def put(self, array: np.ndarray) -> Spilled:
        array = np.ascontiguousarray(array)
        self._file.seek(self._end)
        self._file.write(memoryview(array).cast("B"))
        handle = Spilled(self._end, array.dtype, array.size)
        self._end += array.nbytes
        return handle

    def get(self, handle: Spilled) -> np.ndarray:
        out = np.empty(handle.size, dtype=handle.dtype)
        self.read_into(handle, out)
        return out

    def read_into(self, handle: Spilled, out: np.ndarray) -> None:
        """Fill ``out`` (contiguous, ``handle.size`` items) from the file."""
        if handle.size == 0:
            return
        self._file.seek(handle.offset)
        view = memoryview(out).cast("B")
        got = self._file.readinto(view)
        if got != len(view):
            raise OSError(f"spill file truncated: read {got} of {len(view)} bytes")

    def close(self) -> None:
        self._file.close()

    @property
    def bytes_written(self) -> int:
        return self._end
