"""The file system's floor for a safe per-file write, without reading or encrypting anything.

Writes COUNT files of SIZE bytes into DIR as envelope's CLI writes each output (cli/output_file.ts): an exclusive
create of a temporary file, one write, fsync, a link to the final name (which fails rather than replaces), and the
temporary name unlinked. One thread, as the writes of one process queue on one journal. Prints nothing; the caller
times the process.

    python3 scripts/bench/safe_write_floor.py DIR COUNT SIZE
"""
import os
import sys

out, count, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
os.makedirs(out)
data = os.urandom(size)
for i in range(count):
    temp, final = os.path.join(out, f".f{i}.tmp"), os.path.join(out, f"f{i}.envl")
    fd = os.open(temp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.link(temp, final)
    os.unlink(temp)
