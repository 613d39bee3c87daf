"""The views' table: a DataTable that keeps what it has drawn when the focus comes or goes."""

from __future__ import annotations

from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.widgets import DataTable
from textual.widgets.data_table import CellType


class ConsoleTable(DataTable[CellType], inherit_bindings=False):
    """A ``DataTable`` whose rendered lines survive its view being hidden and shown again;
    ``home``/``g`` and ``end``/``G`` go to the first and the last row, and ``enter`` is
    left to the view.

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

    # DataTable's keys but enter: that is the view's (open, with its own name in the key bar).
    BINDINGS = [
        Binding("up", "cursor_up", "Cursor up", id="table.up", show=False),
        Binding("down", "cursor_down", "Cursor down", id="table.down", show=False),
        Binding("right", "cursor_right", "Cursor right", id="table.right", show=False),
        Binding("left", "cursor_left", "Cursor left", id="table.left", show=False),
        Binding("pageup", "page_up", "Page up", id="table.page_up", show=False),
        Binding("pagedown", "page_down", "Page down", id="table.page_down", show=False),
        Binding("home,g", "scroll_top", "First row", id="table.first", show=False),
        Binding("end,G", "scroll_bottom", "Last row", id="table.last", show=False),
    ]

    _styled_with_focus = False
    _sized: Size | None = None

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
