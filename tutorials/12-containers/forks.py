"""Start up to 10 children that wait, and say how many could be started
(lab 12: run inside box.py with a pids limit)."""

import os
import time

children = []
for _ in range(10):
    try:
        pid = os.fork()
    except OSError:
        break
    if pid == 0:
        time.sleep(2)
        os._exit(0)
    children.append(pid)
print(f"forked {len(children)} of 10")
for pid in children:
    os.kill(pid, 9)
    os.waitpid(pid, 0)
