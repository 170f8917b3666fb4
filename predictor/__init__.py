"""The KServe predictor serving the ONNX champion."""
