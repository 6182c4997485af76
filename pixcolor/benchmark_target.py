"""PixColor's target for experiments/benchmarks/sampling.py: its chroma PixelCNN with conditioning.

  python experiments/benchmarks/sampling.py --config=experiments/configs/pixcolor_imagenet.py \
      --batch_size=16

The benchmark times sampling B chroma images of c x c x 2 bins (28 x 28 x 2 in the paper) from the
conditional PixelCNN, the conditioning (ResNet + adaptation, run once per call) computed beforehand
from random gray images, so that only the sampler is timed; weights are random (sampling time does
not depend on them).
"""
import keras
import numpy as np

from pixcolor import model as model_lib


class _WithConditioning(keras.Model):
  """`predict([canvas, conditioning])` for the keras.io-style baseline: Keras' `predict` hands a
  model one input structure, the PixelCNN takes the conditioning as a second argument."""

  def __init__(self, pixelcnn, **kwargs):
    super().__init__(**kwargs)
    self.pixelcnn = pixelcnn

  def call(self, inputs):
    canvas, conditioning = inputs
    return self.pixelcnn(canvas, conditioning)


class PixColorTarget:
  """What the benchmark samples: `prior`, `extra` (None), `shape`, `sample`, `predict_logits`."""

  def __init__(self, config, batch_size, temperature=1.0):
    self.model = model_lib.build_model(config.model)
    self.temperature = temperature
    rng = np.random.default_rng(0)
    s, c = self.model.image_size, self.model.chroma_size
    self.gray = rng.integers(0, 256, [batch_size, s, s, 1], dtype=np.uint8)
    self.conditioning = self.model.conditioning(self.gray).numpy()
    self.prior = self.model.pixelcnn
    self.extra = None
    self.shape = (batch_size, c, c)
    self._predict_model = _WithConditioning(self.prior, name='pixelcnn_with_conditioning')

  def sample(self, method, num_steps=None, top_p=1.0):
    return self.model.sampler.sample(self.shape, conditioning=self.conditioning,
                                     temperature=self.temperature, seed=0, method=method,
                                     num_steps=num_steps, top_p=top_p)

  def predict_logits(self, canvas_scaled):
    return self._predict_model.predict([canvas_scaled, self.conditioning], verbose=0,
                                       batch_size=len(canvas_scaled))


def make(config, batch_size, temperature=1.0):
  return PixColorTarget(config, batch_size, temperature)
