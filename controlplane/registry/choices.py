from django.db import models


class ModelFormat(models.TextChoices):
    SKOPS = "skops", "scikit-learn (skops)"
    ONNX = "onnx", "ONNX"
    TORCHSCRIPT = "torchscript", "PyTorch TorchScript"
    TORCH_EXPORT = "torch_export", "PyTorch torch.export"
    KERAS = "keras", "Keras 3"
    SAVEDMODEL = "savedmodel", "TensorFlow SavedModel"
    PYFUNC = "pyfunc", "Python model package"
    PICKLE = "pickle", "Pickle"
    JOBLIB = "joblib", "joblib"


class ValidationStatus(models.TextChoices):
    VALID = "valid", "Valid"
    NEEDS_TRUST = "needs_trust", "Needs an admin to mark it trusted"
    RUNTIME_MISSING = "runtime_missing", "Framework not installed"
    INVALID = "invalid", "Invalid"
