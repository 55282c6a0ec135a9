"""One module per pipeline stage after features: train, evaluate, fuse, report, track."""
