"""The operating-system sandbox a submission is graded in: bubblewrap (``bwrap``), with limits.

nbgrader (trusted) runs outside; only what runs the student's code goes in: the kernel nbgrader
starts (``kernels.kernel_manager``, a Jupyter kernel manager whose command is wrapped) and the fresh
process that re-checks an answer (:func:`wrap`). Inside, each gets:

- a read-only view of the system (``/usr``, ``/etc``), of the Python environment (its prefixes) and
  of the ``gancourse`` package alone (not the repository: ``notebooks/source/`` holds the solutions);
- one writable folder, a ``tmpfs`` of ``Limits.disk_mib`` (home, ``TMPDIR``, working folder, the
  kernel's sockets), gone when the sandbox ends; nothing else of the host's files: no submissions,
  no course folder, no other student's scratch, no home folder;
- its own user, PID, network (loopback only), IPC and UTS namespaces; ``/proc`` shows its own
  processes only; no capabilities, no further user namespaces;
- limits on each process: data memory (``RLIMIT_DATA``), processes and threads (``RLIMIT_NPROC``,
  counted in the sandbox's own user namespace, so one sandbox's fork bomb does not starve another),
  file size (``RLIMIT_FSIZE``) and CPU time (``RLIMIT_CPU``);
- memory counted for the whole sandbox, shared memory included (a ``MAP_SHARED`` mapping, a memfd, a file
  in its tmpfs): a memory cgroup of its own (:class:`MemoryCgroup`, cgroup v1 or v2) where the system lets
  the grader make one (as root, or a delegated v2 subtree); where it does not, a seccomp filter refuses the
  ways to hold memory that ``RLIMIT_DATA`` does not count (``memfd_create``, shared anonymous ``mmap``,
  System V ``shmget``), and ``/dev/shm`` is a small tmpfs.

nbgrader talks to the kernel over unix sockets (ZeroMQ's IPC transport), which need no network:
the kernel binds them in its tmpfs, and the grader reaches them through ``/proc/<pid>/root``, the
sandbox's own view of its files, so the host never gets a folder the kernel can write into.
Started as root, the sandbox first drops to the unprivileged user ``nobody`` (65534), so the process
limit holds (the kernel does not enforce ``RLIMIT_NPROC`` for root) and the code runs exactly as it
would for a normal user. Inside, PID 1 is :func:`supervise`: it starts the command, reports what
stopped it (a signal, a CPU-time limit) and any signal the sandboxed code sent to it, and when it
exits every process in the sandbox dies with it.

This file also runs as a script (``python -I -S sandbox.py launch|supervise ...``): standard library
only, at the top level.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

INSTALL = "sudo apt-get install bubblewrap"          # Debian, Ubuntu (Fedora: sudo dnf install bubblewrap)
SPEC_ENV = "GANCOURSE_SANDBOX"                       # the kernel manager's sandbox spec (JSON), set by the grader
MARK = "gancourse-sandbox:"                          # how the supervisor's reports start (on the grader's stderr)
NOBODY = 65534
SUPERVISOR = "/run/gancourse/sandbox.py"                   # where the supervisor runs from, inside
PASS_ENV = ("NBGRADER_EXECUTION", "NBGRADER_VALIDATING")   # set by nbgrader for the kernel: passed through
MIB = 1 << 20


@dataclass(frozen=True)
class Limits:
    """What one sandbox may take. ``memory_mib``, ``file_mib`` and ``cpu_s`` apply to each process,
    ``processes`` to the sandbox's processes and threads together, ``disk_mib`` to its one writable
    folder (kept in memory), ``wall_s`` to a student's whole grading (outside the sandbox)."""
    memory_mib: int = 4096           # each process's data memory; the sandbox's total with a cgroup
    processes: int = 64
    file_mib: int = 256
    disk_mib: int = 512
    cpu_s: int = 3600
    wall_s: int = 3600


# ------------------------------------------------------------------ outside: the grader's side

def bwrap() -> str | None:
    return shutil.which("bwrap")


