"""The views' table: a DataTable that keeps what it has drawn when the focus comes or goes."""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text
from textual import events
from textual.geometry import Size
from textual.widgets import DataTable
from textual.widgets.data_table import CellType


class ConsoleTable(DataTable[CellType]):
    """A ``DataTable`` whose rendered lines survive its view being hidden and shown again.

    Switching views moves the focus to the new view's table and lays it out again, and
    ``DataTable`` drops every rendered line, row and cell on both: on any restyle (Textual
    restyles a widget whose focus changes) and on any resize event (Textual sends one when
    the view is shown, at the size it already had). The table just shown was then rendered
    again from its cells, the slowest part of a view switch. Neither is needed here:

    - the caches are keyed by the focus state and the base style, so the lines drawn when
      the table last had the focus are still right; only the lookup of component styles
      (the cursor's colours change with the focus) is not keyed by it, and is cleared.
      Any other restyle (a theme, a class) still clears everything;
    - at an unchanged size nothing drawn changes; a real resize still clears everything.
    """

    _styled_with_focus = False
    _sized: Size | None = None

    @classmethod
    def with_columns(cls, table_id: str, columns: Iterable[tuple[str, str, int]]) -> ConsoleTable[str | Text]:
        """A row-cursor table of text cells with ``(key, label, width)`` columns."""
        table: ConsoleTable[str | Text] = ConsoleTable(cursor_type="row", id=table_id)
        for key, label, width in columns:
            table.add_column(label, key=key, width=width)
        return table

    def notify_style_update(self) -> None:
        if self.has_focus == self._styled_with_focus:
            super().notify_style_update()
            return
        self._styled_with_focus = self.has_focus
        self._get_styles_to_render_cell.cache_clear()
        super(DataTable, self).notify_style_update()  # not DataTable's: it drops the lines
        self.refresh()

    def _on_resize(self, event: events.Resize) -> None:
        if event.size == self._sized:
            event.prevent_default()  # DataTable's handler would drop every cached line
        self._sized = event.size
