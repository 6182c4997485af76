"""Pixel Recursive Super Resolution (Dahl, Norouzi, Shlens 2017) in TensorFlow 2 / Keras 3.

  pixel_recursive.layers    causal gated PixelCNN layers (shared with pixcolor)
  pixel_recursive.sampling  XLA-compiled naive and cached samplers (shared with pixcolor)
  pixel_recursive.model     SuperResolution and the L2-regression baseline
  pixel_recursive.train     the training loop (shared with pixcolor), `python -m pixel_recursive.train`
"""
