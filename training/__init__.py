"""Training: datasets, samplers, losses and trainers for the networks in ``streamer.models``."""
