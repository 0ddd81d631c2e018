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
import time
from pathlib import Path
from queue import Empty

from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.blocking import BlockingKernelClient
from jupyter_client.connect import ConnectionFileMixin
from jupyter_client.manager import AsyncKernelManager, KernelManager
from jupyter_client.utils import ensure_async, run_sync
from traitlets import CaselessStrEnum, default

__all__ = [
    "LOG_ENV",
    "SOCKETS_ENV",
    "AsyncReadyClient",
    "PrivateIPC",
    "QuietKernelManager",
    "ReadyClient",
    "WarmKernelManager",
]

LOG_ENV = "AUDIT_KERNEL_LOG"
#: set by ``run.warm_workers`` in its workers: the name their kernels' socket folders
#: start with (``audit-<the pool's id>-``), so that the run removes them when its pool
#: ends, however its workers and kernels ended (a kernel killed with its worker leaves
#: its socket files behind)
SOCKETS_ENV = "AUDIT_KERNEL_SOCKETS"
#: where a kernel's socket folder goes when the temporary folder's path is too long
#: for a socket (a Unix socket's path holds at most 107 bytes)
SHORT_TEMP = "/tmp"
IPC_PATH_MAX = 107


class PrivateIPC(ConnectionFileMixin):
    """IPC transport with the sockets, and the connection file, in a private temporary
    folder of each manager.

    jupyter_client's default IPC path ("kernel-ipc-N" beside the connection file or in
    the working folder) is chosen by probing for free names, which two pool workers can
    race for: they then share sockets and reject each other's signed messages. Its
    connection file would be a ``tmp*.json`` of its own in the temporary folder; in the
    kernel's folder, it goes with the sockets however the kernel ends. Where the
    temporary folder's path is too long for a socket, the folder is made in ``/tmp``
    (the kernel could not start: it waited for two minutes)."""

    transport = CaselessStrEnum(["tcp", "ipc"], default_value="ipc", config=True)

    @default("ip")
    def _private_ip(self) -> str:
        if self.transport != "ipc":
            return "127.0.0.1"
        prefix = os.environ.get(SOCKETS_ENV, "audit-kernel-")
        self._ipc_dir = tempfile.mkdtemp(prefix=prefix)
        if len(os.path.join(self._ipc_dir, "kernel-65535").encode()) > IPC_PATH_MAX:
            os.rmdir(self._ipc_dir)
            self._ipc_dir = tempfile.mkdtemp(prefix=prefix, dir=SHORT_TEMP)
        return os.path.join(self._ipc_dir, "kernel")

    @default("connection_file")
    def _private_connection_file(self) -> str:
        if self.transport != "ipc":
            return ""  # jupyter_client's own
        return os.path.join(os.path.dirname(self.ip), "connection.json")

    @staticmethod
    def remove_folders(prefix: str) -> None:
        """Remove every socket folder named ``prefix``* (:data:`SOCKETS_ENV`), wherever
        :meth:`_private_ip` put it, whatever its kernel left there."""
        for base in {tempfile.gettempdir(), SHORT_TEMP}:
            for left in Path(base).glob(f"{prefix}*"):
                shutil.rmtree(left, ignore_errors=True)

    def cleanup_ipc_files(self) -> None:
        super().cleanup_ipc_files()
        folder = getattr(self, "_ipc_dir", None)
        if folder:
            shutil.rmtree(folder, ignore_errors=True)


class QuickReady:
    """``wait_for_ready`` that returns as soon as the kernel is known to answer.

    jupyter_client's own waits for a kernel_info reply, then for one IOPub message (so
    that IOPub is connected), then drains IOPub until it has been silent for 0.2 s:
    0.2 s of idle waiting every time a client connects, which the monthly run does twice
    per notebook (the reset, then papermill's client). This waits instead for a reply
    to one of its kernel_info requests and for the kernel's "idle" status closing one of
    them: IOPub is then connected and the kernel answers. As in jupyter_client, a request
    is sent again after 1 s without a reply (a kernel still starting, or busy) or 0.2 s
    of IOPub silence (not yet connected); replies to earlier requests still count, so a
    slow kernel's backlog never makes it wait for a reply to the latest request only.
    Messages of the other requests arrive later and are ignored by the client's readers,
    which match replies and outputs to their own requests.
    """

    async def _async_wait_for_ready(self, timeout: float | None = None) -> None:
        deadline = time.monotonic() + (float("inf") if timeout is None else timeout)
        sent = {self.kernel_info()}
        while True:
            try:
                reply = await ensure_async(self.shell_channel.get_msg(timeout=1))
            except Empty:
                reply = None
            ours = (
                reply is not None
                and reply["msg_type"] == "kernel_info_reply"
                and reply["parent_header"].get("msg_id") in sent
            )
            if ours and await self._idle_after(sent):
                self._handle_kernel_info_reply(reply)
                return
            if reply is None and not await self._async_is_alive():
                raise RuntimeError("Kernel died before replying to kernel_info")
            if time.monotonic() > deadline:
                raise RuntimeError(f"Kernel didn't respond in {timeout:.0f} seconds")
            if reply is None or ours:  # no answer yet, or IOPub not yet connected
                sent.add(self.kernel_info())

    async def _idle_after(self, sent: set[str]) -> bool:
        """Read IOPub until the kernel reports idle after one of the ``sent`` requests;
        False if IOPub stays silent for 0.2 s."""
        while True:
            try:
                msg = await ensure_async(self.iopub_channel.get_msg(timeout=0.2))
            except Empty:
                return False
            if (
                msg["msg_type"] == "status"
                and msg["content"].get("execution_state") == "idle"
                and msg["parent_header"].get("msg_id") in sent
            ):
                return True


class ReadyClient(QuickReady, BlockingKernelClient):
    """The warm kernel's client (:class:`QuickReady`)."""

    # jupyter_client binds its clients' wait_for_ready to its own coroutine
    wait_for_ready = run_sync(QuickReady._async_wait_for_ready)


class AsyncReadyClient(QuickReady, AsyncKernelClient):
    """A fresh kernel's client (:class:`QuickReady`)."""

    wait_for_ready = QuickReady._async_wait_for_ready


class WarmKernelManager(PrivateIPC, KernelManager):
    """The pool workers' long-lived kernel: private IPC sockets (see :class:`PrivateIPC`),
    clients that connect without idle waiting (:class:`QuickReady`)."""

    @default("client_factory")
    def _ready_client(self) -> type:
        return ReadyClient


class QuietKernelManager(PrivateIPC, AsyncKernelManager):
    """An AsyncKernelManager on private IPC sockets whose kernel writes its own output to
    a log; its clients connect without idle waiting (:class:`QuickReady`)."""

    @default("client_factory")  # AsyncKernelManager declares its own: client_class is unused
    def _ready_client(self) -> type:
        return AsyncReadyClient

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
