"""Files: audio through soundfile (:mod:`.audio`) and the HDF5 container (:mod:`.container`)."""
