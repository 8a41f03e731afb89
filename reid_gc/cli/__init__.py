"""The command-line layer: reid-strong-baseline's argument form, one-line user errors, the commands' main().

OpenMP threads that spin while waiting lose whole time slices whenever loader workers or other programs share
the cores (measured 8x slower steps on 2 busy cores); passive waiting costs little otherwise. It must be set
before torch loads, so it is set here, on the way into any command.
"""
import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
