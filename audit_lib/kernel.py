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
import shutil
import subprocess
import tempfile

from jupyter_client.connect import ConnectionFileMixin
from jupyter_client.manager import AsyncKernelManager, KernelManager
from traitlets import CaselessStrEnum, default

__all__ = ["LOG_ENV", "PrivateIPC", "QuietKernelManager", "WarmKernelManager"]

LOG_ENV = "AUDIT_KERNEL_LOG"


class PrivateIPC(ConnectionFileMixin):
    """IPC transport with the sockets in a private temporary folder of each manager.

    jupyter_client's default IPC path ("kernel-ipc-N" beside the connection file or in
    the working folder) is chosen by probing for free names, which two pool workers can
    race for: they then share sockets and reject each other's signed messages."""

    transport = CaselessStrEnum(["tcp", "ipc"], default_value="ipc", config=True)

    @default("ip")
    def _private_ip(self) -> str:
        if self.transport != "ipc":
            return "127.0.0.1"
        self._ipc_dir = tempfile.mkdtemp(prefix="audit-kernel-")
        return os.path.join(self._ipc_dir, "kernel")

    def cleanup_ipc_files(self) -> None:
        super().cleanup_ipc_files()
        folder = getattr(self, "_ipc_dir", None)
        if folder:
            shutil.rmtree(folder, ignore_errors=True)


class WarmKernelManager(PrivateIPC, KernelManager):
    """The pool workers' long-lived kernel: private IPC sockets (see :class:`PrivateIPC`)."""


class QuietKernelManager(PrivateIPC, AsyncKernelManager):
    """An AsyncKernelManager on private IPC sockets whose kernel writes its own output to
    a log."""

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
