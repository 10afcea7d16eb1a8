"""The kernels nbgrader starts, each in a sandbox (``sandbox.py``): the kernel manager nbgrader uses, the
grader's check that one can start at all, and nbgrader's entry point with them."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from .memory import MemoryCgroup
from .sandbox import MARK, SPEC_ENV, wrap


def kernel_manager():
    """A Jupyter kernel manager whose kernel runs in a sandbox described by ``$GANCOURSE_SANDBOX``
    (``view()`` plus ``limits`` and ``sockets``: a host folder for the links to the kernels' sockets)."""
    import asyncio
    import secrets

    from jupyter_client.manager import AsyncKernelManager

    class SandboxKernelManager(AsyncKernelManager):
        def __init__(self, **kw):
            self._spec = json.loads(os.environ[SPEC_ENV])
            self._box = os.path.join(self._spec["sockets"], f"k{os.getpid()}-{secrets.token_hex(4)}")
            kw.setdefault("transport", "ipc")
            kw.setdefault("ip", f"{self._box}/kernel")
            super().__init__(**kw)

        @property
        def kernel_spec(self):
            spec = super().kernel_spec
            if spec is not None:           # interrupt by a message on the control socket: no signal crosses in
                spec.interrupt_mode = "message"
            return spec

        def format_kernel_cmd(self, extra_arguments=None):
            cmd = super().format_kernel_cmd(extra_arguments)
            inside = f"{self._box}/connection.json"
            cmd = [inside if a == self.connection_file else a for a in cmd]
            self._cgroup = MemoryCgroup.make(self._spec["limits"]["memory_mib"]) if self._spec.get("cgroups") else None
            return wrap(self._spec, self._spec["limits"], self._box, [[self.connection_file, inside]], quiet=True,
                        cgroup=self._cgroup) + cmd

        async def _async_launch_kernel(self, kernel_cmd, **kw):
            await super()._async_launch_kernel(kernel_cmd, **kw)
            proc = self.provisioner.process
            for _ in range(600):           # bwrap's child is the sandbox's PID 1: its /proc root is the sandbox's view
                kids = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
                if kids or proc.poll() is not None:
                    break
                await asyncio.sleep(0.05)
            if not kids:
                raise RuntimeError(f"the sandbox did not start (bwrap exited with status {proc.poll()})")
            if os.path.islink(self._box):      # a restarted kernel
                os.unlink(self._box)
            os.symlink(f"/proc/{kids[0]}/root{self._box}", self._box)

        async def _async_cleanup_resources(self, restart=False):
            await super()._async_cleanup_resources(restart=restart)
            if os.path.islink(self._box):
                os.unlink(self._box)
            group = getattr(self, "_cgroup", None)
            if group is not None:
                if group.oom_kills():
                    print(f"{MARK} the kernel was stopped: memory limit ({self._spec['limits']['memory_mib']} MiB for "
                          "the sandbox, shared memory included) hit", file=sys.stderr, flush=True)
                group.close()
                self._cgroup = None

    return SandboxKernelManager


def kernel_check(timeout: int = 120) -> None:
    """Start one kernel in the sandbox described by ``$GANCOURSE_SANDBOX`` and wait for its reply (the grader's
    precheck, run as ``python -c``): exit status 0, or the cause on stderr and status 1."""
    import asyncio

    async def check():
        km = kernel_manager()(kernel_name="python3")
        await km.start_kernel()
        try:
            client = km.client()
            client.start_channels()
            await client.wait_for_ready(timeout=timeout)
            client.stop_channels()
        finally:
            await km.shutdown_kernel(now=True)
    try:
        asyncio.run(check())
    except Exception as exc:               # noqa: BLE001 (the cause is the message)
        print(f"{type(exc).__name__}: {exc}".splitlines()[0], file=sys.stderr)
        sys.exit(1)


def nbgrader_main() -> None:
    """``nbgrader`` with every kernel in a sandbox (run by the grader as ``python -c``)."""
    import nbgrader.preprocessors.execute as execute
    execute.AsyncKernelManager = kernel_manager()     # nbgrader's Execute passes this class to nbclient
    from nbgrader.apps.nbgraderapp import main
    sys.argv[0] = "nbgrader"
    main()
