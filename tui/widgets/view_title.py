"""A view's title line: name and filter on the left, position on the right."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget


class ViewTitle(Widget):
    """Aligned when drawn, so it is right at whatever width the view has by then."""

    DEFAULT_CSS = """
    ViewTitle { height: 1; padding: 0 1; background: $boost; }
    """

    left: reactive[Text] = reactive(Text)
    right: reactive[str] = reactive("")

    def render(self) -> Text:
        text = self.left.copy()
        gap = max(2, self.content_size.width - text.cell_len - len(self.right))
        text.append(" " * gap + self.right)
        return text