def unavailable() -> str | None:
    """Why the sandbox cannot run here (None if it can): bwrap missing, or unable to make its namespaces."""
    import subprocess
    if not bwrap():
        return (f"grading runs each submission in a bubblewrap sandbox, and bwrap is not installed: "
                f"install it with `{INSTALL}` (Fedora: sudo dnf install bubblewrap), or grade with "
                f"--no-sandbox (unsafe: a submission can then touch other students' work)")
    r = subprocess.run(wrap(view(), run_limits()) + ["/bin/true"], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        return (f"bwrap cannot make a sandbox here ({(r.stderr.strip().splitlines() or ['?'])[-1]}): it needs "
                f"unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1; on Ubuntu 24.04 "
                f"also kernel.apparmor_restrict_unprivileged_userns=0 or an AppArmor profile for bwrap)")
    return None


def package_dir() -> Path:
    return Path(__file__).resolve().parents[1]


def view(threads: int | None = None, course: bool = True) -> dict:
    """What a sandbox sees of the host (read-only) and the environment it starts with; without ``course``,
    not even the ``gancourse`` package (an answer is judged where it cannot call the course's own code)."""
    ro, links = ["/usr", "/etc"], []
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):
            links.append([os.readlink(top), top])
        elif os.path.isdir(top):
            ro.append(top)
    for prefix in dict.fromkeys([sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix]):
        if not any(Path(prefix).is_relative_to(r) for r in ro):
            ro.append(prefix)
    if course:
        ro.append(str(package_dir()))
    threads = str(threads or os.environ.get("OMP_NUM_THREADS") or 1)
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8",
           "PYTHONPATH": str(package_dir().parent), "PYTHONDONTWRITEBYTECODE": "1", "MPLBACKEND": "Agg",
           "GANCOURSE_PROGRESS": "off", "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}
    return dict(ro=ro, links=links, env=env, python=sys.executable, script=str(Path(__file__).resolve()))


def run_limits(limits: Limits | None = None) -> dict:
    return asdict(limits or Limits())


class Box:
    """One sandbox for one command: ``box(files)`` is its command prefix (a memory cgroup of its own where one can
    be made); ``box.finish()`` after the command ends says which limit stopped it, if the kernel says so."""

    def __init__(self, spec: dict, limits: Limits, stdout: bool = False):
        self.spec, self.limits, self.stdout, self.group = spec, limits, stdout, None

    def __call__(self, files: list | None = None) -> list[str]:
        from .memory import MemoryCgroup
        self.group = MemoryCgroup.make(self.limits.memory_mib) if self.spec.get("cgroups") else None
        return wrap(self.spec, run_limits(self.limits), files=files, stdout=self.stdout, cgroup=self.group)

    def finish(self) -> str:
        if self.group is None:
            return ""
        hit = self.group.oom_kills()
        self.group.close()
        return f"memory limit ({self.limits.memory_mib} MiB for the sandbox, shared memory included) hit" if hit else ""


def wrap(spec: dict, limits: dict, box: str | None = None, files: list | None = None, quiet: bool = False,
         cgroup=None, stdout: bool = False, seccomp: bool = True) -> list[str]:
    """The command prefix that runs ``COMMAND...`` (appended to it) in a sandbox: ``spec`` from
    :func:`view`, ``limits`` from :func:`run_limits`, the writable folder at ``box`` (a fresh path),
    ``files`` ([host path, path inside]) copied in, ``cgroup`` the sandbox's memory cgroup (without one,
    the seccomp filter of ``memory.seccomp_program``; ``seccomp=False`` only to show what it stops). The command's stdout is dropped unless ``stdout``, and
    its stderr with ``quiet`` (a kernel's: its output travels over its sockets); else the last 3 kB of its
    stderr come back on the sandbox's, after it ends."""
    import tempfile

    from .memory import seccomp_program
    box = box or tempfile.mktemp(prefix="gancourse-box-")    # only a name: the folder exists inside alone
    program = None if cgroup is not None or not seccomp else seccomp_program()
    job = dict(spec, limits=limits, box=box, files=files or [], quiet=quiet, stdout=stdout,
               cgroup=str(cgroup.path) if cgroup is not None else None, seccomp=program.hex() if program else None)
    return [spec["python"], "-I", "-S", spec["script"], "launch", json.dumps(job), "--"]


