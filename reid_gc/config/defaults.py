"""Every configuration key, its default and what it means: the only place defaults live.

Key names and value spellings are those of reid-strong-baseline so its yml files and command lines run
unchanged; keys marked "new" are reid-gc additions.
"""
from yacs.config import CfgNode as CN

_C = CN()

# ---------------------------------------------------------------------------------------------- MODEL
_C.MODEL = CN()
_C.MODEL.DEVICE = "cuda"  # 'cuda' or 'cpu'; 'cuda' without a GPU warns and runs on the CPU
_C.MODEL.DEVICE_ID = "0"  # CUDA_VISIBLE_DEVICES for a single-process run, e.g. '0' or '0,1'
_C.MODEL.NAME = "resnet50"  # backbone: any name of modeling.backbones.BACKBONES (README "Backbones")
_C.MODEL.STEM_RELU = "yes"  # new: 'no' drops the stem's ReLU (as reid-strong-baseline's ResNets); files record it
_C.MODEL.LAST_STRIDE = 1  # stride of the backbone's last stage (1 doubles the final feature map)
_C.MODEL.PRETRAIN_PATH = ""  # ImageNet weights file ('imagenet', '' = hub cache) or a trained model ('self')
_C.MODEL.PRETRAIN_CHOICE = "imagenet"  # 'imagenet', 'self' or 'scratch'
_C.MODEL.NECK = "bnneck"  # 'bnneck' (BN before the classifier) or 'no'
_C.MODEL.IF_WITH_CENTER = "no"  # 'yes' adds center loss (see METRIC_LOSS_TYPE)
_C.MODEL.METRIC_LOSS_TYPE = "triplet"  # 'triplet'; with center: 'center' or 'triplet_center'
_C.MODEL.IF_LABELSMOOTH = "on"  # 'on': ID loss with label smoothing (epsilon 0.1)
_C.MODEL.COMPILE = "no"  # new: 'yes' wraps the model in torch.compile
_C.MODEL.CHANNELS_LAST = "no"  # new: 'yes' uses the channels_last memory format
_C.MODEL.SYNC_BN = "no"  # new: 'yes' converts BatchNorm to SyncBatchNorm in distributed runs

# ---------------------------------------------------------------------------------------------- INPUT
_C.INPUT = CN()
_C.INPUT.SIZE_TRAIN = [384, 128]  # training image size (height, width)
_C.INPUT.SIZE_TEST = [384, 128]  # test image size (height, width)
_C.INPUT.PROB = 0.5  # probability of a horizontal flip
_C.INPUT.RE_PROB = 0.5  # probability of random erasing
_C.INPUT.PIXEL_MEAN = [0.485, 0.456, 0.406]  # normalisation mean (also the erasing fill)
_C.INPUT.PIXEL_STD = [0.229, 0.224, 0.225]  # normalisation std
_C.INPUT.PADDING = 10  # zero padding before the random crop

# ------------------------------------------------------------------------------------------- DATASETS
_C.DATASETS = CN()
_C.DATASETS.NAMES = ("market1501",)  # one name or a tuple of names (trained on their union)
_C.DATASETS.ROOT_DIR = "./data"  # folder holding the datasets (for 'csv': the CSV file)
_C.DATASETS.TEST_NAMES = ()  # new: datasets evaluated one by one, each reported apart; () = those of NAMES
# new: VehicleID (DATASETS.NAMES 'vehicleid')
_C.DATASETS.VEHICLEID = CN()
_C.DATASETS.VEHICLEID.TEST_SIZE = 800  # test list: 800 (small), 1600 (medium) or 2400 (large) vehicles
# new: the built-in synthetic dataset (DATASETS.NAMES 'synthetic'), generated once under ROOT_DIR
_C.DATASETS.SYNTHETIC = CN()
_C.DATASETS.SYNTHETIC.NUM_TRAIN_IDS = 100  # identities in bounding_box_train
_C.DATASETS.SYNTHETIC.NUM_TEST_IDS = 100  # identities split between query and bounding_box_test
_C.DATASETS.SYNTHETIC.NUM_CAMERAS = 6  # cameras, each with its own background, light and blur
_C.DATASETS.SYNTHETIC.IMAGES_PER_ID = 16  # images of each identity, spread over its cameras
_C.DATASETS.SYNTHETIC.NUM_DISTRACTORS = 100  # gallery images of id 0000 (people outside the test set)
_C.DATASETS.SYNTHETIC.NUM_JUNK = 50  # gallery images of id -1 (bad detections)
_C.DATASETS.SYNTHETIC.SEED = 0  # the dataset is a pure function of these keys

