"""A small column table for the per-class rows and the breakdowns: what a score needs, without pandas.

Scoring is part of the light core (``pip install ovavebench``, numpy and scipy only), so its tables are plain
columns of equal length; :meth:`Table.to_pandas` hands one to pandas for those who have it.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator, Mapping, Sequence
from typing import IO, TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd


def _scalar(value: Any) -> Any:
    """A numpy scalar as the Python one (``np.float64(0.5)`` → ``0.5``)."""
    return value.item() if isinstance(value, np.generic) else value


class Table:
    """Named columns of equal length, in order; one row per class, group or bucket."""

    def __init__(self, columns: Mapping[str, Sequence[Any] | np.ndarray]) -> None:
        self._columns = {name: np.asarray(values) for name, values in columns.items()}
        lengths = {len(values) for values in self._columns.values()}
        if len(lengths) > 1:
            raise ValueError(f"columns of different lengths: {sorted(lengths)}")
        self._length = lengths.pop() if lengths else 0

    @property
    def columns(self) -> list[str]:
        """The column names, in order."""
        return list(self._columns)

    def __len__(self) -> int:
        return self._length

    def __getitem__(self, column: str) -> np.ndarray:
        """One column, as an array."""
        return self._columns[column]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Table):
            return NotImplemented
        return self.columns == other.columns and all(
            np.array_equal(self[c], other[c], equal_nan=self[c].dtype.kind == "f") for c in self.columns
        )

    __hash__ = None  # type: ignore[assignment]  # mutable-looking container: no hashing

    def __repr__(self) -> str:
        return f"Table({len(self)} rows: {', '.join(self.columns)})"

    def rows(self) -> Iterator[dict[str, Any]]:
        """Each row as a dict of Python values (NaN stays NaN)."""
        for i in range(self._length):
            yield {name: _scalar(values[i]) for name, values in self._columns.items()}

    def records(self) -> list[dict[str, Any]]:
        """The rows as strict-JSON objects: NaN (a bucket without videos) becomes ``None``."""
        return [
            {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in row.items()} for row in self.rows()
        ]

    def filter(self, mask: np.ndarray) -> Table:
        """The rows where ``mask`` is true, in order."""
        return Table({name: values[mask] for name, values in self._columns.items()})

    def sorted_by(self, *columns: str) -> Table:
        """The rows sorted by ``columns`` (the first is the primary key), stable."""
        keys = [self._columns[c] for c in reversed(columns)]
        keys = [k.astype(str) if k.dtype.kind == "O" else k for k in keys]  # names: compared as text
        order = np.lexsort(keys) if keys else np.arange(self._length)
        return Table({name: values[order] for name, values in self._columns.items()})

    def to_csv(self, handle: IO[str]) -> None:
        """Write a header and the rows (floats as their shortest repr, NaN as an empty cell, as pandas does)."""
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(self.columns)
        for row in self.rows():
            writer.writerow(["" if isinstance(v, float) and math.isnan(v) else v for v in row.values()])

    def to_pandas(self) -> pd.DataFrame:
        """The table as a ``DataFrame`` (needs pandas)."""
        import pandas as pd

        return pd.DataFrame({name: values for name, values in self._columns.items()})
