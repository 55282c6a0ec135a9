"""Serving: raw audio, image and video files -> emotion (and speaker sex) with the trained models.

:mod:`.media` tells what a file is, :mod:`.predictor` runs the pipeline's feature code and
models on it, :mod:`.project` builds a predictor from a checkout's outputs, :mod:`.pyfunc`
wraps one as an MLflow model, :mod:`.app` is the upload page and ``/predict`` endpoint, and
:mod:`emorec.cli` the ``emorec`` command.
"""

# openSMILE's extractor must be loaded before TensorFlow: loaded after it, its first
# ``process_signal`` aborts the process ("malloc(): invalid size"). Serving is the one place
# that runs eGeMAPS and Keras in one process, and every serving module imports this package.
import opensmile  # noqa: F401  (import order, see above)
