"""Datasets: MNIST and Fashion-MNIST from checksum-verified IDX files (fetched from the first
source that works), scikit-learn's digits, held as tensors on the device (`load.load_dataset`)."""