def _stage(paths: list[str]) -> list[str]:
    """(Root only.) The same folders at paths that ``nobody`` can reach (``/root`` is closed to it): bind
    mounts in a mount namespace of the launcher's own, which bwrap (run as nobody) then binds again."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)

    def mount(src, dst, fstype, flags, data=None):
        if libc.mount(src and src.encode(), dst.encode(), fstype and fstype.encode(), flags, data and data.encode()):
            raise OSError(ctypes.get_errno(), f"mount {src} on {dst}: {os.strerror(ctypes.get_errno())}")
    if libc.unshare(0x00020000):                     # CLONE_NEWNS: none of this reaches the host's mounts
        raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNS)")
    mount(None, "/", None, 0x4000 | 0x40000)         # MS_REC | MS_PRIVATE
    fds = [os.open(p, os.O_PATH) for p in paths]     # opened in this namespace, before /tmp is covered
    stage = "/tmp"                                   # hidden by a tmpfs in this namespace alone
    mount("tmpfs", stage, "tmpfs", 0, "mode=0755,size=64k")
    out = []
    for i, fd in enumerate(fds):
        os.mkdir(f"{stage}/{i}")
        mount(f"/proc/self/fd/{fd}", f"{stage}/{i}", None, 0x1000 | 0x4000)   # MS_BIND | MS_REC
        os.close(fd)
        out.append(f"{stage}/{i}")
    return out


def launch(job: dict, argv: list[str]) -> None:
    """(The launcher process.) Build bwrap's command, drop root, exec bwrap around the supervisor."""
    import resource
    box, lim = job["box"], job["limits"]
    hard = resource.getrlimit(resource.RLIMIT_AS)[1]       # the grader's own cap on nbgrader is not the sandbox's
    resource.setrlimit(resource.RLIMIT_AS, (hard, hard))
    args = [bwrap() or "bwrap", "--unshare-user", "--disable-userns", "--unshare-pid", "--unshare-net", "--unshare-ipc",
            "--unshare-uts", "--unshare-cgroup-try", "--hostname", "sandbox", "--die-with-parent",
            "--new-session", "--as-pid-1", "--clearenv", "--proc", "/proc", "--dev", "/dev"]
    files = []
    for host, inside in job["files"]:      # opened before anything changes
        files += ["--perms", "0600", "--file", str(os.open(host, os.O_RDONLY)), inside]
        os.set_inheritable(int(files[-2]), True)
    if job.get("cgroup"):                  # memory counted for the whole sandbox (see MemoryCgroup)
        with open(os.path.join(job["cgroup"], "cgroup.procs"), "w") as f:
            f.write(str(os.getpid()))
    elif job.get("seccomp"):               # no cgroup: refuse the memory RLIMIT_DATA does not count
        read, write = os.pipe()
        os.write(write, bytes.fromhex(job["seccomp"]))
        os.close(write)
        os.set_inheritable(read, True)
        args += ["--seccomp", str(read)]
    root = os.geteuid() == 0
    for src, path in zip(_stage(job["ro"]) if root else job["ro"], job["ro"]):
        args += ["--ro-bind", src, path]
    for target, link in job["links"]:
        args += ["--symlink", target, link]
    args += ["--size", str(lim["disk_mib"] * MIB), "--tmpfs", box, "--size", str(min(64, lim["disk_mib"]) * MIB),
             "--tmpfs", "/dev/shm"]
    for sub in ("home", "tmp", "work"):
        args += ["--dir", f"{box}/{sub}"]
    supervisor = os.open(job["script"], os.O_RDONLY)   # a copy of this file: the course itself may be hidden
    os.set_inheritable(supervisor, True)
    args += files + ["--perms", "0444", "--file", str(supervisor), SUPERVISOR]   # into the tmpfs, so after it
    env = {**job["env"], "HOME": f"{box}/home", "TMPDIR": f"{box}/tmp", "GANCOURSE_OUT": f"{box}/runs",
           **{k: os.environ[k] for k in PASS_ENV if k in os.environ}}
    for k, v in env.items():
        args += ["--setenv", k, v]
    args += ["--chdir", f"{box}/work", "--remount-ro", "/dev", "--remount-ro", "/", "--",
             job["python"], "-I", "-S", SUPERVISOR, "supervise",
             json.dumps(dict(lim, quiet=job["quiet"], stdout=job.get("stdout", False))),
             "--", *argv]
    if root:                               # run as nobody: root is exempt from the process limit
        os.setgroups([])
        os.setresgid(NOBODY, NOBODY, NOBODY)
        os.setresuid(NOBODY, NOBODY, NOBODY)
    os.execv(args[0], args)


# ------------------------------------------------------------------ inside: PID 1 of the sandbox

_WHY = {signal.SIGXCPU: "CPU-time limit ({cpu_s} s)", signal.SIGKILL: "killed (SIGKILL: the CPU-time hard limit, or the grader)",
        signal.SIGXFSZ: "file-size limit ({file_mib} MiB)", signal.SIGSEGV: "crashed (SIGSEGV; out of memory?)",
        signal.SIGABRT: "aborted (SIGABRT; out of memory?)", signal.SIGBUS: "crashed (SIGBUS; scratch disk full?)"}


def _say(msg: str) -> None:
    os.write(2, f"{MARK} {msg}\n".encode())


def _child(lim: dict, argv: list[str], err: int | None) -> None:
    import resource
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    for sig in (signal.SIGPIPE, signal.SIGXFSZ):   # Python ignores these; the command starts with the defaults
        signal.signal(sig, signal.SIG_DFL)
    os.setsid()
    null = os.open("/dev/null", os.O_RDWR)
    os.dup2(null, 0)
    if not lim.get("stdout"):               # an answer server's results travel on stdout; anything else's is dropped
        os.dup2(null, 1)
    os.dup2(null if err is None else err, 2)    # a kernel's stderr is dropped; a command's goes to the supervisor
    for res, value in ((resource.RLIMIT_DATA, lim["memory_mib"] * MIB), (resource.RLIMIT_NPROC, lim["processes"]),
                       (resource.RLIMIT_FSIZE, lim["file_mib"] * MIB), (resource.RLIMIT_CORE, 0)):
        resource.setrlimit(res, (value, value))
    resource.setrlimit(resource.RLIMIT_CPU, (lim["cpu_s"], lim["cpu_s"] + 5))
    try:
        os.execvp(argv[0], argv)
    finally:
        os._exit(127)


