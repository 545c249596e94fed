"""Point runners for the sweep fault tests. They run inside pool workers, so they live in a
module the workers can import by name."""

from __future__ import annotations

import os
import signal
import time

from simaccel.sweeps import run_point

#: ``array.rows`` values at which a point kills its own worker process.
CRASH_ROWS = (13, 14, 15)
#: The ``array.rows`` value at which a point hangs (for the point timeout).
HANG_ROWS = 17


def crash_or_hang(base, task, prepared) -> dict:
    """`run_point`, except that some points kill their worker (SIGKILL, as the kernel's
    out-of-memory killer would) or hang."""
    rows = task.params.get("array.rows")
    if rows in CRASH_ROWS:
        os.kill(os.getpid(), signal.SIGKILL)
    if rows == HANG_ROWS:
        time.sleep(600)
    return run_point(base, task, prepared)
