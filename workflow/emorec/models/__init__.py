"""Model builders and training: scikit-learn audio pipelines, Keras audio and face networks."""
