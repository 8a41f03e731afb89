"""Console + OUTPUT_DIR/log.txt logging for the 'reid_gc' logger tree; only rank 0 writes."""
import collections
import logging
import os
import sys

FORMAT = "%(asctime)s %(name)s %(levelname)s: %(message)s"
NAMES = {"reid_gc": logging.INFO, "ignite": logging.WARNING}


class _Buffer(logging.Handler):
    """Keeps the lines logged before the log file may be opened, to replay them into it."""

    def __init__(self, capacity=10000):
        super().__init__()
        self.records = collections.deque(maxlen=capacity)

    def emit(self, record):
        self.records.append(record)


def _install(handlers):
    for h in handlers:
        if not isinstance(h, _Buffer):
            h.setFormatter(logging.Formatter(FORMAT))
    for name, level in NAMES.items():
        log = logging.getLogger(name)
        log.setLevel(level)
        log.propagate = False
        for h in list(log.handlers):
            log.removeHandler(h)
            if h not in handlers:
                h.close()
        for h in handlers or [logging.NullHandler()]:
            log.addHandler(h)


def setup_logger(output_dir="", rank=0, filename="log.txt", defer_file=False):
    """The 'reid_gc' logger at INFO and ignite's at WARNING, both to stdout and output_dir/filename;
    stderr stays free for the one-line user errors of the CLIs. With defer_file the file is opened only
    by open_log_file(), and receives every line logged until then: a run that fails while starting
    leaves a previous run's log.txt untouched."""
    handlers = []
    if rank == 0:
        handlers.append(logging.StreamHandler(stream=sys.stdout))
        if defer_file:
            handlers.append(_Buffer())
        elif output_dir:
            os.makedirs(output_dir, exist_ok=True)
            handlers.append(logging.FileHandler(os.path.join(output_dir, filename), mode="a", encoding="utf-8"))
    _install(handlers)
    return logging.getLogger("reid_gc")


def open_log_file(output_dir, filename="log.txt"):
    """Start writing output_dir/filename (appending), beginning with the lines setup_logger(defer_file=True)
    kept."""
    log = logging.getLogger("reid_gc")
    buffers = [h for h in log.handlers if isinstance(h, _Buffer)]
    os.makedirs(output_dir, exist_ok=True)
    file_handler = logging.FileHandler(os.path.join(output_dir, filename), mode="a", encoding="utf-8")
    file_handler.setFormatter(logging.Formatter(FORMAT))
    for buffer in buffers:
        for record in buffer.records:
            file_handler.handle(record)
    _install([h for h in log.handlers if not isinstance(h, (_Buffer, logging.NullHandler))] + [file_handler])
