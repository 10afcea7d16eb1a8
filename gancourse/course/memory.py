"""What a sandbox may hold in memory, counted for the whole sandbox, shared memory included.

``RLIMIT_DATA`` (``sandbox.py``) caps each process's private memory, but not a ``MAP_SHARED`` mapping, a memfd
or a file in a tmpfs: one submission held 6 GB that way under a 4 GiB limit. So each sandbox gets a memory
cgroup of its own (:class:`MemoryCgroup`, cgroup v1 or v2) where the system lets the grader make one (as root,
or in a delegated v2 subtree): every page its processes touch counts, and the kernel stops a process that goes
over. Where none can be made, a seccomp filter (:func:`seccomp_program`) refuses the ways to hold memory that
``RLIMIT_DATA`` does not count (``memfd_create``, shared anonymous ``mmap``, System V ``shmget``), and
``/dev/shm`` is a small tmpfs.
"""
from __future__ import annotations

from pathlib import Path

MIB = 1 << 20


class MemoryCgroup:
    """A memory cgroup for one sandbox (made by the grader, joined by the launcher before bwrap starts, removed
    when the sandbox is over): every page its processes hold counts, shared memory included."""

    def __init__(self, path: Path, v2: bool):
        self.path, self.v2 = path, v2

    @classmethod
    def make(cls, limit_mib: int) -> "MemoryCgroup | None":
        """A fresh cgroup under this process's own, limited to ``limit_mib``; None where none can be made."""
        import secrets
        try:
            lines = Path("/proc/self/cgroup").read_text().splitlines()
        except OSError:
            return None
        name = f"gancourse-{secrets.token_hex(6)}"
        for line in lines:                                   # cgroup v1: the memory controller's hierarchy
            _, ctrls, rel = line.split(":", 2)
            if "memory" in ctrls.split(","):
                made = cls._try(Path("/sys/fs/cgroup/memory") / rel.lstrip("/") / name, v2=False, limit_mib=limit_mib)
                if made:
                    return made
        for line in lines:                                   # cgroup v2, where memory is enabled below ours
            _, ctrls, rel = line.split(":", 2)
            if ctrls == "":
                base = Path("/sys/fs/cgroup") / rel.lstrip("/")
                try:
                    enabled = (base / "cgroup.subtree_control").read_text().split()
                except OSError:
                    continue
                if "memory" in enabled:
                    return cls._try(base / name, v2=True, limit_mib=limit_mib)
        return None

    @classmethod
    def _try(cls, path: Path, v2: bool, limit_mib: int) -> "MemoryCgroup | None":
        try:
            path.mkdir()
        except OSError:
            return None
        group = cls(path, v2)
        try:
            if v2:
                (path / "memory.max").write_text(str(limit_mib * MIB))
                if (path / "memory.swap.max").exists():
                    (path / "memory.swap.max").write_text("0")
            else:
                (path / "memory.limit_in_bytes").write_text(str(limit_mib * MIB))
                if (path / "memory.memsw.limit_in_bytes").exists():       # no escape into swap
                    (path / "memory.memsw.limit_in_bytes").write_text(str(limit_mib * MIB))
        except OSError:
            group.close()
            return None
        return group

    def oom_kills(self) -> int:
        """How often the kernel killed a process of this sandbox for going over its memory."""
        try:
            text = (self.path / ("memory.events" if self.v2 else "memory.oom_control")).read_text()
        except OSError:
            return 0
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                return int(value)
        if not self.v2:                                      # old kernels: the limit was hit at least
            try:
                return int((self.path / "memory.failcnt").read_text()) > 0
            except OSError:
                return 0
        return 0

    def close(self) -> None:
        import time
        for _ in range(50):                                  # its last processes may take a moment to go
            try:
                self.path.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.1)


# seccomp, where no cgroup can be made: refuse memfd_create, shared anonymous mmap and shmget (EPERM)
_SECCOMP_ARCH = {"x86_64": (0xC000003E, 319, 9, 29), "aarch64": (0xC00000B7, 279, 222, 194)}


def seccomp_program() -> bytes | None:
    """The classic-BPF filter bwrap installs (``--seccomp FD``); None on an architecture not listed."""
    import platform
    import struct
    arch = _SECCOMP_ARCH.get(platform.machine())
    if arch is None:
        return None
    audit, memfd, mmap, shmget = arch
    LD, JEQ, JGE, AND, RET = 0x20, 0x15, 0x35, 0x54, 0x06
    ALLOW, EPERM = 0x7FFF0000, 0x00050000 | 1
    prog = [(LD, 0, 0, 4),                 # 0: A = arch
            (JEQ, 0, 8, audit),            # 1: another architecture: allow (10)
            (LD, 0, 0, 0),                 # 2: A = syscall number
            (JGE, 8, 0, 0x40000000),       # 3: the x32 ABI's numbers: refuse (12)
            (JEQ, 7, 0, memfd),            # 4: memfd_create: refuse (12)
            (JEQ, 6, 0, shmget),           # 5: shmget: refuse (12)
            (JEQ, 0, 4, mmap),             # 6: not mmap: allow (11)
            (LD, 0, 0, 16 + 3 * 8),        # 7: A = low word of mmap's flags
            (AND, 0, 0, 0x21),             # 8: MAP_SHARED | MAP_ANONYMOUS
            (JEQ, 2, 0, 0x21),             # 9: both: refuse (12), else allow (10)
            (RET, 0, 0, ALLOW),            # 10
            (RET, 0, 0, ALLOW),            # 11
            (RET, 0, 0, EPERM)]            # 12
    return b"".join(struct.pack("=HBBI", *ins) for ins in prog)


def cgroups_available(limit_mib: int) -> bool:
    """Can the grader give each sandbox a memory cgroup of its own here?"""
    group = MemoryCgroup.make(limit_mib)
    if group is None:
        return False
    group.close()
    return True
