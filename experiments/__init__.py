"""Configs, benchmarks, demos and notebooks of the reproduction."""
import pixel_recursive  # pylint: disable=unused-import  (quiets TensorFlow for `python -m experiments.*`)
