"""Using a trained model: the Python API (FeatureExtractor), exports (ONNX, TorchScript, fast-reid's
layout), folder feature extraction and gallery search. Submodules are imported where used."""
