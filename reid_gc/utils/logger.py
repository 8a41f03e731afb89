"""Console + OUTPUT_DIR/log.txt logging for the 'reid_gc' logger tree; only rank 0 writes."""
import logging
import os
import sys

FORMAT = "%(asctime)s %(name)s %(levelname)s: %(message)s"


def setup_logger(output_dir="", rank=0, filename="log.txt"):
    """The 'reid_gc' logger at INFO and ignite's at WARNING, both to stdout and output_dir/filename;
    stderr stays free for the one-line user errors of the CLIs."""
    handlers = []
    if rank == 0:
        console = logging.StreamHandler(stream=sys.stdout)
        handlers.append(console)
        if output_dir:
            os.makedirs(output_dir, exist_ok=True)
            handlers.append(logging.FileHandler(os.path.join(output_dir, filename), mode="a", encoding="utf-8"))
    for h in handlers:
        h.setFormatter(logging.Formatter(FORMAT))
    for name, level in (("reid_gc", logging.INFO), ("ignite", logging.WARNING)):
        log = logging.getLogger(name)
        log.setLevel(level)
        log.propagate = False
        for h in list(log.handlers):
            log.removeHandler(h)
            if h not in handlers:
                h.close()
        for h in handlers or [logging.NullHandler()]:
            log.addHandler(h)
    return logging.getLogger("reid_gc")