# ----------------------------------------------------------------------------------------- DATALOADER
_C.DATALOADER = CN()
_C.DATALOADER.NUM_WORKERS = 8  # loader worker processes (0 loads in the main process)
_C.DATALOADER.SAMPLER = "softmax"  # 'softmax' (shuffle), 'triplet' or 'softmax_triplet' (P x K)
_C.DATALOADER.NUM_INSTANCE = 16  # K: images per identity in a P x K batch

# --------------------------------------------------------------------------------------------- SOLVER
_C.SOLVER = CN()
_C.SOLVER.OPTIMIZER_NAME = "Adam"  # a torch.optim name or a GC optimizer (SGD_GCC, Adam_GC, ...)
_C.SOLVER.MAX_EPOCHS = 50  # training epochs
_C.SOLVER.BASE_LR = 3e-4  # learning rate of weights
_C.SOLVER.BIAS_LR_FACTOR = 2  # biases train at BASE_LR * BIAS_LR_FACTOR
_C.SOLVER.MOMENTUM = 0.9  # momentum of the SGD family
_C.SOLVER.MARGIN = 0.3  # triplet margin; 0 selects the soft-margin triplet loss
_C.SOLVER.CLUSTER_MARGIN = 0.3  # kept for reid-strong-baseline configs; unused
_C.SOLVER.CENTER_LR = 0.5  # learning rate of the center-loss SGD
_C.SOLVER.CENTER_LOSS_WEIGHT = 0.0005  # weight of the center loss in the total loss
_C.SOLVER.RANGE_K = 2  # kept for reid-strong-baseline configs; unused
_C.SOLVER.RANGE_MARGIN = 0.3  # kept for reid-strong-baseline configs; unused
_C.SOLVER.RANGE_ALPHA = 0  # kept for reid-strong-baseline configs; unused
_C.SOLVER.RANGE_BETA = 1  # kept for reid-strong-baseline configs; unused
_C.SOLVER.RANGE_LOSS_WEIGHT = 1  # kept for reid-strong-baseline configs; unused
_C.SOLVER.WEIGHT_DECAY = 0.0005  # weight decay of weights
_C.SOLVER.WEIGHT_DECAY_BIAS = 0.0  # weight decay of biases
_C.SOLVER.GAMMA = 0.1  # LR multiplier at each of STEPS
_C.SOLVER.STEPS = (30, 55)  # epochs at which the LR is multiplied by GAMMA
_C.SOLVER.WARMUP_FACTOR = 1.0 / 3  # LR multiplier at epoch 0 of the warmup
_C.SOLVER.WARMUP_ITERS = 500  # warmup length in epochs (the schedule steps once per epoch)
_C.SOLVER.WARMUP_METHOD = "linear"  # 'linear' or 'constant'
_C.SOLVER.CHECKPOINT_PERIOD = 50  # save a checkpoint every this many epochs (and after the last)
_C.SOLVER.LOG_PERIOD = 100  # log a training line every this many iterations
_C.SOLVER.EVAL_PERIOD = 50  # evaluate every this many epochs (and after the last)
_C.SOLVER.IMS_PER_BATCH = 64  # training batch size (P x K for the identity samplers)
_C.SOLVER.SEED = 0  # new: seed of every random number generator (model init, sampling, augmentation)
_C.SOLVER.RESUME = ""  # new: '' starts afresh, 'auto' resumes from OUTPUT_DIR, or a checkpoint path
_C.SOLVER.AMP = "no"  # new: mixed precision: 'no', 'fp16' (with a GradScaler) or 'bf16'
_C.SOLVER.DETERMINISTIC = "no"  # new: 'yes' asks torch for deterministic algorithms (bitwise resume)
_C.SOLVER.BETAS = ()  # new: (beta1, beta2) of the Adam-like rules, each in [0, 1); () keeps the optimizer's own
_C.SOLVER.EPS = -1.0  # new: eps of the Adam-like rules; -1 keeps the optimizer's own (1e-8; Ranger 1e-5)
_C.SOLVER.DEGENERATED_TO_SGD = "yes"  # new: PlainRAdam*: 'yes' takes SGD-like steps before rectification
_C.SOLVER.LOOKAHEAD_K = 0  # new: Lookahead around the optimizer every K steps; 0 = off (Ranger*: its own k, 6)
_C.SOLVER.LOOKAHEAD_ALPHA = 0.5  # new: Lookahead's slow-weight step in [0, 1] (Ranger*: its alpha)
_C.SOLVER.GRAD_CLIP = 0.0  # new: clip the gradients' global norm to this before GC and the step; 0 = off

