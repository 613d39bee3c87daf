"""A reload or count replaced before it starts leaves no coroutine behind.

Clean-clone CI once failed on "coroutine 'ExecutionListView.reload' was never awaited":
a flush made the coroutine, a newer flush cancelled its worker before it ran. The views
start such workers with :func:`~flowmonkey_console.widgets.console_view.run_latest`, from the method.
"""

from __future__ import annotations

import gc
import warnings

from textual.app import App

from flowmonkey_console.widgets.console_view import run_latest


class Reloading(App[None]):
    def __init__(self) -> None:
        super().__init__()
        self.reloads = 0

    async def reload(self) -> None:
        self.reloads += 1

    def on_mount(self) -> None:
        for _ in range(3):  # three flushes in one turn: two are replaced before they start
            run_latest(self, self.reload, "reload")


async def test_workers_replaced_before_they_start_leave_no_coroutine_never_awaited() -> None:
    app = Reloading()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        async with app.run_test() as pilot:
            await pilot.pause()
            await app.workers.wait_for_complete()
        gc.collect()
    assert app.reloads == 1  # only the latest ran
    assert not [w for w in caught if "never awaited" in str(w.message)]
