"""The kernel the monthly run executes notebooks in: quiet on the user's console.

``QuietKernelManager`` (papermill/nbclient's ``kernel_manager_class``) starts the
notebook kernel

- over local IPC sockets instead of loopback TCP ports, so the kernel has no reason to
  log "Kernel is running over TCP without encryption", and no port is opened;
- with the kernel process's own stdout and stderr (its log lines, and the "KeyboardInterrupt
  caught in kernel" that jupyter_client's shutdown interrupt can provoke) written to the
  file named by ``$AUDIT_KERNEL_LOG`` (else discarded), never to the user's terminal.

Cell outputs, errors and display data travel as messages and are unaffected.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import uuid

from jupyter_client.manager import AsyncKernelManager
from traitlets import CaselessStrEnum, default

__all__ = ["LOG_ENV", "QuietKernelManager"]

LOG_ENV = "AUDIT_KERNEL_LOG"


class QuietKernelManager(AsyncKernelManager):
    """An AsyncKernelManager on IPC transport whose kernel writes its own output to a log."""

    transport = CaselessStrEnum(["tcp", "ipc"], default_value="ipc", config=True)

    @default("ip")
    def _ip_default(self) -> str:
        # jupyter_client's default ("kernel-ipc" in the working directory, sockets numbered
        # from 1) lets kernels started at once in parallel workers take the same socket;
        # each kernel gets its own path in the temporary folder instead.
        return os.path.join(tempfile.gettempdir(), f"audit-kernel-{uuid.uuid4().hex[:16]}")

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw) -> None:
        path = os.environ.get(LOG_ENV)
        if path:
            with open(path, "ab") as log:  # Popen duplicates the descriptor
                kw.setdefault("stdout", log)
                kw.setdefault("stderr", subprocess.STDOUT)
                await super()._async_launch_kernel(kernel_cmd, **kw)
        else:
            kw.setdefault("stdout", subprocess.DEVNULL)
            kw.setdefault("stderr", subprocess.DEVNULL)
            await super()._async_launch_kernel(kernel_cmd, **kw)