# ----------------------------------------------------------------------------------------------- TEST
_C.TEST = CN()
_C.TEST.IMS_PER_BATCH = 128  # evaluation batch size
_C.TEST.RE_RANKING = "no"  # 'yes' applies k-reciprocal re-ranking
_C.TEST.RE_RANKING_K1 = 20  # new: k1 of k-reciprocal re-ranking
_C.TEST.RE_RANKING_K2 = 6  # new: k2 (query expansion) of k-reciprocal re-ranking
_C.TEST.RE_RANKING_LAMBDA = 0.3  # new: weight of the original distance in re-ranking
_C.TEST.WEIGHT = ""  # checkpoint evaluated by tools/test.py
_C.TEST.NECK_FEAT = "after"  # feature used at test time: 'after' or 'before' the BNNeck
_C.TEST.FEAT_NORM = "yes"  # 'yes' L2-normalises features before the distance
_C.TEST.FLIP_FEAT = "no"  # new: 'yes' averages the features of an image and its mirror
_C.TEST.DISTANCE = "euclidean"  # new: 'euclidean' or 'cosine'
_C.TEST.MAX_RANK = 50  # new: CMC is reported up to this rank
_C.TEST.VISUALIZE = 0  # new: write a PNG of this many queries with their top-10 gallery images
_C.TEST.VISUALIZE_ORDER = "even"  # new: queries in that PNG: 'even' (evenly spaced) or 'worst' (lowest AP first)
_C.TEST.RANKED_LIST_TOPK = 10  # new: ranked_<split>.csv lists each query's top-k gallery images (0: no CSV)
_C.TEST.CROSS_CAMERA = "yes"  # new: 'yes' Market-1501 rule (same id + camera left out); 'no' camera-free
_C.TEST.REPEATS = 10  # new: random query/gallery splits averaged where the protocol draws them (VehicleID)
_C.TEST.ROC = "no"  # new: 'yes' adds ROC AUC, TPR at FPR 1e-4/1e-3/1e-2 with thresholds, and roc.png

# ------------------------------------------------------------------------------------------------ misc
_C.OUTPUT_DIR = ""  # where logs, config.yml, metrics.json and checkpoints go ('' = ./out/<config name>)

# Accepted values of keys that take one of a fixed set; checked after every merge. Lists that a module owns
# (the backbones, the losses, the schedules, the distances) are named by "module:ATTRIBUTE" and read from there.
CHOICES = {
    "MODEL.DEVICE": ("cuda", "cpu"),
    "MODEL.NAME": "reid_gc.modeling.backbones:BACKBONES",
    "MODEL.STEM_RELU": ("yes", "no"),
    "MODEL.LAST_STRIDE": (1, 2),
    "MODEL.PRETRAIN_CHOICE": "reid_gc.modeling.baseline:PRETRAIN_CHOICES",
    "MODEL.NECK": "reid_gc.modeling.baseline:NECKS",
    "MODEL.IF_WITH_CENTER": ("yes", "no"),
    "MODEL.METRIC_LOSS_TYPE": "reid_gc.losses.build:METRIC_LOSS_TYPES",
    "MODEL.IF_LABELSMOOTH": "reid_gc.losses.build:LABEL_SMOOTHING",
    "MODEL.COMPILE": ("yes", "no"),
    "MODEL.CHANNELS_LAST": ("yes", "no"),
    "MODEL.SYNC_BN": ("yes", "no"),
    "DATALOADER.SAMPLER": "reid_gc.losses.build:SAMPLER_LOSSES",
    "SOLVER.WARMUP_METHOD": "reid_gc.solver.lr_scheduler:WARMUP_METHODS",
    "SOLVER.AMP": ("no", "fp16", "bf16"),
    "SOLVER.DETERMINISTIC": ("yes", "no"),
    "SOLVER.DEGENERATED_TO_SGD": ("yes", "no"),
    "TEST.RE_RANKING": ("yes", "no"),
    "TEST.NECK_FEAT": "reid_gc.modeling.baseline:NECK_FEATS",
    "TEST.FEAT_NORM": ("yes", "no"),
    "TEST.FLIP_FEAT": ("yes", "no"),
    "TEST.DISTANCE": "reid_gc.evaluation.distance:METRICS",
    "TEST.VISUALIZE_ORDER": ("even", "worst"),
    "TEST.CROSS_CAMERA": ("yes", "no"),
    "TEST.ROC": ("yes", "no"),
    "DATASETS.VEHICLEID.TEST_SIZE": (800, 1600, 2400),
}

