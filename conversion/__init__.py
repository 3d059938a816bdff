"""Exporters from training output to the ONNX models and cards the app ships."""
