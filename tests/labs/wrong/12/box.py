# Lab 12, exercise 1, wrong: --pids is parsed, but no pids.max limit is ever written.
"""A container in about a hundred lines: namespaces and a cgroup (lab 12).

    python box.py [--hostname NAME] [--memory BYTES] -- COMMAND [ARG...]

runs COMMAND as PID 1 of new PID, UTS, mount and IPC namespaces (with its
own /proc), in a new cgroup with a memory limit.  No image, no network
setup, no seccomp: just the two kernel features every container runtime
(runc, crun, ...) is built on.  It prints how long the set-up took on
standard error and ends with COMMAND's exit status (128 + N if a signal
N killed it, as a shell says).

Namespaces: unshare(2) with CLONE_NEW* flags, then fork(2): the child is
PID 1 of the new PID namespace (man 7 namespaces, man 7 pid_namespaces).
Cgroups: a new directory in the cgroup file system; the limit is a file
written there, and the child's PID goes into cgroup.procs (man 7 cgroups;
the kernel's Documentation/admin-guide/cgroup-v2.rst).  On a host with
cgroup v2 the files are memory.max and pids.max in one hierarchy; on a
cgroup v1 host (or a hybrid one whose v2 part has no controllers),
memory.limit_in_bytes and pids.max in one hierarchy per controller.

Needs root (CAP_SYS_ADMIN): without it, a one-line error says so.

(The answer key of lab 12: --pids N and --net added.)
"""

import argparse
import ctypes
import os
import sys
import time

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_REC, MS_PRIVATE = 0x4000, 0x40000
CGROUP = "/sys/fs/cgroup"

libc = ctypes.CDLL(None, use_errno=True)


def check(ret, what):
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def cgroup_dirs(name, controllers):
    """controller -> the directory of cgroup ``name`` that holds its files."""
    v2 = os.path.join(CGROUP, "cgroup.controllers")
    if os.path.exists(v2) and set(controllers) <= set(open(v2).read().split()):
        return {c: os.path.join(CGROUP, name) for c in controllers}
    return {c: os.path.join(CGROUP, c, name) for c in controllers}


def make_cgroup(name, limits):
    """A new cgroup with ``limits`` ({controller: (v2 file, v1 file, value)});
    the directories it made."""
    dirs = cgroup_dirs(name, limits)
    for controller, (v2_file, v1_file, value) in limits.items():
        d = dirs[controller]
        os.makedirs(d, exist_ok=True)
        v2 = os.path.exists(os.path.join(d, v2_file))
        with open(os.path.join(d, v2_file if v2 else v1_file), "w") as f:
            f.write(str(value))
    return sorted(set(dirs.values()))


def main(argv):
    p = argparse.ArgumentParser(prog="box.py")
    p.add_argument("--hostname", default="box")
    p.add_argument("--memory", type=int, default=256 << 20, help="bytes")
    p.add_argument("--pids", type=int, help="the most processes (and threads) inside")
    p.add_argument("--net", action="store_true", help="a network namespace of its own")
    p.add_argument("command", nargs="+")
    args = p.parse_args(argv)
    if os.geteuid() != 0:
        sys.exit("box.py: needs root (CAP_SYS_ADMIN) to make namespaces and cgroups; "
                 "expected to run as root (sudo), e.g. in the course's VM")
    t0 = time.perf_counter()
    limits = {"memory": ("memory.max", "memory.limit_in_bytes", args.memory)}
    dirs = make_cgroup(f"box-{os.getpid()}", limits)
    flags = CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWNS | CLONE_NEWIPC
    if args.net:
        flags |= CLONE_NEWNET
    check(libc.unshare(flags), "unshare")
    pid = os.fork()
    if pid == 0:                                # PID 1 of the new namespace
        for d in dirs:
            with open(os.path.join(d, "cgroup.procs"), "w") as f:
                f.write("0")                    # this process
        check(libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "mount --make-rprivate /")
        check(libc.mount(b"proc", b"/proc", b"proc", 0, None), "mount /proc")
        name = args.hostname.encode()
        check(libc.sethostname(name, len(name)), "sethostname")
        print(f"box: set up in {(time.perf_counter() - t0) * 1000:.1f} ms", file=sys.stderr)
        try:
            os.execvp(args.command[0], args.command)
        except OSError as e:
            print(f"box.py: {args.command[0]}: {e.strerror}", file=sys.stderr)
            os._exit(127)
    _, status = os.waitpid(pid, 0)
    for d in dirs:
        os.rmdir(d)
    return os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
