"""Whole-process wall and CPU time of commands, for bench/scenarios/cli.mjs.

Node cannot read a child's resource usage; wait4(2) can, to the microsecond
(/proc and the shell's `times` count 10 ms ticks, too coarse for a ~100 ms
process). Reads a JSON plan on stdin: {"rounds": n, "commands": [[label,
[argv...]], ...]}; runs every command once per round, in order, stdout to
/dev/null; writes {label: {"wall": [ms...], "cpu": [ms...]}} on stdout. Stops
at the first command that exits non-zero, naming it and its stderr.
"""
import json
import os
import sys
import tempfile
import time

plan = json.load(sys.stdin)
out = {label: {'wall': [], 'cpu': []} for label, _ in plan['commands']}
devnull = os.open(os.devnull, os.O_WRONLY)
for _ in range(plan['rounds']):
    for label, argv in plan['commands']:
        with tempfile.TemporaryFile() as err:
            start = time.perf_counter()
            pid = os.fork()
            if pid == 0:
                os.dup2(devnull, 1)
                os.dup2(err.fileno(), 2)
                try:
                    os.execvp(argv[0], argv)
                finally:
                    os._exit(127)
            _, status, usage = os.wait4(pid, 0)
            wall = time.perf_counter() - start
            if os.waitstatus_to_exitcode(status) != 0:
                err.seek(0)
                sys.exit(f'{label} exited {os.waitstatus_to_exitcode(status)}: {err.read().decode(errors="replace")[-1000:]}')
        out[label]['wall'].append(wall * 1000)
        out[label]['cpu'].append((usage.ru_utime + usage.ru_stime) * 1000)
json.dump(out, sys.stdout)
