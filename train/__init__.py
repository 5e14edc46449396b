"""Training of image colorizers (``python -m streamcolor.train``)."""
