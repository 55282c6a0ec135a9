"""Feature extraction: audio clips -> descriptor rows and log-mel arrays; faces -> arrays."""
