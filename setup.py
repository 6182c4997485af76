"""Pixel Recursive Super Resolution and PixColor in TensorFlow 2 / Keras 3.

  pip install -e ".[test]"
"""
import setuptools

DEMO_FILES = ['demo/*/config.json', 'demo/*/TERMS.md', 'demo/*/checkpoints/*']

setuptools.setup(
    name='pixel-recursive',
    version='0.1.0',
    description=('Pixel Recursive Super Resolution (Dahl et al. 2017) and PixColor '
                 '(Guadarrama et al. 2017) in TensorFlow 2 / Keras 3'),
    long_description=open('README.md').read(),
    long_description_content_type='text/markdown',
    license='Apache-2.0',  # The code; each demo checkpoint's TERMS.md gives its data's terms.
    # Keras 3.15 needs Python >= 3.11; the suite passes on 3.11, 3.12 and 3.13 (README, "Versions").
    python_requires='>=3.11',
    packages=setuptools.find_packages(include=[
        'pixel_recursive', 'pixel_recursive.*', 'pixcolor', 'pixcolor.*', 'data', 'data.*',
        'experiments', 'experiments.*']),
    # A demo model's files only: not the TensorBoard runs that evaluating or training it in place
    # writes beside them (evaluate/, train/, eval/).
    package_data={
        'pixel_recursive': [*DEMO_FILES, 'rating/templates/*'],
        'pixcolor': DEMO_FILES,
    },
    install_requires=[
        # The whole suite passes on 2.21.0 and 2.18.1 (README, "Versions").
        'tensorflow>=2.18,<2.22',
        'keras>=3.15,<4',
        'tensorflow-datasets>=4.9.9,<5',
        # TFDS's download path needs it (celeb_a, imagenet2012) but does not declare it.
        'importlib_resources>=6',
        'tensorboard>=2.18,<2.22',
        'numpy>=1.26,<3',
        'absl-py>=2.1,<3',
        'ml-collections>=1.0,<2',
        'matplotlib>=3.8,<4',
        'pillow>=10.1,<14',  # ImageFont.load_default(size=): the grids' titles.
        'scikit-image>=0.24,<1',
    ],
    extras_require={
        # selenium drives Debian's chromium in the rating page's browser test (see .ci/run).
        'test': ['pytest>=8,<10', 'pytest-xdist>=3.5,<4', 'nbclient>=0.10,<1', 'nbformat>=5.10,<6',
                 'ipykernel>=6.29,<8', 'selenium>=4.20,<5'],
    },
)
