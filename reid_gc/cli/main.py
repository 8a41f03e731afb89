"""`reid-gc COMMAND [--config_file F] [KEY VALUE ...]`: one console command for every tool."""
import importlib
import sys

# command -> (module, one-line description); modules are imported only when their command runs
COMMANDS = {
    "train": ("reid_gc.cli.train", "train and evaluate a model (python tools/train.py)"),
    "test": ("reid_gc.cli.test", "evaluate a checkpoint (python tools/test.py)"),
    "extract": ("reid_gc.cli.extract", "features of a folder of images (python tools/extract.py)"),
    "export": ("reid_gc.cli.export", "export the retrieval model (python tools/export.py)"),
    "search": ("reid_gc.cli.search", "rank a gallery folder for query images (python tools/search.py)"),
    "convert": ("reid_gc.cli.convert", "reid-strong-baseline model file -> reid-gc checkpoint (tools/convert.py)"),
    "summarize": ("reid_gc.cli.summarize", "table of a folder of runs (python tools/summarize.py)"),
}


def usage():
    lines = ["usage: reid-gc COMMAND [--config_file F] [KEY VALUE ...]", "", "commands:"]
    lines += [f"  {name:<10} {text}" for name, (_, text) in COMMANDS.items()]
    return "\n".join(lines)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        sys.exit(0 if argv else 2)
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"error: unknown command {name!r}: valid commands are {', '.join(COMMANDS)}", file=sys.stderr)
        sys.exit(2)
    importlib.import_module(COMMANDS[name][0]).cli(rest)


if __name__ == "__main__":
    main()
