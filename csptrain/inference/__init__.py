"""A trained model in use: loaded for prediction (:mod:`.predictor`), run over image files
(:mod:`.predict_files`, ``csptrain predict``) and exported to ONNX or TorchScript
(:mod:`.export`, ``csptrain export``)."""