def supervise(lim: dict, argv: list[str]) -> None:
    """PID 1: start ``argv`` with the limits, reap, report; exit with its status (128 + signal if killed)."""
    import ctypes
    ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)           # PR_SET_DUMPABLE 0: the sandboxed code cannot open /proc/1/*
    watched = {signal.SIGCHLD, signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1,
               signal.SIGUSR2, signal.SIGALRM}
    signal.pthread_sigmask(signal.SIG_BLOCK, watched)
    read, err = (None, None) if lim["quiet"] else os.pipe()
    pid = os.fork()
    if pid == 0:
        _child(lim, argv, err)
    if read is not None:                   # keep the last few kB of the command's stderr, whatever it writes
        import threading
        os.close(err)
        _TAIL.append(threading.Thread(target=_keep_tail, args=(read,), daemon=True))
        _TAIL[1].start()
    told = set()
    while True:
        info = signal.sigwaitinfo(watched)
        if info.si_signo != signal.SIGCHLD:
            if info.si_pid == 0:           # from outside the sandbox (the grader): stop everything
                os._exit(128 + info.si_signo)
            if info.si_signo not in told:
                told.add(info.si_signo)
                _say(f"the submission sent {signal.Signals(info.si_signo).name} to its parent process "
                     f"(the sandbox's PID 1): ignored")
            continue
        while True:
            try:
                done, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                os._exit(1)
            if done == 0:
                break
            if done == pid:
                _finish(lim, status)


_TAIL = [b""]


def _keep_tail(fd: int) -> None:
    while chunk := os.read(fd, 65536):
        _TAIL[0] = (_TAIL[0] + chunk)[-3000:]


def _finish(lim: dict, status: int) -> None:
    if not lim["quiet"]:
        _TAIL[1].join(timeout=1)           # until the pipe closes (a process the command left may hold it)
        os.write(2, _TAIL[0])
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        why = _WHY.get(sig, f"killed by {signal.Signals(sig).name}").format(**lim)
        _say(f"the {'kernel' if lim['quiet'] else 'process'} was stopped: {why}")
        os._exit(128 + sig)
    os._exit(os.WEXITSTATUS(status))


# ------------------------------------------------------------------ naming what stopped a submission

_NAMES = [   # (what an error says, what stopped it); the first that matches names it
    (r"CPU-time limit", "CPU-time limit ({cpu_s} s a process) hit"),
    (r"memory limit|MemoryError|[Cc]annot allocate memory|can't allocate memory|\[Errno 12\]", "memory limit ({memory_mib} MiB) hit"),
    (r"\[Errno 11\]|can't start new thread|Resource temporarily unavailable", "process limit ({processes} processes and threads) hit"),
    (r"\[Errno 27\]|File too large", "file-size limit ({file_mib} MiB) hit"),
    (r"\[Errno 28\]|No space left on device", "scratch-disk limit ({disk_mib} MiB) hit"),
    (r"Timeout waiting for execute reply|Interrupting kernel|CellTimeoutError|KeyboardInterrupt|did not finish in", "time limit ({timeout} s a cell) hit"),
    (r"\[Errno 30\]|Read-only file system", "sandbox: read-only file system"),
    (r"\[Errno (101|111|-2|-3|-5)\]|Network is unreachable|Connection refused|Name or service not known"
     r"|Temporary failure in name resolution", "sandbox: no network"),
    (r"\[Errno (1|13)\]|Operation not permitted|Permission denied", "sandbox: permission denied"),
    (r"\[Errno 3\]|No such process", "sandbox: no such process (a PID namespace of its own)"),
]


def explain(text: str, limits: Limits, timeout: int) -> str | None:
    """The sandbox limit or wall that ``text`` (an error a submission met) shows it hit, or None. A name the
    submission supplies (a path it could not open) is never looked up on the host: the status would otherwise
    tell a submission which host files exist."""
    import re
    if re.search(r"\[Errno 2\] No such file or directory", text):
        return "a file not found inside the sandbox (it shows the Python environment, not the host's files)"
    for pattern, what in _NAMES:
        if re.search(pattern, text):
            return what.format(timeout=timeout, **asdict(limits))
    return None


if __name__ == "__main__":
    cmd, payload, argv = sys.argv[1], json.loads(sys.argv[2]), sys.argv[4:]
    launch(payload, argv) if cmd == "launch" else supervise(payload, argv)
