"""reid-gc convert --input FILE --output CKPT: a trained re-id model file (reid-strong-baseline's pickled
model or state dict, or a reid-gc checkpoint) written as a reid-gc checkpoint that records its stem."""
import argparse
import logging

import torch

from ..modeling import Baseline
from ..modeling.backbones import guess_backbone
from ..modeling.foreign import load_trained_weights, read_trained_state
from ..utils.atomic import atomic_path
from ..utils.errors import UserError
from ..utils.logger import setup_logger
from .common import run_cli


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="convert a trained re-id model file to a reid-gc checkpoint")
    parser.add_argument("--input", required=True, help="the trained model file (.pth/.pt)")
    parser.add_argument("--output", required=True, help="the reid-gc checkpoint to write (.pt)")
    return parser.parse_args(argv)


def describe(state):
    """(MODEL.NAME, MODEL.NECK, number of classes) of a Baseline state dict."""
    name = guess_backbone(state, prefix="base.")
    if name is None:
        raise UserError("the file's base.* weights are of no known backbone: it is not a re-id model of "
                        "reid-strong-baseline or reid-gc")
    neck = "bnneck" if "bottleneck.weight" in state else "no"
    classifier = state.get("classifier.weight")
    if classifier is None:
        raise UserError("the file has no classifier.weight: it is not a whole re-id model")
    return name, neck, classifier.shape[0]


def convert(src, dst):
    state, kind = read_trained_state(src, "resnet50", what="--input")
    name, neck, classes = describe(state)
    model = Baseline(classes, 1, name, neck)
    load_trained_weights(model, src, what="--input")  # fits every tensor, and sets the stem the file implies
    with atomic_path(dst) as tmp:
        torch.save({"model": model.state_dict()}, tmp)
    logging.getLogger(__name__).info(
        "converted %s (%s) to %s: MODEL.NAME %s, MODEL.NECK %s, %d classes, stem ReLU %s (recorded in the file)",
        src, kind, dst, name, neck, classes, "yes" if model.has_stem_relu else "no")
    return model


def main(argv=None):
    args = parse_args(argv)
    if not args.output.endswith((".pt", ".pth")):
        raise UserError(f"--output {args.output} must end in .pt or .pth")
    setup_logger()
    convert(args.input, args.output)
    logging.shutdown()


def cli(argv=None):
    run_cli(main, argv)
