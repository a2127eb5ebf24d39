"""What msft supports of its inputs (docs/limits.md): files beyond these are refused
before anything is allocated for them. Shared by the audio and container readers (and
free of their dependencies)."""

MIN_SAMPLE_RATE = 1000      # the transform's own lower bound (BandLayout)
MAX_SAMPLE_RATE = 768000    # the highest rate audio interfaces offer
MAX_CHANNELS = 64           # 7th-order ambisonics; each channel costs its block buffers
#: The largest magnitude of a sample (full scale is 1): far below float32's 3.4e38, so
#: that coefficients (at most a few times the samples' size) fit a complex64 container.
MAX_SAMPLE = 1e30
#: The longest signal: 24 hours at the highest rate.
MAX_SAMPLES = 24 * 3600 * MAX_SAMPLE_RATE
