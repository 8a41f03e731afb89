"""Using a trained model outside training: feature extraction and exports."""
