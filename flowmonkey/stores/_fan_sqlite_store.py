"""The :class:`~flowmonkey.stores.base.FanInStore` part of the SQLite store."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from flowmonkey.model import Execution
from flowmonkey.model.fanout import FanIn
from flowmonkey.stores import _fan_sqlite as fans
from flowmonkey.stores import _sqlite_ops as ops
from flowmonkey.stores._columns import EXECUTIONS
from flowmonkey.stores._fan_rows import fan_of, fan_row

T = TypeVar("T")
_COLUMNS = ", ".join(f"e.{name}" for name in EXECUTIONS.names)


class SQLiteFanIns:
    """Mixed into :class:`~flowmonkey.stores.sqlite.SQLiteStore`: its ``_write`` (one
    transaction, shared by a group commit) and ``_read``."""

    async def _write(self, what: str, fn: Callable[..., T], *args: Any) -> T:  # pragma: no cover
        raise NotImplementedError

    async def _read(self, what: str, fn: Callable[..., T], *args: Any) -> T:  # pragma: no cover
        raise NotImplementedError

    async def open_fan(self, fan: FanIn) -> FanIn:
        return fan_of(await self._write("open_fan", fans.open_fan, fan_row(fan)))

    async def get_fan(self, fan_id: str) -> FanIn | None:
        row = await self._read("get_fan", fans.get, fan_id)
        return fan_of(row) if row is not None else None

    async def add_fan_children(self, fan_id: str, children: Sequence[tuple[int, Execution]]) -> FanIn:
        parent_id = fan_id.split("/", 1)[0]
        rows = [(index, child.id, EXECUTIONS.values(child, ops.enc)) for index, child in children]
        insert = ops.SQL["insert_execution"]
        return fan_of(
            await self._write("add_fan_children", fans.add_children, fan_id, parent_id, rows, insert)
        )

    async def fan_children(
        self, fan_id: str, *, running: bool = False, limit: int | None = None
    ) -> list[tuple[int, Execution]]:
        columns = f"c.idx, {_COLUMNS}"
        rows = await self._read("fan_children", fans.children, fan_id, running, columns, limit)
        return [(row[0], EXECUTIONS.from_row(row[1:], ops.dec)) for row in rows]

    async def fans_of(self, parent_id: str) -> list[FanIn]:
        return [fan_of(row) for row in await self._read("fans_of", fans.of_parent, parent_id)]
