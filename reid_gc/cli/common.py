"""What the command-line tools share: strong-baseline argument form, user errors as one line + exit 2."""
import argparse
import logging
import sys

from ..utils.errors import UserError


def parse_args(description, argv=None, add_arguments=None):
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--config_file", default="", help="path to a yml config file")
    if add_arguments is not None:
        add_arguments(parser)
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="KEY VALUE pairs that override the config")
    return parser.parse_args(argv)


def user_error_message(error):
    """A UserError raised in a DataLoader worker arrives wrapped in a traceback; keep its own line."""
    text = str(error).strip()
    marker = "UserError: "
    last = text.splitlines()[-1] if text else ""
    return last.split(marker, 1)[1] if marker in last else text.splitlines()[0]


def run_cli(main, argv=None):
    """Run main(argv); a UserError prints its message alone and exits 2."""
    try:
        main(argv)
    except UserError as e:
        logging.shutdown()
        print(f"error: {user_error_message(e)}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
