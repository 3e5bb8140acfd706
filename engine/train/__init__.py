"""Training, data and evaluation code for the learned colorization networks."""
