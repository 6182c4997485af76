"""The shared tf.data input layer of `pixel_recursive` and `pixcolor`.

  data.sources     where images come from (TFDS, folders, .npz, TFRecords, the sample photos)
  data.readers     image files and TFRecords as datasets, decoded in parallel, bad images skipped
  data.samples     the photographs that ship with scikit-image and matplotlib
  data.faces       faces found in any photo, framed as CelebA's training faces
  data.transforms  pure image transforms (crops, resizes, YCbCr, quantization)
  data.pipeline    batched super-resolution and colorization datasets, sharded per input pipeline
  data.image_files reading and writing user image files robustly
  data.errors      DataSourceError, what every source raises when it cannot be used; is_url
"""
