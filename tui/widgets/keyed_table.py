"""A DataTable refreshed in place: rows are keyed, so new data keeps the cursor on the same
row, the scroll where it was and the selection marks. Cells are shown as they are: a string
is never read as markup (a file named `sales[/].csv` would not draw, and parsing every cell
cost a third of a table's paint)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual._two_way_dict import TwoWayDict
from textual.render import measure
from textual.widgets import DataTable
from textual.widgets._data_table import default_cell_formatter
from textual.widgets.data_table import CellKey, RowKey


def plain(value: Any) -> Any:
    """A string as text without markup, as DataTable would show it (one line, no wrap)."""
    return Text(value, no_wrap=True, end="") if isinstance(value, str) else value


class KeyedTable(DataTable):
    def __init__(self, columns: Sequence[str], **kwargs: Any) -> None:
        kwargs.setdefault("cursor_type", "row")
        kwargs.setdefault("zebra_stripes", True)
        super().__init__(**kwargs)
        self._columns = list(columns)
        self.filter_text = ""
        self._rows: list[tuple[str, list[Any]]] = []

    def on_mount(self) -> None:
        for name in self._columns:
            self.add_column(plain(name), key=name)

    def set_columns(self, columns: Sequence[str]) -> None:
        """These columns, in this order. Columns added after the present ones keep the rows
        (their cells are filled by the next `sync`); any other change starts over."""
        columns = list(columns)
        if columns == self._columns:
            return
        if columns[:len(self._columns)] == self._columns:
            for name in columns[len(self._columns):]:
                self.add_column(plain(name), key=name, default=plain(""))
            self._columns = columns
            return
        self._columns = columns
        self.clear(columns=True)
        for name in self._columns:
            self.add_column(plain(name), key=name)

    def update_cell(self, row_key: Any, column_key: Any, value: Any, *,
                    update_width: bool = False) -> None:
        super().update_cell(row_key, column_key, plain(value), update_width=update_width)

    @property
    def selected_key(self) -> str | None:
        if not self.row_count:
            return None
        row = min(self.cursor_row, self.row_count - 1)
        return self.coordinate_to_cell_key((row, 0)).row_key.value

    def sync(self, rows: list[tuple[str, list[Any]]]) -> None:
        """Show `rows` (key, cells), filtered by `filter_text`, keeping cursor and scroll.

        Only what changed is touched: rows gone are removed, new rows added, changed cells
        updated, then the order set. Measuring cells is what costs (a 200-row table
        rebuilt whole kept the event loop busy for ~0.4 s on a loaded machine), so only
        new and changed cells are measured."""
        rows = [(key, [plain(c) for c in cells]) for key, cells in rows]
        self._rows = rows
        visible = [(k, c) for k, c in rows if self._matches(c)]
        keys = [k for k, _ in visible]
        order = [r.key.value for r in self.ordered_rows]
        if keys == order and not self._updated_cells:
            if self._update_cells(visible):
                self._measure()
            return
        selected, scroll = self.selected_key, (self.scroll_x, self.scroll_y)
        wanted = set(keys)
        gone = [k for k in order if k not in wanted]
        if len(gone) > len(order) // 2:
            self.clear()
            for key, cells in visible:
                self.add_row(*cells, key=key)
        else:
            self._remove_rows(gone)
            present = set(order) - set(gone)
            self._update_cells([(k, c) for k, c in visible if k in present])
            for key, cells in visible:
                if key not in present:
                    self.add_row(*cells, key=key)
            if [r.key.value for r in self.ordered_rows] != keys:
                self._set_order(keys)
        self._measure()
        if selected in wanted:
            self.move_cursor(row=keys.index(selected), scroll=False)
        self.scroll_to(*scroll, animate=False, immediate=True)

    def _update_cells(self, visible: list[tuple[str, list[Any]]]) -> bool:
        changed = False
        for key, cells in visible:
            for column, value in zip(self._columns, cells, strict=False):
                if self.get_cell(key, column) != value:
                    self.update_cell(key, column, value, update_width=True)
                    changed = True
        return changed

    def _remove_rows(self, keys: list[str]) -> None:
        """`remove_row` for many at once. DataTable's renumbers every row and revalidates
        the cursor for each one removed: 50 runs gone from a 200-row table took ~60 ms of
        the UI thread. Private API, like `_set_order`."""
        if not keys:
            return
        gone = {RowKey(k) for k in keys}
        for row_key in gone:
            for column_key in self._data.get(row_key, {}):
                self._updated_cells.discard(CellKey(row_key, column_key))
            self.rows.pop(row_key, None)
            self._data.pop(row_key, None)
        kept = sorted((self._row_locations.get(k), k) for k in self._row_locations
                      if k not in gone)
        self._row_locations = TwoWayDict({k: i for i, (_, k) in enumerate(kept)})
        self._require_update_dimensions = True
        self._update_count += 1
        self.cursor_coordinate = self.cursor_coordinate
        self.hover_coordinate = self.hover_coordinate
        self.refresh()

    def _set_order(self, keys: list[str]) -> None:
        """Rows in this order (what DataTable.sort does, with the order given)."""
        self._row_locations = TwoWayDict({RowKey(k): i for i, k in enumerate(keys)})
        self._update_count += 1
        self.refresh()

    def _measure(self) -> None:
        """Measure new and changed cells now. DataTable does it when it next goes idle,
        which did not always come for a table updated from its screen's handler (columns
        stayed as narrow as their first values). Private API (like `_set_order`): textual
        is pinned below 9, and the tests would show a change."""
        # Every change counts the table's updates on, and the render caches are keyed by
        # that count: what they hold is dead from here on. Dropped now rather than aged out
        # of 10,000-entry caches, so the collector's full passes have ~100,000 fewer
        # objects to walk (they took 35-55 ms while runs streamed in).
        self._clear_caches()
        sized = (self.row_count, [c.content_width for c in self.columns.values()])
        if self._updated_cells:
            # DataTable measures a changed cell, and when it got narrower measures its whole
            # column again, per cell: 200 cells of a new column took ~400 ms. Each touched
            # column is measured once instead.
            columns = {cell.column_key for cell in self._updated_cells}
            self._updated_cells.clear()
            for key in columns:
                column = self.columns.get(key)
                if column is not None:
                    column.content_width = max(
                        [self._cell_width(self._data[row][key]) for row in self.rows]
                        + [measure(self.app.console, column.label, 1)])
        if self._require_update_dimensions:
            self._require_update_dimensions = False
            rows = self._new_rows.copy()
            self._new_rows.clear()
            self._update_dimensions(rows)
        # The whole screen is laid out again only when the table's size may have changed;
        # new rows in place of old ones (a stream of runs) repaint the table alone.
        if sized == (self.row_count, [c.content_width for c in self.columns.values()]):
            self.refresh()
        else:
            self.refresh(layout=True)

    def _cell_width(self, value: Any) -> int:
        if isinstance(value, Text) and "\n" not in value.plain:
            return cell_len(value.plain)
        return measure(self.app.console, default_cell_formatter(value, wrap=False, height=1), 1)

    def _render_cell(self, row_index: int, column_index: int, base_style: Style, width: int,
                     cursor: bool = False, hover: bool = False) -> list[list[Segment]]:
        """A one-line cell of plain or one-style text drawn straight into its segments.
        DataTable draws each cell through Rich's padding and line splitting (~0.1 ms a
        cell): a full table of 33 rows repainted on every load was 30-50 ms of the UI
        thread, most of it here. What it draws is the same: the text cropped to the
        column, padded, under the row's and the cursor's styles (the snapshot tests show
        any difference). Anything else (headers, labels, markup spans, taller rows) goes
        the DataTable way. Private API: textual is pinned below 9."""
        if row_index < 0 or column_index < 0:
            return super()._render_cell(row_index, column_index, base_style, width,
                                        cursor, hover)
        row_key = self._row_locations.get_key(row_index)
        column_key = self._column_locations.get_key(column_index)
        cache_key = (row_key, column_key, base_style, cursor, hover, self._show_hover_cursor,
                     self._update_count, self._pseudo_class_state)
        cached = self._cell_render_cache.get(cache_key)
        if cached is not None:
            return cached
        cell = self._data[row_key].get(column_key)
        if (not isinstance(cell, Text) or cell.spans or "\n" in cell.plain
                or self.rows[row_key].height != 1 or row_index < self.fixed_rows
                or column_index < self.fixed_columns):
            return super()._render_cell(row_index, column_index, base_style, width,
                                        cursor, hover)
        component_style, post_style = self._get_styles_to_render_cell(
            False, False, False, hover, cursor, self.show_cursor, self._show_hover_cursor,
            self.cursor_foreground_priority == "css",
            self.cursor_background_priority == "css")
        pre_style = (base_style + Style.from_meta({"row": row_index, "column": column_index})
                     + component_style)
        pad = self.cell_padding
        inner = max(0, width - 2 * pad)
        shown = cell.plain if cell_len(cell.plain) <= inner else set_cell_size(cell.plain,
                                                                                inner)
        fill = " " * (width - pad - cell_len(shown))
        text_style = self.app.console.get_style(cell.style) if cell.style else None
        parts = [Segment(" " * pad), Segment(shown, text_style), Segment(fill)]
        line = list(Segment.apply_style([p for p in parts if p.text], style=pre_style,
                                        post_style=post_style))
        lines = [line]
        self._cell_render_cache[cache_key] = lines
        return lines

    def refilter(self, text: str) -> None:
        self.filter_text = text.lower()
        self.sync(self._rows)

    def _matches(self, cells: list[Any]) -> bool:
        if not self.filter_text:
            return True
        words = " ".join(c.plain if isinstance(c, Text) else str(c) for c in cells).lower()
        return all(part in words for part in self.filter_text.split())