# Ranges of numeric keys, as intervals ("[0, 1]", "(0, inf)"); a list key's every element must lie in its range.
# Every numeric key is listed; None marks keys checked by their owner or kept only for old configs.
RANGES = {
    "INPUT.SIZE_TRAIN": "[16, inf)",
    "INPUT.SIZE_TEST": "[16, inf)",
    "INPUT.PROB": "[0, 1]",
    "INPUT.RE_PROB": "[0, 1]",
    "INPUT.PIXEL_MEAN": "[0, 1]",
    "INPUT.PIXEL_STD": "(0, inf)",
    "INPUT.PADDING": "[0, inf)",
    "DATALOADER.NUM_WORKERS": "[0, inf)",
    "DATALOADER.NUM_INSTANCE": "[1, inf)",
    "SOLVER.MAX_EPOCHS": "[1, inf)",
    "SOLVER.BASE_LR": "(0, inf)",
    "SOLVER.BIAS_LR_FACTOR": "[0, inf)",
    "SOLVER.MOMENTUM": "[0, 1)",
    "SOLVER.MARGIN": "[0, inf)",
    "SOLVER.CENTER_LR": "(0, inf)",
    "SOLVER.CENTER_LOSS_WEIGHT": "[0, inf)",
    "SOLVER.WEIGHT_DECAY": None,  # checked with the optimizer it configures
    "SOLVER.WEIGHT_DECAY_BIAS": None,  # checked with the optimizer it configures
    "SOLVER.GAMMA": "(0, inf)",
    "SOLVER.STEPS": "[0, inf)",
    "SOLVER.WARMUP_FACTOR": "[0, inf)",
    "SOLVER.WARMUP_ITERS": "[0, inf)",
    "SOLVER.CHECKPOINT_PERIOD": "[1, inf)",
    "SOLVER.LOG_PERIOD": "[1, inf)",
    "SOLVER.EVAL_PERIOD": "[1, inf)",
    "SOLVER.IMS_PER_BATCH": "[1, inf)",
    "SOLVER.SEED": "[0, 4294967295]",  # numpy's seed range
    # checked by solver.check_solver, next to the optimizers they configure
    **{f"SOLVER.{k}": None for k in ("BETAS", "EPS", "LOOKAHEAD_K", "LOOKAHEAD_ALPHA", "GRAD_CLIP")},
    "TEST.IMS_PER_BATCH": "[1, inf)",
    "TEST.RE_RANKING_K1": "[1, inf)",
    "TEST.RE_RANKING_K2": "[1, inf)",
    "TEST.RE_RANKING_LAMBDA": "[0, 1]",
    "TEST.MAX_RANK": "[1, inf)",
    "TEST.VISUALIZE": "[0, inf)",
    "TEST.RANKED_LIST_TOPK": "[0, inf)",
    "TEST.REPEATS": "[1, inf)",
    **{f"SOLVER.{k}": None for k in ("CLUSTER_MARGIN", "RANGE_K", "RANGE_MARGIN", "RANGE_ALPHA", "RANGE_BETA",
                                     "RANGE_LOSS_WEIGHT")},  # unused
    **{f"DATASETS.SYNTHETIC.{k}": None for k in ("NUM_TRAIN_IDS", "NUM_TEST_IDS", "NUM_CAMERAS", "IMAGES_PER_ID",
                                                 "NUM_DISTRACTORS", "NUM_JUNK", "SEED")},  # checked by the generator
}

# Keys that hold a file or folder path: '~' is expanded at load.
PATH_KEYS = ("MODEL.PRETRAIN_PATH", "DATASETS.ROOT_DIR", "SOLVER.RESUME", "TEST.WEIGHT", "OUTPUT_DIR")


def get_defaults():
    """A fresh, mutable copy of the defaults."""
    return _C.clone()
