"""The shared tf.data input layer of `pixel_recursive` and `pixcolor`.

  data.sources     where images come from (TFDS, folders, .npz, the bundled photographs)
  data.transforms  pure image transforms (crops, resizes, YCbCr, quantization)
  data.pipeline    batched super-resolution and colorization datasets, sharded per input pipeline
  data.image_files reading and writing user image files robustly
"""
